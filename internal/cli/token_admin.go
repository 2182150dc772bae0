package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/target"
	"github.com/astro-ci/astro-ci/internal/tokenadmin"
)

// tokenRef declares --token-id and --token-name.
func tokenRef(fs *flagSet) (id, name *string) {
	return fs.String("token-id", "", "the token's id"), fs.String("token-name", "", "the token's name (must name one token)")
}

func checkTokenRef(cmd, id, name string) error {
	switch {
	case id != "" && name != "":
		return usagef("%s: --token-id and --token-name exclude each other", cmd)
	case id == "" && name == "":
		return usagef("%s: name the token with --token-id or --token-name", cmd)
	}
	return nil
}

// resolveToken finds a token by id or name, following rotations.
func (r *runner) resolveToken(c *astro.Client, id, name string) (*astro.Token, error) {
	eng, err := r.engine(c)
	if err != nil {
		return nil, err
	}
	return eng.Resolve(r.ctx, id, name)
}

func (r *runner) reportAdmin(out *tokenadmin.Outcome, verb string) error {
	return r.rep.Result(out, func(w io.Writer) {
		switch {
		case out.NoOp && out.Note != "":
			fmt.Fprintf(w, "no change: %s\n", out.Note)
		case out.NoOp:
			fmt.Fprintf(w, "no change: token %s (%s) already is as asked\n", out.TokenID, out.TokenName)
		default:
			prefix := verb
			if out.DryRun {
				prefix = "dry run: would " + verb
			}
			fmt.Fprintf(w, "%s token %s (%s):\n", prefix, out.TokenID, out.TokenName)
			for _, c := range out.Changes {
				fmt.Fprintf(w, "  %s: %s -> %s\n", c.Field, quoteOrDash(c.From), quoteOrDash(c.To))
			}
		}
	})
}

func quoteOrDash(s string) string {
	if s == "" || s == "-" {
		return "-"
	}
	return fmt.Sprintf("%q", s)
}

// optionalString records whether a string flag was given at all, so
// "--description ”" clears a description while an absent flag keeps it.
type optionalString struct {
	v   string
	set bool
}

func (o *optionalString) String() string { return o.v }
func (o *optionalString) Set(s string) error {
	o.v, o.set = s, true
	return nil
}

func (o *optionalString) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.v
}

func (r *runner) tokenUpdate(args []string) error {
	fs := newFlagSet("token update", r.env, r.stderr)
	id, name := tokenRef(fs)
	var newName, desc, role optionalString
	fs.Var(&newName, "name", "new name")
	fs.Var(&desc, "description", "new description ('' clears it)")
	fs.Var(&role, "role", "new role on the token's own scope (e.g. WORKSPACE_OPERATOR)")
	expiry := fs.Int("expiry-days", 0, "refused: Astro fixes a token's expiry when it is created")
	dryRun := fs.Bool("dry-run", false, "print what would change and change nothing")
	fs.formatFlag()
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkTokenRef("token update", *id, *name); err != nil {
		return err
	}
	if *expiry != 0 {
		return usagef("token update: Astro cannot change a token's expiry after it is created; rotate it with astro-ci token rotate (the new token keeps the expiry period) or create a new token with --expiry-days")
	}
	if !newName.set && !desc.set && !role.set {
		return usagef("token update: nothing to update: give --name, --description or --role")
	}
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	t, err := r.resolveToken(c, *id, *name)
	if err != nil {
		return err
	}
	out, err := tokenadmin.Update(r.ctx, c, t, tokenadmin.UpdateRequest{Name: newName.ptr(), Description: desc.ptr(), Role: role.ptr(), DryRun: *dryRun})
	if err != nil {
		return err
	}
	return r.reportAdmin(out, "updated")
}

