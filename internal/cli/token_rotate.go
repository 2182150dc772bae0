package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/recovery"
	"github.com/astro-ci/astro-ci/internal/report/echo"
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
		Targets:       f,
		Log:           observer{r},
		Now:           r.now,
		Rand:          r.m.Rand,
		Sleep:         r.sleep,
		SelfID:        cl.TokenID,
		SelfValue:     r.cfg.APIToken,
		SelfExpiresAt: cl.ExpiresAt,
	}, nil
}

// rotateOptions are token rotate's flags (and run's on a schedule).
type rotateOptions struct {
	tokenID, tokenName, strategy string
	within, grace                durationFlag
	dryRun                       bool
	recipient                    string
	targets                      listFlag

	strat    rotation.Strategy
	recovery *recovery.Sealer
}

func (o *rotateOptions) validate(g given) error {
	if o.tokenID != "" && o.tokenName != "" {
		return usagef("token rotate: %s and %s exclude each other", g.label("token-id"), g.label("token-name"))
	}
	switch o.strategy {
	case "", string(rotation.Overlap), string(rotation.InPlace):
	default:
		return usagef("%s must be overlap or rotate, not %s", g.label("strategy"), echo.Quote(o.strategy))
	}
	strat, err := rotation.ParseStrategy(o.strategy)
	if err != nil {
		return usageError{err}
	}
	o.strat = strat
	if o.grace.d > 0 && strat != rotation.Overlap {
		return usagef("token rotate: %s needs --strategy overlap (an in-place rotate kills the old value at once)", g.label("grace"))
	}
	if o.recipient != "" {
		if strat != rotation.InPlace {
			return usagef("token rotate: %s is for --strategy rotate: with overlap the old value stays valid until every target holds the new one, so there is nothing to recover; drop it or use --strategy rotate", g.label("recovery-recipient"))
		}
		s, err := recovery.Parse(o.recipient)
		if err != nil {
			return usageError{fmt.Errorf("%s: %w", g.label("recovery-recipient"), err)}
		}
		o.recovery = s
	}
	return nil
}

func (b *builder) tokenRotateCmd() *cobra.Command {
	o := &rotateOptions{}
	c := &cobra.Command{
		Use:   "rotate [--token-id ID | --token-name NAME] [--strategy overlap|rotate] --target T...",
		Short: "Rotate a token (default: ASTRO_API_TOKEN itself) and write the new value to targets",
		Long: `Rotate replaces a token's value and writes the new one to every target. The default token is the
one in ASTRO_API_TOKEN (self-rotation); in GitHub Actions and GitLab CI its default target is
ASTRO_API_TOKEN of the repository or project the job runs for.

With --strategy overlap (the default) a new token with the same name, scope, roles and expiry
period is created, proven, written to every target and marked current; the superseded token is
deleted then, or with --grace on a later run once the grace has passed, so jobs that already
read the old value keep working. A run killed at any point leaves every target with a value
Astro accepts. With --strategy rotate, Astro rotates the token in place (same id, the old value
dies at once); --recovery-recipient prints the new value encrypted to an age key before any
write, so that even a killed job leaves a recoverable copy.`,
		Example: `  # Scheduled self-rotation: only when due, old value valid one more hour
  astro-ci token rotate --if-expires-within 14d --grace 1h

  # Another token, into a GitHub secret and a GitLab variable
  astro-ci token rotate --token-name deploy-bot \
    --target github://acme/dags/secrets/ASTRO_API_TOKEN --target gitlab://acme/dags/variables/ASTRO_API_TOKEN

  # The plan only
  astro-ci token rotate --dry-run`,
	}
	f := c.Flags()
	f.StringVar(&o.tokenID, "token-id", "", "the token to rotate (default: the one in ASTRO_API_TOKEN)")
	f.StringVarP(&o.tokenName, "token-name", "t", "", "the token to rotate, by name")
	o.strategy = string(rotation.Overlap)
	f.StringVar(&o.strategy, "strategy", o.strategy, "overlap (new token, zero downtime) or rotate (Astro's in-place rotate)")
	f.Var(&o.within, "if-expires-within", "rotate only when the token expires within this (e.g. 14d); else exit 0")
	f.Var(&o.grace, "grace", "overlap: keep the superseded token valid this long; a later run deletes it")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
	f.StringVar(&o.recipient, "recovery-recipient", "", "rotate: age public `key`; the new value is printed encrypted to it before any write")
	targetFlag(c, &o.targets, "where to write the new value (repeatable)")
	values(c, "strategy", "overlap", "rotate")
	return b.leaf(c, o, func() error { return b.r.tokenRotate(o) })
}

