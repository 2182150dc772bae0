package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/cienv"
	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// previewOptions are the flags preview create, preview delete and run share.
type previewOptions struct {
	create                          bool
	base, branch, prefix, tokenRole string
	dotenv                          string
	allowForks, wait, dryRun        bool
	tokenTargets, secretEnv         listFlag
	tokenExpiry                     int
	timeout, poll                   durationFlag
}

func (p *previewOptions) register(c *cobra.Command, create bool) {
	p.create = create
	f := c.Flags()
	f.StringVar(&p.base, "base-deployment", "", "the Deployment previews copy: its `id` or its (unique) name")
	f.StringVar(&p.branch, "branch", "", "the branch (default: from the CI event)")
	f.StringVar(&p.prefix, "name-prefix", "preview-", "start of every preview's name")
	f.Var(&p.tokenTargets, "token-target", "where the preview's Deployment API token goes (repeatable; {slug} and {branch} are replaced)")
	envAlso(c, "token-target", "ASTRO_CI_TOKEN_TARGETS")
	f.BoolVar(&p.allowForks, "allow-forks", false, "also manage previews for pull requests from forks (their branch names are not yours)")
	f.BoolVar(&p.dryRun, "dry-run", false, "print what would change and change nothing")
	if create {
		f.BoolVar(&p.wait, "wait", false, "wait until the preview is HEALTHY")
		p.timeout = durationFlag{20 * time.Minute}
		f.Var(&p.timeout, "timeout", "with --wait: give up after this long")
		p.poll = durationFlag{10 * time.Second}
		f.Var(&p.poll, "poll-interval", "with --wait: how often to ask Astro")
		f.Var(&p.secretEnv, "secret-env", "set secret variable KEY on the preview from environment variable ENVVAR: `KEY=ENVVAR` (repeatable; ASTRO_PREVIEW_SECRET_<KEY> variables are added too)")
		p.tokenRole = "DEPLOYMENT_ADMIN"
		f.StringVar(&p.tokenRole, "token-role", p.tokenRole, "with --token-target: `role` of the preview's Deployment API token")
		p.tokenExpiry = 30
		f.IntVar(&p.tokenExpiry, "token-expiry-days", p.tokenExpiry, "with --token-target: `days` until the preview's token expires (0: never)")
		f.StringVar(&p.dotenv, "dotenv", "", "write PREVIEW_ID, PREVIEW_NAME, PREVIEW_URL to this dotenv `file` (default preview.env in GitLab CI)")
	}
}

// validate refuses what needs no I/O to refuse, including flags the
// preview would ignore.
func (p *previewOptions) validate(g given) error {
	if !p.create {
		return nil
	}
	switch {
	case !p.wait && g.has("timeout"):
		return usagef("%s only applies with --wait (the preview is not waited for otherwise): add --wait or drop it", g.label("timeout"))
	case !p.wait && g.has("poll-interval"):
		return usagef("%s only applies with --wait: add --wait or drop it", g.label("poll-interval"))
	case p.wait && p.dryRun:
		return usagef("%s has nothing to wait for with %s", g.label("wait"), g.label("dry-run"))
	case len(p.tokenTargets) == 0 && g.has("token-role"):
		return usagef("%s applies to the preview's token, which is made only with --token-target: add one or drop it", g.label("token-role"))
	case len(p.tokenTargets) == 0 && g.has("token-expiry-days"):
		return usagef("%s applies to the preview's token, which is made only with --token-target: add one or drop it", g.label("token-expiry-days"))
	case p.tokenExpiry < 0 || p.tokenExpiry > 3650:
		return usagef("%s must be between 1 and 3650 (or 0 for never)", g.label("token-expiry-days"))
	case p.wait && p.poll.d <= 0:
		return usagef("%s must be longer than 0", g.label("poll-interval"))
	}
	return checkRole(astro.ScopeDeployment, p.tokenRole)
}

