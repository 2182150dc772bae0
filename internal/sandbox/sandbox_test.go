package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
