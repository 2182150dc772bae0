package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/deploy"
	"github.com/astro-ci/astro-ci/internal/gitmeta"
	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// deployOptions are deploy's flags.
type deployOptions struct {
	deployment, dagsPath, description, dotenv string
	wait, allowEmpty, wake                    bool
}

func (o *deployOptions) validate(g given) error {
	switch {
	case strings.TrimSpace(o.deployment) == "":
		return usagef("deploy: give --deployment (the id or name of the Deployment the DAGs go to)")
	case strings.TrimSpace(o.dagsPath) == "":
		return usagef("%s must name the DAG folder (default dags)", g.label("dags-path"))
	}
	return nil
}

func (b *builder) deployCmd() *cobra.Command {
	o := &deployOptions{dagsPath: "dags"}
	c := &cobra.Command{
		Use:   "deploy --deployment ID|NAME [--dags-path DIR] [--wait]",
		Short: "Deploy the DAG folder to a Deployment, without Docker or the Astro CLI",
		Long: `Deploy makes a DAG-only deploy through the Astro API: it bundles the DAG folder (--dags-path,
default dags; .git, __pycache__, *.pyc and .DS_Store left out), uploads it, and finalizes the
deploy with the uploaded version; --wait waits until the Deployment runs it. The deploy records
the commit, branch, repository and author from the CI environment (or the checkout's git).

An empty DAG folder would delete every DAG of the Deployment: refused unless --allow-empty. A
hibernating development Deployment refuses deploys: --wake wakes it for the deploy (a
hibernation override, removed again at the end). The upload URL carries a credential and is
never printed.

On GitHub the step outputs deploy-id and dag-tarball-version and a summary; in GitLab CI a
dotenv file (--dotenv, default deploy.env) holds DEPLOY_ID, DAG_TARBALL_VERSION and
DEPLOYMENT_ID.`,
		Example: `  # In CI, after checkout: the project's dags/ to the Deployment "production"
  astro-ci deploy --deployment production --wait

  # Another folder, to a development Deployment that may be hibernating
  astro-ci deploy --deployment clx0abc0000000000000000de --dags-path airflow/dags --wake`,
	}
	f := c.Flags()
	f.StringVar(&o.deployment, "deployment", "", "the Deployment to deploy to: its `id` or its (unique) name")
	f.StringVar(&o.dagsPath, "dags-path", o.dagsPath, "the DAG `folder` to deploy")
	f.StringVar(&o.description, "description", "", "the deploy's description (default: the branch and commit)")
	f.BoolVar(&o.wait, "wait", false, "wait until the Deployment runs the new DAGs (bounded by --deadline)")
	f.BoolVar(&o.allowEmpty, "allow-empty", false, "deploy an empty DAG folder, deleting every DAG of the Deployment")
	f.BoolVar(&o.wake, "wake", false, "wake a hibernating development Deployment for the deploy")
	f.StringVar(&o.dotenv, "dotenv", "", "write DEPLOY_ID, DAG_TARBALL_VERSION, DEPLOYMENT_ID to this dotenv `file` (default deploy.env in $CI_PROJECT_DIR in GitLab CI)")
	return b.leaf(c, o, func() error { return b.r.deployCmd(o) })
}

// deployObserver hands the deploy engine's secrets to the redactor (and
// GitHub's mask) and its progress to the reporter.
type deployObserver struct{ r *runner }

func (o deployObserver) Secret(v secret.Value) { o.r.rep.Secret(v) }
func (o deployObserver) Step(msg string)       { o.r.rep.Infof("%s", msg) }
func (o deployObserver) Warn(msg string)       { o.r.rep.Warnf("%s", msg) }

var _ deploy.Observer = deployObserver{}

// uploadTimeout bounds one upload of a DAG bundle (the run's deadline
// bounds it too); other requests keep requestTimeout.
const uploadTimeout = 10 * time.Minute

// deployEngine builds the deploy engine on the run's connections: the
// bundle upload with a longer timeout, the registry copy with Astro's
// registry credentials (user cli, the API token).
func (r *runner) deployEngine(c *astro.Client) *deploy.Engine {
	hc := r.httpClient()
	up := *hc
	up.Timeout = uploadTimeout
	return &deploy.Engine{
		Astro: c, HTTP: &up, Observer: deployObserver{r},
		Copy: deploy.RegistryCopier(r.cfg.APIToken, hc.Transport),
		Now:  r.now, Sleep: r.sleep, Rand: r.m.Rand,
	}
}

// gitMeta is the git metadata of the code in dir: the CI environment's,
// completed from the checkout's git (outside CI, all of it).
func (r *runner) gitMeta(dir string) gitmeta.Meta {
	m := gitmeta.FromEnv(r.env)
	if m.CommitSHA != "" && m.AuthorName != "" {
		return m
	}
	g, err := gitmeta.Git{}.FromGit(r.ctx, dir)
	if err != nil {
		return m // no checkout (GIT_STRATEGY none): the CI's values alone
	}
	return m.Merge(g)
}