// needs: a --wait needs its --timeout (see builder.deadline).
func (p *previewOptions) needs() (time.Duration, string) {
	if !p.wait {
		return 0, ""
	}
	return p.timeout.d, "timeout"
}

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secretEnv collects the preview's secret variables from --secret-env and
// ASTRO_PREVIEW_SECRET_<KEY>, registering every value with the redactor.
func (r *runner) secretEnv(specs []string) (map[string]secret.Value, error) {
	out := map[string]secret.Value{}
	const prefix = "ASTRO_PREVIEW_SECRET_"
	for k, v := range r.env {
		if key, ok := strings.CutPrefix(k, prefix); ok && key != "" {
			if !envKeyRE.MatchString(key) {
				return nil, usagef("%s: %s is not a valid variable name", echo.Quote(k), echo.Quote(key))
			}
			out[key] = secret.New(v)
		}
	}
	for _, s := range specs {
		key, from, ok := strings.Cut(s, "=")
		if !ok || !envKeyRE.MatchString(key) || !envKeyRE.MatchString(from) {
			return nil, usagef("--secret-env %s: write KEY=ENVVAR (the value comes from environment variable ENVVAR, never from the command line)", echo.Quote(s))
		}
		v, present := r.env[from]
		if !present {
			return nil, usagef("--secret-env %s: environment variable %s is not set (map the CI secret into the job's environment)", echo.Quote(s), from)
		}
		out[key] = secret.New(v)
	}
	for _, v := range out {
		r.rep.Secret(v)
	}
	return out, nil
}

// detectEvent turns the CI environment (or the flags) into an event.
func (r *runner) detectEvent(branch string, stop bool, kind cienv.Kind) (cienv.Event, error) {
	ev, err := cienv.Detect(r.env, os.ReadFile, cienv.Options{Branch: branch, Stop: stop, Kind: kind})
	if err != nil {
		if errors.Is(err, cienv.ErrNoKind) || errors.Is(err, cienv.ErrNoBranch) {
			return ev, usageError{err}
		}
		var be *cienv.BranchError
		if errors.As(err, &be) {
			return ev, usageError{err}
		}
		return ev, err
	}
	return ev, nil
}

func (r *runner) previewEngine() (*preview.Engine, error) {
	c, err := r.astroClient()
	if err != nil {
		return nil, err
	}
	tokens, err := r.engine(c)
	if err != nil {
		return nil, err
	}
	f, err := r.fanout()
	if err != nil {
		return nil, err
	}
	return &preview.Engine{Astro: c, Tokens: tokens, Targets: f, Log: observer{r}, Now: r.now, Sleep: r.sleep}, nil
}

func (b *builder) previewCmd(create bool) *cobra.Command {
	o := &previewOptions{}
	c := &cobra.Command{}
	if create {
		c.Use = "create [--base-deployment ID|NAME] [--branch B] [--token-target T...] [--wait]"
		c.Short = "Create (or find) the branch's preview Deployment, with its own token"
		c.Long = `Create makes a preview of the base Deployment for the branch of the CI event (or --branch): a copy
of its configuration (type, cloud, region or cluster, runtime, executor, scheduler, task pod and
quota settings, worker queues, hibernation schedules, non-secret variables, workload identity),
named --name-prefix plus a slug of the branch. It is idempotent: an existing preview, found by
the marker in its description, is reused. With --token-target the preview gets its own
Deployment API token, written to each target ({slug} and {branch} replaced). Secret variables
come from --secret-env KEY=ENVVAR and ASTRO_PREVIEW_SECRET_<KEY>. Pull requests from forks are
refused unless --allow-forks.`
		c.Example = `  # In a job for a new branch: the preview and its token in an environment secret
  astro-ci preview create --base-deployment production \
    --token-target 'github://acme/dags/environments/preview-{slug}/secrets/ASTRO_API_TOKEN?create_environment=true'

  # Outside CI, waiting until it is healthy
  astro-ci preview create --base-deployment production --branch feature/x --wait --timeout 30m`
	} else {
		c.Use = "delete [--base-deployment ID|NAME] [--branch B] [--token-target T...]"
		c.Short = "Delete the branch's preview Deployment, its tokens and their secrets"
		c.Long = `Delete removes the branch's preview (found by its marker, not its name), its tokens and the
targets that hold them (give the same --token-target as create). Already gone is success.`
		c.Example = `  astro-ci preview delete --base-deployment production --branch feature/x
  astro-ci preview delete --base-deployment production --token-target 'gitlab://acme/dags/variables/ASTRO_API_TOKEN?environment_scope=review/{slug}'`
	}
	o.register(c, create)
	return b.leaf(c, o, func() error { return b.r.previewCmd(o, create) })
}

func (r *runner) previewCmd(p *previewOptions, create bool) error {
	name := "preview delete"
	kind := cienv.BranchDeleted
	if create {
		name, kind = "preview create", cienv.BranchCreated
	}
	ev, err := r.detectEvent(p.branch, false, kind)
	if err != nil {
		return err
	}
	if ev.Branch == "" {
		return usagef("%s: no branch: give --branch", name)
	}
	if ev.FromFork && !p.allowForks {
		return fmt.Errorf("refusing a preview for pull request #%d from the fork %s: its branch %s is not a branch of %s (pass --allow-forks to allow)", ev.PullRequest, echo.Quote(ev.HeadRepository), echo.Quote(ev.Branch), echo.Quote(ev.Repository))
	}
	return r.doPreview(p, ev.Branch, create)
}

