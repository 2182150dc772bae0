package astrofake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Targets: a WORKSPACE token of ws2 and a DEPLOYMENT token of dep2, an
	// extra org token.
	ws2TokID, _ := e.s.MintToken(TokenSpec{OrgID: org1, Name: "ws2-tok", Scope: ScopeWorkspace, EntityID: ws2, Role: RoleWorkspaceMember})
	dep2TokID, _ := e.s.MintToken(TokenSpec{OrgID: org1, Name: "dep2-tok", Scope: ScopeDeployment, EntityID: e.dep2, Role: RoleDeploymentAdmin})
	dep1TokID, _ := e.s.MintToken(TokenSpec{OrgID: org1, Name: "dep1-tok2", Scope: ScopeDeployment, EntityID: e.dep1, Role: RoleDeploymentAdmin})
	orgTokID, _ := e.s.MintToken(TokenSpec{OrgID: org1, Name: "org-tok", Role: RoleOrganizationMember})

	newDep := func(ws string) map[string]any { return map[string]any{"name": "n", "workspaceId": ws} }
	wsTok := func(ws string) map[string]any {
		return map[string]any{"name": "n", "role": RoleWorkspaceMember, "scope": ScopeWorkspace, "entityId": ws}
	}
	depTok := func(dep string) map[string]any {
		return map[string]any{"name": "n", "role": RoleDeploymentAdmin, "scope": ScopeDeployment, "entityId": dep}
	}
	orgTok := map[string]any{"name": "n", "role": RoleOrganizationMember, "scope": ScopeOrganization}
	rename := map[string]any{"name": "renamed"}

	type step struct {
		name, caller, method, path string
		body                       any
		status                     int
	}
	steps := []step{
		// Organization member: reads org tokens, nothing else.
		{"member lists org tokens", e.member, "GET", tokenPath(org1, orgTokID), nil, 200},
		{"member cannot read ws token", e.member, "GET", tokenPath(org1, ws2TokID), nil, 403},
		{"member cannot read deployment", e.member, "GET", deploymentPath(org1, e.dep1), nil, 403},
		{"member cannot create org token", e.member, "POST", tokensPath(org1), orgTok, 403},
		{"member cannot create deployment", e.member, "POST", deploymentsPath(org1), newDep(ws1), 403},
		{"member cannot rotate org token", e.member, "POST", tokenPath(org1, orgTokID) + "/rotate", nil, 403},
		{"member reads itself", e.member, "GET", tokenPath(org1, e.memberID), nil, 200},
		{"member cannot rotate itself", e.member, "POST", tokenPath(org1, e.memberID) + "/rotate", nil, 403},
		// Workspace owner of ws1.
		{"ws owner creates ws1 token", e.ws1Owner, "POST", tokensPath(org1), wsTok(ws1), 200},
		{"ws owner cannot create ws2 token", e.ws1Owner, "POST", tokensPath(org1), wsTok(ws2), 403},
		{"ws owner creates dep1 token", e.ws1Owner, "POST", tokensPath(org1), depTok(e.dep1), 200},
		{"ws owner cannot create dep2 token", e.ws1Owner, "POST", tokensPath(org1), depTok(e.dep2), 403},
		{"ws owner cannot create org token", e.ws1Owner, "POST", tokensPath(org1), orgTok, 403},
		{"ws owner renames dep1 token", e.ws1Owner, "POST", tokenPath(org1, dep1TokID), rename, 200},
		{"ws owner cannot rename dep2 token", e.ws1Owner, "POST", tokenPath(org1, dep2TokID), rename, 403},
		{"ws owner cannot read ws2 token", e.ws1Owner, "GET", tokenPath(org1, ws2TokID), nil, 403},
		{"ws owner cannot read org token", e.ws1Owner, "GET", tokenPath(org1, orgTokID), nil, 403},
		{"ws owner cannot rotate org token", e.ws1Owner, "POST", tokenPath(org1, orgTokID) + "/rotate", nil, 403},
		{"ws owner creates deployment", e.ws1Owner, "POST", deploymentsPath(org1), newDep(ws1), 200},
		{"ws owner cannot create in ws2", e.ws1Owner, "POST", deploymentsPath(org1), newDep(ws2), 403},
		{"ws owner cannot read dep2", e.ws1Owner, "GET", deploymentPath(org1, e.dep2), nil, 403},
		// Workspace operator: deployments yes, token management no.
		{"operator creates deployment", e.ws1Oper, "POST", deploymentsPath(org1), newDep(ws1), 200},
		{"operator reads dep1 token", e.ws1Oper, "GET", tokenPath(org1, dep1TokID), nil, 200},
		{"operator cannot create ws token", e.ws1Oper, "POST", tokensPath(org1), wsTok(ws1), 403},
		{"operator cannot rotate dep1 token", e.ws1Oper, "POST", tokenPath(org1, dep1TokID) + "/rotate", nil, 403},
		// Workspace member: read only.
		{"ws member reads dep1", e.ws1Member, "GET", deploymentPath(org1, e.dep1), nil, 200},
		{"ws member cannot create deployment", e.ws1Member, "POST", deploymentsPath(org1), newDep(ws1), 403},
		{"ws member cannot delete dep1", e.ws1Member, "DELETE", deploymentPath(org1, e.dep1), nil, 403},
		{"ws member cannot rename itself", e.ws1Member, "POST", tokenPath(org1, e.ws1MemberID), rename, 403},
		// Deployment admin of dep1.
		{"dep admin reads dep1", e.dep1Admin, "GET", deploymentPath(org1, e.dep1), nil, 200},
		{"dep admin cannot read dep2", e.dep1Admin, "GET", deploymentPath(org1, e.dep2), nil, 403},
		{"dep admin cannot delete dep1", e.dep1Admin, "DELETE", deploymentPath(org1, e.dep1), nil, 403},
		{"dep admin cannot create deployment", e.dep1Admin, "POST", deploymentsPath(org1), newDep(ws1), 403},
		{"dep admin creates dep1 token", e.dep1Admin, "POST", tokensPath(org1), depTok(e.dep1), 200},
		{"dep admin cannot create dep2 token", e.dep1Admin, "POST", tokensPath(org1), depTok(e.dep2), 403},
		{"dep admin rotates sibling", e.dep1Admin, "POST", tokenPath(org1, dep1TokID) + "/rotate", nil, 200},
		{"dep admin cannot read ws1 token", e.dep1Admin, "GET", tokenPath(org1, e.ws1OwnerID), nil, 403},
		{"dep admin deletes sibling", e.dep1Admin, "DELETE", tokenPath(org1, dep1TokID), nil, 204},
		// Another organization.
		{"other org path is 403", e.other, "GET", tokensPath(org1), nil, 403},
		{"other org deployment list is 403", e.other, "GET", deploymentsPath(org1), nil, 403},
		{"other org object under own org is 404", e.other, "GET", tokenPath(org2, e.ownerID), nil, 404},
		{"other org deployment under own org is 404", e.other, "GET", deploymentPath(org2, e.dep1), nil, 404},
		{"unknown org is 403", e.owner, "GET", tokensPath("cnope0000000000000000000a"), nil, 403},
		// Organization owner: everything.
		{"owner rotates ws2 token", e.owner, "POST", tokenPath(org1, ws2TokID) + "/rotate", nil, 200},
		{"owner deletes dep2", e.owner, "DELETE", deploymentPath(org1, e.dep2), nil, 204},
		// The dep1 admin deletes itself last: its value stops working.
		{"dep admin deletes itself", e.dep1Admin, "DELETE", tokenPath(org1, e.dep1AdminID), nil, 204},
		{"deleted caller", e.dep1Admin, "GET", deploymentPath(org1, e.dep1), nil, 401},
	}
	for _, st := range steps {
		e.want(st.status, st.method, st.path, st.caller, st.body)
	}
}

