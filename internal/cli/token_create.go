package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report/echo"
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

// createOptions are token create's flags.
type createOptions struct {
	name, scope, entityID, role, desc string
	expiry                            int
	dryRun, skipExisting              bool
	targets                           listFlag
	sc                                astro.Scope
}

func (o *createOptions) validate(g given) error {
	o.sc = astro.Scope(strings.ToUpper(o.scope))
	switch {
	case strings.TrimSpace(o.name) == "":
		return usagef("token create: --name is required")
	case len(o.name) > 256:
		return usagef("token create: %s is longer than Astro's 256 characters", g.label("name"))
	case !o.sc.Valid():
		return usagef("token create: %s must be ORGANIZATION, WORKSPACE or DEPLOYMENT, not %s", g.label("scope"), echo.Quote(o.scope))
	case o.sc != astro.ScopeOrganization && o.entityID == "":
		return usagef("token create: --entity-id (the %s id) is required for scope %s", strings.ToLower(string(o.sc)), o.sc)
	case o.sc == astro.ScopeOrganization && o.entityID != "":
		return usagef("token create: %s is not used with scope ORGANIZATION", g.label("entity-id"))
	case o.expiry < 0 || o.expiry > 3650:
		return usagef("token create: %s must be between 1 and 3650 (or 0 for a token that never expires)", g.label("expiry-days"))
	}
	return checkRole(o.sc, o.role)
}

func (b *builder) tokenCreateCmd() *cobra.Command {
	o := &createOptions{}
	c := &cobra.Command{
		Use:   "create --name N --scope S [--entity-id ID] --role R --target T...",
		Short: "Create a token and write its value to targets",
		Long: `Create makes an Astro API token and writes its value to every target (at least one: astro-ci
never prints a value, so without a target it would be lost). Targets are proven writable first
and the new value is tested against Astro before it is written. A name that already exists in
the scope is refused (rotate that token instead), or left as it is with --skip-existing; a rerun
after a failure, or two creates at once, end with one token. The role is checked against
the scope before any request: ORGANIZATION_OWNER|BILLING_ADMIN|MEMBER|OBSERVE_ADMIN|OBSERVE_MEMBER,
WORKSPACE_OWNER|OPERATOR|AUTHOR|MEMBER|ACCESSOR, or DEPLOYMENT_ADMIN or a custom Deployment role.`,
		Example: `  # A Workspace token for deploys, in a repository secret, expiring in 90 days
  astro-ci token create -n deploy-bot --scope WORKSPACE --entity-id clws123 -r WORKSPACE_OPERATOR \
    --expiration 90 --target github://acme/dags/secrets/ASTRO_DEPLOY_TOKEN

  # What would happen
  astro-ci token create -n deploy-bot --scope ORGANIZATION -r ORGANIZATION_MEMBER --target NAME --dry-run`,
	}
	f := c.Flags()
	f.StringVarP(&o.name, "name", "n", "", "token `name` (required)")
	f.StringVar(&o.scope, "scope", "", "ORGANIZATION, WORKSPACE or DEPLOYMENT (required)")
	f.StringVar(&o.entityID, "entity-id", "", "the Workspace or Deployment `id`, for WORKSPACE and DEPLOYMENT scope")
	f.StringVarP(&o.role, "role", "r", "", "`role` in its scope, e.g. WORKSPACE_OPERATOR, DEPLOYMENT_ADMIN (required)")
	f.IntVarP(&o.expiry, "expiry-days", "e", 0, "`days` until the token expires, 1-3650 (0: never)")
	f.StringVarP(&o.desc, "description", "d", "", "token description")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&o.skipExisting, "skip-existing", false, "when a token of that name exists in the scope, leave it and exit 0 (default: refuse)")
	targetFlag(c, &o.targets, "where to write the value (repeatable, at least one)")
	alias(c, "expiry-days", "expiration")
	values(c, "scope", "ORGANIZATION", "WORKSPACE", "DEPLOYMENT")
	values(c, "role", append(append(slices.Clone(tokenadmin.OrgRoles), tokenadmin.WorkspaceRoles...), "DEPLOYMENT_ADMIN")...)
	return b.leaf(c, o, func() error { return b.r.tokenCreate(o) })
}

// targetFlag declares --target (also ASTRO_CI_TARGETS).
func targetFlag(c *cobra.Command, l *listFlag, usage string) {
	c.Flags().Var(l, "target", usage+"; forms: file://PATH, github://OWNER/REPO/secrets/NAME, gitlab://PROJECT/variables/KEY, NAME (see README)")
	envAlso(c, "target", "ASTRO_CI_TARGETS")
}

func (r *runner) tokenCreate(o *createOptions) error {
	ts, err := r.parseTargets(o.targets)
	if err != nil {
		return err
	}
	if len(ts) == 0 && !o.dryRun {
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
	req := rotation.CreateRequest{
		Token:   astro.CreateTokenRequest{Name: o.name, Description: o.desc, Role: o.role, Scope: o.sc, EntityID: o.entityID, ExpiryDays: o.expiry},
		Targets: ts, DryRun: o.dryRun,
	}
	if o.skipExisting {
		req.Existing = rotation.KeepExisting
	}
	out, runErr := eng.Create(r.ctx, req)
	if out.Token != nil {
		r.rep.Output("token-id", out.Token.ID)
		r.rep.Output("expires-at", fmtTime(out.Token.ExpiresAt))
	}
	_ = r.rep.Result(out, func(w io.Writer) {
		if out.DryRun {
			fmt.Fprintln(w, "dry run (nothing was changed); astro-ci would:")
			for _, p := range out.Plan {
				fmt.Fprintf(w, "  - %s\n", p)
			}
		} else if out.Existed && out.Token != nil {
			fmt.Fprintf(w, "token %s (%s) exists; left as it is (--skip-existing)\n", out.Token.ID, out.Token.Name)
		} else if out.Token != nil && runErr == nil {
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
