package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/cienv"
	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// runOptions are run's flags: the preview's, the schedule's rotation, and
// the event.
type runOptions struct {
	preview  previewOptions
	rotate   rotateOptions
	kind     string
	onUpdate string
	stop     bool
	maxAge   durationFlag

	k cienv.Kind
}

func (o *runOptions) validate(g given) error {
	if o.onUpdate != "ignore" && o.onUpdate != "create" {
		return usagef("%s must be ignore or create, not %s", g.label("on-update"), echo.Quote(o.onUpdate))
	}
	if o.kind != "" {
		k, err := cienv.ParseKind(o.kind)
		if err != nil {
			return usageError{fmt.Errorf("%s: %w", g.label("kind"), err)}
		}
		o.k = k
	}
	if err := o.preview.validate(g); err != nil {
		return err
	}
	if g.has("max-age") && o.preview.base == "" {
		return usagef("%s prunes the previews of --base-deployment on schedules: give --base-deployment or drop it", g.label("max-age"))
	}
	o.rotate.dryRun = o.preview.dryRun
	return o.rotate.validate(g)
}

func (o *runOptions) needs() (time.Duration, string) { return o.preview.needs() }

func (b *builder) runCmd() *cobra.Command {
	o := &runOptions{rotate: rotateOptions{within: durationFlag{14 * 24 * time.Hour}}}
	c := &cobra.Command{
		Use:   "run",
		Short: "Act on the CI event: previews on branch events, rotation and pruning on schedules",
		Long: `Run reads the CI event and does what it calls for. A branch created (GitHub create, a push that
creates a branch, a pull request opened or reopened; GitLab's first push pipeline of a branch)
gets a preview with the branch's code (preview create); a push to a branch that has a preview
(GitHub push, a pull request synchronized; GitLab push pipelines) deploys the branch's DAGs to
it, and a branch without one gets none unless --on-update create; a branch deleted (GitHub
delete, a push that deletes, a pull request closed; GitLab's stop job of the review
environment) loses it (preview delete); a schedule rotates ASTRO_API_TOKEN when due (token
rotate --if-expires-within) and, with --base-deployment, prunes the previews whose branch is
gone (preview prune, first). Anything else (tags, the default branch, pull requests from
forks) does nothing, said in one line. Outside CI, --kind and --branch say what happened.`,
		Example: `  # One step for every event of a workflow
  astro-ci run --base-deployment production --grace 1h

  # Outside CI
  astro-ci run --kind branch-created --branch feature/x --base-deployment production`,
	}
	o.preview.register(c, true)
	f := c.Flags()
	f.StringVar(&o.kind, "kind", "", "the event, outside CI: branch-created, branch-updated, branch-deleted, schedule, manual")
	f.BoolVar(&o.stop, "stop", false, "treat this job as the stop job of the branch's review environment (GitLab)")
	o.onUpdate = "ignore"
	f.StringVar(&o.onUpdate, "on-update", o.onUpdate, "branch updated (push, pull request synchronize) without a preview: ignore, or create (make one); a preview that exists gets the branch's code either way")
	f.Var(&o.maxAge, "max-age", "schedule: also prune previews created longer ago than this (e.g. 30d)")
	f.Var(&o.rotate.within, "if-expires-within", "schedule: rotate ASTRO_API_TOKEN when it expires within this")
	f.Var(&o.rotate.grace, "grace", "schedule: keep the superseded token valid this long")
	o.rotate.strategy = "overlap"
	f.StringVar(&o.rotate.strategy, "strategy", o.rotate.strategy, "schedule: overlap or rotate")
	targetFlag(c, &o.rotate.targets, "schedule: where the rotated value goes (default ASTRO_API_TOKEN of this repository or project)")
	values(c, "strategy", "overlap", "rotate")
	values(c, "on-update", "ignore", "create")
	kinds := make([]string, 0, len(cienv.Kinds))
	for _, k := range cienv.Kinds {
		if k != cienv.Ignored {
			kinds = append(kinds, string(k))
		}
	}
	values(c, "kind", kinds...)
	return b.leaf(c, o, func() error { return b.r.runEvent(o) })
}

// runEvent maps the CI event to what astro-ci does about it: a branch
// created (or a pull request opened) gets a preview, a branch deleted (or a
// pull request closed, or a GitLab review environment stopped) loses it, a
// schedule rotates the token when due, anything else is said in one line.
func (r *runner) runEvent(o *runOptions) error {
	p := &o.preview
	ev, err := r.detectEvent(p.branch, o.stop, o.k)
	if err != nil {
		return err
	}
	nothing := func(why string) error {
		r.rep.Infof("nothing to do: %s", why)
		r.rep.Output("action", "none")
		return r.rep.Result(struct {
			Action string `json:"action"`
			Reason string `json:"reason"`
			Event  string `json:"event"`
		}{"none", why, string(ev.Kind)}, func(io.Writer) {})
	}
	switch ev.Kind {
	case cienv.BranchCreated, cienv.BranchUpdated, cienv.BranchDeleted:
		if ev.FromFork && !p.allowForks {
			return nothing(fmt.Sprintf("%s: pull request #%d comes from the fork %s, whose branches are not yours (pass --allow-forks to allow)", ev.Reason, ev.PullRequest, echo.Quote(ev.HeadRepository)))
		}
		if ev.IsDefaultBranch() {
			return nothing(fmt.Sprintf("%s: %s is the default branch; previews are for other branches", ev.Reason, echo.Quote(ev.Branch)))
		}
		if p.base == "" {
			return nothing(fmt.Sprintf("%s, but no --base-deployment is configured for previews", ev.Reason))
		}
		op := opCreate
		switch {
		case ev.Kind == cienv.BranchDeleted:
			op = opDelete
		case ev.Kind == cienv.BranchUpdated && o.onUpdate == "ignore":
			op = opUpdate
		}
		noPreview := fmt.Sprintf("%s (branch %s has no preview; previews are made when a branch is created or a pull request opened, or pass --on-update create)", ev.Reason, echo.Quote(ev.Branch))
		if op == opUpdate && p.deployMode == preview.DeployNone {
			return nothing(noPreview + ", and --deploy none deploys nothing to one")
		}
		r.rep.Infof("%s", ev.Reason)
		res, err := r.doPreview(p, ev, op)
		if op == opUpdate && err == nil && res != nil && res.Action == "absent" {
			return nothing(noPreview)
		}
		return err
	case cienv.Schedule:
		// Prune first: a rotation may retire the token this run acts with.
		var perr error
		if p.base != "" {
			r.rep.Infof("%s: pruning the previews of %s whose branch is gone", ev.Reason, echo.Quote(p.base))
			res, err := r.prune(&pruneOptions{base: p.base, prefix: p.prefix, tokenTargets: p.tokenTargets, maxAge: o.maxAge, dryRun: p.dryRun})
			r.reportPrune(res, err, true)
			perr = err
		}
		r.rep.Infof("%s: rotating %s if it expires within %s", ev.Reason, r.cfg.TokenVar, o.rotate.within.String())
		return errors.Join(perr, r.tokenRotate(&o.rotate))
	default:
		return nothing(ev.Reason)
	}
}
