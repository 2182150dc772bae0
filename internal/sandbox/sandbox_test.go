package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/cli"
)

func TestSandboxServesSeededFakes(t *testing.T) {
	t.Parallel()
	var sb *Sandbox
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sb.ServeHTTP(w, r) }))
	defer srv.Close()
	sb = New(srv.URL, Options{})

	var env bytes.Buffer
	if err := sb.WriteEnv(&env); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ASTRO_API_URL=" + srv.URL + "/v1", "ASTRO_API_TOKEN=ey", "GITHUB_API_URL=" + srv.URL + "/github/api/v3", "CI_API_V4_URL=" + srv.URL + "/gitlab/api/v4", "ASTRO_CI_GITHUB_TOKEN=", "ASTRO_CI_GITLAB_TOKEN="} {
		if !strings.Contains(env.String(), k) {
			t.Errorf("env lacks %s", k)
		}
	}
	// Each fake answers under its prefix, with the seeded credentials.
	for _, c := range []struct{ path, header, value string }{
		{"/v1/organizations/" + OrgID + "/deployments", "Authorization", "Bearer " + sb.Env["ASTRO_API_TOKEN"]},
		{"/github/api/v3/repos/acme/airflow-dags", "Authorization", "Bearer " + sb.Env["ASTRO_CI_GITHUB_TOKEN"]},
		{"/gitlab/api/v4/projects/acme%2Fdata%2Fairflow-dags/variables", "PRIVATE-TOKEN", sb.Env["ASTRO_CI_GITLAB_TOKEN"]},
	} {
		req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
		req.Header.Set(c.header, c.value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", c.path, err, resp)
		}
		resp.Body.Close()
	}
	st := sb.Snapshot()
	if len(st.Tokens) != 2 || len(st.Deployments) != 1 {
		t.Fatalf("seed: %+v", st)
	}
	b, _ := json.Marshal(st)
	if strings.Contains(string(b), sb.Env["ASTRO_API_TOKEN"]) {
		t.Fatal("state shows a value")
	}
}

func TestMainServeStateCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "sandbox.env")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out bytes.Buffer
	go func() { done <- Main(ctx, []string{"serve", "-env-file", envFile}, &out, &out) }()
	var env map[string]string
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(envFile); err == nil && len(b) > 0 {
			env = map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				k, v, _ := strings.Cut(l, "=")
				env[k] = v
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if env == nil {
		t.Fatal("no env file")
	}
	if fi, _ := os.Stat(envFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file mode %v", fi.Mode())
	}
	tok := filepath.Join(dir, "tok")
	if err := os.WriteFile(tok, []byte(env["ASTRO_API_TOKEN"]), 0o600); err != nil {
		t.Fatal(err)
	}
	var res bytes.Buffer
	if code := Main(ctx, []string{"check", "-url", env["ASTRO_SANDBOX_URL"], "-file", tok}, &res, &res); code != 0 || !strings.Contains(res.String(), "authenticates as token") {
		t.Fatalf("check: %d %s", code, res.String())
	}
	res.Reset()
	if code := Main(ctx, []string{"state", "-url", env["ASTRO_SANDBOX_URL"], "-summary"}, &res, &res); code != 0 || !strings.Contains(res.String(), "Astro: 2 tokens, 1 deployments") {
		t.Fatalf("state: %d %s", code, res.String())
	}
	if code := Main(ctx, []string{"serve", "-addr", "0.0.0.0:0"}, &res, &res); code == 0 {
		t.Fatal("must refuse a non-loopback address")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, out.String())
	}
}

// The sandbox serves the code-deploy pieces: astro-ci (the real CLI)
// creates a preview whose image is a copy of production's (same digest,
// through the registry) and whose DAGs went through the upload endpoint,
// and records it as a GitHub deployment of the branch.
func TestSandboxServesCodeDeploys(t *testing.T) {
	t.Parallel()
	var sb *Sandbox
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sb.ServeHTTP(w, r) }))
	defer srv.Close()
	sb = New(srv.URL, Options{DeploymentReadyAfter: -1})
	project := t.TempDir()
	if err := os.MkdirAll(filepath.Join(project, "dags"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "dags", "orders.py"), []byte("x = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REPOSITORY": GitHubOwner + "/" + GitHubRepo}
	for k, v := range sb.Env {
		env[k] = v
	}
	var out, errb bytes.Buffer
	noWait := func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	code := cli.Main{Sleep: noWait}.Run(context.Background(), []string{"preview", "create", "--base-deployment", "production", "--branch", "feature/orders-dag", "--project-dir", project}, env, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	st := sb.Snapshot()
	var prod, prev DeploymentState
	for _, d := range st.Deployments {
		switch {
		case d.ID == DeploymentID:
			prod = d
		case strings.Contains(d.Description, "[astro-ci preview "):
			prev = d
		}
	}
	if prod.ImageDigest == "" || prev.ImageDigest != prod.ImageDigest || !prev.IsDagDeployEnabled || len(prev.Deploys) != 1 ||
		prev.Deploys[0].Type != "IMAGE_AND_DAG" || !slices.Equal(prev.Deploys[0].Files, []string{"dags/", "dags/orders.py"}) || prev.DagTarballVersion == "" {
		t.Fatalf("production %+v\npreview %+v\n%s", prod, prev, errb.String())
	}
	if len(st.GitHubDeployments) != 1 || st.GitHubDeployments[0].Environment != prev.Name || !slices.Equal(st.GitHubDeployments[0].States, []string{"success"}) {
		t.Fatalf("GitHub deployments %+v", st.GitHubDeployments)
	}
	b, _ := json.Marshal(st)
	// ::add-mask:: carries the value to the runner on purpose, which hides it.
	var shown []string
	for _, l := range strings.Split(out.String()+errb.String(), "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			shown = append(shown, l)
		}
	}
	if strings.Contains(string(b), "sig=") || strings.Contains(strings.Join(shown, "\n"), "sig=") {
		t.Fatalf("an upload URL shows:\n%s\n%s", out.String(), errb.String())
	}
}
