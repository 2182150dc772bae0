package gitlabstore

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/gitlabfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Distinctive values, so a leak is easy to find in any string.
const (
	tokMaint   = "glpat-MAINTAINER-SECRET-aaaa"
	tokOwner   = "glpat-OWNER-SECRET-bbbbbbbbb"
	tokGroupM  = "glpat-GROUPMAINT-SECRET-ccc"
	tokDev     = "glpat-DEVELOPER-SECRET-dddd"
	tokReadAPI = "glpat-READAPI-SECRET-eeeeeee"
	tokExpired = "glpat-EXPIRED-SECRET-fffffff"
	tokJob     = "JOBTOKEN-SECRET-gggggggggggg"

	val1 = "eyJhbGciOiJSUzI1NiJ9.eyJWQUxVRU9ORSI6MX0.VALUE-ONE-sig"
	val2 = "eyJhbGciOiJSUzI1NiJ9.eyJWQUxVRVRXTyI6Mn0.VALUE-TWO-sig"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is the fake GitLab behind an httptest server, seeded with
//
//	acme / platform / deploy   (project 1001)
//	acme / web                 (project 1002)
//	acme / my.app              (project 1003)
//	other / secret             (project 1004, nobody's)
//
// and tokens: tokMaint (Maintainer on acme/platform/deploy, acme/web and
// acme/my.app), tokOwner (Owner on acme), tokGroupM (Maintainer on acme),
// tokDev (Developer on deploy), tokReadAPI (read_api, Maintainer on deploy),
// tokExpired, and a job token of deploy.
type env struct {
	fake *gitlabfake.Server
	srv  *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	f := gitlabfake.New(gitlabfake.Options{Now: func() time.Time { return t0 }})
	f.AddProject("acme/platform/deploy")
	f.AddProject("acme/web")
	f.AddProject("acme/my.app")
	f.AddProject("other/secret")
	api := []string{"api"}
	f.AddToken(tokMaint, gitlabfake.TokenPerms{Scopes: api, Roles: map[string]int{
		"acme/platform/deploy": gitlabfake.Maintainer, "acme/web": gitlabfake.Maintainer, "acme/my.app": gitlabfake.Maintainer}})
	f.AddToken(tokOwner, gitlabfake.TokenPerms{Scopes: api, Roles: map[string]int{"acme": gitlabfake.Owner}})
	f.AddToken(tokGroupM, gitlabfake.TokenPerms{Scopes: api, Roles: map[string]int{"acme": gitlabfake.Maintainer}})
	f.AddToken(tokDev, gitlabfake.TokenPerms{Scopes: api, Roles: map[string]int{"acme/platform/deploy": gitlabfake.Developer}})
	f.AddToken(tokReadAPI, gitlabfake.TokenPerms{Scopes: []string{"read_api"}, Roles: map[string]int{"acme/platform/deploy": gitlabfake.Maintainer}})
	f.AddToken(tokExpired, gitlabfake.TokenPerms{Scopes: api, Expired: true, Roles: map[string]int{"acme": gitlabfake.Owner}})
	f.AddJobToken(tokJob, "acme/platform/deploy")
	e := &env{fake: f, srv: httptest.NewServer(f)}
	t.Cleanup(e.srv.Close)
	return e
}

// store returns a Store for tok with deterministic canary names.
func (e *env) store(t *testing.T, tok string) *Store {
	t.Helper()
	s, err := New(Config{BaseURL: e.srv.URL + "/api/v4", Token: secret.New(tok), HTTPClient: e.srv.Client(), Rand: &seqReader{}})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0 }
	return s
}

// calls returns "METHOD status" for each logged request since the last
// reset, and resets the log.
func (e *env) calls() []string {
	var out []string
	for _, r := range e.fake.Requests() {
		out = append(out, fmt.Sprintf("%s %d", r.Method, r.Status))
	}
	e.fake.ResetRequests()
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// seqReader yields 0, 1, 2, ... so canary names are predictable.
type seqReader struct {
	mu sync.Mutex
	n  byte
}

func (r *seqReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func mustParse(t *testing.T, raw string) target.Target {
	t.Helper()
	tg, err := target.Parse(raw, target.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func asTargetError(t *testing.T, err error) *target.Error {
	t.Helper()
	var te *target.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *target.Error", err, err)
	}
	return te
}

// errorStrings is every string an error can be printed as, down its chain.
func errorStrings(err error) []string {
	var out []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		out = append(out, e.Error(), fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e))
		if te, ok := e.(*target.Error); ok {
			out = append(out, te.Hint, te.Target)
		}
	}
	return out
}
