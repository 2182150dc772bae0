package githubstore

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

func TestPutEveryKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, addr string
		scope      string
		wantPath   string // escaped path of the PUT
		visibility string
		repos      []string // for selected: names whose ids the secret must list
	}{
		{"repository", "github://o/r/secrets/ASTRO_TOKEN", "repo:o/r", "/repos/o/r/actions/secrets/ASTRO_TOKEN", "", nil},
		{"dependabot", "github://o/r/dependabot/secrets/ASTRO_TOKEN", "dependabot:o/r", "/repos/o/r/dependabot/secrets/ASTRO_TOKEN", "", nil},
		{"environment with slash", "github://o/r/environments/preview%2Fx/secrets/ASTRO_TOKEN", "env:o/r/preview/x", "/repos/o/r/environments/preview%2Fx/secrets/ASTRO_TOKEN", "", nil},
		{"environment", "github://o/r/environments/prod/secrets/ASTRO_TOKEN", "env:o/r/prod", "/repos/o/r/environments/prod/secrets/ASTRO_TOKEN", "", nil},
		{"organization private", "github://orgs/acme/secrets/ASTRO_TOKEN", "org:acme", "/orgs/acme/actions/secrets/ASTRO_TOKEN", "private", nil},
		{"organization all", "github://orgs/acme/secrets/ASTRO_TOKEN?visibility=all", "org:acme", "/orgs/acme/actions/secrets/ASTRO_TOKEN", "all", nil},
		{"organization selected", "github://orgs/acme/secrets/ASTRO_TOKEN?repos=web,api", "org:acme", "/orgs/acme/actions/secrets/ASTRO_TOKEN", "selected", []string{"web", "api"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.store(t, nil)
			tg := mustParse(t, tc.addr)
			ctx := t.Context()
			created, err := s.PutReport(ctx, tg, secret.New("first"))
			if err != nil || !created {
				t.Fatalf("first PutReport = %v, %v; want created", created, err)
			}
			created, err = s.PutReport(ctx, tg, secret.New(secretValue))
			if err != nil || created {
				t.Fatalf("second PutReport = %v, %v; want updated", created, err)
			}
			info, ok := f.fake.Secret(tc.scope, "ASTRO_TOKEN")
			if !ok || info.Value != secretValue {
				t.Fatalf("fake holds %q (%v), want the value", info.Value, ok)
			}
			if info.Visibility != tc.visibility {
				t.Errorf("visibility %q, want %q", info.Visibility, tc.visibility)
			}
			var wantIDs []int64
			for _, name := range tc.repos {
				wantIDs = append(wantIDs, f.fake.AddRepo("acme", name, false)) // known repo: returns its id
			}
			slices.Sort(wantIDs)
			if !slices.Equal(info.SelectedRepoIDs, wantIDs) {
				t.Errorf("selected repository ids %v, want %v", info.SelectedRepoIDs, wantIDs)
			}
			if n := f.count("PUT", tc.wantPath); n != 2 {
				t.Errorf("%d PUTs to %s, want 2", n, tc.wantPath)
			}
			if tc.repos != nil && f.count("GET", "/repos/acme/web") != 1 {
				t.Error("repository ids not fetched once and cached")
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, h := range f.headers {
				if h.Get("X-GitHub-Api-Version") != "2022-11-28" || h.Get("User-Agent") != "astro-ci" || h.Get("Authorization") != "Bearer "+patAll {
					t.Fatalf("request headers %v", h)
				}
			}
		})
	}
}

func TestPublicKeyFetchedOncePerScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, nil)
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := fmt.Sprintf("github://o/r/secrets/S_%d", i)
			if i%5 == 0 {
				addr = fmt.Sprintf("github://o/r/dependabot/secrets/S_%d", i)
			}
			errs[i] = s.Put(t.Context(), mustParse(t, addr), secret.New(fmt.Sprintf("v%d", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	if got := f.count("GET", "/repos/o/r/actions/secrets/public-key"); got != 1 {
		t.Errorf("Actions public key fetched %d times, want 1", got)
	}
	if got := f.count("GET", "/repos/o/r/dependabot/secrets/public-key"); got != 1 {
		t.Errorf("Dependabot public key fetched %d times, want 1 (its own key)", got)
	}
	if got := len(f.fake.SecretNames("repo:o/r")) + len(f.fake.SecretNames("dependabot:o/r")); got != n {
		t.Errorf("%d secrets written, want %d", got, n)
	}
	if v, _ := f.fake.RepoSecret("o", "r", "S_7"); v != "v7" {
		t.Errorf("S_7 = %q", v)
	}
}

func TestStaleKeyRefetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, nil)
	tg := mustParse(t, "github://o/r/environments/prod/secrets/X")
	if err := s.Put(t.Context(), tg, secret.New("one")); err != nil {
		t.Fatal(err)
	}
	f.fake.RotateKey("env:o/r/prod")
	f.fake.ResetRequests()
	if err := s.Put(t.Context(), tg, secret.New("two")); err != nil {
		t.Fatalf("Put after key rotation: %v", err)
	}
	if v, _ := f.fake.EnvSecret("o", "r", "prod", "X"); v != "two" {
		t.Errorf("value %q, want two", v)
	}
	var got []string
	for _, r := range f.fake.Requests() {
		got = append(got, fmt.Sprintf("%s %d", r.Method, r.Status))
	}
	if want := []string{"PUT 422", "GET 200", "PUT 204"}; !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if f.fake.DecryptFailures() != 0 {
		t.Error("the fake could not open a value")
	}
}

func TestPreflightLeavesNothingChanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, addr, scope string
	}{
		{"repository", "github://o/r/secrets/ASTRO_TOKEN", "repo:o/r"},
		{"environment", "github://o/r/environments/preview%2Fx/secrets/ASTRO_TOKEN", "env:o/r/preview/x"},
		{"organization selected", "github://orgs/acme/secrets/ASTRO_TOKEN?repos=web", "org:acme"},
		{"dependabot", "github://o/r/dependabot/secrets/ASTRO_TOKEN", "dependabot:o/r"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.store(t, nil)
			tg := mustParse(t, tc.addr)
			if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
				t.Fatal(err)
			}
			before, _ := f.fake.Secret(tc.scope, "ASTRO_TOKEN")

			// Canary: written and deleted in the same scope.
			f.fake.ResetRequests()
			if err := s.Preflight(t.Context(), tg, target.Proof{}); err != nil {
				t.Fatalf("Preflight(canary): %v", err)
			}
			if names := f.fake.SecretNames(tc.scope); !slices.Equal(names, []string{"ASTRO_TOKEN"}) {
				t.Errorf("secrets after canary preflight %q", names)
			}
			var canary string
			for _, r := range f.fake.Requests() {
				if r.Method == "PUT" {
					canary = r.Path[strings.LastIndex(r.Path, "/")+1:]
				}
			}
			if !strings.HasPrefix(canary, "ASTRO_CI_PREFLIGHT_") || len(canary) != len("ASTRO_CI_PREFLIGHT_")+8 || f.count("DELETE", "/"+canary) != 1 {
				t.Errorf("canary %q not written and deleted", canary)
			}
			after, _ := f.fake.Secret(tc.scope, "ASTRO_TOKEN")
			if !sameInfo(before, after) {
				t.Errorf("canary preflight changed the secret: %+v → %+v", before, after)
			}

			// Self-rotation: the current value is written back.
			f.clk.Advance(time.Minute)
			cur := secret.New(secretValue)
			if err := s.Preflight(t.Context(), tg, target.Proof{Current: &cur}); err != nil {
				t.Fatalf("Preflight(current): %v", err)
			}
			after, _ = f.fake.Secret(tc.scope, "ASTRO_TOKEN")
			if after.Value != secretValue || after.Visibility != before.Visibility || !slices.Equal(after.SelectedRepoIDs, before.SelectedRepoIDs) {
				t.Errorf("write-back changed the secret: %+v → %+v", before, after)
			}
			if !after.UpdatedAt.After(before.UpdatedAt) {
				t.Error("write-back did not write")
			}
		})
	}

	t.Run("current but absent", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		s := f.store(t, nil)
		cur := secret.New(secretValue)
		if err := s.Preflight(t.Context(), mustParse(t, "github://o/r/secrets/NEW"), target.Proof{Current: &cur}); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.fake.RepoSecret("o", "r", "NEW"); ok {
			t.Error("preflight left a secret that did not exist before")
		}
	})
}

func TestPreflightFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, addr, token string
		status            int
		hint              []string
	}{
		{"bad token", "github://o/r/secrets/X", "ghp_revoked", 401, []string{"the GitHub token is invalid or expired (ASTRO_CI_GITHUB_TOKEN / GITHUB_TOKEN)"}},
		{"no secrets permission", "github://o/r/secrets/X", patNoPerms, 403, []string{"Secrets: write on o/r", "classic PAT with repo scope", "GITHUB_TOKEN cannot write secrets", "GitHub accepts: secrets=read"}},
		{"no dependabot permission", "github://o/r/dependabot/secrets/X", patNoPerms, 403, []string{"Dependabot secrets: write on o/r", "dependabot_secrets=read"}},
		{"no environments permission", "github://o/r/environments/prod/secrets/X", patNoPerms, 403, []string{"Secrets: write and Environments: read on o/r", "secrets=read,environments=read"}},
		{"no org permission", "github://orgs/acme/secrets/X", patNoPerms, 403, []string{"Organization permission Secrets: write on acme (classic: admin:org)", "organization_secrets=read"}},
		{"private repo not visible", "github://o/r/secrets/X", patOtherOrg, 404, []string{"o/r not found or not visible to this token"}},
		{"unknown repo", "github://o/nope/secrets/X", patAll, 404, []string{"o/nope not found or not visible to this token"}},
		{"org not visible", "github://orgs/acme/secrets/X", patOtherOrg, 404, []string{"organization acme not found or not visible to this token"}},
		{"environment in unknown repo", "github://o/nope/environments/prod/secrets/X", patAll, 404, []string{"o/nope not found or not visible to this token"}},
		{"missing environment", "github://o/r/environments/staging/secrets/X", patAll, 404, []string{"create the environment first (Settings → Environments) or use a repository secret"}},
		{"selected repo not found", "github://orgs/acme/secrets/X?repos=web,ghost", patAll, 404, []string{"repository acme/ghost (listed in repos=) not found"}},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := f.store(t, func(c *Config) { c.Token = secret.New(tc.token) })
			err := s.Preflight(t.Context(), mustParse(t, tc.addr), target.Proof{})
			if err == nil {
				t.Fatal("Preflight succeeded")
			}
			te := asTargetError(t, err)
			if te.Op != "preflight" || te.Status != tc.status || te.Retryable || te.PushBack || te.Target != mustParse(t, tc.addr).String() {
				t.Errorf("error %+v, want op preflight, status %d, not retryable", te, tc.status)
			}
			for _, h := range tc.hint {
				if !strings.Contains(te.Hint, h) {
					t.Errorf("hint %q lacks %q", te.Hint, h)
				}
			}
		})
	}
}

func TestRetryClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      *githubfake.Fault
		primary    time.Duration // SetPrimaryLimit(0, now+primary) when > 0
		status     int
		pushBack   bool
		retryAfter time.Duration
	}{
		{"bad gateway", &githubfake.Fault{Status: 502}, 0, 502, false, 0},
		{"unavailable with retry-after", &githubfake.Fault{Status: 503, RetryAfter: "5"}, 0, 503, false, 5 * time.Second},
		{"too many requests", &githubfake.Fault{Status: 429, RetryAfter: "7"}, 0, 429, true, 7 * time.Second},
		{"too many requests bare", &githubfake.Fault{Status: 429}, 0, 429, true, time.Minute},
		{"secondary without headers", &githubfake.Fault{Secondary: true}, 0, 403, true, time.Minute},
		{"secondary with retry-after", &githubfake.Fault{Secondary: true, RetryAfter: "30"}, 0, 403, true, 30 * time.Second},
		{"403 with retry-after only", &githubfake.Fault{Status: 403, RetryAfter: "12"}, 0, 403, true, 12 * time.Second},
		{"primary limit", nil, 90 * time.Second, 403, true, 90 * time.Second},
		{"dropped connection", &githubfake.Fault{Drop: true}, 0, 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.store(t, nil)
			if tc.fault != nil {
				f.fake.InjectFault(*tc.fault)
			}
			if tc.primary > 0 {
				f.fake.SetPrimaryLimit(0, f.clk.Now().Add(tc.primary))
			}
			err := s.Put(t.Context(), mustParse(t, "github://o/r/secrets/X"), secret.New(secretValue))
			te := asTargetError(t, err)
			if te.Op != "write" || !te.Retryable || te.Status != tc.status || te.PushBack != tc.pushBack || te.RetryAfter != tc.retryAfter {
				t.Errorf("got op %s status %d retryable %v pushBack %v retryAfter %v; want %d, true, %v, %v (%v)",
					te.Op, te.Status, te.Retryable, te.PushBack, te.RetryAfter, tc.status, tc.pushBack, tc.retryAfter, te)
			}
		})
	}
}

func TestFanoutRetriesThroughTheStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, nil)
	f.fake.InjectFault(githubfake.Fault{Method: "PUT", Status: 502, Times: 2})
	f.fake.InjectFault(githubfake.Fault{Method: "PUT", PathPrefix: "/orgs/", Secondary: true, Times: 1})
	var mu sync.Mutex
	var waits []time.Duration
	fo := &target.Fanout{
		Stores: map[target.Scheme]target.Store{target.GitHub: s},
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return nil
		},
		Jitter: func() float64 { return 0 },
		Limit:  1,
	}
	ts := []target.Target{mustParse(t, "github://o/r/secrets/A"), mustParse(t, "github://orgs/acme/secrets/B")}
	results := fo.Put(t.Context(), ts, secret.New(secretValue))
	if err := target.Err(results); err != nil {
		t.Fatalf("fan-out: %v", err)
	}
	if v, _ := f.fake.RepoSecret("o", "r", "A"); v != secretValue {
		t.Error("repository secret not written")
	}
	if v, _, _, _ := f.fake.OrgSecret("acme", "B"); v != secretValue {
		t.Error("organization secret not written")
	}
	if !slices.Contains(waits, time.Minute) {
		t.Errorf("waits %v: the secondary limit's minute was not obeyed", waits)
	}
}

func TestDeleteIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{
		"github://o/r/secrets/GONE",
		"github://o/r/dependabot/secrets/GONE",
		"github://o/r/environments/preview%2Fx/secrets/GONE",
		"github://orgs/acme/secrets/GONE",
	} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.store(t, nil)
			tg := mustParse(t, addr)
			if err := s.Put(t.Context(), tg, secret.New("v")); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := s.Delete(t.Context(), tg); err != nil {
					t.Fatalf("Delete %d: %v", i, err)
				}
			}
			if f.count("DELETE", "/GONE") != 2 {
				t.Error("not two DELETEs")
			}
			for _, sc := range []string{"repo:o/r", "dependabot:o/r", "env:o/r/preview/x", "org:acme"} {
				if len(f.fake.SecretNames(sc)) != 0 {
					t.Errorf("%s still has %q", sc, f.fake.SecretNames(sc))
				}
			}
		})
	}
	t.Run("permission error is not swallowed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		s := f.store(t, func(c *Config) { c.Token = secret.New(patNoPerms) })
		te := asTargetError(t, s.Delete(t.Context(), mustParse(t, "github://o/r/secrets/X")))
		if te.Op != "delete" || te.Status != 403 {
			t.Errorf("got %+v", te)
		}
	})
}

func TestGHESBasePath(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{"/api/v3", "/api/v3/"} {
		t.Run(suffix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.store(t, func(c *Config) { c.BaseURL = f.srv.URL + suffix })
			tg := mustParse(t, "github://o/r/environments/preview%2Fx/secrets/X")
			if err := s.Preflight(t.Context(), tg, target.Proof{}); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
				t.Fatal(err)
			}
			if v, _ := f.fake.EnvSecret("o", "r", "preview/x", "X"); v != secretValue {
				t.Error("value not written")
			}
			for _, r := range f.fake.Requests() {
				if !strings.HasPrefix(r.Path, "/api/v3/") {
					t.Errorf("request %s %s outside /api/v3", r.Method, r.Path)
				}
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no credentials", Config{}, "no GitHub credentials"},
		{"both", Config{Token: secret.New(patAll), AppID: "1", AppPrivateKey: secret.New(pemPKCS1(appKey()))}, "not both"},
		{"app without key", Config{AppID: "1"}, "private key"},
		{"garbage key", Config{AppID: "1", AppPrivateKey: secret.New("-----BEGIN NOPE-----\nAAAA\n-----END NOPE-----\n")}, "not an RSA private key"},
		{"not PEM", Config{AppID: "1", AppPrivateKey: secret.New(secretValue)}, "not a PEM block"},
		{"bad URL", Config{Token: secret.New(patAll), BaseURL: "ftp://x"}, "not an http(s) URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want %q", err, tc.want)
			}
			for _, leak := range []string{patAll, secretValue, "MII"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks %q", err, leak)
				}
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		s, err := New(Config{Token: secret.New(patAll)})
		if err != nil || s.base.String() != "https://api.github.com/" || s.hc == nil || s.userAgent != "astro-ci" {
			t.Fatalf("New = %+v, %v", s, err)
		}
		if _, err := New(Config{AppID: "1", AppPrivateKey: secret.New(strings.ReplaceAll(pemPKCS8(t, appKey()), "\n", `\n`))}); err != nil {
			t.Errorf("single-line PKCS#8 key: %v", err)
		}
	})
}

func TestUnsupportedTargets(t *testing.T) {
	t.Parallel()
	s, _ := New(Config{Token: secret.New(patAll), HTTPClient: &http.Client{Transport: failTransport{t}}})
	for _, tg := range []target.Target{
		{Scheme: target.File, Kind: target.KindFile, Path: "/tmp/x"},
		{Scheme: target.GitHub, Kind: target.KindProjectVar, Name: "X"},
	} {
		te := asTargetError(t, s.Put(t.Context(), tg, secret.New("v")))
		if te.Retryable || te.Status != 0 {
			t.Errorf("%v: %+v", tg, te)
		}
	}
}

type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
	return nil, fmt.Errorf("no requests expected")
}

func sameInfo(a, b githubfake.SecretInfo) bool {
	return a.Name == b.Name && a.Value == b.Value && a.Visibility == b.Visibility &&
		slices.Equal(a.SelectedRepoIDs, b.SelectedRepoIDs) && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}
