package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/rotation"
)

const richBase = "clbase00000000000000rich1"

// previewHarness: an org owner in ASTRO_API_TOKEN and a base Deployment
// with every copyable setting.
func newPreviewHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.admin()
	h.fake.AddDeployment(astrofake.SeedDeployment{
		ID: richBase, Name: "analytics", WorkspaceID: wsID, Type: "STANDARD", CloudProvider: "GCP", Region: "us-central1",
		AstroRuntimeVersion: "12.4.0", Executor: "CELERY", SchedulerSize: "MEDIUM", IsHighAvailability: true, IsDevelopmentMode: true,
		IsCicdEnforced: true, IsDagDeployEnabled: true, DefaultTaskPodCPU: "1", DefaultTaskPodMemory: "2Gi", ResourceQuotaCPU: "20", ResourceQuotaMemory: "40Gi",
		WorkerQueues: []astrofake.WorkerQueue{
			{Name: "default", IsDefault: true, AstroMachine: "A10", MinWorkerCount: 1, MaxWorkerCount: 4, WorkerConcurrency: 8},
			{Name: "heavy", AstroMachine: "A40", MinWorkerCount: 0, MaxWorkerCount: 2, WorkerConcurrency: 2},
		},
		HibernationSchedules: []astrofake.HibernationSchedule{{HibernateAtCron: "0 19 * * *", WakeAtCron: "0 7 * * 1-5", IsEnabled: true}},
		EnvVars:              []astrofake.EnvVar{{Key: "ENVIRONMENT", Value: "prod"}, {Key: "WAREHOUSE_PASSWORD", Value: "base-secret-value", IsSecret: true}},
		WorkloadIdentity:     "analytics@acme.iam.gserviceaccount.com",
		ContactEmails:        []string{"data@acme.example"},
	})
	h.addValue("base-secret-value")
	// Waits advance the clock, so --wait sees CREATING turn HEALTHY.
	h.advanceOnSleep = true
	return h
}

// githubEvent makes the run look like GitHub Actions delivering event name
// with the payload file from testdata/events/github.
func (h *harness) githubEvent(name, file string) {
	h.env["GITHUB_ACTIONS"] = "true"
	h.env["GITHUB_EVENT_NAME"] = name
	h.env["GITHUB_EVENT_PATH"] = filepath.Join("..", "..", "testdata", "events", "github", file)
	h.env["GITHUB_REPOSITORY"] = "acme/airflow-dags"
}

// gitlabEvent loads a GitLab variable set from testdata/events/gitlab.
func (h *harness) gitlabEvent(file string) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "events", "gitlab", file))
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			h.env[k] = v
		}
	}
	delete(h.env, "CI_API_V4_URL")
	if _, ok := h.env["CI_PROJECT_DIR"]; !ok {
		h.env["CI_PROJECT_DIR"] = h.dir // GitLab always sets it
	}
}

func (h *harness) previews() []astrofake.DeploymentInfo {
	var out []astrofake.DeploymentInfo
	for _, d := range h.fake.Deployments() {
		if strings.Contains(d.Description, "[astro-ci preview ") {
			out = append(out, d)
		}
	}
	return out
}

func (h *harness) runPreview(args ...string) (preview.Result, result) {
	h.t.Helper()
	r := h.run("", append(args, "--format", "json")...)
	var res preview.Result
	if strings.TrimSpace(r.stdout) != "" {
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			h.t.Fatalf("%v: %v", err, r)
		}
	}
	return res, r
}

var validName = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