func TestRolesGrantRights(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.createToken(map[string]any{"name": "w", "role": RoleWorkspaceMember, "scope": ScopeWorkspace, "entityId": ws1})
	// A workspace owner may manage its workspace token and grant roles on
	// deployments of its workspace...
	e.want(200, "POST", tokenPath(org1, tok.ID)+"/roles", e.ws1Owner, map[string]any{"roles": []any{
		map[string]any{"entityType": ScopeWorkspace, "entityId": ws1, "role": RoleWorkspaceOperator},
		map[string]any{"entityType": ScopeDeployment, "entityId": e.dep1, "role": RoleDeploymentAdmin},
	}})
	// ...but not add an org token to its workspace (org tokens are the
	// owner's), nor may a deployment admin change a workspace token.
	e.want(403, "POST", tokenPath(org1, e.memberID)+"/roles", e.ws1Owner, map[string]any{"roles": []any{
		map[string]any{"entityType": ScopeOrganization, "entityId": org1, "role": RoleOrganizationMember},
		map[string]any{"entityType": ScopeWorkspace, "entityId": ws1, "role": RoleWorkspaceMember},
	}})
	e.want(403, "POST", tokenPath(org1, tok.ID)+"/roles", e.dep1Admin, map[string]any{"roles": []any{
		map[string]any{"entityType": ScopeWorkspace, "entityId": ws1, "role": RoleWorkspaceOperator},
	}})
	// The roles take effect at once: the ws1 token now administers dep1.
	e.want(200, "POST", deploymentPath(org1, e.dep1), e.s.mustValue(t, tok.ID), updateBody("prod", []any{}))
}

func TestOrganizationsAndWorkspaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var orgs wireOrgsPage
	e.want(200, "GET", "/v1/organizations", e.ws1Member, nil).decode(t, &orgs)
	if orgs.TotalCount != 1 || len(orgs.Organizations) != 1 || orgs.Organizations[0].ID != org1 || orgs.Organizations[0].Product != "HOSTED" {
		t.Errorf("orgs: %+v", orgs)
	}
	names := func(tok, query string) []string {
		var page wireWorkspacesPage
		e.want(200, "GET", "/v1/organizations/"+org1+"/workspaces?"+query, tok, nil).decode(t, &page)
		var out []string
		for _, w := range page.Workspaces {
			out = append(out, w.Name)
		}
		return out
	}
	for _, tc := range []struct {
		tok, query string
		want       string
	}{
		{e.owner, "", "[Data Platform Analytics]"},
		{e.owner, "names=Analytics", "[Analytics]"},
		{e.owner, "workspaceIds=" + ws1, "[Data Platform]"},
		{e.owner, "sorts=name:asc", "[Analytics Data Platform]"},
		{e.member, "", "[]"},
		{e.ws1Member, "", "[Data Platform]"},
		{e.dep1Admin, "", "[Data Platform]"},
	} {
		if got := fmt.Sprintf("%v", names(tc.tok, tc.query)); got != tc.want && !(tc.want == "[]" && got == "[]") {
			t.Errorf("%q: %s, want %s", tc.query, got, tc.want)
		}
	}
	var w wireWorkspace
	e.want(200, "GET", "/v1/organizations/"+org1+"/workspaces/"+ws1, e.ws1Member, nil).decode(t, &w)
	if w.ID != ws1 || w.OrganizationName != "Acme" {
		t.Errorf("workspace %+v", w)
	}
	e.want(403, "GET", "/v1/organizations/"+org1+"/workspaces/"+ws2, e.ws1Member, nil)
	e.want(404, "GET", "/v1/organizations/"+org1+"/workspaces/"+ws3, e.owner, nil)
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.want(404, "GET", "/v1/nothing", e.owner, nil)
	r = e.want(404, "GET", "/v2/organizations", e.owner, nil)
	r = e.want(404, "GET", tokensPath(org1)+"/", e.owner, nil)
	r = e.want(405, "PUT", tokenPath(org1, e.ownerID), e.owner, map[string]any{"name": "x"})
	if r.header.Get("Allow") != "GET, POST, DELETE" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	e.want(405, "GET", tokenPath(org1, e.ownerID)+"/rotate", e.owner, nil)
	// Unauthenticated requests to unknown paths are still 404 (routing first).
	e.want(404, "GET", "/nowhere", "", nil)
	// Request ids differ per request.
	a := e.do("GET", "/v1/organizations", e.owner, nil)
	b := e.do("GET", "/v1/organizations", e.owner, nil)
	if a.header.Get("X-Request-Id") == b.header.Get("X-Request-Id") {
		t.Error("X-Request-Id repeats")
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("status and Retry-After", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.s.InjectFault(Fault{Route: "RotateApiToken", Status: 429, RetryAfter: "3", Times: 2})
		for range 2 {
			r := e.want(429, "POST", tokenPath(org1, e.memberID)+"/rotate", e.owner, nil)
			if r.header.Get("Retry-After") != "3" || r.header.Get("X-Fake-Fault") != "1" {
				t.Errorf("headers %v", r.header)
			}
		}
		if !e.s.Authenticates(e.member) {
			t.Error("a faulted rotate (not AfterApply) rotated")
		}
		e.want(200, "POST", tokenPath(org1, e.memberID)+"/rotate", e.owner, nil) // Times exhausted
		// Other routes are untouched.
		if r := e.want(200, "GET", tokensPath(org1), e.owner, nil); r.header.Get("X-Fake-Fault") != "" {
			t.Error("fault header on an unfaulted response")
		}
	})

	t.Run("method filter, remove and clear", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		remove := e.s.InjectFault(Fault{Method: "DELETE", Status: 503})
		e.want(200, "GET", tokenPath(org1, e.memberID), e.owner, nil)
		e.want(503, "DELETE", tokenPath(org1, e.memberID), e.owner, nil)
		remove()
		e.s.InjectFault(Fault{Status: 500})
		e.want(500, "GET", "/v1/organizations", e.owner, nil)
		e.s.ClearFaults()
		e.want(204, "DELETE", tokenPath(org1, e.memberID), e.owner, nil)
	})

	t.Run("after apply", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.s.InjectFault(Fault{Route: "RotateApiToken", Status: 502, AfterApply: true, Times: 1})
		e.want(502, "POST", tokenPath(org1, e.memberID)+"/rotate", e.owner, nil)
		if e.s.Authenticates(e.member) {
			t.Error("AfterApply rotate did not rotate")
		}
		if ti, _ := e.s.Token(e.memberID); ti.LastRotatedAt.IsZero() {
			t.Error("no lastRotatedAt after an applied rotate")
		}
		e.s.InjectFault(Fault{Route: "CreateApiToken", Drop: true, AfterApply: true, Times: 1})
		before := len(e.s.Tokens())
		req, _ := http.NewRequest("POST", e.srv.URL+tokensPath(org1), bytes.NewReader([]byte(`{"name":"lost","role":"ORGANIZATION_MEMBER","scope":"ORGANIZATION"}`)))
		req.Header.Set("Authorization", "Bearer "+e.owner)
		req.Header.Set("Content-Type", "application/json")
		if res, err := e.srv.Client().Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("dropped request got status %d", res.StatusCode)
		}
		if n := len(e.s.Tokens()); n != before+1 {
			t.Errorf("AfterApply drop: %d tokens, want %d", n, before+1)
		}
	})

	t.Run("drop", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.s.InjectFault(Fault{Route: "ListApiTokens", Drop: true, Times: 1})
		req, _ := http.NewRequest("GET", e.srv.URL+tokensPath(org1), nil)
		req.Header.Set("Authorization", "Bearer "+e.owner)
		_, err := e.srv.Client().Do(req)
		if err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || err != nil) {
			t.Fatalf("dropped request: %v", err)
		}
		// The fake logs a dropped request after closing the connection, so
		// the client may see the drop first.
		var reqs []Request
		for range 100 {
			if reqs = e.s.Requests(); len(reqs) > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(reqs) == 0 {
			t.Fatal("the dropped request was not logged")
		}
		if last := reqs[len(reqs)-1]; !last.Fault || last.Status != 0 || last.Route != "ListApiTokens" {
			t.Errorf("log entry %+v", last)
		}
		e.want(200, "GET", tokensPath(org1), e.owner, nil)
	})

	t.Run("latency", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.s.InjectFault(Fault{Route: "GetApiToken", Latency: 150 * time.Millisecond, Times: 1})
		start := time.Now()
		r := e.want(200, "GET", tokenPath(org1, e.memberID), e.owner, nil)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("latency fault answered after %v", d)
		}
		if r.header.Get("X-Fake-Fault") != "1" {
			t.Error("no fault header on a delayed response")
		}
		// Cancellation ends the wait early.
		e.s.InjectFault(Fault{Route: "GetApiToken", Latency: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+tokenPath(org1, e.memberID), nil)
		req.Header.Set("Authorization", "Bearer "+e.owner)
		start = time.Now()
		if _, err := e.srv.Client().Do(req); err == nil {
			t.Fatal("cancelled request succeeded")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("cancellation took %v", d)
		}
	})
}