func (r *runner) tokenWorkspace(args []string) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "remove") {
		return usagef("token workspace: use 'token workspace add' or 'token workspace remove'")
	}
	add := args[0] == "add"
	cmd := "token workspace " + args[0]
	fs := newFlagSet(cmd, r.env, r.stderr)
	id, name := tokenRef(fs)
	ws := fs.String("workspace-id", "", "the Workspace")
	role := fs.String("role", "", "add: the Workspace role (WORKSPACE_OWNER, WORKSPACE_OPERATOR, WORKSPACE_AUTHOR, WORKSPACE_MEMBER, WORKSPACE_ACCESSOR)")
	dryRun := fs.Bool("dry-run", false, "print what would change and change nothing")
	fs.formatFlag()
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	if err := checkTokenRef(cmd, *id, *name); err != nil {
		return err
	}
	switch {
	case *ws == "":
		return usagef("%s: --workspace-id is required", cmd)
	case add && *role == "":
		return usagef("%s: --role is required (the Workspace role to grant)", cmd)
	case !add && *role != "":
		return usagef("%s: --role is not used when removing", cmd)
	}
	if add {
		if err := tokenadmin.CheckRole(astro.ScopeWorkspace, *role); err != nil {
			return usageError{err}
		}
	}
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	t, err := r.resolveToken(c, *id, *name)
	if err != nil {
		return err
	}
	grant := *role
	if !add {
		grant = ""
	}
	out, err := tokenadmin.WorkspaceRole(r.ctx, c, t, *ws, grant, *dryRun)
	if err != nil {
		return err
	}
	verb := "granted a Workspace role to"
	if !add {
		verb = "removed from the Workspace"
	}
	return r.reportAdmin(out, verb)
}

// deleteOutcome is the result of token delete.
type deleteOutcome struct {
	TokenID   string                  `json:"tokenId"`
	TokenName string                  `json:"tokenName,omitempty"`
	Deleted   bool                    `json:"deleted"`
	Absent    bool                    `json:"alreadyGone,omitempty"`
	DryRun    bool                    `json:"dryRun,omitempty"`
	Targets   []rotation.TargetResult `json:"targets,omitempty"`
}

func (r *runner) tokenDelete(args []string) error {
	fs := newFlagSet("token delete", r.env, r.stderr)
	id, name := tokenRef(fs)
	force := fs.Bool("force", false, "delete even if the token was used within --unused-for")
	unused := durationFlag{7 * 24 * time.Hour}
	fs.Var(&unused, "unused-for", "refuse to delete a token used more recently than this")
	dryRun := fs.Bool("dry-run", false, "print what would change and change nothing")
	var targets listFlag
	fs.Var(&targets, "target", "a secret or variable holding the token, deleted with it (repeatable)")
	fs.alsoFromEnv("target", "ASTRO_CI_TARGETS")
	fs.formatFlag()
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkTokenRef("token delete", *id, *name); err != nil {
		return err
	}
	ts, err := r.parseTargets(targets)
	if err != nil {
		return err
	}
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	out := &deleteOutcome{TokenID: *id, DryRun: *dryRun}
	var t *astro.Token
	if *id != "" {
		t, err = c.GetToken(r.ctx, *id)
	} else {
		t, err = r.resolveToken(c, "", *name)
	}
	switch {
	case astro.IsNotFound(err) && *id != "":
		out.Absent = true
		r.rep.Infof("token %s does not exist (already deleted)", *id)
	case err != nil:
		return err
	default:
		out.TokenID, out.TokenName = t.ID, t.Name
		if tokenadmin.RecentlyUsed(t, unused.d, r.now()) && !*force {
			return fmt.Errorf("token %s (%s) was used at %s, within --unused-for %s: some pipeline may still depend on it. Make sure none does, then pass --force (a deleted token cannot be recovered)",
				t.ID, t.Name, t.LastUsedAt.UTC().Format(time.RFC3339), unused.String())
		}
		if t.Scope == astro.ScopeOrganization {
			for _, role := range t.Roles {
				if role.EntityType == astro.EntityWorkspace {
					r.rep.Infof("note: to take Organization token %s out of Workspace %s without deleting it, use astro-ci token workspace remove --token-id %s --workspace-id %s", t.ID, role.EntityID, t.ID, role.EntityID)
				}
			}
		}
		if t.ID == c.Claims().TokenID {
			r.rep.Warnf("token %s is the one in ASTRO_API_TOKEN: after this, astro-ci cannot use it any more", t.ID)
		}
	}
	if *dryRun {
		for _, tg := range ts {
			out.Targets = append(out.Targets, rotation.TargetResult{Target: tg.String(), Status: "would-delete"})
		}
		return r.reportDelete(out)
	}
	if !out.Absent {
		// The token first: deleting it is what was asked; a target left
		// behind holds a dead value, which a rerun removes.
		if err := c.DeleteToken(r.ctx, out.TokenID); err != nil && !astro.IsNotFound(err) {
			return fmt.Errorf("deleting token %s: %w", out.TokenID, err)
		}
		out.Deleted = true
	}
	var werr error
	if len(ts) > 0 {
		f, err := r.fanout()
		if err != nil {
			return err
		}
		res := f.Delete(r.ctx, ts)
		for _, x := range res {
			tr := rotation.TargetResult{Target: x.Target.String(), Status: "deleted"}
			if x.Err != nil {
				tr.Status, tr.Error = "failed", x.Err.Error()
			}
			out.Targets = append(out.Targets, tr)
		}
		werr = target.Err(res)
	}
	if err := r.reportDelete(out); err != nil {
		return err
	}
	return werr
}