func TestPreviewLifecycleOnGitHubEvents(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	h.env["ASTRO_CI_BASE_DEPLOYMENT"] = "analytics"
	h.env["ASTRO_CI_TOKEN_TARGETS"] = h.target("{slug}.token")
	h.env["ASTRO_PREVIEW_SECRET_WAREHOUSE_PASSWORD"] = "preview-secret-value"
	h.addValue("preview-secret-value")

	h.githubEvent("create", "create-branch.json")
	res, r := h.runPreview("run")
	// "-" in the branch makes the slug carry a hash: feature/orders-dag and
	// feature-orders/dag must not share a name or a {slug} target.
	if r.code != 0 || res.Action != "created" || !strings.HasPrefix(res.Name, "preview-feature-orders-dag-") || !validName.MatchString(res.Name) {
		t.Fatal(r)
	}
	ps := h.previews()
	if len(ps) != 1 {
		t.Fatalf("%d previews", len(ps))
	}
	d := ps[0]
	if d.Name != res.Name || d.Type != "STANDARD" || d.CloudProvider != "GCP" || d.Region != "us-central1" || d.AstroRuntimeVersion != "12.4.0" ||
		d.Executor != "CELERY" || d.SchedulerSize != "MEDIUM" || d.DefaultTaskPodMemory != "2Gi" || d.ResourceQuotaCPU != "20" ||
		len(d.WorkerQueues) != 2 || len(d.HibernationSchedules) != 1 || d.WorkloadIdentity != "" { // never production's identity (issue 10.1)
		t.Fatalf("not a copy of the base: %+v", d)
	}
	if d.Env["ENVIRONMENT"] != "prod" || d.SecretEnv["WAREHOUSE_PASSWORD"] != "preview-secret-value" {
		t.Fatalf("variables: %v, secret set: %v", d.Env, d.SecretEnv["WAREHOUSE_PASSWORD"] != "")
	}
	// The preview's own Deployment token, in the target named by its slug.
	v := h.file(res.Slug + ".token")
	id, ok := h.fake.TokenIDForValue(v)
	tok, _ := h.fake.Token(id)
	if !ok || !h.fake.Authenticates(v) || tok.Scope != "DEPLOYMENT" || tok.EntityID != d.ID || tok.Roles[0].Role != "DEPLOYMENT_ADMIN" || tok.ExpiryDays != 30 {
		t.Fatalf("preview token: %+v", tok)
	}
	if m, _ := rotation.ParseMarker(tok.Description); m.State != rotation.Current {
		t.Fatalf("token marker %q", tok.Description)
	}

	// Idempotent: the same event again (a re-run) finds the preview.
	again, r := h.runPreview("run")
	if r.code != 0 || again.Action != "exists" || len(h.previews()) != 1 || len(h.fake.Tokens()) != 2 {
		t.Fatalf("%v\n%d previews, %d tokens", r, len(h.previews()), len(h.fake.Tokens()))
	}

	// A push to the branch brings its preview up to date (here without a
	// DAG folder, so no code) and creates nothing.
	h.githubEvent("push", "push-update.json")
	if res, r := h.runPreview("run"); r.code != 0 || res.Action != "exists" || res.Code == nil || res.Code.Action != "none" || len(h.previews()) != 1 || len(h.fake.Tokens()) != 2 {
		t.Fatal(r)
	}

	// The branch is deleted: preview, token and its file go.
	h.githubEvent("delete", "delete-branch.json")
	res, r = h.runPreview("run")
	if r.code != 0 || res.Action != "deleted" || len(h.previews()) != 0 || h.fake.Authenticates(v) {
		t.Fatal(r)
	}
	if _, err := os.Stat(filepath.Join(h.dir, res.Slug+".token")); !os.IsNotExist(err) {
		t.Fatal("token file not removed")
	}
	// Deleting again is success.
	res, r = h.runPreview("run")
	if r.code != 0 || res.Action != "absent" {
		t.Fatal(r)
	}
	if n := len(h.fake.Tokens()); n != 1 {
		t.Fatalf("%d tokens left, want only the admin", n)
	}
}

