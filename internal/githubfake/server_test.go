package githubfake_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/githubfake"
)

func TestSecretLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		base  string // secrets collection path
		scope string
		extra map[string]any
	}{
		{"repository", "/repos/o/r/actions/secrets", "repo:o/r", nil},
		{"dependabot", "/repos/o/r/dependabot/secrets", "dependabot:o/r", nil},
		{"environment with slash", "/repos/o/r/environments/preview%2Fx/secrets", "env:o/r/preview/x", nil},
		{"organization", "/orgs/acme/actions/secrets", "org:acme", map[string]any{"visibility": "private"}},
		{"GHES base path", "/api/v3/repos/o/r/actions/secrets", "repo:o/r", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			put := func(value string) answer {
				keyID, enc := f.sealFor(t, tc.base+"/public-key", tokAll, value)
				body := map[string]any{"key_id": keyID, "encrypted_value": enc}
				for k, v := range tc.extra {
					body[k] = v
				}
				return f.do(t, "PUT", tc.base+"/my_Secret", tokAll, body)
			}
			if a := put("v1"); a.status != 201 || string(a.body) != "{}" {
				t.Fatalf("first PUT: %d %q, want 201 {}", a.status, a.body)
			}
			if a := put("v2"); a.status != 204 || len(a.body) != 0 {
				t.Fatalf("second PUT: %d %q, want 204 and no body", a.status, a.body)
			}
			info, ok := f.fake.Secret(tc.scope, "MY_SECRET")
			if !ok || info.Value != "v2" || info.Name != "MY_SECRET" {
				t.Fatalf("Secret = %+v, %v; want MY_SECRET = v2", info, ok)
			}
			if got := f.fake.SecretNames(tc.scope); !slices.Equal(got, []string{"MY_SECRET"}) {
				t.Errorf("SecretNames = %q", got)
			}
			a := f.do(t, "GET", tc.base+"/my_secret", tokAll, nil)
			if m := a.json(t); a.status != 200 || m["name"] != "MY_SECRET" || m["created_at"] == nil {
				t.Errorf("GET secret: %d %s", a.status, a.body)
			}
			a = f.do(t, "GET", tc.base, tokAll, nil)
			if m := a.json(t); a.status != 200 || m["total_count"] != float64(1) {
				t.Errorf("list: %d %s", a.status, a.body)
			}
			if a := f.do(t, "DELETE", tc.base+"/MY_SECRET", tokAll, nil); a.status != 204 {
				t.Errorf("DELETE: %d %s", a.status, a.body)
			}
			if a := f.do(t, "DELETE", tc.base+"/MY_SECRET", tokAll, nil); a.status != 404 {
				t.Errorf("second DELETE: %d, want 404", a.status)
			}
			if _, ok := f.fake.Secret(tc.scope, "MY_SECRET"); ok {
				t.Error("secret still there after DELETE")
			}
		})
	}
}

func TestAccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path, token string
		want                      int
		wantMsg, wantAccepted     string
		invalid                   bool // breaks the contract on purpose: sent past the validator
	}{
		{"no credentials", "GET", "/repos/o/r/actions/secrets/public-key", "", 401, "Requires authentication", "", true},
		{"unknown token", "GET", "/repos/o/r/actions/secrets/public-key", "nope", 401, "Bad credentials", "", false},
		{"private repo outside the token", "GET", "/repos/o/r/actions/secrets/public-key", tokOneRepo, 404, "Not Found", "", false},
		{"private repo get outside the token", "GET", "/repos/o/r", tokOneRepo, 404, "Not Found", "", false},
		{"public repo outside the token", "GET", "/repos/acme/lib/actions/secrets/public-key", tokOneRepo, 403, "Resource not accessible by personal access token", "secrets=read", false},
		{"read-only token writes", "DELETE", "/repos/o/r/actions/secrets/X", tokReadOnly, 403, "Resource not accessible by personal access token", "secrets=write", false},
		{"environment needs environments", "GET", "/repos/o/r/environments/prod/secrets/public-key", tokReadOnly, 403, "", "secrets=read,environments=read", false},
		{"dependabot needs its permission", "GET", "/repos/o/r/dependabot/secrets/public-key", tokReadOnly, 403, "", "dependabot_secrets=read", false},
		{"org outside the token", "GET", "/orgs/other/actions/secrets/public-key", tokOneRepo, 404, "Not Found", "", false},
		{"org without permission", "GET", "/orgs/acme/actions/secrets/public-key", tokReadOnly, 403, "", "organization_secrets=read", false},
		{"unknown environment", "GET", "/repos/o/r/environments/nope/secrets/public-key", tokAll, 404, "Not Found", "", false},
		{"unescaped environment slash", "GET", "/repos/o/r/environments/preview/x/secrets/public-key", tokAll, 404, "Not Found", "", true},
		{"environment get", "GET", "/repos/o/r/environments/preview%2Fx", tokReadOnly, 200, "", "", false},
		{"unknown route", "GET", "/repos/o/r/actions/variables", tokAll, 404, "Not Found", "", true},
		{"PAT on an app route", "GET", "/repos/o/r/installation", tokAll, 401, "A JSON web token could not be decoded", "", false},
		{"org get", "GET", "/orgs/acme", tokReadOnly, 200, "", "", false},
		{"repo get public", "GET", "/repos/acme/lib", tokOneRepo, 200, "", "", false},
		{"rate limit", "GET", "/rate_limit", tokReadOnly, 200, "", "", false},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			do := f.do
			if tc.invalid {
				do = f.doRaw
			}
			a := do(t, tc.method, tc.path, tc.token, nil)
			if a.status != tc.want {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, a.status, a.body, tc.want)
			}
			if tc.wantMsg != "" {
				if m := a.json(t); m["message"] != tc.wantMsg || m["documentation_url"] == nil || m["status"] != strconv.Itoa(tc.want) {
					t.Errorf("body %s, want message %q with documentation_url and status", a.body, tc.wantMsg)
				}
			}
			if got := a.header.Get("X-Accepted-GitHub-Permissions"); got != tc.wantAccepted {
				t.Errorf("X-Accepted-GitHub-Permissions = %q, want %q", got, tc.wantAccepted)
			}
			for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource"} {
				if a.header.Get(h) == "" {
					t.Errorf("missing %s", h)
				}
			}
		})
	}
}

func TestPutValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	keyID, enc := f.sealFor(t, "/repos/o/r/actions/secrets/public-key", tokAll, "v")
	tests := []struct {
		name, path string
		body       map[string]any
		want       int
		wantField  string
	}{
		{"name with hyphen", "/repos/o/r/actions/secrets/BAD-NAME", map[string]any{"key_id": keyID, "encrypted_value": enc}, 422, "secret_name"},
		{"name starting with a digit", "/repos/o/r/actions/secrets/1X", map[string]any{"key_id": keyID, "encrypted_value": enc}, 422, "secret_name"},
		{"GITHUB_ prefix", "/repos/o/r/actions/secrets/github_token", map[string]any{"key_id": keyID, "encrypted_value": enc}, 422, "secret_name"},
		{"wrong key id", "/repos/o/r/actions/secrets/X", map[string]any{"key_id": "123", "encrypted_value": enc}, 422, "key_id"},
		{"undecryptable", "/repos/o/r/actions/secrets/X", map[string]any{"key_id": keyID, "encrypted_value": "AAAA"}, 422, ""},
		{"org bad visibility id", "/orgs/acme/actions/secrets/X", map[string]any{"visibility": "selected", "selected_repository_ids": []int64{999999}}, 422, "selected_repository_ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.do(t, "PUT", tc.path, tokAll, tc.body)
			if a.status != tc.want {
				t.Fatalf("%d %s, want %d", a.status, a.body, tc.want)
			}
			m := a.json(t)
			if tc.wantField != "" {
				errs, _ := m["errors"].([]any)
				if m["message"] != "Validation Failed" || len(errs) != 1 || errs[0].(map[string]any)["field"] != tc.wantField {
					t.Errorf("body %s, want Validation Failed on %s", a.body, tc.wantField)
				}
			}
		})
	}
	if n := f.fake.DecryptFailures(); n != 1 {
		t.Errorf("DecryptFailures = %d, want 1", n)
	}
	if names := f.fake.SecretNames("repo:o/r"); len(names) != 0 {
		t.Errorf("secrets written by invalid PUTs: %q", names)
	}
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	oldID, enc := f.sealFor(t, "/repos/o/r/actions/secrets/public-key", tokAll, "v")
	f.fake.RotateKey("repo:o/r")
	if a := f.do(t, "PUT", "/repos/o/r/actions/secrets/X", tokAll, map[string]any{"key_id": oldID, "encrypted_value": enc}); a.status != 422 {
		t.Fatalf("PUT with the old key: %d, want 422", a.status)
	}
	newID, enc := f.sealFor(t, "/repos/o/r/actions/secrets/public-key", tokAll, "v")
	if newID == oldID {
		t.Fatal("RotateKey kept the key id")
	}
	if a := f.do(t, "PUT", "/repos/o/r/actions/secrets/X", tokAll, map[string]any{"key_id": newID, "encrypted_value": enc}); a.status != 201 {
		t.Fatalf("PUT with the new key: %d %s", a.status, a.body)
	}
}

