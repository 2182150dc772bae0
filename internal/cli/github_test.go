package cli

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/githubfake"
)

const ghPAT = "github_pat_11AAAAAAA0fakefakefakefakefake"

// github serves a contract-checked GitHub fake and points astro-ci at it
// with a fine-grained PAT that may write secrets in acme/app.
func (h *harness) github() *githubfake.Server {
	h.t.Helper()
	gh := githubfake.New(githubfake.Options{Now: h.clock.Now})
	gh.AddOrg("acme")
	gh.AddRepo("acme", "app", true)
	gh.AddToken(ghPAT, githubfake.TokenPerms{Label: "pat", Perms: map[string]string{"secrets": "write", "environments": "read", "organization_secrets": "write", "dependabot_secrets": "write"}})
	v, err := contract.GitHub()
	if err != nil {
		h.t.Fatal(err)
	}
	srv := httptest.NewServer(contract.Check(h.t, v, gh))
	h.t.Cleanup(srv.Close)
	h.env["ASTRO_CI_GITHUB_TOKEN"] = ghPAT
	h.env["GITHUB_API_URL"] = srv.URL
	h.addValue(ghPAT)
	return gh
}

func TestRotateIntoGitHubSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gh := h.github()
	gh.AddEnvironment("acme", "app", "production")
	h.admin()
	out, r := h.rotateJSON(
		"--target", "github://acme/app/secrets/ASTRO_API_TOKEN",
		"--target", "github://acme/app/environments/production/secrets/ASTRO_API_TOKEN",
		"--target", "github://orgs/acme/secrets/ASTRO_API_TOKEN?visibility=selected&repos=app",
		"--target", "github://acme/app/dependabot/secrets/ASTRO_API_TOKEN",
	)
	if r.code != 0 || len(out.Targets) != 4 {
		t.Fatal(r)
	}
	repo, _ := gh.RepoSecret("acme", "app", "ASTRO_API_TOKEN")
	env, _ := gh.EnvSecret("acme", "app", "production", "ASTRO_API_TOKEN")
	org, vis, ids, _ := gh.OrgSecret("acme", "ASTRO_API_TOKEN")
	dep, _ := gh.DependabotSecret("acme", "app", "ASTRO_API_TOKEN")
	h.addValue(repo)
	for _, v := range []string{env, org, dep} {
		if v != repo {
			t.Fatal("targets differ")
		}
	}
	if id, ok := h.fake.TokenIDForValue(repo); !ok || id != out.New.ID || !h.fake.Authenticates(repo) {
		t.Fatal("GitHub does not hold the new token's value")
	}
	if vis != "selected" || len(ids) != 1 {
		t.Fatalf("org secret visibility %s %v", vis, ids)
	}
	if gh.DecryptFailures() != 0 {
		t.Fatal("a sealed box did not open")
	}
}

func TestDefaultTargetIsTheRepositorySecret(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gh := h.github()
	_, v0 := h.admin()
	h.env["GITHUB_ACTIONS"] = "true"
	h.env["GITHUB_REPOSITORY"] = "acme/app"
	if r := h.run("", "token", "rotate"); r.code != 0 {
		t.Fatal(r)
	}
	v, ok := gh.RepoSecret("acme", "app", "ASTRO_API_TOKEN")
	h.addValue(v)
	if !ok || v == v0 || !h.fake.Authenticates(v) {
		t.Fatal("default target not written")
	}
}

func TestPreflightPermissionFailureTouchesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gh := h.github()
	gh.AddRepo("acme", "other", true)
	const weak = "github_pat_11BBBBBBB0readonlyreadonlyread"
	gh.AddToken(weak, githubfake.TokenPerms{Label: "weak", Perms: map[string]string{"secrets": "read"}})
	h.env["ASTRO_CI_GITHUB_TOKEN"] = weak
	h.addValue(weak)
	_, v0 := h.admin()
	if r := h.run("", "token", "check"); r.code != 0 { // settle lastUsedAt
		t.Fatal(r)
	}
	// In place, a target that refuses the write would hold a dead value, so
	// the preflight proves the write itself: refused before anything changes.
	before := h.fake.Snapshot()
	r := h.run("", "token", "rotate", "--strategy", "rotate", "--target", "github://acme/app/secrets/ASTRO_API_TOKEN", "--target", h.target("tok"))
	if r.code != 1 || !strings.Contains(r.stderr, "preflight failed, nothing was changed") || !strings.Contains(r.stderr, "Secrets: write") {
		t.Fatal(r)
	}
	if after := h.fake.Snapshot(); !bytes.Equal(before, after) || !h.fake.Authenticates(v0) {
		t.Fatal("Astro changed although preflight failed")
	}
	if names := gh.SecretNames("repo:acme/app"); len(names) != 0 {
		t.Fatalf("secrets left behind: %v", names)
	}
	// Overlap proves by reading (one write per target, issue 13): a read
	// cannot show a personal token's own Secrets permission, so the write is
	// what is refused, and the old value stays valid everywhere.
	r = h.run("", "token", "rotate", "--strategy", "overlap", "--target", "github://acme/app/secrets/ASTRO_API_TOKEN", "--target", h.target("tok"))
	if r.code != 1 || !strings.Contains(r.stderr, "still holds the old value") || !strings.Contains(r.stderr, "Secrets: write") {
		t.Fatal(r)
	}
	if !h.fake.Authenticates(v0) || !h.fake.Authenticates(h.file("tok")) {
		t.Fatal("a value stopped working")
	}
	if names := gh.SecretNames("repo:acme/app"); len(names) != 0 {
		t.Fatalf("secrets left behind: %v", names)
	}
}

