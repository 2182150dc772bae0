package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/preview"
)

// project is an Astro project in a git repository: dags/, requirements.txt
// and include/, committed once (the commit the base's image was built
// from), with later commits made by the test.
type project struct {
	t        *testing.T
	dir      string
	imageSHA string // the first commit
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=astro-ci test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newProject(t *testing.T) *project {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	p := &project{t: t, dir: t.TempDir()}
	gitIn(t, p.dir, "init", "-q")
	p.write(map[string]string{
		"dags/orders.py":         "from airflow import DAG\n",
		"dags/lib/util.py":       "x = 1\n",
		"dags/.airflowignore":    "scratch/\n",
		"dags/__pycache__/o.pyc": "compiled",
		"requirements.txt":       "pandas==2.2.0\n",
		"include/sql/orders.sql": "select 1\n",
		"Dockerfile":             "FROM astrocrpublic.azurecr.io/runtime:3.0-1\n",
	})
	p.imageSHA = p.commit("the image's commit")
	return p
}

func (p *project) write(files map[string]string) {
	p.t.Helper()
	for name, body := range files {
		path := filepath.Join(p.dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *project) commit(msg string) string {
	p.t.Helper()
	gitIn(p.t, p.dir, "add", "-A")
	gitIn(p.t, p.dir, "commit", "-q", "--allow-empty", "-m", msg)
	return gitIn(p.t, p.dir, "rev-parse", "HEAD")
}

// newCodeHarness is the preview harness whose base (richBase, "analytics")
// runs an image in the fake's registry, deployed from the project's first
// commit, and a project with DAGs in ASTRO_CI_PROJECT_DIR.
func newCodeHarness(t *testing.T, opts ...func(*astrofake.Options)) (*harness, *project, string) {
	t.Helper()
	h := newHarness(t, opts...)
	h.admin()
	h.fake.AddDeployment(astrofake.SeedDeployment{ID: richBase, Name: "analytics", WorkspaceID: wsID, IsDagDeployEnabled: true, IsDevelopmentMode: true,
		EnvVars: []astrofake.EnvVar{{Key: "ENVIRONMENT", Value: "prod"}}})
	h.advanceOnSleep = true
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.fake.PushImage(richBase, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	p := newProject(t)
	h.fake.AddDeploy(richBase, astrofake.SeedDeploy{Type: "IMAGE_AND_DAG", CommitSHA: p.imageSHA, CreatedAt: h.clock.Now().Add(-time.Hour)})
	h.env["ASTRO_CI_PROJECT_DIR"] = p.dir
	h.env["ASTRO_CI_BASE_DEPLOYMENT"] = "analytics"
	return h, p, digest.String()
}

// seenUploads: the leak scan had upload URLs to look for (the harness
// collects every one the fake hands out).
func seenUploads(t *testing.T, h *harness) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sigs == 0 {
		t.Error("no upload URL was handed out: the leak scan proved nothing about them")
	}
}

// githubFiles makes the run write GitHub outputs and a step summary into
// files the leak scan reads.
func (h *harness) githubFiles() (outputs, summary string) {
	outputs, summary = filepath.Join(h.dir, "github-output"), filepath.Join(h.dir, "step-summary")
	h.env["GITHUB_OUTPUT"], h.env["GITHUB_STEP_SUMMARY"] = outputs, summary
	h.scan(outputs, summary)
	return outputs, summary
}

// githubOutputs parses the GITHUB_OUTPUT file (name<<delimiter blocks).
func githubOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// reviewGitHub serves a GitHub fake holding acme/airflow-dags (the
// repository of the event payloads) with the branch feature/orders-dag and
// pull request 42, and gives the run a workflow token with perms.
func (h *harness) reviewGitHub(perms map[string]string) *githubfake.Server {
	h.t.Helper()
	gh := githubfake.New(githubfake.Options{Now: h.clock.Now})
	gh.AddOrg("acme")
	gh.AddRepo("acme", "airflow-dags", true)
	gh.AddBranch("acme", "airflow-dags", "feature/orders-dag", strings.Repeat("0d", 20))
	gh.AddPullRequest("acme", "airflow-dags", 42)
	const tok = "ghs_workflowtokenfakefakefakefake0001"
	gh.AddToken(tok, githubfake.TokenPerms{Label: "workflow", Perms: perms})
	v, err := contract.GitHub()
	if err != nil {
		h.t.Fatal(err)
	}
	srv := httptest.NewServer(contract.Check(h.t, v, gh))
	h.t.Cleanup(srv.Close)
	h.env["GITHUB_TOKEN"] = tok
	h.env["GITHUB_API_URL"] = srv.URL
	h.env["GITHUB_SERVER_URL"] = "https://github.com"
	h.env["GITHUB_RUN_ID"] = "99001"
	h.addValue(tok)
	return gh
}

// readBundle reads a DAG bundle: its entries in order and each file's
// content.
func readBundle(t *testing.T, tgz []byte) ([]string, map[string][]byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	files := map[string][]byte{}
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hd.Name)
		if files[hd.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
}

func tarEntries(t *testing.T, tgz []byte) []string {
	t.Helper()
	names, _ := readBundle(t, tgz)
	return names
}

func (h *harness) previewOf(branch string) astrofake.DeploymentInfo {
	h.t.Helper()
	for _, d := range h.previews() {
		if strings.Contains(d.Description, "ref="+preview.BranchKey(branch)) {
			return d
		}
	}
	h.t.Fatalf("no preview of %q", branch)
	return astrofake.DeploymentInfo{}
}

func routes(h *harness, route string) int {
	n := 0
	for _, r := range h.fake.Requests() {
		if r.Route == route {
			n++
		}
	}
	return n
}

var wantEntries = []string{"dags/", "dags/.airflowignore", "dags/lib/", "dags/lib/util.py", "dags/orders.py"}

// --- astro-ci deploy -------------------------------------------------------

func TestDeployFinalizesTheUploadedBundleAndSaysSo(t *testing.T) {
	t.Parallel()
	h, p, _ := newCodeHarness(t)
	outputs, summary := h.githubFiles()
	h.githubEvent("push", "push-update.json")
	h.env["GITHUB_SHA"], h.env["GITHUB_REF"] = p.imageSHA, "refs/heads/feature/orders-dag"
	r := h.run("", "deploy", "--deployment", "analytics", "--dags-path", filepath.Join(p.dir, "dags"), "--wait", "--format", "json")
	if r.code != 0 {
		t.Fatal(r)
	}
	checkSchema(t, "deploy", r)
	var res deployResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	ds := h.fake.Deploys(richBase)
	d := ds[len(ds)-1]
	// Exact entries: .git-free, __pycache__ left out, .airflowignore kept.
	if got := tarEntries(t, d.Tarball); !slices.Equal(got, wantEntries) {
		t.Fatalf("entries %q, want %q", got, wantEntries)
	}
	// The version the upload answered is the one finalized and running.
	code, _ := h.fake.Code(richBase)
	if d.Type != "DAG_ONLY" || d.Status != "DEPLOYED" || d.ID != res.DeployID || d.DagTarballVersion != res.DagTarballVersion ||
		code.DagTarballVersion != res.DagTarballVersion || !res.Running || res.Files != 3 {
		t.Fatalf("deploy %+v code %+v result %+v", d, code, res)
	}
	// Git metadata from the CI environment.
	if d.CommitSHA != p.imageSHA || d.Branch != "feature/orders-dag" {
		t.Errorf("git metadata %q %q", d.CommitSHA, d.Branch)
	}
	out := githubOutputs(t, outputs)
	if out["deploy-id"] != res.DeployID || out["dag-tarball-version"] != res.DagTarballVersion || out["deployment-id"] != richBase {
		t.Errorf("outputs %v", out)
	}
	if b, _ := os.ReadFile(summary); !strings.Contains(string(b), "Astro DAG deploy") || !strings.Contains(string(b), res.DagTarballVersion) {
		t.Errorf("summary:\n%s", b)
	}
	// One read of the Deployment to check it, one create, one upload, one
	// finalize; the waits read it again.
	for route, want := range map[string]int{"CreateDeploy": 1, "PutBlob": 1, "FinalizeDeploy": 1} {
		if n := routes(h, route); n != want {
			t.Errorf("%s: %d requests, want %d", route, n, want)
		}
	}
	seenUploads(t, h)
}

func TestDeployOnGitLabWritesTheDotenv(t *testing.T) {
	t.Parallel()
	h, p, _ := newCodeHarness(t)
	h.gitlabEvent("push-update.env")
	dotenv := filepath.Join(h.dir, "deploy.env")
	h.scan(dotenv)
	h.env["ASTRO_CI_DOTENV"] = dotenv
	h.env["ASTRO_CI_DEPLOYMENT"] = richBase
	h.env["ASTRO_CI_DAGS_PATH"] = filepath.Join(p.dir, "dags")
	r := h.run("", "deploy")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "::") {
		t.Fatal(r)
	}
	ds := h.fake.Deploys(richBase)
	d := ds[len(ds)-1]
	b, err := os.ReadFile(dotenv)
	if err != nil || !strings.Contains(string(b), "DEPLOY_ID="+d.ID+"\n") || !strings.Contains(string(b), "DAG_TARBALL_VERSION="+d.DagTarballVersion+"\n") {
		t.Fatalf("dotenv %s %v", b, err)
	}
	if d.CommitSHA != "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" {
		t.Errorf("commit %q: want CI_COMMIT_SHA", d.CommitSHA)
	}
}

func TestDeployRefusesAnEmptyFolderUnlessAllowed(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	empty := filepath.Join(h.dir, "empty-dags")
	if err := os.MkdirAll(filepath.Join(empty, "__pycache__"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "deploy", "--deployment", richBase, "--dags-path", empty)
	if r.code != 1 || !strings.Contains(r.stderr, "delete every DAG") || !strings.Contains(r.stderr, "--allow-empty") {
		t.Fatal(r)
	}
	if n := routes(h, "CreateDeploy"); n != 0 {
		t.Fatalf("%d deploys created for a refused folder", n)
	}
	if r := h.run("", "deploy", "--deployment", richBase, "--dags-path", empty, "--allow-empty"); r.code != 0 {
		t.Fatal(r)
	}
	ds := h.fake.Deploys(richBase)
	if got := tarEntries(t, ds[len(ds)-1].Tarball); !slices.Equal(got, []string{"dags/"}) {
		t.Fatalf("entries %q", got)
	}
}

func TestDeployToADeploymentWithDAGDeploysOffSaysHowToTurnThemOn(t *testing.T) {
	t.Parallel()
	h, p, _ := newCodeHarness(t)
	r := h.run("", "deploy", "--deployment", "production", "--dags-path", filepath.Join(p.dir, "dags"))
	if r.code != 1 || !strings.Contains(r.stderr, "DAG deploys are not enabled") || !strings.Contains(r.stderr, "--dag-deploy enable") {
		t.Fatal(r)
	}
	if n := routes(h, "CreateDeploy"); n != 0 {
		t.Fatalf("%d deploys created", n)
	}
}

func TestDeployWakesAHibernatingDeploymentOnlyWithWake(t *testing.T) {
	t.Parallel()
	h, p, _ := newCodeHarness(t, func(o *astrofake.Options) { o.DAGDeployAfter = 30 * time.Second })
	dev := h.fake.AddDeployment(astrofake.SeedDeployment{Name: "dev", WorkspaceID: wsID, IsDagDeployEnabled: true, IsDevelopmentMode: true, Status: "HIBERNATING"})
	dags := filepath.Join(p.dir, "dags")
	if r := h.run("", "deploy", "--deployment", dev, "--dags-path", dags); r.code != 1 || !strings.Contains(r.stderr, "--wake") {
		t.Fatal(r)
	}
	r := h.run("", "deploy", "--deployment", dev, "--dags-path", dags, "--wake", "--format", "json")
	if r.code != 0 {
		t.Fatal(r)
	}
	var res deployResult
	_ = json.Unmarshal([]byte(r.stdout), &res)
	code, _ := h.fake.Code(dev)
	info, _ := h.fake.Deployment(dev)
	if !res.Woken || !res.Running || code.DagTarballVersion != res.DagTarballVersion || code.HibernationOverride || info.Status != "HIBERNATING" {
		t.Fatalf("result %+v code %+v status %s", res, code, info.Status)
	}
}

// --- preview create with code -----------------------------------------------

func TestNewPreviewGetsTheBasesImageAndTheBranchsDAGs(t *testing.T) {
	t.Parallel()
	h, _, digest := newCodeHarness(t)
	gh := h.reviewGitHub(map[string]string{"deployments": "write", "pull_requests": "write"})
	outputs, summary := h.githubFiles()
	h.githubEvent("pull_request", "pull_request-opened.json")
	start := h.clock.Now()
	res, r := h.runPreview("run", "--comment")
	if r.code != 0 || res.Action != "created" || res.Code == nil {
		t.Fatal(r)
	}
	checkSchema(t, "run", r)
	pv := h.previewOf("feature/orders-dag")
	code, _ := h.fake.Code(pv.ID)
	ds := h.fake.Deploys(pv.ID)
	// One IMAGE_AND_DAG deploy: the base's image, by digest, and the DAGs.
	if len(ds) != 1 || ds[0].Type != "IMAGE_AND_DAG" || ds[0].Status != "DEPLOYED" || code.ImageDigest != digest || res.Code.ImageDigest != digest ||
		code.DagTarballVersion != res.Code.DagTarballVersion || res.Code.Action != "image-and-dags" || !pv.IsDagDeployEnabled {
		t.Fatalf("deploys %+v code %+v result %+v", ds, code, res.Code)
	}
	if got := tarEntries(t, ds[0].Tarball); !slices.Equal(got, wantEntries) {
		t.Fatalf("entries %q", got)
	}
	// Nothing outside dags/ changed since the base's image was built.
	if res.Code.ImageBuildRequired == nil || *res.Code.ImageBuildRequired || res.Code.ComparedWith == "" {
		t.Fatalf("image build: %+v", res.Code)
	}
	out := githubOutputs(t, outputs)
	if out["image-build-required"] != "false" || out["deploy-id"] != ds[0].ID || out["dag-tarball-version"] != code.DagTarballVersion {
		t.Errorf("outputs %v", out)
	}
	// A GitHub deployment of the branch, success, linking the Airflow UI.
	gds := gh.Deployments("acme", "airflow-dags")
	if len(gds) != 1 || gds[0].Ref != "feature/orders-dag" || gds[0].Environment != pv.Name || gds[0].Production || gds[0].Transient ||
		len(gds[0].Statuses) != 1 || gds[0].Statuses[0].State != "success" || gds[0].Statuses[0].EnvironmentURL != res.URL ||
		gds[0].Statuses[0].LogURL != "https://github.com/acme/airflow-dags/actions/runs/99001" {
		t.Fatalf("GitHub deployments %+v", gds)
	}
	if cs := gh.Comments("acme", "airflow-dags", 42); len(cs) != 1 || !strings.Contains(cs[0], pv.Name) || !strings.Contains(cs[0], "| Image build required | no |") {
		t.Fatalf("comments %q", cs)
	}
	if b, _ := os.ReadFile(summary); !strings.Contains(string(b), "| Image build required | false |") || !strings.Contains(string(b), digest) {
		t.Errorf("summary:\n%s", b)
	}
	// The copy and the upload overlap; the whole create, on the fake
	// clock: the converge settle, nothing else.
	if d := h.clock.Now().Sub(start); d > 10*time.Second {
		t.Errorf("preview create with code took %s on the fake clock", d)
	}
	t.Logf("preview create with code: %d Astro requests, %d registry requests, %s on the fake clock", len(astroRequests(h)), len(h.fake.Requests())-len(astroRequests(h)), h.clock.Now().Sub(start))
	seenUploads(t, h)
}

func astroRequests(h *harness) []astrofake.Request {
	var out []astrofake.Request
	for _, r := range h.fake.Requests() {
		if !strings.HasPrefix(r.Route, "registry:") && r.Route != "PutBlob" {
			out = append(out, r)
		}
	}
	return out
}

func TestPushDeploysTheBranchsDAGsToItsPreviewAndCreatesNothing(t *testing.T) {
	t.Parallel()
	h, p, _ := newCodeHarness(t)
	gh := h.reviewGitHub(map[string]string{"deployments": "write"})
	h.githubEvent("create", "create-branch.json")
	if res, r := h.runPreview("run"); r.code != 0 || res.Action != "created" {
		t.Fatal(r)
	}
	pv := h.previewOf("feature/orders-dag")
	before := len(h.fake.Deployments())

	for _, ev := range []struct{ name, file string }{{"push", "push-update.json"}, {"pull_request", "pull_request-synchronize.json"}} {
		p.write(map[string]string{"dags/orders.py": "from airflow import DAG  # " + ev.name + "\n"})
		p.commit(ev.name)
		h.githubEvent(ev.name, ev.file)
		res, r := h.runPreview("run")
		if r.code != 0 || res.Action != "exists" || res.ID != pv.ID || res.Code == nil || res.Code.Action != "dags" {
			t.Fatalf("%s: %v", ev.name, r)
		}
		ds := h.fake.Deploys(pv.ID)
		last := ds[len(ds)-1]
		code, _ := h.fake.Code(pv.ID)
		if last.Type != "DAG_ONLY" || last.ID != res.Code.DeployID || code.DagTarballVersion != last.DagTarballVersion {
			t.Fatalf("%s: deploys %+v code %+v", ev.name, ds, code)
		}
		if _, files := readBundle(t, last.Tarball); !bytes.Contains(files["dags/orders.py"], []byte("# "+ev.name)) {
			t.Errorf("%s: the preview does not have the pushed DAG", ev.name)
		}
	}
	if n := len(h.fake.Deployments()); n != before || len(h.fake.Deploys(pv.ID)) != 3 {
		t.Fatalf("%d Deployments (was %d), %d deploys", n, before, len(h.fake.Deploys(pv.ID)))
	}
	// Every deploy is a GitHub deployment; auto_inactive retires the older.
	if gds := gh.Deployments("acme", "airflow-dags"); len(gds) != 3 {
		t.Errorf("%d GitHub deployments", len(gds))
	}
	seenUploads(t, h)
}

func TestPushToABranchWithoutAPreviewDoesNothing(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	h.githubEvent("push", "push-update.json")
	r := h.run("", "run")
	if r.code != 0 || !strings.Contains(r.stderr, "nothing to do") || !strings.Contains(r.stderr, "has no preview") || len(h.previews()) != 0 {
		t.Fatal(r)
	}
	for _, rt := range []string{"CreateDeployment", "CreateDeploy", "CreateApiToken"} {
		if n := routes(h, rt); n != 0 {
			t.Errorf("%s: %d", rt, n)
		}
	}
}

func TestImageBuildRequiredWhenFilesOutsideDagsChanged(t *testing.T) {
	t.Parallel()
	h, p, _ := newCodeHarness(t)
	p.write(map[string]string{"requirements.txt": "pandas==2.2.0\napache-airflow-providers-snowflake\n", "dags/new.py": "x = 2\n", "README.md": "docs only\n"})
	p.commit("a provider")
	h.gitlabEvent("push-new-branch.env")
	dotenv := filepath.Join(h.dir, "preview.env")
	h.scan(dotenv)
	h.env["ASTRO_CI_DOTENV"] = dotenv
	res, r := h.runPreview("run")
	if r.code != 0 || res.Code == nil || res.Code.Action != "image-and-dags" {
		t.Fatal(r)
	}
	c := res.Code
	if c.ImageBuildRequired == nil || !*c.ImageBuildRequired || !slices.Equal(c.ChangedPaths, []string{"requirements.txt"}) || c.ComparedWith != p.imageSHA {
		t.Fatalf("code %+v", c)
	}
	// The warning names the file and the command; the DAGs went anyway.
	if !strings.Contains(r.stderr, "image build required") || !strings.Contains(r.stderr, `"requirements.txt"`) || !strings.Contains(r.stderr, "astro deploy "+res.ID) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if got := tarEntries(t, h.fake.Deploys(res.ID)[0].Tarball); !slices.Contains(got, "dags/new.py") {
		t.Errorf("entries %q", got)
	}
	b, _ := os.ReadFile(dotenv)
	for _, want := range []string{"IMAGE_BUILD_REQUIRED=true\n", "DEPLOY_ID=" + c.DeployID + "\n", "DAG_TARBALL_VERSION=" + c.DagTarballVersion + "\n", "PREVIEW_ID=" + res.ID + "\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("preview.env lacks %q:\n%s", want, b)
		}
	}
	// A later push that only changes DAGs: still required (the base's image
	// still lacks the provider); the dotenv is current.
	p.write(map[string]string{"dags/new.py": "x = 3\n"})
	p.commit("dags only")
	h.gitlabEvent("push-update.env")
	res2, r := h.runPreview("run")
	if r.code != 0 || res2.Code.Action != "dags" || res2.Code.ImageBuildRequired == nil || !*res2.Code.ImageBuildRequired {
		t.Fatal(r)
	}
	if b, _ := os.ReadFile(dotenv); !strings.Contains(string(b), "DEPLOY_ID="+res2.Code.DeployID+"\n") {
		t.Errorf("preview.env not updated:\n%s", b)
	}
	seenUploads(t, h)
}

func TestAHibernatingPreviewIsWokenForThePushAndPutBack(t *testing.T) {
	t.Parallel()
	h, p, _ := newCodeHarness(t, func(o *astrofake.Options) { o.DAGDeployAfter = 20 * time.Second })
	// A preview an earlier run made, hibernating now (a development
	// Deployment, as its base is).
	const branch = "feature/orders-dag"
	id := h.fake.AddDeployment(astrofake.SeedDeployment{
		Name: "preview-feature-orders-dag-72991e", WorkspaceID: wsID, IsDagDeployEnabled: true, IsDevelopmentMode: true, Status: "HIBERNATING",
		Description: fmt.Sprintf("Preview of analytics for branch %q, managed by astro-ci. [astro-ci preview base=%s ref=%s]", branch, richBase, preview.BranchKey(branch)),
		CreatedAt:   h.clock.Now().AddDate(0, 0, -3),
	})
	p.write(map[string]string{"dags/orders.py": "# woken\n"})
	p.commit("push")
	h.githubEvent("push", "push-update.json")
	res, r := h.runPreview("run")
	if r.code != 0 || res.ID != id || res.Code == nil || !res.Code.Woken || !res.Code.Running {
		t.Fatal(r)
	}
	code, _ := h.fake.Code(id)
	info, _ := h.fake.Deployment(id)
	if code.DagTarballVersion != res.Code.DagTarballVersion || code.HibernationOverride || info.Status != "HIBERNATING" {
		t.Fatalf("code %+v status %s", code, info.Status)
	}
	if routes(h, "UpdateDeploymentHibernationOverride") != 1 || routes(h, "DeleteDeploymentHibernationOverride") != 1 {
		t.Errorf("overrides: set %d, deleted %d", routes(h, "UpdateDeploymentHibernationOverride"), routes(h, "DeleteDeploymentHibernationOverride"))
	}
	if n := len(h.previews()); n != 1 {
		t.Errorf("%d previews", n)
	}
	seenUploads(t, h)
}

// TestGitHubDeploymentIsMarkedInactiveWhenADeleteHalfFails: the Deployment
// is gone but one of its tokens could not be deleted (the run fails, a
// rerun finds no preview to finish with), so GitHub must hear of the
// deletion now: else "View deployment" points at a deleted preview for
// good. A create that fails records nothing.
func TestGitHubDeploymentIsMarkedInactiveWhenADeleteHalfFails(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	gh := h.reviewGitHub(map[string]string{"deployments": "write", "pull_requests": "write"})
	h.githubEvent("pull_request", "pull_request-opened.json")
	h.env["ASTRO_CI_TOKEN_TARGETS"] = h.target("review-{slug}")
	if _, r := h.runPreview("run"); r.code != 0 {
		t.Fatal(r)
	}
	h.fake.InjectFault(astrofake.Fault{Route: "DeleteApiToken", Status: 403})
	h.githubEvent("pull_request", "pull_request-closed.json")
	if res, r := h.runPreview("run"); r.code != 1 || res.Action != "deleted" {
		t.Fatalf("want a failed run that deleted the Deployment: %v", r)
	}
	gds := gh.Deployments("acme", "airflow-dags")
	if len(gds) != 1 {
		t.Fatalf("%+v", gds)
	}
	if st := gds[0].Statuses; st[len(st)-1].State != "inactive" {
		t.Fatalf("statuses %+v", st)
	}
}

func TestGitHubDeploymentIsMarkedInactiveWhenThePreviewGoes(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	gh := h.reviewGitHub(map[string]string{"deployments": "write", "pull_requests": "write"})
	h.githubEvent("pull_request", "pull_request-opened.json")
	if _, r := h.runPreview("run", "--comment"); r.code != 0 {
		t.Fatal(r)
	}
	h.githubEvent("pull_request", "pull_request-closed.json")
	if res, r := h.runPreview("run", "--comment"); r.code != 0 || res.Action != "deleted" {
		t.Fatal(r)
	}
	gds := gh.Deployments("acme", "airflow-dags")
	if len(gds) != 1 {
		t.Fatalf("%+v", gds)
	}
	st := gds[0].Statuses
	if len(st) != 2 || st[0].State != "success" || st[1].State != "inactive" {
		t.Fatalf("statuses %+v", st)
	}
	// One comment, kept up to date.
	if cs := gh.Comments("acme", "airflow-dags", 42); len(cs) != 1 || !strings.Contains(cs[0], "`deleted`") {
		t.Fatalf("comments %q", cs)
	}
}

func TestMissingDeploymentsPermissionIsAWarningNotAFailure(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	gh := h.reviewGitHub(map[string]string{"contents": "read"})
	h.githubEvent("create", "create-branch.json")
	res, r := h.runPreview("run")
	if r.code != 0 || res.Action != "created" || !strings.Contains(r.stderr, "deployments: write") || !strings.Contains(r.stderr, "::warning") {
		t.Fatal(r)
	}
	if gds := gh.Deployments("acme", "airflow-dags"); len(gds) != 0 {
		t.Fatalf("%+v", gds)
	}
}

// --- prune -------------------------------------------------------------------

func TestPruneDeletesPreviewsOfGoneBranchesWithTheirTokensAndTargets(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	gh := h.reviewGitHub(map[string]string{"deployments": "write"})
	h.githubEvent("create", "create-branch.json")
	tgt := h.target("{slug}.token")
	gh.AddBranch("acme", "airflow-dags", "feature/kept", strings.Repeat("1a", 20))
	for _, b := range []string{"feature/orders-dag", "feature/kept", "fix/gone-" + strings.Repeat("x", 230)} {
		if r := h.run("", "preview", "create", "--branch", b, "--token-target", tgt); r.code != 0 {
			t.Fatal(r)
		}
	}
	gone := h.previewOf("feature/orders-dag")
	long := h.previewOf("fix/gone-" + strings.Repeat("x", 230))
	kept := h.previewOf("feature/kept")
	goneSlug := strings.TrimPrefix(gone.Name, "preview-")
	h.file(goneSlug + ".token")
	gh.DeleteBranch("acme", "airflow-dags", "feature/orders-dag")
	// fix/gone-… never existed on GitHub: gone too.
	h.clock.Advance(time.Hour) // past the grace for new previews

	if r := h.run("", "token", "check"); r.code != 0 { // lastUsedAt moves to now
		t.Fatal(r)
	}
	before := h.fake.Snapshot()
	r := h.run("", "preview", "prune", "--token-target", tgt, "--dry-run", "--format", "json")
	if r.code != 0 {
		t.Fatal(r)
	}
	checkSchema(t, "preview-prune", r)
	var dry preview.PruneResult
	_ = json.Unmarshal([]byte(r.stdout), &dry)
	if len(dry.Pruned) != 2 || dry.Pruned[0].Action != "would-delete" || dry.Previews != 3 || !bytes.Equal(before, h.fake.Snapshot()) {
		t.Fatalf("dry run %+v\n%v", dry, r)
	}
	if _, err := os.Stat(filepath.Join(h.dir, goneSlug+".token")); err != nil {
		t.Fatal("the dry run deleted a target")
	}

	r = h.run("", "preview", "prune", "--token-target", tgt, "--format", "json")
	if r.code != 0 {
		t.Fatal(r)
	}
	var res preview.PruneResult
	_ = json.Unmarshal([]byte(r.stdout), &res)
	ids := []string{}
	for _, p := range res.Pruned {
		if p.Action != "deleted" || p.Reason != "branch gone" {
			t.Errorf("pruned %+v", p)
		}
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	want := []string{gone.ID, long.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("pruned %v, want %v", ids, want)
	}
	// The long branch's name is cut in its description: found by its
	// name's slug, its branch unknown.
	for _, p := range res.Pruned {
		if p.ID == gone.ID && p.Branch != "feature/orders-dag" || p.ID == long.ID && p.Branch != "" {
			t.Errorf("branch of %s: %q", p.Name, p.Branch)
		}
	}
	if ps := h.previews(); len(ps) != 1 || ps[0].ID != kept.ID {
		t.Fatalf("previews left %+v", ps)
	}
	if _, err := os.Stat(filepath.Join(h.dir, goneSlug+".token")); !os.IsNotExist(err) {
		t.Error("the pruned preview's token file is still there")
	}
	for _, tk := range h.fake.Tokens() {
		if tk.EntityID == gone.ID || tk.EntityID == long.ID {
			t.Errorf("token %s of a pruned preview left", tk.ID)
		}
	}
	var of []githubfake.DeploymentInfo
	for _, d := range gh.Deployments("acme", "airflow-dags") {
		if d.Environment == gone.Name {
			of = append(of, d)
		}
	}
	if len(of) != 1 || of[0].Statuses[len(of[0].Statuses)-1].State != "inactive" {
		t.Errorf("GitHub deployments of %s: %+v", gone.Name, of)
	}
	// Nothing left to prune; --max-age takes the kept one.
	if r := h.run("", "preview", "prune", "--token-target", tgt, "--max-age", "30m", "--format", "json"); r.code != 0 || !strings.Contains(r.stdout, `"older than 30m"`) || len(h.previews()) != 0 {
		t.Fatal(r)
	}
}

func TestPruneRefusesWithoutABranchList(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	gh := h.reviewGitHub(map[string]string{"contents": "read"})
	h.githubEvent("create", "create-branch.json")
	if r := h.run("", "preview", "create", "--branch", "feature/x"); r.code != 0 {
		t.Fatal(r)
	}
	h.clock.Advance(time.Hour)
	gh.DeleteBranch("acme", "airflow-dags", "main")
	gh.DeleteBranch("acme", "airflow-dags", "feature/orders-dag")
	r := h.run("", "preview", "prune")
	if r.code != 1 || !strings.Contains(r.stderr, "lists no branch at all") || len(h.previews()) != 1 {
		t.Fatal(r)
	}
	delete(h.env, "GITHUB_TOKEN")
	if r := h.run("", "preview", "prune"); r.code != 2 || !strings.Contains(r.stderr, "GITHUB_TOKEN") {
		t.Fatal(r)
	}
}

func TestRunOnSchedulePrunesThenRotates(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	gh := h.reviewGitHub(map[string]string{"deployments": "write"})
	h.githubEvent("create", "create-branch.json")
	if res, r := h.runPreview("run"); r.code != 0 || res.Action != "created" {
		t.Fatal(r)
	}
	gh.DeleteBranch("acme", "airflow-dags", "feature/orders-dag")
	h.clock.Advance(24 * time.Hour)
	h.env["ASTRO_CI_TARGETS"] = h.target("tok")
	h.githubEvent("schedule", "schedule.json")
	r := h.run("", "run", "--if-expires-within", "30d", "--format", "json")
	if r.code != 0 {
		t.Fatal(r)
	}
	checkSchema(t, "run", r)
	var doc struct {
		Rotated bool                `json:"rotated"`
		Prune   preview.PruneResult `json:"prune"`
	}
	_ = json.Unmarshal([]byte(r.stdout), &doc)
	if !doc.Rotated || len(doc.Prune.Pruned) != 1 || doc.Prune.Pruned[0].Action != "deleted" || len(h.previews()) != 0 {
		t.Fatalf("%+v\n%v", doc, r)
	}
	h.file("tok")
}

// --workload-identity and --runtime-version reach the copy; a base on a
// runtime Astro no longer offers is refused with the flag to use.
func TestPreviewWorkloadIdentityAndRuntimeVersion(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	old := h.fake.AddDeployment(astrofake.SeedDeployment{Name: "legacy", WorkspaceID: wsID, AstroRuntimeVersion: "9.1.0", WorkloadIdentity: "arn:aws:iam::1:role/prod"})
	r := h.run("", "preview", "create", "--base-deployment", old, "--branch", "feature/w", "--deploy", "none")
	if r.code != 1 || !strings.Contains(r.stderr, "--runtime-version") || len(h.previews()) != 0 {
		t.Fatal(r)
	}
	h.env["ASTRO_CI_WORKLOAD_IDENTITY"] = "arn:aws:iam::1:role/previews"
	res, r := h.runPreview("preview", "create", "--base-deployment", old, "--branch", "feature/w", "--runtime-version", "13.1.0", "--deploy", "none")
	if r.code != 0 || res.Action != "created" {
		t.Fatal(r)
	}
	d, _ := h.fake.Deployment(res.ID)
	if d.WorkloadIdentity != "arn:aws:iam::1:role/previews" || d.AstroRuntimeVersion != "13.1.0" || !d.IsDagDeployEnabled {
		t.Fatalf("preview %+v", d)
	}
	// A mode that does not exist, a DAG folder outside the project, and a
	// flag the code deploy would ignore are refused before anything happens.
	for _, args := range [][]string{{"--deploy", "sometimes"}, {"--dags-path", "../outside"}, {"--deploy", "none", "--dags-path", "src/dags"}} {
		if r := h.run("", append([]string{"preview", "create", "--base-deployment", old, "--branch", "feature/w"}, args...)...); r.code != 2 {
			t.Errorf("%v: %v", args, r)
		}
	}
}

// deploy ends within --deadline, saying what it waited for, without the
// upload URL (the blob request names the bare URL only).
func TestDeployEndsWithinTheDeadline(t *testing.T) {
	t.Parallel()
	h, p, _ := newCodeHarness(t)
	for _, route := range []string{"CreateDeploy", "FinalizeDeploy"} {
		h.fake.ClearFaults()
		h.fake.InjectFault(astrofake.Fault{Route: route, Latency: time.Hour})
		start := time.Now()
		r := h.run("", "deploy", "--deployment", richBase, "--dags-path", filepath.Join(p.dir, "dags"), "--deadline", "300ms", "--format", "json")
		if r.code != 1 || !strings.Contains(r.stdout, `"kind": "deadline"`) || !strings.Contains(r.stderr, "--deadline 300ms passed while waiting for") {
			t.Fatalf("%s: %v", route, r)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: ended after %s", route, d)
		}
		if strings.Contains(r.stdout+r.stderr, "sig=") {
			t.Errorf("%s: the upload URL shows: %v", route, r)
		}
	}
	seenUploads(t, h)
}

// A failed code deploy fails the create but not the token (the two run
// side by side); the next push gives the preview, which never got its
// image, the base's image and the DAGs.
func TestAPreviewWhoseImageDeployFailedGetsItOnTheNextPush(t *testing.T) {
	t.Parallel()
	h, _, digest := newCodeHarness(t)
	h.githubEvent("create", "create-branch.json")
	tgt := h.target("{slug}.token")
	h.fake.InjectFault(astrofake.Fault{Route: "FinalizeDeploy", Status: 400, Times: 1})
	res, r := h.runPreview("run", "--token-target", tgt)
	if r.code != 1 || res.Action != "created" || res.Token == nil || res.Code == nil || res.Code.Action != "failed" || !strings.Contains(r.stderr, "deploying the branch's code") {
		t.Fatal(r)
	}
	h.file(res.Slug + ".token")
	if ds := h.fake.Deploys(res.ID); len(ds) != 1 || ds[0].Status != "INITIALIZED" {
		t.Fatalf("deploys %+v", ds)
	}
	h.githubEvent("push", "push-update.json")
	res, r = h.runPreview("run", "--token-target", tgt)
	code, _ := h.fake.Code(res.ID)
	if r.code != 0 || res.Code == nil || res.Code.Action != "image-and-dags" || code.ImageDigest != digest || !strings.Contains(r.stderr, "never got the base's image") {
		t.Fatalf("%v\ncode %+v", r, code)
	}
	seenUploads(t, h)
}

// On GitLab, prune lists the branches of CI_PROJECT_ID with
// ASTRO_CI_GITLAB_TOKEN (the job token cannot) and expands {ref_slug} per
// preview, so the review-scoped variable of a gone branch goes too.
func TestPruneOnGitLabUsesTheProjectsBranchesAndRefSlugs(t *testing.T) {
	t.Parallel()
	h, _, _ := newCodeHarness(t)
	h.gitlabEvent("push-new-branch.env")
	gl := h.gitlab()
	h.env["CI_PROJECT_ID"] = "acme/data/airflow-dags"
	tgt := "gitlab://acme/data/airflow-dags/variables/ASTRO_API_TOKEN?environment_scope=review/{ref_slug}"
	if res, r := h.runPreview("run", "--token-target", tgt); r.code != 0 || res.Action != "created" {
		t.Fatal(r)
	}
	v, ok := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_API_TOKEN", "review/feature-orders-dag")
	if !ok {
		t.Fatal("no review-scoped variable")
	}
	h.addValue(v.Value)
	// The project's branches: main only (feature/orders-dag was merged).
	var calls atomic.Int32
	branches := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.EscapedPath() != "/api/v4/projects/acme%2Fdata%2Fairflow-dags/repository/branches" || r.Header.Get("PRIVATE-TOKEN") != glToken {
			t.Errorf("%s %s", r.Method, r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"name":"main","merged":false,"protected":true,"default":true}]`)
	}))
	t.Cleanup(branches.Close)
	// (The GitLab fake serves no branches: this server does, for the dry
	// run, which deletes nothing.)
	h.env["ASTRO_CI_GITLAB_API_URL"] = branches.URL + "/api/v4"
	h.clock.Advance(time.Hour)
	r := h.run("", "preview", "prune", "--token-target", tgt, "--dry-run", "--format", "json")
	if r.code != 0 || calls.Load() != 1 || !strings.Contains(r.stdout, "environment_scope=review%2Ffeature-orders-dag") || !strings.Contains(r.stdout, `"would-delete"`) {
		t.Fatal(r)
	}
	if _, ok := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_API_TOKEN", "review/feature-orders-dag"); !ok {
		t.Fatal("the dry run deleted the variable")
	}
}