func TestPreviewPullRequestLifecycle(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	h.env["ASTRO_CI_BASE_DEPLOYMENT"] = richBase
	for _, step := range []struct {
		event, file, action string
		previews            int
	}{
		{"pull_request", "pull_request-opened.json", "created", 1},
		{"pull_request", "pull_request-reopened.json", "exists", 1},
		{"pull_request", "pull_request-closed-merged.json", "deleted", 0},
		{"pull_request", "pull_request-closed.json", "absent", 0},
	} {
		h.githubEvent(step.event, step.file)
		res, r := h.runPreview("run")
		if r.code != 0 || res.Action != step.action || len(h.previews()) != step.previews {
			t.Fatalf("%s: %v", step.file, r)
		}
	}
}

func TestPreviewForkPullRequestRefused(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	h.env["ASTRO_CI_BASE_DEPLOYMENT"] = richBase
	h.githubEvent("pull_request", "pull_request-opened-fork.json")
	if r := h.run("", "run"); r.code != 0 || !strings.Contains(r.stderr, "fork") || len(h.previews()) != 0 {
		t.Fatal(r)
	}
	if r := h.run("", "preview", "create"); r.code != 1 || !strings.Contains(r.stderr, "refusing a preview") || len(h.previews()) != 0 {
		t.Fatal(r)
	}
	if res, r := h.runPreview("preview", "create", "--allow-forks"); r.code != 0 || res.Action != "created" {
		t.Fatal(r)
	}
}

func TestPreviewNamesKeepBranchesApart(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	branches := []string{
		"feature/x", "fix/x", "feature-x", "feature/X", "feature/größe-日本",
		"feature/" + strings.Repeat("very-long-name-", 15),
		"feature/" + strings.Repeat("very-long-name-", 15) + "2",
		"feature/$(touch${IFS}pwned);echo${IFS}`id`|tee>x&&'\"#!{}",
	}
	names := map[string]string{}
	for _, b := range branches {
		res, r := h.runPreview("preview", "create", "--base-deployment", richBase, "--branch", b)
		if r.code != 0 || res.Action != "created" || !validName.MatchString(res.Name) {
			t.Fatalf("%q: %v", b, r)
		}
		if other, dup := names[res.Name]; dup {
			t.Fatalf("%q and %q share the preview name %s", b, other, res.Name)
		}
		names[res.Name] = b
	}
	if len(h.previews()) != len(branches) {
		t.Fatal("one preview per branch")
	}
	if _, err := os.Stat("pwned"); err == nil {
		t.Fatal("a branch name reached a shell")
	}
	// Each is found again by its own branch.
	for _, b := range branches {
		res, r := h.runPreview("preview", "delete", "--base-deployment", richBase, "--branch", b)
		if r.code != 0 || res.Action != "deleted" {
			t.Fatalf("%q: %v", b, r)
		}
	}
	if len(h.previews()) != 0 {
		t.Fatal("previews left")
	}
}

func TestPreviewRejectsInvalidBranches(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	for _, b := range []string{"feature/..x", "feature/x\necho pwned", "-rf", "a b", "x.lock"} {
		if r := h.run("", "preview", "create", "--base-deployment", richBase, "--branch", b); r.code != 2 {
			t.Errorf("%q: %v", b, r)
		}
	}
	h.githubEvent("create", "create-branch-invalid.json")
	if r := h.run("", "run", "--base-deployment", richBase); r.code != 2 {
		t.Fatal(r)
	}
	if len(h.fake.Requests()) != 0 || len(h.previews()) != 0 {
		t.Fatal("bad input must change nothing")
	}
}

func TestPreviewWait(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	res, r := h.runPreview("preview", "create", "--base-deployment", richBase, "--branch", "feature/wait", "--wait", "--timeout", "5m")
	if r.code != 0 || res.Status != "HEALTHY" || !strings.Contains(r.stderr, "waiting for preview") || !strings.Contains(r.stderr, "CREATING") {
		t.Fatal(r)
	}
	res, r = h.runPreview("preview", "create", "--base-deployment", richBase, "--branch", "feature/slow", "--wait", "--timeout", "25s")
	if r.code != 1 || res.Status != "CREATING" || !strings.Contains(r.stderr, "still CREATING after 25s") {
		t.Fatal(r)
	}
}

