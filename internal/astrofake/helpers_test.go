package astrofake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakeclock"

	"github.com/astro-ci/astro-ci/internal/contract"
)

// Fixture ids (CUID-shaped, 25 characters).
const (
	org1 = "clorg1000000000000000000a"
	org2 = "clorg2000000000000000000b"
	ws1  = "clws10000000000000000000a"
	ws2  = "clws20000000000000000000b"
	ws3  = "clws30000000000000000000c" // in org2
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeClock = fakeclock.Clock

// env is one fake behind an httptest server wrapped by the contract
// validator, seeded with two organizations and a set of tokens.
type env struct {
	t     *testing.T
	s     *Server
	srv   *httptest.Server
	clock *fakeClock

	dep1, dep2, dep3 string // dep1 in ws1, dep2 in ws2, dep3 in ws3 (org2)

	owner, member     string // org1 ORGANIZATION_OWNER / ORGANIZATION_MEMBER values
	ownerID, memberID string
	ws1Owner, ws1Oper string // WORKSPACE tokens of ws1
	ws1OwnerID        string
	ws1Member         string
	ws1MemberID       string
	dep1Admin         string // DEPLOYMENT token of dep1
	dep1AdminID       string
	other             string // org2 owner
	otherID           string
}

// contractReporter fails t on every response violation, and on request
// violations the fake accepted (answered 2xx): a request the description
// calls invalid must be rejected. Negative tests send such requests on
// purpose; a 4xx answer to them is the expected outcome.
func contractReporter(t *testing.T) func(error) {
	return func(err error) {
		var v *contract.Violation
		if errors.As(err, &v) && !v.Response && (v.Status == 0 || v.Status >= 400) {
			return
		}
		t.Errorf("%v", err)
	}
}

func newEnv(t *testing.T, opts ...func(*Options)) *env {
	t.Helper()
	clock := fakeclock.New(t0)
	o := Options{
		Now:  clock.Now,
		Rand: rand.NewChaCha8([32]byte{1, 2, 3}),
	}
	for _, f := range opts {
		f(&o)
	}
	s := New(o)
	v, err := contract.Astro()
	if err != nil {
		t.Fatalf("contract.Astro: %v", err)
	}
	srv := httptest.NewServer(v.Middleware(s, contractReporter(t)))
	t.Cleanup(srv.Close)
	e := &env{t: t, s: s, srv: srv, clock: clock}

	s.AddOrganization(org1, "Acme")
	s.AddOrganization(org2, "Other Corp")
	s.AddWorkspace(org1, ws1, "Data Platform")
	s.AddWorkspace(org1, ws2, "Analytics")
	s.AddWorkspace(org2, ws3, "Elsewhere")
	e.dep1 = s.AddDeployment(SeedDeployment{
		Name: "prod", WorkspaceID: ws1, Type: "STANDARD", CloudProvider: "AWS", Region: "us-east-1",
		AstroRuntimeVersion: "12.6.0", Executor: "CELERY", SchedulerSize: "MEDIUM", IsDagDeployEnabled: true,
		WorkerQueues:  []WorkerQueue{{Name: "default", IsDefault: true, AstroMachine: "A10", MinWorkerCount: 1, MaxWorkerCount: 5, WorkerConcurrency: 10}},
		EnvVars:       []EnvVar{{Key: "PLAIN", Value: "visible"}, {Key: "SECRET", Value: "s3cr3t-value", IsSecret: true}},
		ContactEmails: []string{"ops@example.com"},
	})
	e.dep2 = s.AddDeployment(SeedDeployment{Name: "analytics", WorkspaceID: ws2})
	e.dep3 = s.AddDeployment(SeedDeployment{Name: "theirs", WorkspaceID: ws3})

	e.ownerID, e.owner = s.MintToken(TokenSpec{OrgID: org1, Name: "owner", Role: RoleOrganizationOwner})
	e.memberID, e.member = s.MintToken(TokenSpec{OrgID: org1, Name: "member", Role: RoleOrganizationMember})
	e.ws1OwnerID, e.ws1Owner = s.MintToken(TokenSpec{OrgID: org1, Name: "ws1-owner", Scope: ScopeWorkspace, EntityID: ws1, Role: RoleWorkspaceOwner})
	_, e.ws1Oper = s.MintToken(TokenSpec{OrgID: org1, Name: "ws1-operator", Scope: ScopeWorkspace, EntityID: ws1, Role: RoleWorkspaceOperator})
	e.ws1MemberID, e.ws1Member = s.MintToken(TokenSpec{OrgID: org1, Name: "ws1-member", Scope: ScopeWorkspace, EntityID: ws1, Role: RoleWorkspaceMember})
	e.dep1AdminID, e.dep1Admin = s.MintToken(TokenSpec{OrgID: org1, Name: "dep1-admin", Scope: ScopeDeployment, EntityID: e.dep1, Role: RoleDeploymentAdmin})
	e.otherID, e.other = s.MintToken(TokenSpec{OrgID: org2, Name: "other-owner", Role: RoleOrganizationOwner})
	return e
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errBody decodes an error response and checks its invariants.
func (r resp) errBody(t *testing.T) wireError {
	t.Helper()
	var e wireError
	r.decode(t, &e)
	if e.StatusCode != r.status || e.RequestID == "" || e.RequestID != r.header.Get("X-Request-Id") || e.Message == "" {
		t.Fatalf("bad error body %s for status %d (X-Request-Id %q)", r.body, r.status, r.header.Get("X-Request-Id"))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q", ct)
	}
	return e
}

// do sends one request. body may be nil, a string (sent raw) or a value
// (sent as JSON).
func (e *env) do(method, path, tok string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Header.Get("X-Request-Id") == "" {
		e.t.Fatalf("%s %s: no X-Request-Id", method, path)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// want sends a request and fails unless the status is want.
func (e *env) want(status int, method, path, tok string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, tok, body)
	if r.status != status {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, status, r.body)
	}
	if status >= 400 {
		r.errBody(e.t)
	}
	return r
}

func tokensPath(org string) string         { return "/v1/organizations/" + org + "/tokens" }
func tokenPath(org, id string) string      { return tokensPath(org) + "/" + id }
func deploymentsPath(org string) string    { return "/v1/organizations/" + org + "/deployments" }
func deploymentPath(org, id string) string { return deploymentsPath(org) + "/" + id }

// createToken creates a token through the API as the org owner.
func (e *env) createToken(req map[string]any) wireAPIToken {
	e.t.Helper()
	var tok wireAPIToken
	e.want(200, "POST", tokensPath(org1), e.owner, req).decode(e.t, &tok)
	return tok
}

// jwtPayload decodes the claims of a token value without verifying it.
func jwtPayload(t *testing.T, value string) map[string]any {
	t.Helper()
	parts := strings.Split(value, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
