package githubfake_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/githubfake"
)

const tokAdmin = "github_pat_admin" // administration write, secrets write on everything

func addAdmin(f *fixture) {
	f.fake.AddToken(tokAdmin, githubfake.TokenPerms{Label: "admin", Perms: map[string]string{
		"administration": "write", "secrets": "write", "environments": "read",
	}})
}

func TestEnvironmentLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addAdmin(f)
	const path = "/repos/o/r/environments/preview%2Ffeature-x"

	// Created with an empty object, as astro-ci sends it: 200 and the
	// environment (the validator checks the required fields).
	a := f.do(t, "PUT", path, tokAdmin, map[string]any{})
	m := a.json(t)
	if a.status != 200 || m["name"] != "preview/feature-x" || m["id"] == nil || m["created_at"] != m["updated_at"] {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}
	if !strings.HasSuffix(m["url"].(string), path) {
		t.Errorf("url %v", m["url"])
	}
	if !f.fake.HasEnvironment("o", "r", "preview/feature-x") {
		t.Fatal("HasEnvironment after PUT is false")
	}
	if got, want := f.fake.Environments("o", "r"), []string{"preview/feature-x", "preview/x", "prod"}; !slices.Equal(got, want) {
		t.Errorf("Environments = %q, want %q", got, want)
	}

	// Updated (no body, a differently cased name): same environment.
	f.clk.Advance(time.Minute)
	a = f.do(t, "PUT", "/repos/o/r/environments/Preview%2FFeature-X", tokAdmin, nil)
	m2 := a.json(t)
	if a.status != 200 || m2["id"] != m["id"] || m2["name"] != "preview/feature-x" || m2["updated_at"] == m["updated_at"] {
		t.Fatalf("second PUT: %d %s", a.status, a.body)
	}
	// Protection settings are accepted (and ignored).
	if a := f.do(t, "PUT", path, tokAdmin, map[string]any{"wait_timer": 0}); a.status != 200 {
		t.Errorf("PUT with settings: %d %s", a.status, a.body)
	}
	if a := f.do(t, "GET", path, tokReadOnly, nil); a.status != 200 || a.json(t)["id"] != m["id"] {
		t.Errorf("GET: %d %s", a.status, a.body)
	}

	// Its secret store works, and goes with it.
	keyID, enc := f.sealFor(t, path+"/secrets/public-key", tokAdmin, "v")
	if a := f.do(t, "PUT", path+"/secrets/TOK", tokAdmin, map[string]any{"key_id": keyID, "encrypted_value": enc}); a.status != 201 {
		t.Fatalf("secret PUT: %d %s", a.status, a.body)
	}
	if a := f.do(t, "DELETE", path, tokAdmin, nil); a.status != 204 || len(a.body) != 0 {
		t.Fatalf("DELETE: %d %q, want 204 and no body", a.status, a.body)
	}
	if f.fake.HasEnvironment("o", "r", "preview/feature-x") {
		t.Error("environment still there after DELETE")
	}
	if _, ok := f.fake.EnvSecret("o", "r", "preview/feature-x", "TOK"); ok {
		t.Error("the environment's secret survived it")
	}
	if a := f.do(t, "GET", path+"/secrets/public-key", tokAdmin, nil); a.status != 404 {
		t.Errorf("secrets of a deleted environment: %d", a.status)
	}
	if a := f.do(t, "DELETE", path, tokAdmin, nil); a.status != 404 {
		t.Errorf("second DELETE: %d, want 404", a.status)
	}

	// Created again: a new environment with a new key pair.
	if a := f.do(t, "PUT", path, tokAdmin, map[string]any{}); a.status != 200 || a.json(t)["id"] == m["id"] {
		t.Errorf("re-create: %d %s", a.status, a.body)
	}
	if names := f.fake.SecretNames("env:o/r/preview/feature-x"); len(names) != 0 {
		t.Errorf("re-created environment has secrets %q", names)
	}
}

func TestEnvironmentAccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addAdmin(f)
	tests := []struct {
		name, method, path, token string
		want                      int
		wantMsg, wantAccepted     string
	}{
		{"create without administration", "PUT", "/repos/o/r/environments/new", tokAll, 403, "Resource not accessible by personal access token", "administration=write"},
		{"delete without administration", "DELETE", "/repos/o/r/environments/prod", tokAll, 403, "Resource not accessible by personal access token", "administration=write"},
		{"create in a private repo outside the token", "PUT", "/repos/o/r/environments/new", tokOneRepo, 404, "Not Found", ""},
		{"create in a public repo outside the token", "PUT", "/repos/acme/lib/environments/new", tokOneRepo, 403, "", "administration=write"},
		{"create in an unknown repo", "PUT", "/repos/o/nope/environments/new", tokAdmin, 404, "Not Found", ""},
		{"delete an unknown environment", "DELETE", "/repos/o/r/environments/nope", tokAdmin, 404, "Not Found", ""},
		{"name too long", "PUT", "/repos/o/r/environments/" + strings.Repeat("e", 256), tokAdmin, 422, "Name is invalid", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.method == "PUT" {
				body = map[string]any{}
			}
			a := f.do(t, tc.method, tc.path, tc.token, body)
			if a.status != tc.want {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, a.status, a.body, tc.want)
			}
			if tc.wantMsg != "" {
				if m := a.json(t); m["message"] != tc.wantMsg || m["documentation_url"] == nil {
					t.Errorf("body %s, want message %q with documentation_url", a.body, tc.wantMsg)
				}
			}
			if got := a.header.Get("X-Accepted-GitHub-Permissions"); got != tc.wantAccepted {
				t.Errorf("X-Accepted-GitHub-Permissions = %q, want %q", got, tc.wantAccepted)
			}
		})
	}
	if f.fake.HasEnvironment("o", "r", "new") || !f.fake.HasEnvironment("o", "r", "prod") {
		t.Error("a refused request changed the environments")
	}
}