func TestPreviewSecretEnvFromFlags(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	h.env["WH_PW"] = "flag-secret-value-1"
	h.addValue("flag-secret-value-1")
	res, r := h.runPreview("preview", "create", "--base-deployment", richBase, "--branch", "feature/s", "--secret-env", "WAREHOUSE_PASSWORD=WH_PW")
	if r.code != 0 {
		t.Fatal(r)
	}
	d, _ := h.fake.Deployment(res.ID)
	if d.SecretEnv["WAREHOUSE_PASSWORD"] != "flag-secret-value-1" {
		t.Fatal("secret variable not set")
	}
	// Reused preview: the secret is updated in place.
	h.env["WH_PW"] = "flag-secret-value-2"
	h.addValue("flag-secret-value-2")
	if res2, r := h.runPreview("preview", "create", "--base-deployment", richBase, "--branch", "feature/s", "--secret-env", "WAREHOUSE_PASSWORD=WH_PW"); r.code != 0 || res2.ID != res.ID {
		t.Fatal(r)
	}
	d, _ = h.fake.Deployment(res.ID)
	if d.SecretEnv["WAREHOUSE_PASSWORD"] != "flag-secret-value-2" || len(d.WorkerQueues) != 2 {
		t.Fatal("update lost settings or did not set the secret")
	}
	for _, bad := range []string{"NOEQUALS", "KEY=MISSING_VAR", "KEY=value with spaces"} {
		if r := h.run("", "preview", "create", "--base-deployment", richBase, "--branch", "feature/s", "--secret-env", bad); r.code != 2 {
			t.Errorf("%q: %v", bad, r)
		}
	}
}

func TestPreviewLostCreateReconciled(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	h.fake.InjectFault(astrofake.Fault{Route: "CreateDeployment", AfterApply: true, Drop: true, Times: 1})
	res, r := h.runPreview("preview", "create", "--base-deployment", richBase, "--branch", "feature/lost")
	if r.code != 0 || res.Action != "created" || len(h.previews()) != 1 || !strings.Contains(r.stderr, "lost create took effect") {
		t.Fatal(r)
	}
}

func TestPreviewOnGitLab(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	dotenv := filepath.Join(h.dir, "preview.env")
	h.gitlabEvent("push-new-branch.env")
	h.env["ASTRO_CI_BASE_DEPLOYMENT"] = "analytics"
	h.env["ASTRO_CI_DOTENV"] = dotenv
	h.env["ASTRO_CI_TOKEN_TARGETS"] = h.target("review-{slug}")
	res, r := h.runPreview("run")
	if r.code != 0 || res.Action != "created" || strings.Contains(r.stdout+r.stderr, "::") {
		t.Fatal(r)
	}
	b, err := os.ReadFile(dotenv)
	if err != nil || !bytes.Contains(b, []byte("PREVIEW_ID="+res.ID)) || !bytes.Contains(b, []byte("PREVIEW_URL=https://")) {
		t.Fatalf("dotenv: %s %v", b, err)
	}
	h.file("review-" + res.Slug)
	h.gitlabEvent("stop.env")
	res, r = h.runPreview("run")
	if r.code != 0 || res.Action != "deleted" || len(h.previews()) != 0 {
		t.Fatal(r)
	}
}

