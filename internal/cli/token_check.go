package cli

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/rotation"
)

// tokenRow is one token in check and list output; never a value.
type tokenRow struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scope      string     `json:"scope"`
	EntityID   string     `json:"entityId,omitempty"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	DaysLeft   *int       `json:"daysLeft"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	Status     string     `json:"status"` // ok, warn, fail, expired
	Managed    bool       `json:"managed"`
	Note       string     `json:"note,omitempty"`
}

func daysLeft(exp *time.Time, now time.Time) *int {
	if exp == nil {
		return nil
	}
	d := int(math.Floor(exp.Sub(now).Hours() / 24))
	return &d
}

func status(exp *time.Time, now time.Time, warn, fail time.Duration) string {
	switch {
	case exp == nil:
		return "ok"
	case !now.Before(*exp):
		return "expired"
	case exp.Sub(now) <= fail:
		return "fail"
	case exp.Sub(now) <= warn:
		return "warn"
	}
	return "ok"
}

func rowOf(t *astro.Token, now time.Time, warn, fail time.Duration) tokenRow {
	_, managed := rotation.ParseMarker(t.Description)
	return tokenRow{
		ID: t.ID, Name: t.Name, Scope: string(t.Scope), EntityID: t.EntityID(),
		ExpiresAt: t.EndAt, DaysLeft: daysLeft(t.EndAt, now), LastUsedAt: t.LastUsedAt,
		Status: status(t.EndAt, now, warn, fail), Managed: managed,
	}
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtDays(d *int) string {
	if d == nil {
		return "never"
	}
	return fmt.Sprint(*d)
}

// checkOptions are token check's flags.
type checkOptions struct {
	tokenID, workspaceID string
	all                  bool
	warn, fail           durationFlag
}

func (o *checkOptions) validate(g given) error {
	switch {
	case o.all && o.tokenID != "":
		return usagef("token check: %s and %s exclude each other", g.label("all"), g.label("token-id"))
	case o.workspaceID != "" && !o.all:
		return usagef("token check: %s needs --all", g.label("workspace-id"))
	}
	return nil
}

func (b *builder) tokenCheckCmd() *cobra.Command {
	o := &checkOptions{warn: durationFlag{14 * 24 * time.Hour}, fail: durationFlag{3 * 24 * time.Hour}}
	c := &cobra.Command{
		Use:   "check [--token-id ID | --all [--workspace-id W]]",
		Short: "Report the expiry of tokens; exit 1 when one is expired or about to be",
		Long: `Check shows id, name, scope, expiry, days left and last use of tokens. Without --token-id or
--all it checks the token in ASTRO_API_TOKEN itself (if that token may not read token details,
its expiry comes from its own claims); an expired ASTRO_API_TOKEN is reported without calling
Astro. It exits 1 when a checked token has expired or expires within --fail-within, and warns
(an annotation on GitHub) within --warn-within.`,
		Example: `  # The token in ASTRO_API_TOKEN, in a daily job
  astro-ci token check

  # Every token the credential can see, as JSON
  astro-ci token check --all --warn-within 30d --format json`,
	}
	f := c.Flags()
	f.StringVar(&o.tokenID, "token-id", "", "check this token instead of ASTRO_API_TOKEN")
	f.BoolVar(&o.all, "all", false, "check every token visible to ASTRO_API_TOKEN")
	f.StringVar(&o.workspaceID, "workspace-id", "", "with --all: only tokens with a role in this Workspace")
	f.Var(&o.warn, "warn-within", "warn when a token expires within this (e.g. 14d)")
	f.Var(&o.fail, "fail-within", "exit 1 when a token expires within this (e.g. 3d)")
	return b.leaf(c, o, func() error { return b.r.tokenCheck(o) })
}

func (r *runner) tokenCheck(o *checkOptions) error {
	now := r.now().UTC()

	// An expired ASTRO_API_TOKEN is itself the finding: report it without a request.
	if !o.all && o.tokenID == "" {
		if claims, err := astro.ParseClaims(r.cfg.APIToken); err == nil && claims.CheckExpiry(now) != nil {
			row := claimsRow(claims, now, o, r.cfg.TokenVar+" has expired; Astro refuses it")
			return r.finishCheck([]tokenRow{row}, o.warn.d, o.fail.d, claims.TokenID)
		}
	}
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	selfID := c.Claims().TokenID
	var rows []tokenRow
	switch {
	case o.all:
		toks, err := c.ListTokens(r.ctx, astro.ListTokensOptions{WorkspaceID: o.workspaceID})
		if err != nil {
			return fmt.Errorf("listing tokens: %w", err)
		}
		for i := range toks {
			rows = append(rows, rowOf(&toks[i], now, o.warn.d, o.fail.d))
		}
	default:
		id := o.tokenID
		self := id == ""
		if self {
			id = selfID
		}
		if id == "" {
			// The claims name no token id (astro-cli needs none either): the
			// expiry comes from the claims.
			rows = append(rows, claimsRow(c.Claims(), now, o, "from the token's own claims (they name no token id; pass --token-id to read its details)"))
			break
		}
		t, err := c.GetToken(r.ctx, id)
		switch {
		case err == nil:
			rows = append(rows, rowOf(t, now, o.warn.d, o.fail.d))
		case self && astro.StatusCode(err) == 403:
			// A token that may not read tokens still knows its own expiry.
			rows = append(rows, claimsRow(c.Claims(), now, o, "from the token's own claims (it may not read token details)"))
		default:
			return fmt.Errorf("reading token %s: %w", id, err)
		}
	}
	return r.finishCheck(rows, o.warn.d, o.fail.d, selfID)
}

// claimsRow is what a token's own claims tell of it (the token in
// ASTRO_API_TOKEN, when Astro cannot or need not be asked): no name, no
// scope, and the id only when the claims carry one.
func claimsRow(cl astro.Claims, now time.Time, o *checkOptions, note string) tokenRow {
	return tokenRow{ID: cl.TokenID, Scope: "?", ExpiresAt: cl.ExpiresAt, DaysLeft: daysLeft(cl.ExpiresAt, now),
		Status: status(cl.ExpiresAt, now, o.warn.d, o.fail.d), Note: note}
}

// rotateHint is the command that rotates the token of row: the token in
// ASTRO_API_TOKEN by default, any other by its id.
func (r *runner) rotateHint(row tokenRow, selfID string) string {
	switch {
	case row.ID == "":
		return "astro-ci token rotate --token-id ID, with its id from astro-ci token list: its claims name none"
	case row.ID == selfID:
		return fmt.Sprintf("astro-ci token rotate (it is the token in %s)", r.cfg.TokenVar)
	}
	return "astro-ci token rotate --token-id " + row.ID
}

// label names row's token in messages: its id and name, or where it came
// from when its claims name no id.
func (r *runner) label(row tokenRow) string {
	switch {
	case row.ID == "":
		return "in " + r.cfg.TokenVar
	case row.Name != "":
		return fmt.Sprintf("%s (%s)", row.ID, row.Name)
	}
	return row.ID
}

func (r *runner) finishCheck(rows []tokenRow, warn, fail time.Duration, selfID string) error {
	var bad []string
	for _, row := range rows {
		label := r.label(row)
		switch row.Status {
		case "expired":
			r.rep.Errorf("token %s expired at %s", label, fmtTime(row.ExpiresAt))
			bad = append(bad, label)
		case "fail":
			r.rep.Errorf("token %s expires at %s, within --fail-within %s: rotate it now (%s)", label, fmtTime(row.ExpiresAt), (&durationFlag{fail}).String(), r.rotateHint(row, selfID))
			bad = append(bad, label)
		case "warn":
			r.rep.Warnf("token %s expires at %s, within --warn-within %s", label, fmtTime(row.ExpiresAt), (&durationFlag{warn}).String())
		}
	}
	if len(rows) == 1 {
		r.rep.Output("token-id", rows[0].ID)
		r.rep.Output("expires-at", fmtTime(rows[0].ExpiresAt))
		r.rep.Output("days-left", fmtDays(rows[0].DaysLeft))
	}
	// The overall status (the worst) and the counts, for one token or many.
	worst, expiring, expired := "ok", 0, 0
	rank := map[string]int{"ok": 0, "warn": 1, "fail": 2, "expired": 3}
	for _, row := range rows {
		if rank[row.Status] > rank[worst] {
			worst = row.Status
		}
		switch row.Status {
		case "warn", "fail":
			expiring++
		case "expired":
			expired++
		}
	}
	r.rep.Output("status", worst)
	r.rep.Output("checked-count", fmt.Sprint(len(rows)))
	r.rep.Output("expiring-count", fmt.Sprint(expiring))
	r.rep.Output("expired-count", fmt.Sprint(expired))
	r.rep.Summary(checkSummary(rows))
	err := r.rep.Result(struct {
		Tokens []tokenRow `json:"tokens"`
		OK     bool       `json:"ok"`
	}{rows, len(bad) == 0}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOKEN ID\tNAME\tSCOPE\tEXPIRES\tDAYS LEFT\tLAST USED\tSTATUS")
		for _, row := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(row.ID), dash(row.Name), row.Scope, fmtTime(row.ExpiresAt), fmtDays(row.DaysLeft), fmtTime(row.LastUsedAt), row.Status)
		}
		_ = tw.Flush()
		for _, row := range rows {
			if row.Note != "" {
				fmt.Fprintf(w, "note: %s: %s\n", cmp.Or(row.ID, r.label(row)), row.Note)
			}
		}
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return reportedError{fmt.Errorf("%d of %d tokens expired or expire within --fail-within %s: %s", len(bad), len(rows), (&durationFlag{fail}).String(), strings.Join(bad, ", "))}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func checkSummary(rows []tokenRow) string {
	var b strings.Builder
	b.WriteString("### Astro API tokens\n\n| Token | Name | Scope | Expires | Days left | Last used | Status |\n|---|---|---|---|---|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", row.ID, mdEscape(dash(row.Name)), row.Scope, fmtTime(row.ExpiresAt), fmtDays(row.DaysLeft), fmtTime(row.LastUsedAt), row.Status)
	}
	return b.String()
}

// mdEscape keeps user text (token names) from breaking a summary table or
// injecting markup.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}
