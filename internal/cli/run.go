package cli

import (
	"fmt"
	"time"

	"github.com/astro-ci/astro-ci/internal/cienv"
)

// runEvent maps the CI event to what astro-ci does about it: a branch
// created (or a pull request opened) gets a preview, a branch deleted (or a
// pull request closed, or a GitLab review environment stopped) loses it, a
// schedule rotates the token when due, anything else is said in one line.
func (r *runner) runEvent(args []string) error {
	fs := newFlagSet("run", r.env, r.stderr)
	var p previewFlags
	p.register(fs, true)
	fs.StringVar(&p.kind, "kind", "", "the event, outside CI: branch-created, branch-updated, branch-deleted, schedule, manual")
	onUpdate := fs.String("on-update", "ignore", "branch updated (push, pull request synchronize): ignore, or create (ensure the preview exists)")
	// Schedule: the rotation.
	var within, grace durationFlag
	within.d = 14 * 24 * time.Hour
	fs.Var(&within, "if-expires-within", "schedule: rotate ASTRO_API_TOKEN when it expires within this")
	fs.Var(&grace, "grace", "schedule: keep the superseded token valid this long")
	strategy := fs.String("strategy", "overlap", "schedule: overlap or rotate")
	var targets listFlag
	fs.Var(&targets, "target", "schedule: where the rotated value goes (default ASTRO_API_TOKEN of this repository or project)")
	fs.alsoFromEnv("target", "ASTRO_CI_TARGETS")
	fs.formatFlag()
	if err := fs.parse(args); err != nil {
		return err
	}
	if *onUpdate != "ignore" && *onUpdate != "create" {
		return usagef("--on-update must be ignore or create")
	}
	var kind cienv.Kind
	if p.kind != "" {
		k, err := cienv.ParseKind(p.kind)
		if err != nil {
			return usageError{err}
		}
		kind = k
	}
	ev, err := r.detectEvent(&p, kind)
	if err != nil {
		return err
	}
	nothing := func(why string) error {
		r.rep.Infof("nothing to do: %s", why)
		r.rep.Output("action", "none")
		return nil
	}
	switch ev.Kind {
	case cienv.BranchCreated, cienv.BranchUpdated, cienv.BranchDeleted:
		if ev.Kind == cienv.BranchUpdated && *onUpdate == "ignore" {
			return nothing(fmt.Sprintf("%s (branch %q updated; previews are made when a branch is created or a pull request opened, or pass --on-update create)", ev.Reason, ev.Branch))
		}
		if ev.FromFork && !p.allowForks {
			return nothing(fmt.Sprintf("%s: pull request #%d comes from the fork %s, whose branches are not yours (pass --allow-forks to allow)", ev.Reason, ev.PullRequest, ev.HeadRepository))
		}
		if ev.IsDefaultBranch() {
			return nothing(fmt.Sprintf("%s: %q is the default branch; previews are for other branches", ev.Reason, ev.Branch))
		}
		if p.base == "" {
			return nothing(fmt.Sprintf("%s, but no --base-deployment is configured for previews", ev.Reason))
		}
		r.rep.Infof("%s", ev.Reason)
		return r.doPreview(&p, ev.Branch, ev.Kind != cienv.BranchDeleted)
	case cienv.Schedule:
		r.rep.Infof("%s: rotating ASTRO_API_TOKEN if it expires within %s", ev.Reason, within.String())
		rargs := []string{"--if-expires-within", within.String(), "--strategy", *strategy}
		if grace.d > 0 {
			rargs = append(rargs, "--grace", grace.String())
		}
		if p.dryRun {
			rargs = append(rargs, "--dry-run")
		}
		for _, t := range targets {
			rargs = append(rargs, "--target", t)
		}
		if f := fs.Lookup("format"); f != nil {
			rargs = append(rargs, "--format", f.Value.String())
		}
		return r.tokenRotate(rargs)
	default:
		return nothing(ev.Reason)
	}
}
