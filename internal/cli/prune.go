package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/gitlabbranches"
	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// pruneOptions are preview prune's flags (run on a schedule takes them
// from its preview flags and --max-age).
type pruneOptions struct {
	base, prefix string
	tokenTargets listFlag
	maxAge       durationFlag
	dryRun       bool
}

func (o *pruneOptions) validate(g given) error {
	if strings.TrimSpace(o.base) == "" {
		return usagef("preview prune: give --base-deployment (the id or name of the Deployment whose previews are pruned)")
	}
	return nil
}

func (b *builder) previewPruneCmd() *cobra.Command {
	o := &pruneOptions{prefix: "preview-"}
	c := &cobra.Command{
		Use:   "prune --base-deployment ID|NAME [--max-age D] [--dry-run]",
		Short: "Delete the previews whose branch is gone (or that are older than --max-age)",
		Long: `Prune deletes every preview of the base Deployment whose branch the repository no longer has
(GitHub: GITHUB_REPOSITORY, with GITHUB_TOKEN or ASTRO_CI_GITHUB_TOKEN; GitLab: CI_PROJECT_ID, with
ASTRO_CI_GITLAB_TOKEN, which needs read_api), or that was created longer ago than --max-age, with
their tokens and the targets that hold them (give the same --token-target as preview create), as
preview delete does: the targets first, then the tokens and the Deployment. Branches are matched
by the hash in each preview's marker, so renamed previews are found too. Previews created in the
last 15 minutes are kept for a branch that looks gone, and a failed or empty branch list prunes
nothing. run does this on every schedule when --base-deployment is set, so a missed delete event
costs nothing.`,
		Example: `  # Which previews would go?
  astro-ci preview prune --base-deployment production --dry-run

  # Weekly, in a scheduled job: gone branches, and anything older than 30 days
  astro-ci preview prune --base-deployment production --max-age 30d \
    --token-target 'github://acme/dags/environments/preview-{slug}/secrets/ASTRO_API_TOKEN'`,
	}
	f := c.Flags()
	f.StringVar(&o.base, "base-deployment", "", "the Deployment whose previews are pruned: its `id` or its (unique) name")
	f.StringVar(&o.prefix, "name-prefix", o.prefix, "start of every preview's name (the {slug} of a target is the name less it)")
	f.Var(&o.tokenTargets, "token-target", "where the previews' tokens are (repeatable; {slug}, {branch} and {ref_slug}, GitLab's CI_COMMIT_REF_SLUG of the branch, are replaced)")
	envAlso(c, "token-target", "ASTRO_CI_TOKEN_TARGETS")
	f.Var(&o.maxAge, "max-age", "also prune previews created longer ago than this (e.g. 30d), whether their branch exists or not")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be deleted and change nothing")
	return b.leaf(c, o, func() error {
		res, err := b.r.prune(o)
		b.r.reportPrune(res, err, false)
		return err
	})
}

// branchLister is the repository whose branches count: the GitHub
// repository or the GitLab project this job runs for.
func (r *runner) branchLister() (preview.BranchLister, error) {
	switch {
	case r.cfg.GitHubRepository != "" && !r.cfg.GitLabCI:
		gh, err := r.githubClient()
		if err != nil {
			return nil, usagef("preview prune lists the branches of %s: %v", echo.Quote(r.cfg.GitHubRepository), err)
		}
		return gh.Branches, nil
	case r.cfg.GitLabProjectID != "":
		tok := r.cfg.GitLabToken
		if tok.IsZero() {
			tok = r.cfg.GitLabTokenFallback
		}
		if tok.IsZero() {
			return nil, usagef("preview prune lists the branches of GitLab project %s: set ASTRO_CI_GITLAB_TOKEN (a project or group access token with read_api; CI_JOB_TOKEN cannot list branches)", echo.Quote(r.cfg.GitLabProjectID))
		}
		cfg := gitlabbranches.Config{BaseURL: firstNonEmpty(r.cfg.GitLabAPIURLOverride, r.cfg.GitLabAPIURL), Token: tok, Project: r.cfg.GitLabProjectID, HTTPClient: r.httpClient()}
		return func(ctx context.Context) ([]string, error) { return gitlabbranches.List(ctx, cfg) }, nil
	}
	return nil, usagef("preview prune needs the repository whose branches count: run it in GitHub Actions or GitLab CI, or set GITHUB_REPOSITORY (OWNER/REPO) or CI_PROJECT_ID")
}

func (r *runner) prune(o *pruneOptions) (*preview.PruneResult, error) {
	if _, _, err := preview.Name(o.prefix, "x"); err != nil {
		return nil, usageError{err}
	}
	if _, err := preview.ExpandTargets(o.tokenTargets, "x", "x", r.targetDefaults()); err != nil {
		return nil, usageError{err}
	}
	list, err := r.branchLister()
	if err != nil {
		return nil, err
	}
	eng, err := r.previewEngine()
	if err != nil {
		return nil, err
	}
	res, err := eng.Prune(r.ctx, preview.PruneRequest{
		Base: o.base, NamePrefix: o.prefix, TokenTargets: o.tokenTargets, TargetDefaults: r.targetDefaults(),
		MaxAge: o.maxAge.d, DryRun: o.dryRun,
	}, list)
	if res != nil && !o.dryRun {
		var gone []string
		for _, p := range res.Pruned {
			if p.Action == "deleted" {
				gone = append(gone, p.Name)
			}
		}
		r.deactivateAll(gone)
	}
	return res, err
}

// reportPrune prints prune's result; extra: as a member of run's document.
func (r *runner) reportPrune(res *preview.PruneResult, runErr error, extra bool) {
	if res == nil || res.BaseID == "" {
		return
	}
	n := 0
	for _, p := range res.Pruned {
		if p.Action == "deleted" {
			n++
		}
	}
	r.rep.Output("pruned-count", fmt.Sprint(n))
	r.rep.Summary(pruneSummary(res))
	text := func(w io.Writer) {
		verb := "pruned"
		if res.DryRun {
			verb = "would prune"
		}
		fmt.Fprintf(w, "%s %d of %d previews of %s (%d branches)\n", verb, len(res.Pruned), res.Previews, res.BaseName, res.Branches)
		for _, p := range res.Pruned {
			line := fmt.Sprintf("  %-12s %s (%s): %s", p.Action, p.Name, p.ID, p.Reason)
			if p.Branch != "" {
				line += ", branch " + echo.Quote(p.Branch)
			}
			if p.Error != "" {
				line += ": " + p.Error
			}
			fmt.Fprintln(w, line)
		}
	}
	if extra {
		_ = r.rep.Extra("prune", res)
		if r.rep.Format() == report.Text {
			text(r.rep.Stdout())
		}
		return
	}
	_ = r.rep.Result(res, text)
}

func pruneSummary(res *preview.PruneResult) string {
	var b strings.Builder
	title := "Pruned previews"
	if res.DryRun {
		title = "Previews a prune would delete"
	}
	fmt.Fprintf(&b, "### %s of %s\n\n", title, mdEscape(res.BaseName))
	if len(res.Pruned) == 0 {
		fmt.Fprintf(&b, "None: each of the %d previews has its branch.\n", res.Previews)
		return b.String()
	}
	b.WriteString("| Preview | Branch | Why | Result |\n|---|---|---|---|\n")
	for _, p := range res.Pruned {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", mdEscape(p.Name), mdEscape(p.Branch), mdEscape(p.Reason), mdEscape(p.Action))
	}
	return b.String()
}