func TestSnapshotAndLastUsedDebounce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reads := func(tok string) {
		e.want(200, "GET", tokensPath(org1)+"?limit=100", tok, nil)
		e.want(200, "GET", deploymentsPath(org1), tok, nil)
		e.want(200, "GET", deploymentPath(org1, e.dep1), tok, nil)
		e.want(200, "GET", "/v1/organizations", tok, nil)
		e.want(403, "POST", tokensPath(org1), e.member, map[string]any{"name": "n", "role": RoleOrganizationMember, "scope": ScopeOrganization})
	}
	reads(e.owner) // sets lastUsedAt for the first time
	a := e.s.Snapshot()
	if !bytes.Equal(a, e.s.Snapshot()) {
		t.Fatal("Snapshot is not deterministic")
	}
	for _, step := range []time.Duration{time.Second, 30 * time.Minute, 29 * time.Minute} {
		e.clock.Advance(step)
		reads(e.owner)
		if b := e.s.Snapshot(); !bytes.Equal(a, b) {
			t.Fatalf("read-only requests changed the snapshot within the debounce window")
		}
	}
	if bytes.Contains(a, []byte(e.owner)) || bytes.Contains(a, []byte("s3cr3t-value")) {
		t.Fatal("snapshot contains a secret")
	}
	e.clock.Advance(time.Minute) // an hour since lastUsedAt
	reads(e.owner)
	b := e.s.Snapshot()
	if bytes.Equal(a, b) {
		t.Error("lastUsedAt not refreshed after an hour")
	}
	// A mutation changes it; its undo does not restore it (updatedAt moved).
	e.want(200, "POST", tokenPath(org1, e.memberID), e.owner, map[string]any{"name": "member", "description": "x"})
	if c := e.s.Snapshot(); bytes.Equal(b, c) {
		t.Error("update did not change the snapshot")
	}
	// Rotation changes the value hash.
	c := e.s.Snapshot()
	e.want(200, "POST", tokenPath(org1, e.memberID)+"/rotate", e.owner, nil)
	if bytes.Equal(c, e.s.Snapshot()) {
		t.Error("rotation did not change the snapshot")
	}
	// Two servers seeded identically with the same Rand snapshot alike.
	x, y := newEnv(t), newEnv(t)
	if !bytes.Equal(x.s.Snapshot(), y.s.Snapshot()) {
		t.Error("identically seeded servers differ")
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.s.ResetRequests()
	e.want(200, "GET", tokensPath(org1)+"?limit=5&workspaceId="+ws1, e.owner, nil)
	e.want(401, "GET", deploymentsPath(org1), "bogus", nil)
	e.want(204, "DELETE", tokenPath(org1, e.memberID), e.owner, nil)
	reqs := e.s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests logged", len(reqs))
	}
	first := reqs[0]
	if first.Method != "GET" || first.Path != tokensPath(org1) || first.Query.Get("limit") != "5" || first.Status != 200 ||
		first.TokenID != e.ownerID || first.Route != "ListApiTokens" || first.RequestID == "" {
		t.Errorf("first %+v", first)
	}
	if reqs[1].Status != 401 || reqs[1].TokenID != "" || reqs[1].Route != "ListDeployments" {
		t.Errorf("second %+v", reqs[1])
	}
	if reqs[2].Status != 204 || reqs[2].Route != "DeleteApiToken" {
		t.Errorf("third %+v", reqs[2])
	}
	e.s.ResetRequests()
	if len(e.s.Requests()) != 0 {
		t.Error("ResetRequests kept entries")
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				tok := e.do("POST", tokensPath(org1), e.owner, map[string]any{"name": fmt.Sprintf("c%d-%d", i, j), "role": RoleOrganizationMember, "scope": ScopeOrganization})
				if tok.status != 200 {
					t.Errorf("create %d", tok.status)
					return
				}
				var w wireAPIToken
				if err := jsonUnmarshal(tok.body, &w); err != nil {
					t.Error(err)
					return
				}
				for _, r := range []resp{
					e.do("POST", tokenPath(org1, w.ID)+"/rotate", e.owner, nil),
					e.do("GET", deploymentsPath(org1), e.owner, nil),
					e.do("DELETE", tokenPath(org1, w.ID), e.owner, nil),
				} {
					if r.status >= 300 {
						t.Errorf("status %d: %s", r.status, r.body)
					}
				}
				_ = e.s.Snapshot()
			}
		}()
	}
	wg.Wait()
	if n := len(e.s.Tokens()); n != 7 {
		t.Errorf("%d live tokens after create/delete pairs", n)
	}
}

func TestWithoutContractWrapper(t *testing.T) {
	t.Parallel()
	// The fake is a plain http.Handler; defaults (real clock, crypto/rand)
	// work, and GetOrganization (absent from the trimmed description) is
	// served.
	s := New(Options{})
	s.AddOrganization(org1, "Acme")
	_, v := s.MintToken(TokenSpec{OrgID: org1, Role: RoleOrganizationOwner})
	srv := httptest.NewServer(s)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/organizations/"+org1, nil)
	req.Header.Set("Authorization", "Bearer "+v)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var o wireOrganization
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || jsonUnmarshal(body, &o) != nil || o.ID != org1 || o.Name != "Acme" {
		t.Errorf("%d %s", res.StatusCode, body)
	}
	if !cuidRE.MatchString(s.newID()) {
		t.Error("ids from crypto/rand are not CUID-like")
	}
}
