package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/recovery"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// observer adapts the reporter to the rotation engine.
type observer struct{ r *runner }

func (o observer) Secret(v secret.Value)            { o.r.rep.Secret(v) }
func (o observer) Infof(format string, args ...any) { o.r.rep.Infof(format, args...) }
func (o observer) Warnf(format string, args ...any) { o.r.rep.Warnf(format, args...) }

var _ rotation.Observer = observer{}

func (r *runner) engine(c *astro.Client) (*rotation.Engine, error) {
	f, err := r.fanout()
	if err != nil {
		return nil, err
	}
	cl := c.Claims()
	hint := astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true}
	switch {
	case cl.DeploymentID != "":
		hint = astro.ListTokensOptions{DeploymentID: cl.DeploymentID}
	case cl.WorkspaceID != "":
		hint = astro.ListTokensOptions{WorkspaceID: cl.WorkspaceID}
	}
	return &rotation.Engine{
		SelfList: &hint,
		Astro:    c,
		Reauth: func(v secret.Value) (rotation.Astro, error) {
			return c.WithToken(v)
		},
		Targets:   f,
		Log:       observer{r},
		Now:       r.now,
		Rand:      r.m.Rand,
		Sleep:     r.m.Sleep,
		SelfID:    c.Claims().TokenID,
		SelfValue: r.cfg.APIToken,
	}, nil
}

func (r *runner) tokenRotate(args []string) error {
	fs := newFlagSet("token rotate", r.env, r.stderr)
	tokenID := fs.String("token-id", "", "the token to rotate (default: the one in ASTRO_API_TOKEN)")
	tokenName := fs.String("token-name", "", "the token to rotate, by name")
	strategy := fs.String("strategy", "overlap", "overlap (new token, zero downtime) or rotate (Astro's in-place rotate)")
	var within, grace durationFlag
	fs.Var(&within, "if-expires-within", "rotate only when the token expires within this (e.g. 14d); else exit 0")
	fs.Var(&grace, "grace", "overlap: keep the superseded token valid this long; a later run deletes it")
	dryRun := fs.Bool("dry-run", false, "print the plan and change nothing")
	recipient := fs.String("recovery-recipient", "", "rotate: age public key; the new value is printed encrypted to it before any write")
	var targets listFlag
	fs.Var(&targets, "target", "where to write the new value (repeatable; see README for the forms)")
	fs.alsoFromEnv("target", "ASTRO_CI_TARGETS")
	fs.formatFlag()
	if err := fs.parse(args); err != nil {
		return err
	}
	if *tokenID != "" && *tokenName != "" {
		return usagef("token rotate: --token-id and --token-name exclude each other")
	}
	strat, err := rotation.ParseStrategy(*strategy)
	if err != nil {
		return usageError{err}
	}
	if grace.d > 0 && strat != rotation.Overlap {
		return usagef("token rotate: --grace needs --strategy overlap (an in-place rotate kills the old value at once)")
	}
	req := rotation.Request{
		TokenID: *tokenID, TokenName: *tokenName, Strategy: strat,
		IfExpiresWithin: within.d, Grace: grace.d, DryRun: *dryRun,
	}
	if *recipient != "" {
		s, err := recovery.Parse(*recipient)
		if err != nil {
			return usageError{err}
		}
		req.Recovery = s
	}
	if len(targets) == 0 && *tokenID == "" && *tokenName == "" {
		// Self-rotation writes back where ASTRO_API_TOKEN comes from in this CI job.
		if d := r.targetDefaults(); d.GitHubRepository != "" || d.GitLabProject != "" {
			targets = listFlag{r.cfg.TokenVar}
		}
	}
	if req.Targets, err = r.parseTargets(targets); err != nil {
		return err
	}
	if len(req.Targets) == 0 && !*dryRun {
		return usagef("token rotate: give at least one --target for the new value (outside GitHub Actions and GitLab CI there is no default)")
	}
	req.Rerun = rerunCommand("token rotate", fs, req.Targets)
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	eng, err := r.engine(c)
	if err != nil {
		return err
	}
	out, runErr := eng.Run(r.ctx, req)
	r.reportRotation(out, runErr)
	return runErr
}