func TestOrgSelectedRepositories(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	appID := f.fake.AddRepo("acme", "app", true)
	libID := f.fake.AddRepo("acme", "lib", false)
	keyID, enc := f.sealFor(t, "/orgs/acme/actions/secrets/public-key", tokAll, "org-value")
	a := f.do(t, "PUT", "/orgs/acme/actions/secrets/SHARED", tokAll, map[string]any{
		"key_id": keyID, "encrypted_value": enc, "visibility": "selected", "selected_repository_ids": []int64{libID, appID},
	})
	if a.status != 201 {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}
	v, vis, ids, ok := f.fake.OrgSecret("acme", "shared")
	if !ok || v != "org-value" || vis != "selected" || !slices.Equal(ids, []int64{appID, libID}) {
		t.Fatalf("OrgSecret = %q %q %v %v", v, vis, ids, ok)
	}
	a = f.do(t, "GET", "/orgs/acme/actions/secrets", tokAll, nil)
	secrets := a.json(t)["secrets"].([]any)
	if s := secrets[0].(map[string]any); s["visibility"] != "selected" || s["selected_repositories_url"] == nil {
		t.Errorf("list entry %v", s)
	}
	a = f.do(t, "GET", "/orgs/acme/actions/secrets/SHARED/repositories", tokAll, nil)
	if m := a.json(t); a.status != 200 || m["total_count"] != float64(2) {
		t.Errorf("selected repositories: %d %s", a.status, a.body)
	}
	if a := f.do(t, "PUT", "/orgs/acme/actions/secrets/SHARED/repositories", tokAll, map[string]any{"selected_repository_ids": []int64{libID}}); a.status != 204 {
		t.Errorf("set selected: %d %s", a.status, a.body)
	}
	if _, _, ids, _ := f.fake.OrgSecret("acme", "SHARED"); !slices.Equal(ids, []int64{libID}) {
		t.Errorf("after set: %v", ids)
	}
	// Visibility changes without a new value; the selected-repository
	// endpoints then conflict.
	if a := f.do(t, "PUT", "/orgs/acme/actions/secrets/SHARED", tokAll, map[string]any{"visibility": "all"}); a.status != 204 {
		t.Errorf("visibility-only PUT: %d %s", a.status, a.body)
	}
	if a := f.do(t, "GET", "/orgs/acme/actions/secrets/SHARED/repositories", tokAll, nil); a.status != 409 {
		t.Errorf("list selected with visibility all: %d, want 409", a.status)
	}
	if v, vis, _, _ := f.fake.OrgSecret("acme", "SHARED"); v != "org-value" || vis != "all" {
		t.Errorf("after visibility change: %q %q", v, vis)
	}
}

func TestPrimaryRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reset := f.clk.Now().Add(90 * time.Second)
	f.fake.SetPrimaryLimit(1, reset)
	if a := f.do(t, "GET", "/repos/o/r", tokAll, nil); a.status != 200 || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("last request of the window: %d remaining %q", a.status, a.header.Get("X-RateLimit-Remaining"))
	}
	a := f.do(t, "GET", "/repos/o/r", tokAll, nil)
	if a.status != 403 || a.header.Get("X-RateLimit-Remaining") != "0" || a.header.Get("X-RateLimit-Reset") != strconv.FormatInt(reset.Unix(), 10) {
		t.Fatalf("exhausted: %d %v", a.status, a.header)
	}
	if a.header.Get("X-Fake-Fault") != "" {
		t.Error("a primary limit is the API's own answer, not a fault")
	}
	f.clk.Advance(91 * time.Second)
	if a := f.do(t, "GET", "/repos/o/r", tokAll, nil); a.status != 200 || a.header.Get("X-RateLimit-Remaining") != "4999" {
		t.Errorf("after reset: %d remaining %q", a.status, a.header.Get("X-RateLimit-Remaining"))
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		fault       githubfake.Fault
		path        string
		want        int
		retryAfter  string
		wantMessage string
	}{
		{"status", githubfake.Fault{Status: 502, Times: 1}, "/repos/o/r", 502, "", "Bad Gateway"},
		{"service unavailable", githubfake.Fault{Status: 503, RetryAfter: "5"}, "/repos/o/r", 503, "5", "Secrets service unavailable"},
		{"secondary", githubfake.Fault{Secondary: true}, "/repos/o/r", 403, "", "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID."},
		{"secondary 429", githubfake.Fault{Secondary: true, Status: 429, RetryAfter: "30"}, "/repos/o/r", 429, "30", ""},
		{"path prefix under GHES", githubfake.Fault{PathPrefix: "/repos/o/r", Status: 500}, "/api/v3/repos/o/r", 500, "", ""},
		{"method mismatch", githubfake.Fault{Method: "PUT", Status: 500}, "/repos/o/r", 200, "", ""},
		{"path mismatch", githubfake.Fault{PathPrefix: "/orgs/", Status: 500}, "/repos/o/r", 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			remove := f.fake.InjectFault(tc.fault)
			defer remove()
			a := f.do(t, "GET", tc.path, tokAll, nil)
			if a.status != tc.want {
				t.Fatalf("%d %s, want %d", a.status, a.body, tc.want)
			}
			faulted := tc.want != 200
			if got := a.header.Get("X-Fake-Fault") == "1"; got != faulted {
				t.Errorf("X-Fake-Fault present = %v, want %v", got, faulted)
			}
			if got := a.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if tc.wantMessage != "" && a.json(t)["message"] != tc.wantMessage {
				t.Errorf("message: %s", a.body)
			}
			reqs := f.fake.Requests()
			if last := reqs[len(reqs)-1]; last.Fault != faulted || last.Status != tc.want || last.Token != "all" {
				t.Errorf("logged %+v", last)
			}
		})
	}

	t.Run("times and drop", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.fake.InjectFault(githubfake.Fault{Status: 500, Times: 2})
		for i, want := range []int{500, 500, 200} {
			if a := f.do(t, "GET", "/repos/o/r", tokAll, nil); a.status != want {
				t.Errorf("request %d: %d, want %d", i, a.status, want)
			}
		}
		keyID, enc := f.sealFor(t, "/repos/o/r/actions/secrets/public-key", tokAll, "lost")
		f.fake.InjectFault(githubfake.Fault{Method: "PUT", Drop: true, AfterApply: true})
		req, _ := http.NewRequest("PUT", f.srv.URL+"/repos/o/r/actions/secrets/LOST", jsonBody(map[string]any{"key_id": keyID, "encrypted_value": enc}))
		req.Header.Set("Authorization", "Bearer "+tokAll)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := f.srv.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("dropped request answered %d", resp.StatusCode)
		}
		if v, ok := f.fake.RepoSecret("o", "r", "LOST"); !ok || v != "lost" {
			t.Errorf("AfterApply: secret %q %v, want applied", v, ok)
		}
	})
}

func TestAppFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := testKey()
	f.fake.AddApp("4242", &key.PublicKey)
	inst := f.fake.AddInstallation("4242", "o", map[string]string{"secrets": "write", "environments": "read", "metadata": "read"}, []string{"r"})
	now := f.clk.Now().Unix()
	good := appJWT(t, key, map[string]any{"iat": now - 60, "exp": now + 540, "iss": 4242})

	for _, tc := range []struct {
		name, jwt, path string
		want            int
	}{
		{"repo installation", good, "/repos/o/r/installation", 200},
		{"repo outside the installation", good, "/repos/o/pub/installation", 404},
		{"org without installation", good, "/orgs/acme/installation", 404},
		{"the app", good, "/app", 200},
		{"string iss", appJWT(t, key, map[string]any{"iat": now, "exp": now + 60, "iss": "4242"}), "/app", 200},
		{"expired", appJWT(t, key, map[string]any{"iat": now - 700, "exp": now - 1, "iss": 4242}), "/app", 401},
		{"too long", appJWT(t, key, map[string]any{"iat": now, "exp": now + 3600, "iss": 4242}), "/app", 401},
		{"unknown app", appJWT(t, key, map[string]any{"iat": now, "exp": now + 60, "iss": 1}), "/app", 401},
		{"JWT on a secrets route", good, "/repos/o/r/actions/secrets/public-key", 403},
	} {
		if a := f.do(t, "GET", tc.path, tc.jwt, nil); a.status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, a.status, a.body, tc.want)
		}
	}
	other, _ := rsaKey2()
	if a := f.do(t, "GET", "/app", appJWT(t, other, map[string]any{"iat": now, "exp": now + 60, "iss": 4242}), nil); a.status != 401 {
		t.Errorf("JWT signed by another key: %d", a.status)
	}

	a := f.do(t, "POST", "/app/installations/"+strconv.FormatInt(inst, 10)+"/access_tokens", good, nil)
	if a.status != 201 {
		t.Fatalf("access_tokens: %d %s", a.status, a.body)
	}
	m := a.json(t)
	tok := m["token"].(string)
	if m["expires_at"] != f.clk.Now().Add(time.Hour).Format(time.RFC3339) || !contains(tok, "ghs_") {
		t.Errorf("token answer %s", a.body)
	}
	if a := f.do(t, "GET", "/repos/o/r/actions/secrets/public-key", tok, nil); a.status != 200 {
		t.Errorf("installation token on its repo: %d %s", a.status, a.body)
	}
	if a := f.do(t, "GET", "/repos/o/r/dependabot/secrets/public-key", tok, nil); a.status != 403 || a.json(t)["message"] != "Resource not accessible by integration" {
		t.Errorf("installation token without dependabot_secrets: %d %s", a.status, a.body)
	}
	if a := f.do(t, "GET", "/repos/other/x/actions/secrets/public-key", tok, nil); a.status != 404 {
		t.Errorf("installation token on another owner's private repo: %d", a.status)
	}
	reqs := f.fake.Requests()
	if got := reqs[len(reqs)-1].Token; got != "installation-"+strconv.FormatInt(inst, 10) {
		t.Errorf("logged token label %q", got)
	}
	f.clk.Advance(time.Hour)
	if a := f.do(t, "GET", "/repos/o/r/actions/secrets/public-key", tok, nil); a.status != 401 {
		t.Errorf("expired installation token: %d", a.status)
	}
}

func TestUnsupportedAPIVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req, _ := http.NewRequest("GET", f.srv.URL+"/repos/o/r", nil)
	req.Header.Set("Authorization", "Bearer "+tokAll)
	req.Header.Set("X-GitHub-Api-Version", "2020-01-01")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}