// deployResult is deploy's JSON document (docs/schema/deploy.schema.json).
type deployResult struct {
	DeploymentID      string `json:"deploymentId"`
	DeploymentName    string `json:"deploymentName,omitempty"`
	DeployID          string `json:"deployId,omitempty"`
	DagTarballVersion string `json:"dagTarballVersion,omitempty"`
	Files             int    `json:"files"`
	Bytes             int64  `json:"bytes"`
	UploadBytes       int64  `json:"uploadBytes"`
	Commit            string `json:"commit,omitempty"`
	Branch            string `json:"branch,omitempty"`
	Woken             bool   `json:"woken"`
	Running           bool   `json:"running"`
	Superseded        bool   `json:"superseded"`
	Reconciled        bool   `json:"reconciled"`
}

func (r *runner) deployCmd(o *deployOptions) error {
	c, err := r.astroClient()
	if err != nil {
		return err
	}
	dep, err := preview.ResolveDeployment(r.ctx, c, o.deployment)
	if err != nil {
		return fmt.Errorf("deploy --deployment %s: %w", echo.Quote(o.deployment), err)
	}
	meta := r.gitMeta(o.dagsPath) // the checkout that holds the DAGs
	res, err := r.deployEngine(c).DAGDeploy(r.ctx, deploy.Request{
		DeploymentID: dep.ID, DagsDir: o.dagsPath, Description: o.description, Git: meta,
		AllowEmpty: o.allowEmpty, Wake: o.wake, Wait: o.wait,
	})
	if res.DeployID == "" && err != nil {
		return err // refused before anything was created: the error says it all
	}
	out := deployResult{
		DeploymentID: dep.ID, DeploymentName: dep.Name, DeployID: res.DeployID, DagTarballVersion: res.DagTarballVersion,
		Files: res.Files, Bytes: res.Bytes, UploadBytes: res.UploadBytes, Commit: meta.CommitSHA, Branch: meta.Branch,
		Woken: res.Woken, Running: res.Running, Superseded: res.Superseded, Reconciled: res.Reconciled,
	}
	r.rep.Output("deploy-id", out.DeployID)
	r.rep.Output("dag-tarball-version", out.DagTarballVersion)
	r.rep.Output("deployment-id", out.DeploymentID)
	r.rep.Summary(deploySummary(out, err))
	if err == nil {
		r.writeDotenv(o.dotenv, "deploy.env", map[string]string{
			"DEPLOY_ID": out.DeployID, "DAG_TARBALL_VERSION": out.DagTarballVersion, "DEPLOYMENT_ID": out.DeploymentID,
		})
	}
	_ = r.rep.Result(out, func(w io.Writer) {
		if err != nil {
			fmt.Fprintf(w, "deploy %s to %s (%s) did not finish\n", out.DeployID, dep.Name, dep.ID)
			return
		}
		fmt.Fprintf(w, "deployed %d DAG files to %s (%s): deploy %s, DAG bundle %s\n", out.Files, dep.Name, dep.ID, out.DeployID, out.DagTarballVersion)
		switch {
		case out.Running:
			fmt.Fprintln(w, "  the Deployment runs it")
		case out.Superseded:
			fmt.Fprintln(w, "  a newer deploy replaced it while waiting")
		}
	})
	return err
}

func deploySummary(d deployResult, err error) string {
	var b strings.Builder
	status := "deployed"
	switch {
	case err != nil:
		status = "failed"
	case d.Running:
		status = "deployed, running"
	}
	fmt.Fprintf(&b, "### Astro DAG deploy\n\n| | |\n|---|---|\n| Deployment | `%s` (`%s`) |\n| Status | %s |\n| Deploy | `%s` |\n",
		mdEscape(d.DeploymentName), d.DeploymentID, status, d.DeployID)
	if d.DagTarballVersion != "" {
		fmt.Fprintf(&b, "| DAG bundle | `%s` (%d files) |\n", d.DagTarballVersion, d.Files)
	}
	if d.Commit != "" {
		fmt.Fprintf(&b, "| Commit | `%s` |\n", d.Commit[:min(len(d.Commit), 12)])
	}
	if d.Woken {
		b.WriteString("| Woken | yes (the hibernation override was removed again) |\n")
	}
	return b.String()
}

// writeDotenv writes kv to the dotenv file path, or, in GitLab CI when
// none is given, to def in the project directory: GitLab reads
// artifacts:reports:dotenv paths relative to $CI_PROJECT_DIR, whatever
// directory the job's script moved to.
func (r *runner) writeDotenv(path, def string, kv map[string]string) {
	if path == "" && r.rep.CI() == report.GitLabCI {
		path = def
		if dir := r.env["CI_PROJECT_DIR"]; dir != "" {
			path = filepath.Join(dir, def)
		}
	}
	if path == "" {
		return
	}
	if err := writeDotenv(path, kv); err != nil {
		r.rep.Warnf("could not write %s: %v", path, err)
	}
}