// rerunCommand rebuilds the command line (flags only; no secret is ever a
// flag) for "to finish, run ..." messages.
func rerunCommand(path string, fs *flagSet, ts []target.Target) string {
	parts := []string{"astro-ci", path}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "target" || f.Name == "format" || f.Name == "dry-run" {
			return
		}
		parts = append(parts, fmt.Sprintf("--%s=%s", f.Name, shellQuote(f.Value.String())))
	})
	for _, t := range ts {
		parts = append(parts, "--target="+shellQuote(t.String()))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (r *runner) reportRotation(out *rotation.Outcome, runErr error) {
	if out == nil {
		return
	}
	id := out.Token.ID
	exp := out.Token.ExpiresAt
	if out.New != nil {
		id, exp = out.New.ID, out.New.ExpiresAt
	}
	if id != "" {
		r.rep.Output("token-id", id)
		r.rep.Output("expires-at", fmtTime(exp))
	}
	r.rep.Output("rotated", fmt.Sprint(out.Rotated))
	r.rep.Summary(rotationSummary(out, runErr))
	_ = r.rep.Result(out, func(w io.Writer) {
		switch {
		case out.DryRun && out.Due:
			fmt.Fprintf(w, "dry run: would rotate token %s (%s) with strategy %s:\n", out.Token.ID, out.Token.Name, out.Strategy)
			for _, p := range out.Plan {
				fmt.Fprintf(w, "  - %s\n", p)
			}
			for _, t := range out.Targets {
				fmt.Fprintf(w, "  target %s\n", t.Target)
			}
			return
		case runErr != nil && !out.Rotated:
			if out.Token.ID != "" {
				fmt.Fprintf(w, "rotation of %s (%s) failed\n", out.Token.ID, out.Token.Name)
			}
		case !out.Due && out.Token.ID != "":
			if out.DueAt != nil {
				fmt.Fprintf(w, "not due: token %s (%s) expires %s; rotation due from %s\n", out.Token.ID, out.Token.Name, fmtTime(out.Token.ExpiresAt), fmtTime(out.DueAt))
			} else {
				fmt.Fprintf(w, "not due: token %s (%s) never expires\n", out.Token.ID, out.Token.Name)
			}
		case out.Rotated && out.New != nil:
			fmt.Fprintf(w, "rotated %s (%s) with strategy %s: new token %s, expires %s\n", out.Token.ID, out.Token.Name, out.Strategy, out.New.ID, fmtTime(out.New.ExpiresAt))
		}
		for _, t := range out.Targets {
			line := fmt.Sprintf("  %-8s %s", t.Status, t.Target)
			if t.Error != "" {
				line += ": " + t.Error
			}
			fmt.Fprintln(w, line)
		}
		for _, d := range out.Deleted {
			fmt.Fprintf(w, "  deleted superseded token %s\n", d)
		}
		for _, k := range out.Kept {
			fmt.Fprintf(w, "  kept superseded token %s until %s\n", k.ID, fmtTime(k.Until))
		}
	})
}

func rotationSummary(out *rotation.Outcome, runErr error) string {
	var b strings.Builder
	b.WriteString("### Astro token rotation\n\n")
	switch {
	case runErr != nil && !out.Rotated:
		fmt.Fprintf(&b, "Rotation of `%s` (%s) did not complete; the log says what each target holds and how to finish.\n\n", out.Token.ID, mdEscape(out.Token.Name))
	case out.DryRun:
		fmt.Fprintf(&b, "Dry run for `%s` (%s), strategy %s: nothing was changed.\n\n", out.Token.ID, mdEscape(out.Token.Name), out.Strategy)
	case !out.Due:
		fmt.Fprintf(&b, "`%s` (%s) is not due (expires %s).\n\n", out.Token.ID, mdEscape(out.Token.Name), fmtTime(out.Token.ExpiresAt))
	case out.Rotated && out.New != nil:
		fmt.Fprintf(&b, "`%s` (%s) rotated with strategy %s. New token `%s`, expires %s.\n\n", out.Token.ID, mdEscape(out.Token.Name), out.Strategy, out.New.ID, fmtTime(out.New.ExpiresAt))
	default:
		fmt.Fprintf(&b, "Rotation of `%s` (%s) did not complete.\n\n", out.Token.ID, mdEscape(out.Token.Name))
	}
	if len(out.Targets) > 0 {
		b.WriteString("| Target | Result |\n|---|---|\n")
		for _, t := range out.Targets {
			fmt.Fprintf(&b, "| `%s` | %s |\n", t.Target, t.Status)
		}
	}
	return b.String()
}
