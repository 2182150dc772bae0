package gitlabfake

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Token values of the fixture.
const (
	tokMaint   = "glpat-maintainer-0000000000"
	tokOwner   = "glpat-owner-00000000000000"
	tokDev     = "glpat-developer-0000000000"
	tokReadAPI = "glpat-readapi-000000000000"
	tokUser    = "glpat-readuser-00000000000"
	tokExpired = "glpat-expired-000000000000"
	tokRevoked = "glpat-revoked-000000000000"
	tokJob     = "job-token-000000000000000"
)

// fixture is a fake behind an httptest server with:
//
//	acme (group) / platform (group) / deploy (project)
//	acme / web (project), other / secret (project)
//
// and tokens: tokMaint (api, Maintainer on acme/platform/deploy and
// acme/web), tokOwner (api, Owner on acme), tokDev (Developer on deploy),
// tokReadAPI (read_api, Maintainer on deploy), tokUser (read_user), expired,
// revoked and a job token of deploy.
type fixture struct {
	s   *Server
	srv *httptest.Server

	deployID, webID, acmeID, platformID int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := New(Options{Now: func() time.Time { return t0 }})
	f := &fixture{s: s}
	f.deployID = s.AddProject("acme/platform/deploy")
	f.webID = s.AddProject("acme/web")
	s.AddProject("other/secret")
	f.acmeID = s.AddGroup("acme")
	f.platformID = s.AddGroup("acme/platform")
	s.AddToken(tokMaint, TokenPerms{Scopes: []string{"api"}, Roles: map[string]int{"acme/platform/deploy": Maintainer, "acme/web": Maintainer}})
	s.AddToken(tokOwner, TokenPerms{Scopes: []string{"api"}, Roles: map[string]int{"acme": Owner}})
	s.AddToken(tokDev, TokenPerms{Scopes: []string{"api"}, Roles: map[string]int{"acme/platform/deploy": Developer}})
	s.AddToken(tokReadAPI, TokenPerms{Scopes: []string{"read_api"}, Roles: map[string]int{"acme/platform/deploy": Maintainer}})
	s.AddToken(tokUser, TokenPerms{Scopes: []string{"read_user"}, Roles: map[string]int{"acme/platform/deploy": Maintainer}})
	s.AddToken(tokExpired, TokenPerms{Scopes: []string{"api"}, Expired: true, Roles: map[string]int{"acme": Owner}})
	s.AddToken(tokRevoked, TokenPerms{Scopes: []string{"api"}, Revoked: true, Roles: map[string]int{"acme": Owner}})
	s.AddJobToken(tokJob, "acme/platform/deploy")
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// do sends one raw request and returns status, headers and body.
func (f *fixture) do(t *testing.T, method, path string, header map[string]string, contentType, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func pt(tok string) map[string]string { return map[string]string{"PRIVATE-TOKEN": tok} }