func TestFanOutToFiftyRepositoriesUnderPushBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gh := h.github()
	var args []string
	for i := range 50 {
		gh.AddRepo("acme", fmt.Sprintf("svc-%02d", i), true)
		args = append(args, "--target", fmt.Sprintf("github://acme/svc-%02d/secrets/ASTRO_API_TOKEN", i))
	}
	h.admin()
	// Each faulty repository fails at most 3 times in a row; a target gives
	// up after 6 attempts.
	for i := range 10 {
		gh.InjectFault(githubfake.Fault{Method: "PUT", PathPrefix: fmt.Sprintf("/repos/acme/svc-0%d/", i), Status: 502, Times: 2})
		gh.InjectFault(githubfake.Fault{Method: "PUT", PathPrefix: fmt.Sprintf("/repos/acme/svc-1%d/", i), Status: 429, RetryAfter: "2", Times: 3})
		gh.InjectFault(githubfake.Fault{Method: "PUT", PathPrefix: fmt.Sprintf("/repos/acme/svc-2%d/", i), Secondary: true, RetryAfter: "5", Times: 3})
		gh.InjectFault(githubfake.Fault{Method: "GET", PathPrefix: fmt.Sprintf("/repos/acme/svc-3%d/", i), Status: 503, Times: 2})
	}
	out, r := h.rotateJSON(args...)
	if r.code != 0 {
		t.Fatal(r)
	}
	var first string
	for i := range 50 {
		v, ok := gh.RepoSecret("acme", fmt.Sprintf("svc-%02d", i), "ASTRO_API_TOKEN")
		if !ok {
			t.Fatalf("svc-%02d not written", i)
		}
		if first == "" {
			first = v
			h.addValue(v)
		}
		if v != first {
			t.Fatalf("svc-%02d holds another value", i)
		}
	}
	if id, _ := h.fake.TokenIDForValue(first); id != out.New.ID {
		t.Fatal("the repositories do not hold the new token")
	}
	// Each scope's public key was fetched once, pushed-back writes waited as told.
	keys := 0
	for _, q := range gh.Requests() {
		if strings.HasSuffix(q.Path, "/public-key") && q.Status == 200 {
			keys++
		}
	}
	if keys != 50 {
		t.Fatalf("%d public key fetches for 50 repositories", keys)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	saw := map[string]bool{}
	for _, w := range h.waits {
		saw[w.String()] = true
	}
	if !saw["2s"] || !saw["5s"] {
		t.Fatalf("Retry-After not honoured: %v", h.waits)
	}
}

func TestWorkflowTokenCannotWriteSecretsIsExplained(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gh := h.github()
	const workflowToken = "ghs_workflowtokenworkflowtoken00"
	gh.AddToken(workflowToken, githubfake.TokenPerms{Label: "GITHUB_TOKEN", Perms: map[string]string{"contents": "read"}})
	delete(h.env, "ASTRO_CI_GITHUB_TOKEN")
	h.env["GITHUB_TOKEN"] = workflowToken
	h.addValue(workflowToken)
	h.admin()
	r := h.run("", "token", "rotate", "--target", "github://acme/app/secrets/ASTRO_API_TOKEN")
	if r.code != 1 || !strings.Contains(r.stderr, "GITHUB_TOKEN cannot write secrets") {
		t.Fatal(r)
	}
}

func TestGitHubTargetWithoutCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	r := h.run("", "token", "rotate", "--target", "github://acme/app/secrets/ASTRO_API_TOKEN")
	if r.code != 1 || !strings.Contains(r.stderr, "set ASTRO_CI_GITHUB_TOKEN") {
		t.Fatal(r)
	}
}