func (r *runner) reportDelete(out *deleteOutcome) error {
	return r.rep.Result(out, func(w io.Writer) {
		switch {
		case out.DryRun:
			fmt.Fprintf(w, "dry run: would delete token %s (%s)\n", out.TokenID, out.TokenName)
		case out.Absent:
			fmt.Fprintf(w, "token %s was already gone\n", out.TokenID)
		default:
			fmt.Fprintf(w, "deleted token %s (%s)\n", out.TokenID, out.TokenName)
		}
		for _, t := range out.Targets {
			line := fmt.Sprintf("  %-12s %s", t.Status, t.Target)
			if t.Error != "" {
				line += ": " + t.Error
			}
			fmt.Fprintln(w, line)
		}
	})
}

// listRow is one token of token list.
type listRow struct {
	tokenRow
	Roles     []string `json:"roles"`
	CreatedBy string   `json:"createdBy,omitempty"`
}

func (r *runner) tokenList(args []string) error {
	fs := newFlagSet("token list", r.env, r.stderr)
	ws := fs.String("workspace-id", "", "tokens with a role in this Workspace (its own tokens and Organization tokens added to it)")
	org := fs.Bool("organization", false, "only Organization tokens")
	fs.formatFlag()
	if err := fs.parse(args); err != nil {
		return err
	}
	if *ws != "" && *org {
		return usagef("token list: --workspace-id and --organization exclude each other")
	}
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	toks, err := c.ListTokens(r.ctx, astro.ListTokensOptions{WorkspaceID: *ws, IncludeOnlyOrganizationTokens: *org})
	if err != nil {
		return fmt.Errorf("listing tokens: %w", err)
	}
	now := r.now().UTC()
	rows := make([]listRow, 0, len(toks))
	for i := range toks {
		t := &toks[i]
		row := listRow{tokenRow: rowOf(t, now, 0, 0), CreatedBy: t.CreatedBy.Display()}
		row.Status = ""
		for _, ro := range t.Roles {
			row.Roles = append(row.Roles, fmt.Sprintf("%s %s:%s", ro.Role, strings.ToLower(ro.EntityType), ro.EntityID))
		}
		rows = append(rows, row)
	}
	return r.rep.Result(struct {
		Tokens []listRow `json:"tokens"`
	}{rows}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOKEN ID\tNAME\tSCOPE\tROLES\tEXPIRES\tDAYS LEFT\tLAST USED\tCREATED BY\tMANAGED")
		for _, row := range rows {
			managed := ""
			if row.Managed {
				managed = "astro-ci"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.ID, dash(row.Name), row.Scope, strings.Join(row.Roles, ", "),
				fmtTime(row.ExpiresAt), fmtDays(row.DaysLeft), fmtTime(row.LastUsedAt), dash(row.CreatedBy), managed)
		}
		_ = tw.Flush()
	})
}
