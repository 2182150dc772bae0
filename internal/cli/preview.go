package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/cienv"
	"github.com/astro-ci/astro-ci/internal/preview"
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
	// The code (create): --deploy, --project-dir, --dags-path.
	deployMode, projectDir, dagsPath string
	workloadIdentity, runtimeVersion string
	comment                          bool
}

func (p *previewOptions) register(c *cobra.Command, create bool) {
	p.create = create
	f := c.Flags()
	f.StringVar(&p.base, "base-deployment", "", "the Deployment previews copy: its `id` or its (unique) name")
	f.StringVar(&p.branch, "branch", "", "the branch (default: from the CI event)")
	f.StringVar(&p.prefix, "name-prefix", "preview-", "start of every preview's name")
	f.Var(&p.tokenTargets, "token-target", "where the preview's Deployment API token goes (repeatable; {slug}, {branch} and {ref_slug}, GitLab's CI_COMMIT_REF_SLUG of the branch, are replaced)")
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
		f.StringVar(&p.dotenv, "dotenv", "", "write PREVIEW_ID, PREVIEW_NAME, PREVIEW_URL, PREVIEW_STATUS, DEPLOY_ID, DAG_TARBALL_VERSION, IMAGE_BUILD_REQUIRED to this dotenv `file` (default preview.env in $CI_PROJECT_DIR in GitLab CI)")
		p.deployMode = preview.DeployAuto
		f.StringVar(&p.deployMode, "deploy", p.deployMode, "which of the branch's code the preview gets (`mode`): auto (a new preview: the base's image and the project's DAGs; an existing one: the DAGs; none without a DAG folder), none, dags, or image-and-dags")
		f.StringVar(&p.projectDir, "project-dir", "", "the Astro project `folder` whose DAGs are deployed (default the working directory)")
		p.dagsPath = "dags"
		f.StringVar(&p.dagsPath, "dags-path", p.dagsPath, "the DAG `folder`, relative to --project-dir")
		f.StringVar(&p.workloadIdentity, "workload-identity", "", "the preview's cloud `identity` (an AWS IAM role ARN, a GCP service account, ...); default: none, so Astro gives each preview its own (never the base's)")
		f.StringVar(&p.runtimeVersion, "runtime-version", "", "the preview's Astro Runtime `version`, for a base on a version Astro no longer offers for new Deployments")
		values(c, "deploy", preview.DeployModes...)
	}
	f.BoolVar(&p.comment, "comment", false, "on GitHub pull request events: keep one comment on the pull request up to date with the preview (needs pull-requests: write)")
}