func (r *runner) doPreview(p *previewOptions, branch string, create bool) error {
	if p.base == "" {
		return usagef("give --base-deployment (the id or name of the Deployment previews copy)")
	}
	req := preview.Request{
		Base: p.base, Branch: branch, NamePrefix: p.prefix, TokenTargets: p.tokenTargets, TargetDefaults: r.targetDefaults(),
		TokenRole: p.tokenRole, TokenExpiryDays: p.tokenExpiry, Wait: p.wait, Timeout: p.timeout.d, PollInterval: p.poll.d, DryRun: p.dryRun,
	}
	_, slug, err := preview.Name(p.prefix, branch)
	if err != nil {
		return usageError{err}
	}
	if _, err := preview.ExpandTargets(p.tokenTargets, slug, branch, r.targetDefaults()); err != nil {
		return usageError{err}
	}
	if create {
		se, err := r.secretEnv(p.secretEnv)
		if err != nil {
			return err
		}
		req.SecretEnv = se
	}
	eng, err := r.previewEngine()
	if err != nil {
		return err
	}
	var res *preview.Result
	if create {
		res, err = eng.Create(r.ctx, req)
	} else {
		res, err = eng.Delete(r.ctx, req)
	}
	r.reportPreview(res, p, create, err)
	return err
}

func (r *runner) reportPreview(res *preview.Result, p *previewOptions, create bool, runErr error) {
	if res == nil || (runErr != nil && res.BaseID == "") {
		return // failed before anything was found: the error says it all
	}
	if runErr != nil && res.Action == "" {
		res.Action = "failed"
	}
	r.rep.Output("preview-id", res.ID)
	r.rep.Output("preview-name", res.Name)
	r.rep.Output("preview-url", res.URL)
	r.rep.Output("preview-status", res.Status)
	r.rep.Output("preview-action", res.Action)
	r.rep.Summary(previewSummary(res))
	if create && res.ID != "" && !p.dryRun {
		path := p.dotenv
		if path == "" && r.rep.CI() == report.GitLabCI {
			path = "preview.env"
		}
		if path != "" {
			if err := writeDotenv(path, map[string]string{"PREVIEW_ID": res.ID, "PREVIEW_NAME": res.Name, "PREVIEW_URL": res.URL, "PREVIEW_STATUS": res.Status}); err != nil {
				r.rep.Warnf("could not write %s: %v", path, err)
			}
		}
	}
	_ = r.rep.Result(res, func(w io.Writer) {
		fmt.Fprintf(w, "%s: %s", res.Action, res.Name)
		if res.ID != "" {
			fmt.Fprintf(w, " (%s)", res.ID)
		}
		fmt.Fprintf(w, ", preview of %s for branch %s", res.BaseName, echo.Quote(res.Branch))
		if res.Status != "" {
			fmt.Fprintf(w, ", %s", res.Status)
		}
		fmt.Fprintln(w)
		if res.URL != "" {
			fmt.Fprintf(w, "  Airflow UI: %s\n", res.URL)
		}
		if res.Token != nil {
			fmt.Fprintf(w, "  token %s, expires %s\n", res.Token.ID, fmtTime(res.Token.ExpiresAt))
		}
		for _, t := range res.Targets {
			line := fmt.Sprintf("  %-8s %s", t.Status, t.Target)
			if t.Error != "" {
				line += ": " + t.Error
			}
			fmt.Fprintln(w, line)
		}
		if len(res.SecretKeys) > 0 {
			fmt.Fprintf(w, "  secret variables: %s\n", strings.Join(res.SecretKeys, ", "))
		}
	})
}

func previewSummary(res *preview.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Astro preview\n\n| | |\n|---|---|\n| Action | %s |\n| Preview | `%s` (`%s`) |\n| Branch | `%s` |\n| Base | %s |\n",
		res.Action, mdEscape(res.Name), res.ID, mdEscape(res.Branch), mdEscape(res.BaseName))
	if res.Status != "" {
		fmt.Fprintf(&b, "| Status | %s |\n", res.Status)
	}
	if res.URL != "" {
		fmt.Fprintf(&b, "| Airflow UI | %s |\n", mdEscape(res.URL))
	}
	return b.String()
}

// writeDotenv writes non-secret KEY=VALUE lines for GitLab's
// artifacts:reports:dotenv (environment:url uses PREVIEW_URL).
func writeDotenv(path string, kv map[string]string) error {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, strings.NewReplacer("\n", " ", "\r", " ").Replace(kv[k]))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
