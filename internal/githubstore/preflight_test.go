package githubstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakefault"
	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// sorted returns the fixture's requests as "METHOD path", sorted: the set,
// not the order (requests that overlap arrive in any order).
func (f *fixture) requestSet() []string {
	var out []string
	for _, r := range f.fake.Requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	slices.Sort(out)
	return out
}

// With Proof.ByRead, preflight writes nothing and the rotation's write is
// the target's only write; the key fetched in preflight serves the Put.
func TestPreflightByReadWritesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, addr string
		reads      []string // the preflight's requests
	}{
		{"repository", "github://o/r/secrets/ASTRO_TOKEN", []string{
			"GET /repos/o/r",
			"GET /repos/o/r/actions/secrets/ASTRO_TOKEN",
			"GET /repos/o/r/actions/secrets/public-key",
		}},
		{"environment", "github://o/r/environments/preview%2Fx/secrets/ASTRO_TOKEN", []string{
			"GET /repos/o/r",
			"GET /repos/o/r/environments/preview%2Fx",
			"GET /repos/o/r/environments/preview%2Fx/secrets/ASTRO_TOKEN",
			"GET /repos/o/r/environments/preview%2Fx/secrets/public-key",
		}},
		{"dependabot", "github://o/r/dependabot/secrets/ASTRO_TOKEN", []string{
			"GET /repos/o/r",
			"GET /repos/o/r/dependabot/secrets/ASTRO_TOKEN",
			"GET /repos/o/r/dependabot/secrets/public-key",
		}},
		{"organization selected", "github://orgs/acme/secrets/ASTRO_TOKEN?repos=web", []string{
			"GET /orgs/acme/actions/secrets/ASTRO_TOKEN",
			"GET /orgs/acme/actions/secrets/public-key",
			"GET /repos/acme/web",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.store(t, nil)
			tg := mustParse(t, tc.addr)
			// Present and absent: the same reads, and no write in preflight.
			for _, present := range []bool{true, false} {
				if present {
					if err := f.store(t, nil).Put(t.Context(), tg, secret.New("old")); err != nil {
						t.Fatal(err)
					}
				} else {
					tg.Name = "ABSENT"
					for i, r := range tc.reads {
						tc.reads[i] = strings.Replace(r, "/ASTRO_TOKEN", "/ABSENT", 1)
					}
					s = f.store(t, nil)
				}
				f.fake.ResetRequests()
				if err := s.Preflight(t.Context(), tg, target.Proof{ByRead: true}); err != nil {
					t.Fatalf("Preflight: %v", err)
				}
				if got := f.requestSet(); !slices.Equal(got, tc.reads) {
					t.Errorf("present=%v: preflight requests %q, want %q", present, got, tc.reads)
				}
				f.fake.ResetRequests()
				if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
					t.Fatalf("Put: %v", err)
				}
				var puts []string
				for _, r := range f.fake.Requests() {
					puts = append(puts, r.Method)
				}
				if !slices.Equal(puts, []string{"PUT"}) {
					t.Errorf("present=%v: Put made %q, want one PUT (the key is reused)", present, f.requests())
				}
			}
		})
	}
}

// barrier holds requests until want of them are in flight together (or a
// second passes, so that a sequential client fails the test instead of
// hanging it) and records the most seen at once.
type barrier struct {
	mu      sync.Mutex
	want    int
	in      int
	most    int
	release chan struct{}
}

func (b *barrier) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.in++
		b.most = max(b.most, b.in)
		if b.in == b.want {
			close(b.release)
		}
		ch := b.release
		b.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(time.Second):
		}
		next.ServeHTTP(w, r)
		b.mu.Lock()
		b.in--
		b.mu.Unlock()
	})
}

// The reads of an environment-secret preflight do not wait for each
// other: repository, environment, key and secret are all in flight at once.
func TestEnvironmentPreflightOverlapsItsReads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		proof target.Proof
		want  int
	}{
		{"by read", target.Proof{ByRead: true}, 4},
		{"by write", target.Proof{}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			b := &barrier{want: tc.want, release: make(chan struct{})}
			inner := f.srv.Config.Handler
			f.srv.Config.Handler = b.wrap(inner)
			s := f.store(t, nil)
			if err := s.Preflight(t.Context(), mustParse(t, "github://o/r/environments/prod/secrets/T"), tc.proof); err != nil {
				t.Fatal(err)
			}
			if b.most != tc.want {
				t.Errorf("at most %d requests at once, want %d: %q", b.most, tc.want, f.requests())
			}
		})
	}
}