// validate refuses what needs no I/O to refuse, including flags the
// preview would ignore.
func (p *previewOptions) validate(g given) error {
	if !p.create {
		return nil
	}
	if err := preview.CheckCode(&preview.CodeRequest{Mode: p.deployMode, DagsPath: p.dagsPath}); err != nil {
		return usageError{fmt.Errorf("%s", strings.NewReplacer("--deploy", g.label("deploy"), "--dags-path", g.label("dags-path")).Replace(err.Error()))}
	}
	switch {
	case p.deployMode == preview.DeployNone && g.has("dags-path"):
		return usagef("%s applies to the code deploy, which %s %s turns off: drop one", g.label("dags-path"), g.label("deploy"), p.deployMode)
	case p.deployMode == preview.DeployNone && g.has("project-dir"):
		return usagef("%s applies to the code deploy, which %s %s turns off: drop one", g.label("project-dir"), g.label("deploy"), p.deployMode)
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
	return &preview.Engine{Astro: c, Tokens: tokens, Targets: f, Log: observer{r}, Now: r.now, Sleep: r.sleep, Code: r.deployEngine(c)}, nil
}

func (b *builder) previewCmd(create bool) *cobra.Command {
	o := &previewOptions{}
	c := &cobra.Command{}
	if create {
		c.Use = "create [--base-deployment ID|NAME] [--branch B] [--token-target T...] [--wait]"
		c.Short = "Create (or find) the branch's preview Deployment, with its own token"
		c.Long = `Create makes a preview of the base Deployment for the branch of the CI event (or --branch): a copy
of its configuration (type, cloud, region or cluster, runtime, executor, scheduler, task pod and
quota settings, worker queues, hibernation schedules, non-secret variables; never its workload
identity, see --workload-identity), with DAG deploys on, named --name-prefix plus a slug of the
branch. It is idempotent: an existing preview, found by the marker in its description, is reused.

The preview runs the branch's code (--deploy auto): a new preview gets the base's current image,
copied registry to registry (same digest, no build), and the project's DAG folder (--project-dir,
--dags-path) in one deploy; an existing preview gets the DAG folder; a project without one gets
nothing. A hibernating preview is woken for the deploy. When files outside the DAG folder changed
since the base's image was built (requirements.txt, packages.txt, Dockerfile, include/, plugins/),
the preview still runs the base's image: image-build-required is true and a warning gives the
command a job with Docker runs; the DAGs are deployed anyway.

With --token-target the preview gets its own Deployment API token, written to each target ({slug}
and {branch} replaced). Secret variables come from --secret-env KEY=ENVVAR and
ASTRO_PREVIEW_SECRET_<KEY>. On GitHub the preview is recorded as a GitHub deployment of the branch
(the pull request shows "View deployment"; needs deployments: write), and --comment keeps one pull
request comment up to date. Pull requests from forks are refused unless --allow-forks.`
		c.Example = `  # In a job for a new branch, after checkout: the preview with the branch's DAGs, and its token
  # in an environment secret
  astro-ci preview create --base-deployment production \
    --token-target 'github://acme/dags/environments/preview-{slug}/secrets/ASTRO_API_TOKEN?create_environment=true'

  # The Astro project in a subfolder; the configuration only, no code
  astro-ci preview create --base-deployment production --project-dir airflow
  astro-ci preview create --base-deployment production --deploy none

  # Outside CI, waiting until it is healthy
  astro-ci preview create --base-deployment production --branch feature/x --wait --timeout 30m`
	} else {
		c.Use = "delete [--base-deployment ID|NAME] [--branch B] [--token-target T...]"
		c.Short = "Delete the branch's preview Deployment, its tokens and their secrets"
		c.Long = `Delete removes the branch's preview (found by its marker, not its name), its tokens and the
targets that hold them (give the same --token-target as create). Already gone is success. On
GitHub the preview's GitHub deployment is marked inactive.`
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
	op := opDelete
	if create {
		op = opCreate
	}
	_, err = r.doPreview(p, ev, op)
	return err
}

// previewOp is what doPreview does to the branch's preview.
type previewOp int

const (
	opCreate previewOp = iota // create it, or bring it up to date
	opUpdate                  // bring it up to date if it exists (a push)
	opDelete
)

// codeRequest is the code a preview gets from this checkout.
func (r *runner) codeRequest(p *previewOptions, ev cienv.Event) *preview.CodeRequest {
	dir := p.projectDir
	if dir == "" {
		dir = "."
	}
	c := &preview.CodeRequest{Mode: p.deployMode, ProjectDir: dir, DagsPath: p.dagsPath, Wait: p.wait}
	if fi, err := os.Stat(filepath.Join(dir, p.dagsPath)); c.Mode == preview.DeployNone || err != nil || !fi.IsDir() {
		return c // nothing to deploy (or an error to say): no metadata needed
	}
	c.Git = r.gitMeta(dir)
	if ev.DefaultBranch != "" {
		c.MergeBaseWith = "origin/" + ev.DefaultBranch
	}
	return c
}

func (r *runner) doPreview(p *previewOptions, ev cienv.Event, op previewOp) (*preview.Result, error) {
	branch, create := ev.Branch, op != opDelete
	if p.base == "" {
		return nil, usagef("give --base-deployment (the id or name of the Deployment previews copy)")
	}
	req := preview.Request{
		Base: p.base, Branch: branch, NamePrefix: p.prefix, TokenTargets: p.tokenTargets, TargetDefaults: r.targetDefaults(),
		TokenRole: p.tokenRole, TokenExpiryDays: p.tokenExpiry, Wait: p.wait, Timeout: p.timeout.d, PollInterval: p.poll.d, DryRun: p.dryRun,
		WorkloadIdentity: p.workloadIdentity, RuntimeVersion: p.runtimeVersion, IfExists: op == opUpdate,
	}
	_, slug, err := preview.Name(p.prefix, branch)
	if err != nil {
		return nil, usageError{err}
	}
	if _, err := preview.ExpandTargets(p.tokenTargets, slug, branch, r.targetDefaults()); err != nil {
		return nil, usageError{err}
	}
	if create {
		se, err := r.secretEnv(p.secretEnv)
		if err != nil {
			return nil, err
		}
		req.SecretEnv = se
		req.Code = r.codeRequest(p, ev)
	}
	eng, err := r.previewEngine()
	if err != nil {
		return nil, err
	}
	var res *preview.Result
	if create {
		res, err = eng.Create(r.ctx, req)
	} else {
		res, err = eng.Delete(r.ctx, req)
	}
	if op == opUpdate && err == nil && res.Action == "absent" {
		return res, nil // the caller says there is nothing to do
	}
	if err == nil || !create && res != nil && res.Action == "deleted" {
		// A failed create or delete shows nothing on GitHub (its error says
		// it), except a delete whose Deployment went: a rerun finds no
		// preview to finish with, and GitHub would show it live for good.
		r.review(p, ev, res, create)
	}
	r.reportPreview(res, p, create, err)
	return res, err
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
	if c := res.Code; c != nil {
		r.rep.Output("deploy-id", c.DeployID)
		r.rep.Output("dag-tarball-version", c.DagTarballVersion)
		r.rep.Output("image-build-required", imageBuildRequired(c))
	}
	r.rep.Summary(previewSummary(res))
	if create && res.ID != "" && !p.dryRun {
		// On every deploy: later jobs (and environment:url) read the
		// current values.
		kv := map[string]string{"PREVIEW_ID": res.ID, "PREVIEW_NAME": res.Name, "PREVIEW_URL": res.URL, "PREVIEW_STATUS": res.Status}
		if c := res.Code; c != nil && c.Action != "none" {
			kv["DEPLOY_ID"], kv["DAG_TARBALL_VERSION"], kv["IMAGE_BUILD_REQUIRED"] = c.DeployID, c.DagTarballVersion, imageBuildRequired(c)
		}
		r.writeDotenv(p.dotenv, "preview.env", kv)
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
		if c := res.Code; c != nil {
			fmt.Fprintf(w, "  code: %s", c.Action)
			switch {
			case c.Reason != "":
				fmt.Fprintf(w, " (%s)", c.Reason)
			case c.DeployID != "":
				fmt.Fprintf(w, ", deploy %s, DAG bundle %s, %d files", c.DeployID, c.DagTarballVersion, c.Files)
			}
			fmt.Fprintln(w)
			if c.ImageDigest != "" {
				fmt.Fprintf(w, "  image: %s (%s), the base's\n", c.Image, c.ImageDigest)
			}
			if v := imageBuildRequired(c); v != "" {
				fmt.Fprintf(w, "  image build required: %s\n", v)
			}
		}
		if len(res.DeletedPreviews) > 0 {
			fmt.Fprintf(w, "  deleted other previews of the branch: %s\n", strings.Join(res.DeletedPreviews, ", "))
		}
	})
}

// imageBuildRequired is the image-build-required output: true, false, or
// "" when astro-ci could not tell (a warning said why).
func imageBuildRequired(c *preview.CodeResult) string {
	if c == nil || c.ImageBuildRequired == nil {
		return ""
	}
	return fmt.Sprint(*c.ImageBuildRequired)
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
	if c := res.Code; c != nil {
		code := c.Action
		if c.Reason != "" {
			code += " (" + mdEscape(c.Reason) + ")"
		}
		fmt.Fprintf(&b, "| Code | %s |\n", code)
		if c.DeployID != "" {
			fmt.Fprintf(&b, "| Deploy | `%s`, DAG bundle `%s` (%d files) |\n", c.DeployID, c.DagTarballVersion, c.Files)
		}
		if c.Commit != "" {
			fmt.Fprintf(&b, "| Commit | `%s` |\n", c.Commit[:min(len(c.Commit), 12)])
		}
		if c.ImageDigest != "" {
			fmt.Fprintf(&b, "| Image | the base's, `%s` |\n", c.ImageDigest)
		}
		if v := imageBuildRequired(c); v != "" {
			fmt.Fprintf(&b, "| Image build required | %s |\n", v)
		}
	}
	if len(res.DeletedPreviews) > 0 {
		fmt.Fprintf(&b, "| Deleted duplicates | %s |\n", strings.Join(res.DeletedPreviews, ", "))
	}
	if c := res.Code; c != nil && c.BuildCommand != "" {
		fmt.Fprintf(&b, "\nThe preview runs the base's image, without the files changed outside `dags/`. Build the branch's image in a job with Docker:\n\n```sh\n%s\n```\n", strings.ReplaceAll(c.BuildCommand, "`", "'"))
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
