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

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/cienv"
	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// previewFlags are the flags preview create, preview delete and run share.
type previewFlags struct {
	base, branch, prefix, tokenRole, dotenv string
	kind                                    string
	stop, allowForks, wait, dryRun          bool
	tokenTargets, secretEnv                 listFlag
	tokenExpiry                             int
	timeout, poll                           durationFlag
}

func (p *previewFlags) register(fs *flagSet, create bool) {
	fs.StringVar(&p.base, "base-deployment", "", "the Deployment previews copy: its id or its (unique) name")
	fs.StringVar(&p.branch, "branch", "", "the branch (default: from the CI event)")
	fs.StringVar(&p.prefix, "name-prefix", "preview-", "start of every preview's name")
	fs.Var(&p.tokenTargets, "token-target", "where the preview's Deployment API token goes (repeatable; {slug} and {branch} are replaced)")
	fs.alsoFromEnv("token-target", "ASTRO_CI_TOKEN_TARGETS")
	fs.BoolVar(&p.allowForks, "allow-forks", false, "also manage previews for pull requests from forks (their branch names are not yours)")
	fs.BoolVar(&p.stop, "stop", false, "treat this job as the stop job of the branch's review environment (GitLab)")
	fs.BoolVar(&p.dryRun, "dry-run", false, "print what would change and change nothing")
	if create {
		fs.BoolVar(&p.wait, "wait", false, "wait until the preview is HEALTHY")
		p.timeout = durationFlag{20 * time.Minute}
		fs.Var(&p.timeout, "timeout", "with --wait: give up after this long")
		p.poll = durationFlag{10 * time.Second}
		fs.Var(&p.poll, "poll-interval", "with --wait: how often to ask Astro")
		fs.Var(&p.secretEnv, "secret-env", "KEY=ENVVAR: set secret variable KEY on the preview from environment variable ENVVAR (repeatable; ASTRO_PREVIEW_SECRET_<KEY> variables are added too)")
		fs.StringVar(&p.tokenRole, "token-role", "DEPLOYMENT_ADMIN", "role of the preview's Deployment API token")
		fs.IntVar(&p.tokenExpiry, "token-expiry-days", 30, "days until the preview's token expires (0: never)")
		fs.StringVar(&p.dotenv, "dotenv", "", "write PREVIEW_ID, PREVIEW_NAME, PREVIEW_URL to this dotenv file (default preview.env in GitLab CI)")
	}
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
				return nil, usagef("%s: %q is not a valid variable name", k, key)
			}
			out[key] = secret.New(v)
		}
	}
	for _, s := range specs {
		key, from, ok := strings.Cut(s, "=")
		if !ok || !envKeyRE.MatchString(key) || !envKeyRE.MatchString(from) {
			return nil, usagef("--secret-env %q: write KEY=ENVVAR (the value comes from environment variable ENVVAR, never from the command line)", s)
		}
		v, present := r.env[from]
		if !present {
			return nil, usagef("--secret-env %s: environment variable %s is not set (map the CI secret into the job's environment)", s, from)
		}
		out[key] = secret.New(v)
	}
	for _, v := range out {
		r.rep.Secret(v)
	}
	return out, nil
}

// detectEvent turns the CI environment (or the flags) into an event.
func (r *runner) detectEvent(p *previewFlags, kind cienv.Kind) (cienv.Event, error) {
	ev, err := cienv.Detect(r.env, os.ReadFile, cienv.Options{Branch: p.branch, Stop: p.stop, Kind: kind})
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
	return &preview.Engine{Astro: c, Tokens: tokens, Targets: f, Log: observer{r}, Now: r.now, Sleep: r.m.Sleep}, nil
}

func (r *runner) previewCreate(args []string) error {
	return r.previewCmd(args, true)
}

func (r *runner) previewDelete(args []string) error {
	return r.previewCmd(args, false)
}

func (r *runner) previewCmd(args []string, create bool) error {
	name := "preview delete"
	kind := cienv.BranchDeleted
	if create {
		name, kind = "preview create", cienv.BranchCreated
	}
	fs := newFlagSet(name, r.env, r.stderr)
	var p previewFlags
	p.register(fs, create)
	fs.formatFlag()
	if err := fs.parse(args); err != nil {
		return err
	}
	ev, err := r.detectEvent(&p, kind)
	if err != nil {
		return err
	}
	if ev.Branch == "" {
		return usagef("%s: no branch: give --branch", name)
	}
	if ev.FromFork && !p.allowForks {
		return fmt.Errorf("refusing a preview for pull request #%d from the fork %s: its branch %q is not a branch of %s (pass --allow-forks to allow)", ev.PullRequest, ev.HeadRepository, ev.Branch, ev.Repository)
	}
	return r.doPreview(&p, ev.Branch, create)
}

func (r *runner) doPreview(p *previewFlags, branch string, create bool) error {
	if p.base == "" {
		return usagef("give --base-deployment (the id or name of the Deployment previews copy)")
	}
	req := preview.Request{
		Base: p.base, Branch: branch, NamePrefix: p.prefix, TokenTargets: p.tokenTargets, TargetDefaults: r.targetDefaults(),
		TokenRole: p.tokenRole, TokenExpiryDays: p.tokenExpiry, Wait: p.wait, Timeout: p.timeout.d, PollInterval: p.poll.d, DryRun: p.dryRun,
	}
	if _, _, err := preview.Name(p.prefix, branch); err != nil {
		return usageError{err}
	}
	_, slug, _ := preview.Name(p.prefix, branch)
	if _, err := preview.ExpandTargets(p.tokenTargets, slug, branch, r.targetDefaults()); err != nil {
		return usageError{err}
	}
	if create {
		if p.tokenExpiry < 0 || p.tokenExpiry > 3650 {
			return usagef("--token-expiry-days must be between 1 and 3650 (or 0 for never)")
		}
		if err := checkRole(astro.ScopeDeployment, p.tokenRole); err != nil {
			return err
		}
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

func (r *runner) reportPreview(res *preview.Result, p *previewFlags, create bool, runErr error) {
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
		fmt.Fprintf(w, ", preview of %s for branch %q", res.BaseName, res.Branch)
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
