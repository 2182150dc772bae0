package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/target"
	"github.com/astro-ci/astro-ci/internal/tokenadmin"
)

// tokenRef is --token-id or --token-name: which token a command is about.
type tokenRef struct{ id, name string }

// register declares the two flags; short is --token-name's shorthand (the
// Astro CLI's: -t where -n renames, -n on the Workspace commands).
func (t *tokenRef) register(c *cobra.Command, short string) {
	c.Flags().StringVar(&t.id, "token-id", "", "the token's `id`")
	c.Flags().StringVarP(&t.name, "token-name", short, "", "the token's `name` (must name one token)")
}

func (t *tokenRef) validate(cmd string, g given) error {
	switch {
	case t.id != "" && t.name != "":
		return usagef("%s: %s and %s exclude each other", cmd, g.label("token-id"), g.label("token-name"))
	case t.id == "" && t.name == "":
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

// adminVerb says what an administration command did, and in a dry run
// would do, to a token: "updated token %s" / "update token %s".
type adminVerb struct{ done, would string }

func (r *runner) reportAdmin(out *tokenadmin.Outcome, verb adminVerb) error {
	return r.rep.Result(out, func(w io.Writer) {
		tok := fmt.Sprintf("%s (%s)", out.TokenID, out.TokenName)
		switch {
		case out.NoOp && out.Note != "":
			fmt.Fprintf(w, "no change: %s\n", out.Note)
		case out.NoOp:
			fmt.Fprintf(w, "no change: token %s already is as asked\n", tok)
		case out.DryRun:
			fmt.Fprintf(w, "dry run: would %s:\n", fmt.Sprintf(verb.would, tok))
		default:
			fmt.Fprintf(w, "%s:\n", fmt.Sprintf(verb.done, tok))
		}
		if !out.NoOp {
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
	return echo.Quote(s)
}

// updateOptions are token update's flags.
type updateOptions struct {
	ref                 tokenRef
	newName, desc, role optionalString
	bareName            optionalString // --name: refused, ambiguous
	expiry              int
	dryRun              bool
}

func (o *updateOptions) validate(g given) error {
	if o.bareName.set {
		v := shellQuote(o.bareName.v)
		return usagef("token update: %s is ambiguous: the Astro CLI's --name picks the token, astro-ci's used to rename it. Pick the token with --token-name %s, or rename it with --new-name %s", g.label("name"), echo.Cut(v, 200), echo.Cut(v, 200))
	}
	if err := o.ref.validate("token update", g); err != nil {
		return err
	}
	if o.expiry != 0 {
		return usagef("token update: Astro cannot change a token's expiry after it is created; rotate it with astro-ci token rotate (the new token keeps the expiry period) or create a new token with --expiry-days")
	}
	if !o.newName.set && !o.desc.set && !o.role.set {
		return usagef("token update: nothing to update: give --new-name, --description or --role")
	}
	return nil
}

func (b *builder) tokenUpdateCmd() *cobra.Command {
	o := &updateOptions{}
	c := &cobra.Command{
		Use:   "update --token-id ID|--token-name NAME [--new-name N] [--description D] [--role R]",
		Short: "Change a token's name, description or role",
		Long: `Update renames a token, changes its description or its role on its own scope. Name and
description are sent together (the one not changed as it is, astro-ci's marker kept); --role
reads the token's role set fresh and writes it back with only that entry changed (Astro
replaces the whole set). A change that changes nothing says so and sends nothing. Expiry cannot
change after creation. As in the Astro CLI, the token is picked with --token-id or --token-name
(-t) and renamed with --new-name (-n); a bare --name is refused as ambiguous.`,
		Example: `  astro-ci token update --token-name deploy-bot --new-name deployer
  astro-ci token update -t deployer -r WORKSPACE_OPERATOR --dry-run
  astro-ci token update --token-id clt123 --description ''`,
	}
	o.ref.register(c, "t")
	f := c.Flags()
	f.VarP(&o.newName, "new-name", "n", "the token's new `name`")
	f.VarP(&o.desc, "description", "d", "new description ('' clears it)")
	f.VarP(&o.role, "role", "r", "new `role` on the token's own scope (e.g. WORKSPACE_OPERATOR)")
	f.Var(&o.bareName, "name", "refused: use --token-name to pick the token, --new-name to rename it")
	_ = f.MarkHidden("name")
	f.IntVar(&o.expiry, "expiry-days", 0, "refused: Astro fixes a token's expiry when it is created")
	_ = f.MarkHidden("expiry-days")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would change and change nothing")
	alias(c, "expiry-days", "expiration")
	return b.leaf(c, o, func() error { return b.r.tokenUpdate(o) })
}

func (r *runner) tokenUpdate(o *updateOptions) error {
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	t, err := r.resolveToken(c, o.ref.id, o.ref.name)
	if err != nil {
		return err
	}
	out, err := tokenadmin.Update(r.ctx, c, t, tokenadmin.UpdateRequest{Name: o.newName.ptr(), Description: o.desc.ptr(), Role: o.role.ptr(), DryRun: o.dryRun})
	if err != nil {
		return err
	}
	return r.reportAdmin(out, adminVerb{"updated token %s", "update token %s"})
}

// workspaceOptions are the flags of token workspace add, update and remove.
type workspaceOptions struct {
	op          string // add, update, remove
	ref         tokenRef
	workspaceID string
	role        string
	dryRun      bool
}

func (o *workspaceOptions) validate(g given) error {
	cmd := "token workspace " + o.op
	if err := o.ref.validate(cmd, g); err != nil {
		return err
	}
	switch {
	case o.workspaceID == "":
		return usagef("%s: --workspace-id is required", cmd)
	case o.op != "remove" && o.role == "":
		return usagef("%s: --role is required (the Workspace role to grant)", cmd)
	}
	if o.op != "remove" {
		if err := tokenadmin.CheckRole(astro.ScopeWorkspace, o.role); err != nil {
			return usageError{fmt.Errorf("%s: %s %w", cmd, g.label("role"), err)}
		}
	}
	return nil
}

func (b *builder) tokenWorkspaceCmd(op string) *cobra.Command {
	o := &workspaceOptions{op: op}
	c := &cobra.Command{}
	switch op {
	case "add":
		c.Use = "add --token-id ID|--org-token-name NAME --workspace-id W --role WORKSPACE_ROLE"
		c.Short = "Give an Organization token a role in a Workspace (or change it)"
		c.Long = `Add grants an Organization token a Workspace role, or changes the role it has there. Its
Organization role and every other role are kept. A change that changes nothing says so.`
		c.Example = `  astro-ci token workspace add --org-token-name ci-bot --workspace-id clws123 --role WORKSPACE_AUTHOR`
	case "update":
		c.Use = "update --token-id ID|--org-token-name NAME --workspace-id W --role WORKSPACE_ROLE"
		c.Short = "Change the Workspace role of an Organization token already in that Workspace"
		c.Long = `Update changes the role an Organization token has in a Workspace. Unlike add, it refuses a
token that has no role there yet, so a mistyped Workspace id cannot grant new access.`
		c.Example = `  astro-ci token workspace update -n ci-bot --workspace-id clws123 -r WORKSPACE_OPERATOR --dry-run`
	case "remove":
		c.Use = "remove --token-id ID|--org-token-name NAME --workspace-id W"
		c.Short = "Take an Organization token out of a Workspace"
		c.Long = `Remove takes away an Organization token's role in a Workspace without deleting the token; its
Organization role and other roles are kept. Removing a role the token does not have is no change.`
		c.Example = `  astro-ci token workspace remove --token-id clt123 --workspace-id clws123`
	}
	o.ref.register(c, "n")
	alias(c, "token-name", "org-token-name")
	f := c.Flags()
	f.StringVar(&o.workspaceID, "workspace-id", "", "the Workspace `id`")
	if op != "remove" {
		f.StringVarP(&o.role, "role", "r", "", "the Workspace `role`: WORKSPACE_OWNER, WORKSPACE_OPERATOR, WORKSPACE_AUTHOR, WORKSPACE_MEMBER or WORKSPACE_ACCESSOR")
		values(c, "role", tokenadmin.WorkspaceRoles...)
	}
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would change and change nothing")
	return b.leaf(c, o, func() error { return b.r.tokenWorkspace(o) })
}

func (r *runner) tokenWorkspace(o *workspaceOptions) error {
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	t, err := r.resolveToken(c, o.ref.id, o.ref.name)
	if err != nil {
		return err
	}
	var out *tokenadmin.Outcome
	var verb adminVerb
	ws := "Workspace " + o.workspaceID
	switch o.op {
	case "add":
		out, err = tokenadmin.WorkspaceRole(r.ctx, c, t, o.workspaceID, o.role, o.dryRun)
		verb = adminVerb{"granted token %s " + o.role + " in " + ws, "grant token %s " + o.role + " in " + ws}
	case "update":
		out, err = tokenadmin.UpdateWorkspaceRole(r.ctx, c, t, o.workspaceID, o.role, o.dryRun)
		verb = adminVerb{"changed the role of token %s in " + ws, "change the role of token %s in " + ws}
	default:
		out, err = tokenadmin.WorkspaceRole(r.ctx, c, t, o.workspaceID, "", o.dryRun)
		verb = adminVerb{"removed token %s from " + ws, "remove token %s from " + ws}
	}
	if err != nil {
		return err
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

// deleteOptions are token delete's flags.
type deleteOptions struct {
	ref     tokenRef
	force   bool
	unused  durationFlag
	dryRun  bool
	targets listFlag
}

func (o *deleteOptions) validate(g given) error {
	if err := o.ref.validate("token delete", g); err != nil {
		return err
	}
	if o.force && g.has("unused-for") {
		return usagef("token delete: %s has no effect with %s, which deletes however recently the token was used: drop one", g.label("unused-for"), g.label("force"))
	}
	return nil
}

func (b *builder) tokenDeleteCmd() *cobra.Command {
	o := &deleteOptions{unused: durationFlag{7 * 24 * time.Hour}}
	c := &cobra.Command{
		Use:   "delete --token-id ID|--token-name NAME [--target T...]",
		Short: "Delete a token (refused when recently used) and the secrets that hold it",
		Long: `Delete refuses a token used within --unused-for (default 7 days) unless --force, since a deleted
token cannot be recovered; then deletes it, and the secrets or variables named by --target.
Already gone is success. For an Organization token in a Workspace, token workspace remove takes
it out of that Workspace without deleting it.`,
		Example: `  astro-ci token delete --token-name old-bot --target github://acme/dags/secrets/OLD_TOKEN
  astro-ci token delete --token-id clt123 --force --dry-run`,
	}
	o.ref.register(c, "t")
	f := c.Flags()
	f.BoolVar(&o.force, "force", false, "delete even if the token was used within --unused-for")
	f.Var(&o.unused, "unused-for", "refuse to delete a token used more recently than this")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would change and change nothing")
	targetFlag(c, &o.targets, "a secret or variable holding the token, deleted with it (repeatable)")
	return b.leaf(c, o, func() error { return b.r.tokenDelete(o) })
}

func (r *runner) tokenDelete(o *deleteOptions) error {
	ts, err := r.parseTargets(o.targets)
	if err != nil {
		return err
	}
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	out := &deleteOutcome{TokenID: o.ref.id, DryRun: o.dryRun}
	var t *astro.Token
	if o.ref.id != "" {
		t, err = c.GetToken(r.ctx, o.ref.id)
	} else {
		t, err = r.resolveToken(c, "", o.ref.name)
	}
	switch {
	case astro.IsNotFound(err) && o.ref.id != "":
		out.Absent = true
		r.rep.Infof("token %s does not exist (already deleted)", echo.Quote(o.ref.id))
	case err != nil:
		return err
	default:
		out.TokenID, out.TokenName = t.ID, t.Name
		if tokenadmin.RecentlyUsed(t, o.unused.d, r.now()) && !o.force {
			return fmt.Errorf("token %s (%s) was used at %s, within --unused-for %s: some pipeline may still depend on it. Make sure none does, then pass --force (a deleted token cannot be recovered)",
				t.ID, t.Name, t.LastUsedAt.UTC().Format(time.RFC3339), o.unused.String())
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
	if o.dryRun {
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

// listRow is one token of token list; never a value.
type listRow struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scope      string     `json:"scope"`
	EntityID   string     `json:"entityId,omitempty"`
	Roles      []roleRow  `json:"roles"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	DaysLeft   *int       `json:"daysLeft"`
	Expired    bool       `json:"expired"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	CreatedBy  string     `json:"createdBy,omitempty"`
	Managed    bool       `json:"managed"`
}

// roleRow is one role of a token, as Astro structures it.
type roleRow struct {
	Role       string `json:"role"`
	EntityType string `json:"entityType"`
	EntityID   string `json:"entityId"`
}

func (r roleRow) String() string {
	return fmt.Sprintf("%s %s:%s", r.Role, strings.ToLower(r.EntityType), r.EntityID)
}

// listOptions are token list's flags.
type listOptions struct {
	workspaceID string
	org         bool
}

func (o *listOptions) validate(g given) error {
	if o.workspaceID != "" && o.org {
		return usagef("token list: %s and %s exclude each other", g.label("workspace-id"), g.label("organization"))
	}
	return nil
}

func (b *builder) tokenListCmd() *cobra.Command {
	o := &listOptions{}
	c := &cobra.Command{
		Use:   "list [--workspace-id W | --organization]",
		Short: "List tokens: scope, roles, expiry, last use; marks those astro-ci manages",
		Long: `List shows every token the credential in ASTRO_API_TOKEN can see, with scope, roles, expiry,
days left, last use and creator; tokens astro-ci manages (rotates) are marked. Never a value.`,
		Example: `  astro-ci token list
  astro-ci token list --workspace-id clws123 --format json`,
	}
	c.Flags().StringVar(&o.workspaceID, "workspace-id", "", "tokens with a role in this Workspace (its own tokens and Organization tokens added to it)")
	c.Flags().BoolVar(&o.org, "organization", false, "only Organization tokens")
	return b.leaf(c, o, func() error { return b.r.tokenList(o) })
}

func (r *runner) tokenList(o *listOptions) error {
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	toks, err := c.ListTokens(r.ctx, astro.ListTokensOptions{WorkspaceID: o.workspaceID, IncludeOnlyOrganizationTokens: o.org})
	if err != nil {
		return fmt.Errorf("listing tokens: %w", err)
	}
	now := r.now().UTC()
	rows := make([]listRow, 0, len(toks))
	for i := range toks {
		t := &toks[i]
		_, managed := rotation.ParseMarker(t.Description)
		row := listRow{
			ID: t.ID, Name: t.Name, Scope: string(t.Scope), EntityID: t.EntityID(), Roles: []roleRow{},
			ExpiresAt: t.EndAt, DaysLeft: daysLeft(t.EndAt, now), Expired: t.EndAt != nil && !now.Before(*t.EndAt),
			LastUsedAt: t.LastUsedAt, CreatedBy: t.CreatedBy.Display(), Managed: managed,
		}
		for _, ro := range t.Roles {
			row.Roles = append(row.Roles, roleRow{Role: ro.Role, EntityType: ro.EntityType, EntityID: ro.EntityID})
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
			roles := make([]string, len(row.Roles))
			for i, ro := range row.Roles {
				roles[i] = ro.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.ID, dash(row.Name), row.Scope, strings.Join(roles, ", "),
				fmtTime(row.ExpiresAt), fmtDays(row.DaysLeft), fmtTime(row.LastUsedAt), dash(row.CreatedBy), managed)
		}
		_ = tw.Flush()
	})
}