// What the reads can show is checked: a user without write access (its
// role), an app whose token lacks the permission. Nothing is written.
func TestPreflightByReadRefusesWhatReadsShow(t *testing.T) {
	t.Parallel()
	t.Run("reader role", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.fake.AddToken("github_pat_reader", githubfake.TokenPerms{Role: "read", Perms: map[string]string{"secrets": "write"}})
		s := f.store(t, func(c *Config) { c.Token = secret.New("github_pat_reader") })
		te := asTargetError(t, s.Preflight(t.Context(), mustParse(t, "github://o/r/secrets/X"), target.Proof{ByRead: true}))
		if te.Op != "preflight" || te.Retryable || !strings.Contains(te.Err.Error(), "reports no write access for the token's user") ||
			!strings.Contains(te.Hint, "needs a user with write access to o/r") {
			t.Errorf("error %+v", te)
		}
		if f.count("PUT", "") != 0 {
			t.Error("preflight wrote")
		}
	})
	t.Run("app without secrets write", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.fake.AddApp("77", &appKey().PublicKey)
		f.fake.AddInstallation("77", "o", map[string]string{"secrets": "read"}, nil)
		s := f.store(t, func(c *Config) {
			c.Token, c.AppID, c.AppPrivateKey = secret.Value{}, "77", secret.New(pemPKCS1(appKey()))
		})
		te := asTargetError(t, s.Preflight(t.Context(), mustParse(t, "github://o/r/secrets/X"), target.Proof{ByRead: true}))
		if te.Retryable || !strings.Contains(te.Err.Error(), `has secrets: "read", not write`) ||
			!strings.Contains(te.Hint, "the GitHub App needs the repository permission Secrets: write on o/r") {
			t.Errorf("error %+v", te)
		}
		if f.count("PUT", "/secrets/") != 0 || f.count("GET", "/repos/o/r") != 0 {
			t.Errorf("requests %q: no write, and no repository read for an app", f.requests())
		}
	})
	t.Run("app with secrets write", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.fake.AddApp("78", &appKey().PublicKey)
		f.fake.AddInstallation("78", "o", map[string]string{"secrets": "write"}, nil)
		s := f.store(t, func(c *Config) {
			c.Token, c.AppID, c.AppPrivateKey = secret.Value{}, "78", secret.New(pemPKCS1(appKey()))
		})
		if err := s.Preflight(t.Context(), mustParse(t, "github://o/r/secrets/X"), target.Proof{ByRead: true}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWritePreflightSweepsCanariesOfKilledRuns: a canary secret a killed
// run left (it had no chance to delete it) goes with the next preflight
// that proves a write in that scope; a secret that only looks alike stays.
func TestWritePreflightSweepsCanariesOfKilledRuns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.fake.AddSecret("repo:o/r", "ASTRO_CI_PREFLIGHT_DEADBEEF", "0123456789abcdef")
	f.fake.AddSecret("repo:o/r", "ASTRO_CI_PREFLIGHT_KEEP", "users-own")
	if err := f.store(t, nil).Preflight(t.Context(), mustParse(t, "github://o/r/secrets/X"), target.Proof{}); err != nil {
		t.Fatal(err)
	}
	if got := f.fake.SecretNames("repo:o/r"); !slices.Equal(got, []string{"ASTRO_CI_PREFLIGHT_KEEP"}) {
		t.Fatalf("secrets left: %v", got)
	}
}

// TestPreflightStoppedDuringCanaryWriteDeletesIt: a run stopped (SIGTERM
// cancels its context) while the canary's PUT is in flight deletes the
// canary in its cleanup time, also when GitHub applies that PUT a moment
// after the delete that followed it found nothing (the PUT's connection
// was closed by the stop; the delete went on a new one). The kill harness
// saw it left: TestPreflightCanaryIsRemoved/GitLab/SIGTERM, where the
// GitHub preflight ran beside the GitLab one.
func TestPreflightStoppedDuringCanaryWriteDeletesIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		late time.Duration // the PUT is applied this long after the stop
	}{
		{"applied before the stop", -1},
		{"applied after the stop", 0},
		{"applied after the first delete", 150 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			canaryPut := func(r *http.Request) bool {
				return r.Method == http.MethodPut && strings.Contains(r.URL.Path, target.CanaryPrefix)
			}
			h, applied := fakefault.StopInFlight(f.srv.Config.Handler, canaryPut, cancel, tc.late)
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			s := f.store(t, func(c *Config) { c.BaseURL, c.HTTPClient = srv.URL, srv.Client() })
			if err := s.Preflight(ctx, mustParse(t, "github://o/r/secrets/X"), target.Proof{}); err == nil {
				t.Fatal("a preflight stopped mid-way succeeded")
			}
			<-applied
			if got := f.fake.SecretNames("repo:o/r"); len(got) != 0 {
				t.Errorf("stopped during the canary's write, the preflight leaves %v", got)
			}
		})
	}
}