// TestGitLabDotenvDefaultsToTheProjectDir: without --dotenv, a GitLab job
// writes preview.env into $CI_PROJECT_DIR, where artifacts:reports:dotenv
// looks for it, not into whatever directory the script moved to (an
// earlier default, the working directory, left preview.env in this
// package's folder when a test ran in GitLab mode).
func TestGitLabDotenvDefaultsToTheProjectDir(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	h.gitlabEvent("push-new-branch.env")
	project := t.TempDir()
	h.env["CI_PROJECT_DIR"] = project
	h.env["ASTRO_CI_BASE_DEPLOYMENT"] = "analytics"
	h.env["ASTRO_CI_TOKEN_TARGETS"] = h.target("review-{slug}")
	res, r := h.runPreview("run")
	if r.code != 0 || res.Action != "created" {
		t.Fatal(r)
	}
	b, err := os.ReadFile(filepath.Join(project, "preview.env"))
	if err != nil || !bytes.Contains(b, []byte("PREVIEW_ID="+res.ID)) {
		t.Fatalf("preview.env in $CI_PROJECT_DIR: %s %v", b, err)
	}
}

func TestRunOnScheduleRotatesWhenDue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin() // expires in 10 days
	h.env["ASTRO_CI_TARGETS"] = h.target("tok")
	h.githubEvent("schedule", "schedule.json")
	if r := h.run("", "run", "--if-expires-within", "3d"); r.code != 0 || !strings.Contains(r.stdout, "not due") {
		t.Fatal(r)
	}
	if r := h.run("", "run"); r.code != 0 || !strings.Contains(r.stdout, "rotated") || !h.fake.Authenticates(h.file("tok")) {
		t.Fatal(r)
	}
}

func TestRunIgnoresOtherEvents(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	h.env["ASTRO_CI_BASE_DEPLOYMENT"] = richBase
	for ev, file := range map[string]string{"create": "create-tag.json", "workflow_dispatch": "workflow_dispatch.json", "pull_request": "pull_request-labeled.json"} {
		h.githubEvent(ev, file)
		r := h.run("", "run")
		if r.code != 0 || !strings.Contains(r.stderr, "nothing to do") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: %v", file, r)
		}
	}
	if len(h.previews()) != 0 {
		t.Fatal("previews made")
	}
}

func TestPreviewDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	if r := h.run("", "token", "check"); r.code != 0 {
		t.Fatal(r)
	}
	before := h.fake.Snapshot()
	if res, r := h.runPreview("preview", "create", "--dry-run", "--base-deployment", richBase, "--branch", "feature/d", "--token-target", h.target("x")); r.code != 0 || res.Action != "would-create" {
		t.Fatal(r)
	}
	if res, r := h.runPreview("preview", "delete", "--dry-run", "--base-deployment", richBase, "--branch", "feature/d"); r.code != 0 || res.Action != "absent" {
		t.Fatal(r)
	}
	if !bytes.Equal(before, h.fake.Snapshot()) {
		t.Fatal("dry run changed Astro")
	}
}

func TestPreviewDeleteAfterBaseIsGone(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	if _, r := h.runPreview("preview", "create", "--base-deployment", richBase, "--branch", "feature/orphan"); r.code != 0 {
		t.Fatal(r)
	}
	if r := h.run("", "preview", "create", "--base-deployment", richBase, "--branch", "feature/other"); r.code != 0 {
		t.Fatal(r)
	}
	// Someone deletes the base first; its previews must still be found by its id.
	if !deleteDeployment(h, richBase) {
		t.Fatal("could not delete the base")
	}
	res, r := h.runPreview("preview", "delete", "--base-deployment", richBase, "--branch", "feature/orphan")
	if r.code != 0 || res.Action != "deleted" || len(h.previews()) != 1 || !strings.Contains(r.stderr, "no longer exists") {
		t.Fatal(r)
	}
	// By name, a gone base cannot be resolved: a clear error, nothing deleted.
	if r := h.run("", "preview", "delete", "--base-deployment", "analytics", "--branch", "feature/other"); r.code != 1 || len(h.previews()) != 1 {
		t.Fatal(r)
	}
}

// deleteDeployment deletes a Deployment through the API, as a person would.
func deleteDeployment(h *harness, id string) bool {
	req, _ := http.NewRequest("DELETE", h.srv.URL+"/v1/organizations/"+orgID+"/deployments/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+h.env["ASTRO_API_TOKEN"])
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 204
}
