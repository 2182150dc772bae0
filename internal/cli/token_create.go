package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/tokenadmin"
)

// checkRole refuses a role that cannot belong to scope, before any request.
func checkRole(scope astro.Scope, role string) error {
	if err := tokenadmin.CheckRole(scope, role); err != nil {
		return usagef("--role %v", err)
	}
	return nil
}

func (r *runner) tokenCreate(args []string) error {
	fs := newFlagSet("token create", r.env, r.stderr)
	name := fs.String("name", "", "token name (required)")
	scope := fs.String("scope", "", "ORGANIZATION, WORKSPACE or DEPLOYMENT (required)")
	entityID := fs.String("entity-id", "", "the Workspace or Deployment id, for WORKSPACE and DEPLOYMENT scope")
	role := fs.String("role", "", "role in its scope, e.g. WORKSPACE_OPERATOR, DEPLOYMENT_ADMIN (required)")
	expiry := fs.Int("expiry-days", 0, "days until the token expires, 1-3650 (0: never)")
	desc := fs.String("description", "", "token description")
	dryRun := fs.Bool("dry-run", false, "print the plan and change nothing")
	var targets listFlag
	fs.Var(&targets, "target", "where to write the value (repeatable, at least one)")
	fs.alsoFromEnv("target", "ASTRO_CI_TARGETS")
	fs.formatFlag()
	if err := fs.parse(args); err != nil {
		return err
	}
	sc := astro.Scope(strings.ToUpper(*scope))
	switch {
	case strings.TrimSpace(*name) == "":
		return usagef("token create: --name is required")
	case len(*name) > 256:
		return usagef("token create: --name is longer than Astro's 256 characters")
	case !sc.Valid():
		return usagef("token create: --scope must be ORGANIZATION, WORKSPACE or DEPLOYMENT")
	case sc != astro.ScopeOrganization && *entityID == "":
		return usagef("token create: --entity-id (the %s id) is required for scope %s", strings.ToLower(string(sc)), sc)
	case sc == astro.ScopeOrganization && *entityID != "":
		return usagef("token create: --entity-id is not used with scope ORGANIZATION")
	case *expiry < 0 || *expiry > 3650:
		return usagef("token create: --expiry-days must be between 1 and 3650 (or 0 for a token that never expires)")
	}
	if err := checkRole(sc, *role); err != nil {
		return err
	}
	ts, err := r.parseTargets(targets)
	if err != nil {
		return err
	}
	if len(ts) == 0 && !*dryRun {
		return usagef("token create: give at least one --target: astro-ci never prints a token value, so without a target it would be lost")
	}
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	eng, err := r.engine(c)
	if err != nil {
		return err
	}
	out, runErr := eng.Create(r.ctx, rotation.CreateRequest{
		Token:   astro.CreateTokenRequest{Name: *name, Description: *desc, Role: *role, Scope: sc, EntityID: *entityID, ExpiryDays: *expiry},
		Targets: ts, DryRun: *dryRun,
	})
	if out.Token != nil {
		r.rep.Output("token-id", out.Token.ID)
		r.rep.Output("expires-at", fmtTime(out.Token.ExpiresAt))
	}
	_ = r.rep.Result(out, func(w io.Writer) {
		if out.DryRun {
			fmt.Fprintln(w, "dry run: would")
			for _, p := range out.Plan {
				fmt.Fprintf(w, "  - %s\n", p)
			}
		} else if out.Token != nil {
			fmt.Fprintf(w, "created token %s (%s), %s scope, expires %s\n", out.Token.ID, out.Token.Name, out.Token.Scope, fmtTime(out.Token.ExpiresAt))
		}
		for _, t := range out.Targets {
			line := fmt.Sprintf("  %-8s %s", t.Status, t.Target)
			if t.Error != "" {
				line += ": " + t.Error
			}
			fmt.Fprintln(w, line)
		}
	})
	return runErr
}
