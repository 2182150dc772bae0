package githubstore

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// debugLog collects Config.Debugf lines.
type debugLog struct {
	mu    sync.Mutex
	lines []string
}

func (d *debugLog) debugf(format string, args ...any) {
	d.mu.Lock()
	d.lines = append(d.lines, fmt.Sprintf(format, args...))
	d.mu.Unlock()
}

func (d *debugLog) text() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// An older GitHub Enterprise Server serves environment secrets only by
// repository id: preflight (both kinds), Put and Delete fall back to that
// form when the /repos/… form answers 404 while the environment exists,
// say so in the debug trace, and use it from then on without asking the
// /repos/… form again.
func TestOlderGHESEnvironmentSecretsByRepositoryID(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, func(o *githubfake.Options) { o.LegacyEnvironmentSecrets = true })
	var dbg debugLog
	s := f.store(t, func(c *Config) { c.Debugf = dbg.debugf })
	byID := fmt.Sprintf("/repositories/%d/environments/", f.fake.AddRepo("o", "r", true))
	tg := mustParse(t, "github://o/r/environments/preview%2Fx/secrets/ASTRO_TOKEN")
	if err := s.Preflight(t.Context(), tg, target.Proof{ByRead: true}); err != nil {
		t.Fatalf("Preflight: %v", err)
	}
	if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if v, _ := f.fake.EnvSecret("o", "r", "preview/x", "ASTRO_TOKEN"); v != secretValue {
		t.Fatalf("stored %q", v)
	}
	if got := dbg.text(); !strings.Contains(got, "GitHub answered 404 to GET /repos/o/r/environments/preview%2Fx/secrets/public-key") ||
		!strings.Contains(got, "GET "+byID+"preview%2Fx/secrets/public-key works") ||
		strings.Contains(got, secretValue) {
		t.Errorf("debug trace %q", got)
	}
	if n := f.count("PUT", byID+"preview%2Fx/secrets/ASTRO_TOKEN"); n != 1 {
		t.Errorf("%d PUTs by repository id, want 1: %q", n, f.requests())
	}

	// Another environment: straight to the id form.
	f.fake.ResetRequests()
	other := mustParse(t, "github://o/r/environments/prod/secrets/ASTRO_TOKEN")
	cur := secret.New("old")
	if err := s.Preflight(t.Context(), other, target.Proof{Current: &cur}); err != nil {
		t.Fatalf("Preflight by write: %v", err)
	}
	if err := s.Put(t.Context(), other, secret.New(secretValue)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.Delete(t.Context(), tg); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := f.fake.EnvSecret("o", "r", "preview/x", "ASTRO_TOKEN"); ok {
		t.Error("Delete left the secret: a 404 of the /repos/… form is not \"already gone\"")
	}
	for _, r := range f.requests() {
		if strings.Contains(r, "/environments/prod/secrets") || strings.Contains(r, "/environments/preview%2Fx/secrets") {
			if !strings.HasPrefix(strings.Fields(r)[1], "/repositories/") {
				t.Errorf("request %q after the form was known", r)
			}
		}
	}
	if v, _ := f.fake.EnvSecret("o", "r", "prod", "ASTRO_TOKEN"); v != secretValue {
		t.Errorf("prod holds %q", v)
	}

	t.Run("a fresh store's delete finds the form first", func(t *testing.T) {
		s2 := f.store(t, nil)
		if err := s2.Delete(t.Context(), other); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.fake.EnvSecret("o", "r", "prod", "ASTRO_TOKEN"); ok {
			t.Error("the secret is still there")
		}
	})
	t.Run("a missing environment is still reported as missing", func(t *testing.T) {
		err := f.store(t, nil).Preflight(t.Context(), mustParse(t, "github://o/r/environments/staging/secrets/X"), target.Proof{ByRead: true})
		te := asTargetError(t, err)
		if te.Status != 404 || !strings.Contains(te.Hint, `environment "staging" does not exist in o/r`) {
			t.Errorf("error %+v", te)
		}
	})
}

// Today's GitHub: the /repos/… form works at once; no id-form request is
// made, and the trace says which form is in use.
func TestEnvironmentSecretsTodaysForm(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var dbg debugLog
	s := f.store(t, func(c *Config) { c.Debugf = dbg.debugf })
	tg := mustParse(t, "github://o/r/environments/prod/secrets/ASTRO_TOKEN")
	if err := s.Preflight(t.Context(), tg, target.Proof{ByRead: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(f.requests(), func(r string) bool { return strings.Contains(r, "/repositories/") }) {
		t.Errorf("id-form requests on today's GitHub: %q", f.requests())
	}
	if got := dbg.text(); got != "GitHub serves environment secrets at /repos/{owner}/{repo}/environments/{environment_name}/secrets" {
		t.Errorf("debug trace %q", got)
	}
}