func (r *runner) tokenRotate(o *rotateOptions) error {
	req := rotation.Request{
		TokenID: o.tokenID, TokenName: o.tokenName, Strategy: o.strat,
		IfExpiresWithin: o.within.d, Grace: o.grace.d, DryRun: o.dryRun,
	}
	if o.recovery != nil {
		req.Recovery = o.recovery
	}
	targets := o.targets
	if len(targets) == 0 && o.tokenID == "" && o.tokenName == "" {
		// Self-rotation writes back where ASTRO_API_TOKEN comes from in this CI job.
		if d := r.targetDefaults(); d.GitHubRepository != "" || d.GitLabProject != "" {
			targets = listFlag{r.cfg.TokenVar}
		}
	}
	var err error
	if req.Targets, err = r.parseTargets(targets); err != nil {
		return err
	}
	if len(req.Targets) == 0 && !o.dryRun {
		return usagef("token rotate: give at least one --target for the new value (outside GitHub Actions and GitLab CI there is no default)")
	}
	req.Rerun = o.rerun(req.Targets)
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	eng, err := r.engine(c)
	if err != nil {
		return err
	}
	out, runErr := eng.Run(r.ctx, req)
	if errors.Is(runErr, rotation.ErrNoTokenID) {
		return usageError{runErr}
	}
	r.reportRotation(out, runErr)
	return runErr
}

// rerun is the command line (flags only; no secret is ever a flag) that
// finishes the rotation, for "to finish, run ..." messages.
func (o *rotateOptions) rerun(ts []target.Target) string {
	parts := []string{"astro-ci token rotate"}
	add := func(name, v string) { parts = append(parts, fmt.Sprintf("--%s=%s", name, shellQuote(v))) }
	if o.tokenID != "" {
		add("token-id", o.tokenID)
	}
	if o.tokenName != "" {
		add("token-name", o.tokenName)
	}
	add("strategy", string(o.strat))
	if o.within.d > 0 {
		add("if-expires-within", o.within.String())
	}
	if o.grace.d > 0 {
		add("grace", o.grace.String())
	}
	if o.recipient != "" {
		add("recovery-recipient", o.recipient)
	}
	for _, t := range ts {
		add("target", t.String())
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
		case out.Yielded != nil:
			fmt.Fprintf(w, "stepped aside: %s (token %s); this run wrote nothing\n", out.Yielded.Reason, out.Yielded.To)
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
	case out.Yielded != nil:
		fmt.Fprintf(&b, "`%s` (%s): another run was rotating it at the same time (its token `%s`), so this run stepped aside and wrote nothing: %s.\n\n", out.Token.ID, mdEscape(out.Token.Name), out.Yielded.To, mdEscape(out.Yielded.Reason))
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
	if out.NoGrace {
		b.WriteString("> [!WARNING]\n> No `--grace`: the superseded token was deleted at once, so a job still running with its value fails from now on. `--grace 1h` keeps it valid until a later run deletes it.\n\n")
	}
	if len(out.Targets) > 0 {
		b.WriteString("| Target | Result |\n|---|---|\n")
		for _, t := range out.Targets {
			fmt.Fprintf(&b, "| `%s` | %s |\n", t.Target, t.Status)
		}
	}
	return b.String()
}
