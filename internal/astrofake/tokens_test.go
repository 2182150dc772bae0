package astrofake

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var cuidRE = regexp.MustCompile(`^c[a-z0-9]{24}$`)

func TestCreateGetListToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	created := e.createToken(map[string]any{
		"name": "ci", "description": "for CI", "role": RoleOrganizationMember, "scope": ScopeOrganization,
	})
	if !cuidRE.MatchString(created.ID) {
		t.Errorf("id %q is not CUID-like", created.ID)
	}
	if created.Token == "" {
		t.Fatal("create response has no token value")
	}
	if created.Kind != "STANDARD" || created.Scope != ScopeOrganization || created.Name != "ci" || created.Description != "for CI" {
		t.Errorf("unexpected token %+v", created)
	}
	if created.ShortToken == "" || strings.Contains(created.Token, created.ShortToken) {
		t.Errorf("shortToken %q empty or part of the secret", created.ShortToken)
	}
	if created.EndAt != "" || created.ExpiryPeriodInDays != nil {
		t.Errorf("never-expiring token has endAt %q / expiry %v", created.EndAt, created.ExpiryPeriodInDays)
	}
	if created.CreatedAt != "2026-03-01T12:00:00Z" || created.StartAt != created.CreatedAt || created.UpdatedAt != created.CreatedAt {
		t.Errorf("timestamps %q %q %q", created.CreatedAt, created.StartAt, created.UpdatedAt)
	}
	if cb := created.CreatedBy; cb == nil || cb.ID != e.ownerID || cb.SubjectType != "SERVICEKEY" || cb.APITokenName != "owner" {
		t.Errorf("createdBy = %+v", created.CreatedBy)
	}
	wantRoles := []wireRole{{EntityID: org1, EntityType: ScopeOrganization, Role: RoleOrganizationMember}}
	if !slices.Equal(created.Roles, wantRoles) {
		t.Errorf("roles = %+v", created.Roles)
	}
	if !e.s.Authenticates(created.Token) {
		t.Error("new value does not authenticate")
	}
	if id, ok := e.s.TokenIDForValue(created.Token); !ok || id != created.ID {
		t.Errorf("TokenIDForValue = %q %v", id, ok)
	}

	// GET never carries the value.
	r := e.want(200, "GET", tokenPath(org1, created.ID), e.owner, nil)
	if strings.Contains(string(r.body), created.Token) || strings.Contains(string(r.body), `"token"`) {
		t.Errorf("GET leaks the value: %s", r.body)
	}
	var got wireAPIToken
	r.decode(t, &got)
	created.Token = ""
	if !reflect.DeepEqual(got, created) {
		t.Errorf("GET = %+v\nwant %+v", got, created)
	}
	// Nor does the list.
	r = e.want(200, "GET", tokensPath(org1)+"?limit=1000", e.owner, nil)
	if strings.Contains(string(r.body), `"token"`) {
		t.Errorf("list leaks values: %s", r.body)
	}
	// The new token can call the API and read itself.
	var self wireAPIToken
	e.want(200, "GET", tokenPath(org1, created.ID), e.s.mustValue(t, created.ID), nil).decode(t, &self)
	if self.LastUsedAt != "2026-03-01T12:00:00Z" {
		t.Errorf("lastUsedAt after first use = %q", self.LastUsedAt)
	}
	info, ok := e.s.Token(created.ID)
	if !ok || info.Deleted || info.Name != "ci" || info.Scope != ScopeOrganization || len(info.Roles) != 1 {
		t.Errorf("Token() = %+v, %v", info, ok)
	}
}

// mustValue returns a token's current value (tests only).
func (s *Server) mustValue(t *testing.T, id string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[id]
	if !ok {
		t.Fatalf("no token %s", id)
	}
	return tok.value
}

func TestCreateTokenScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ws := e.createToken(map[string]any{"name": "w", "role": RoleWorkspaceAuthor, "scope": ScopeWorkspace, "entityId": ws1})
	if !slices.Equal(ws.Roles, []wireRole{{EntityID: ws1, EntityType: ScopeWorkspace, Role: RoleWorkspaceAuthor}}) {
		t.Errorf("workspace token roles %+v", ws.Roles)
	}
	dep := e.createToken(map[string]any{"name": "d", "role": "MY_CUSTOM_ROLE", "scope": ScopeDeployment, "entityId": e.dep1, "kind": "DIRECT_ACCESS"})
	if dep.Kind != "DIRECT_ACCESS" || dep.Roles[0].Role != "MY_CUSTOM_ROLE" || dep.Roles[0].EntityID != e.dep1 {
		t.Errorf("deployment token %+v", dep)
	}
}

func TestCreateTokenValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"no body", "", 400, "body"},
		{"not JSON", "{", 400, "body"},
		{"wrong type", map[string]any{"name": 5, "role": RoleOrganizationOwner, "scope": ScopeOrganization}, 400, "name"},
		{"missing name", map[string]any{"role": RoleOrganizationOwner, "scope": ScopeOrganization}, 400, "name"},
		{"missing role", map[string]any{"name": "x", "scope": ScopeOrganization}, 400, "role"},
		{"missing scope", map[string]any{"name": "x", "role": RoleOrganizationOwner}, 400, "scope"},
		{"bad scope", map[string]any{"name": "x", "role": RoleOrganizationOwner, "scope": "TEAM"}, 400, "scope"},
		{"org role on workspace", map[string]any{"name": "x", "role": RoleOrganizationOwner, "scope": ScopeWorkspace, "entityId": ws1}, 400, "role"},
		{"workspace role on org", map[string]any{"name": "x", "role": RoleWorkspaceOwner, "scope": ScopeOrganization}, 400, "role"},
		{"workspace role on deployment", map[string]any{"name": "x", "role": RoleWorkspaceOwner, "scope": ScopeDeployment, "entityId": "d"}, 400, "role"},
		{"expiry 0", map[string]any{"name": "x", "role": RoleOrganizationOwner, "scope": ScopeOrganization, "tokenExpiryPeriodInDays": 0}, 400, "tokenExpiryPeriodInDays"},
		{"expiry 3651", map[string]any{"name": "x", "role": RoleOrganizationOwner, "scope": ScopeOrganization, "tokenExpiryPeriodInDays": 3651}, 400, "tokenExpiryPeriodInDays"},
		{"bad kind", map[string]any{"name": "x", "role": RoleOrganizationOwner, "scope": ScopeOrganization, "kind": "OTHER"}, 400, "kind"},
		{"workspace without entity", map[string]any{"name": "x", "role": RoleWorkspaceOwner, "scope": ScopeWorkspace}, 400, "entityId"},
		{"unknown workspace", map[string]any{"name": "x", "role": RoleWorkspaceOwner, "scope": ScopeWorkspace, "entityId": "cnope0000000000000000000a"}, 404, ""},
		{"other org's workspace", map[string]any{"name": "x", "role": RoleWorkspaceOwner, "scope": ScopeWorkspace, "entityId": ws3}, 404, ""},
		{"unknown deployment", map[string]any{"name": "x", "role": RoleDeploymentAdmin, "scope": ScopeDeployment, "entityId": "cnope0000000000000000000a"}, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.s.Tokens())
			r := e.want(tc.status, "POST", tokensPath(org1), e.owner, tc.body)
			eb := r.errBody(t)
			if tc.field != "" && !slices.ContainsFunc(eb.FieldErrors, func(f wireFieldError) bool { return f.Field == tc.field }) {
				t.Errorf("fieldErrors %+v lack %q", eb.FieldErrors, tc.field)
			}
			if n := len(e.s.Tokens()); n != before {
				t.Errorf("a rejected create changed the token count %d → %d", before, n)
			}
		})
	}
}

func TestTokenExpiryAndJWTClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.createToken(map[string]any{"name": "short", "role": RoleWorkspaceOperator, "scope": ScopeWorkspace, "entityId": ws1, "tokenExpiryPeriodInDays": 1})
	if tok.EndAt != "2026-03-02T12:00:00Z" || tok.ExpiryPeriodInDays == nil || *tok.ExpiryPeriodInDays != 1 {
		t.Fatalf("endAt %q expiry %v", tok.EndAt, tok.ExpiryPeriodInDays)
	}
	claims := jwtPayload(t, tok.Token)
	if claims["apiTokenId"] != tok.ID || claims["sub"] != tok.ID || claims["isAstronomerGenerated"] != true {
		t.Errorf("claims %v", claims)
	}
	if got := fmt.Sprint(claims["permissions"]); got != "[organizationId:"+org1+" workspaceId:"+ws1+"]" {
		t.Errorf("permissions %s", got)
	}
	if exp, ok := claims["exp"].(float64); !ok || int64(exp) != t0.Add(24*time.Hour).Unix() {
		t.Errorf("exp = %v", claims["exp"])
	}
	if claims["iss"] != "https://api.astronomer.io" || fmt.Sprint(claims["aud"]) != "[astronomer-ee]" || claims["version"] != "v1" || claims["jti"] == "" {
		t.Errorf("registered claims %v", claims)
	}

	// Organization and deployment tokens.
	org := e.createToken(map[string]any{"name": "o", "role": RoleOrganizationOwner, "scope": ScopeOrganization})
	oc := jwtPayload(t, org.Token)
	if fmt.Sprint(oc["permissions"]) != "[organizationId:"+org1+"]" {
		t.Errorf("org permissions %v", oc["permissions"])
	}
	if _, has := oc["exp"]; has {
		t.Error("never-expiring token has an exp claim")
	}
	dep := e.createToken(map[string]any{"name": "d", "role": RoleDeploymentAdmin, "scope": ScopeDeployment, "entityId": e.dep1})
	if fmt.Sprint(jwtPayload(t, dep.Token)["permissions"]) != "[organizationId:"+org1+" deploymentId:"+e.dep1+"]" {
		t.Errorf("deployment permissions %v", jwtPayload(t, dep.Token)["permissions"])
	}

	// Expiry on the fake clock.
	e.want(200, "GET", tokenPath(org1, tok.ID), tok.Token, nil)
	e.clock.Advance(24*time.Hour - time.Second)
	e.want(200, "GET", tokenPath(org1, tok.ID), tok.Token, nil)
	e.clock.Advance(time.Second)
	if e.s.Authenticates(tok.Token) {
		t.Error("expired value still authenticates")
	}
	e.want(401, "GET", tokenPath(org1, tok.ID), tok.Token, nil)
	// The never-expiring one is still fine ten years on.
	e.clock.Advance(3650 * 24 * time.Hour)
	e.want(200, "GET", tokenPath(org1, org.ID), org.Token, nil)
}

func Test401(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	foreign := New(Options{Now: e.clock.Now})
	foreign.AddOrganization(org1, "Acme")
	_, foreignValue := foreign.MintToken(TokenSpec{OrgID: org1, Role: RoleOrganizationOwner})

	rotated := e.createToken(map[string]any{"name": "r", "role": RoleOrganizationOwner, "scope": ScopeOrganization})
	e.want(200, "POST", tokenPath(org1, rotated.ID)+"/rotate", e.owner, nil)
	deleted := e.createToken(map[string]any{"name": "d", "role": RoleOrganizationOwner, "scope": ScopeOrganization})
	e.want(204, "DELETE", tokenPath(org1, deleted.ID), e.owner, nil)
	_, expired := e.s.MintToken(TokenSpec{OrgID: org1, Role: RoleOrganizationOwner, ExpiryDays: 1, CreatedAt: t0.Add(-48 * time.Hour)})

	tampered := e.owner[:len(e.owner)-2] + "xx"
	for _, tc := range []struct {
		name, header string
	}{
		{"missing", ""},
		{"basic scheme", "Basic " + e.owner},
		{"bearer without value", "Bearer "},
		{"garbage", "Bearer not-a-jwt"},
		{"tampered signature", "Bearer " + tampered},
		{"signed by another server", "Bearer " + foreignValue},
		{"rotated away", "Bearer " + rotated.Token},
		{"deleted", "Bearer " + deleted.Token},
		{"expired", "Bearer " + expired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+tokensPath(org1), nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body strings.Builder
			_, _ = fmt.Fprint(&body, readAll(t, res))
			if res.StatusCode != 401 {
				t.Fatalf("status %d: %s", res.StatusCode, body.String())
			}
			_, value, _ := strings.Cut(tc.header, " ")
			if len(value) > 8 && strings.Contains(body.String(), value) {
				t.Error("the 401 body echoes the token value")
			}
			r := resp{status: res.StatusCode, header: res.Header, body: []byte(body.String())}
			r.errBody(t)
		})
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

func TestRotate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.createToken(map[string]any{"name": "rot", "description": "d", "role": RoleWorkspaceOwner, "scope": ScopeWorkspace, "entityId": ws1, "tokenExpiryPeriodInDays": 30})
	e.clock.Advance(10 * 24 * time.Hour)
	var rot wireAPIToken
	e.want(200, "POST", tokenPath(org1, tok.ID)+"/rotate", e.owner, nil).decode(t, &rot)
	if rot.Token == "" || rot.Token == tok.Token {
		t.Fatal("rotate did not return a new value")
	}
	if rot.ID != tok.ID || rot.Name != tok.Name || rot.Description != tok.Description || rot.Scope != tok.Scope ||
		!slices.Equal(rot.Roles, tok.Roles) || *rot.ExpiryPeriodInDays != 30 || rot.CreatedAt != tok.CreatedAt {
		t.Errorf("rotate changed kept fields:\n%+v\n%+v", rot, tok)
	}
	now := "2026-03-11T12:00:00Z"
	if rot.LastRotatedAt != now || rot.UpdatedAt != now || rot.StartAt != now || rot.EndAt != "2026-04-10T12:00:00Z" {
		t.Errorf("rotation times: lastRotatedAt %q updatedAt %q startAt %q endAt %q", rot.LastRotatedAt, rot.UpdatedAt, rot.StartAt, rot.EndAt)
	}
	if rot.ShortToken == tok.ShortToken || strings.Contains(rot.Token, rot.ShortToken) {
		t.Errorf("shortToken %q after rotation (was %q)", rot.ShortToken, tok.ShortToken)
	}
	if jwtPayload(t, rot.Token)["jti"] == jwtPayload(t, tok.Token)["jti"] {
		t.Error("rotation kept the jti")
	}
	e.want(401, "GET", tokenPath(org1, tok.ID), tok.Token, nil)
	var got wireAPIToken
	e.want(200, "GET", tokenPath(org1, tok.ID), rot.Token, nil).decode(t, &got)
	if got.Token != "" {
		t.Error("GET after rotate shows the value")
	}

	// Self-rotation: a WORKSPACE_OWNER token rotates itself; its old value
	// dies with the response.
	var self wireAPIToken
	e.want(200, "POST", tokenPath(org1, tok.ID)+"/rotate", rot.Token, nil).decode(t, &self)
	e.want(401, "GET", tokenPath(org1, tok.ID), rot.Token, nil)
	e.want(200, "GET", tokenPath(org1, tok.ID), self.Token, nil)
	// Rotating a deleted or unknown token is 404.
	e.want(404, "POST", tokenPath(org1, "cnope0000000000000000000a")+"/rotate", e.owner, nil)
}

func TestUpdateToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.createToken(map[string]any{"name": "n", "description": "old", "role": RoleOrganizationMember, "scope": ScopeOrganization})
	e.clock.Advance(time.Minute)
	var up wireAPIToken
	e.want(200, "POST", tokenPath(org1, tok.ID), e.owner, map[string]any{"name": "renamed", "description": "new"}).decode(t, &up)
	if up.Name != "renamed" || up.Description != "new" || up.UpdatedAt != "2026-03-01T12:01:00Z" || up.CreatedAt != tok.CreatedAt || up.Token != "" {
		t.Errorf("update = %+v", up)
	}
	// Send-both semantics: an omitted description is cleared.
	e.want(200, "POST", tokenPath(org1, tok.ID), e.owner, map[string]any{"name": "renamed"}).decode(t, &up)
	if up.Description != "" {
		t.Errorf("description %q after update without one", up.Description)
	}
	for _, tc := range []struct {
		name string
		body any
	}{
		{"missing name", map[string]any{"description": "x"}},
		{"empty name", map[string]any{"name": ""}},
		{"long name", map[string]any{"name": strings.Repeat("n", 257)}},
		{"long description", map[string]any{"name": "ok", "description": strings.Repeat("d", 501)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.want(400, "POST", tokenPath(org1, tok.ID), e.owner, tc.body)
		})
	}
	e.want(200, "POST", tokenPath(org1, tok.ID), e.owner, map[string]any{"name": strings.Repeat("é", 256), "description": strings.Repeat("d", 500)})
	e.want(404, "POST", tokenPath(org1, "cnope0000000000000000000a"), e.owner, map[string]any{"name": "x"})
}

func TestDeleteToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.createToken(map[string]any{"name": "gone", "role": RoleOrganizationMember, "scope": ScopeOrganization})
	r := e.want(204, "DELETE", tokenPath(org1, tok.ID), e.owner, nil)
	if len(r.body) != 0 {
		t.Errorf("204 with body %q", r.body)
	}
	e.want(404, "DELETE", tokenPath(org1, tok.ID), e.owner, nil)
	e.want(404, "GET", tokenPath(org1, tok.ID), e.owner, nil)
	e.want(401, "GET", tokenPath(org1, tok.ID), tok.Token, nil)
	info, ok := e.s.Token(tok.ID)
	if !ok || !info.Deleted {
		t.Errorf("Token() after delete = %+v, %v", info, ok)
	}
	for _, ti := range e.s.Tokens() {
		if ti.ID == tok.ID {
			t.Error("Tokens() lists a deleted token")
		}
	}
	// Another org's token id is a 404 here, not a 403.
	e.want(404, "DELETE", tokenPath(org1, e.otherID), e.owner, nil)
}

func TestUpdateRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	orgTok := e.createToken(map[string]any{"name": "o", "role": RoleOrganizationMember, "scope": ScopeOrganization})
	rolesPath := tokenPath(org1, orgTok.ID) + "/roles"

	// Add the org token to ws1 and dep2: full set, SubjectRoles answer.
	var sr wireSubjectRoles
	e.want(200, "POST", rolesPath, e.owner, map[string]any{"roles": []map[string]any{
		{"entityType": ScopeOrganization, "entityId": org1, "role": RoleOrganizationMember},
		{"entityType": ScopeWorkspace, "entityId": ws1, "role": RoleWorkspaceOperator},
		{"entityType": ScopeDeployment, "entityId": e.dep2, "role": RoleDeploymentAdmin},
		{"entityType": EntityDAG, "entityId": "etl", "deploymentId": e.dep2, "role": "DAG_VIEWER"},
	}}).decode(t, &sr)
	if sr.OrganizationRole != RoleOrganizationMember ||
		!slices.Equal(sr.WorkspaceRoles, []wireWorkspaceRole{{Role: RoleWorkspaceOperator, WorkspaceID: ws1}}) ||
		!slices.Equal(sr.DeploymentRoles, []wireDeploymentRole{{DeploymentID: e.dep2, Role: RoleDeploymentAdmin}}) ||
		!slices.Equal(sr.DagRoles, []wireDagRole{{DagID: "etl", DeploymentID: e.dep2, Role: "DAG_VIEWER"}}) {
		t.Errorf("SubjectRoles = %+v", sr)
	}
	var got wireAPIToken
	e.want(200, "GET", tokenPath(org1, orgTok.ID), e.owner, nil).decode(t, &got)
	if len(got.Roles) != 4 {
		t.Errorf("roles after update %+v", got.Roles)
	}
	// Replacement removes what is not sent.
	e.want(200, "POST", rolesPath, e.owner, map[string]any{"roles": []map[string]any{
		{"entityType": ScopeOrganization, "entityId": org1, "role": RoleOrganizationMember},
	}}).decode(t, &sr)
	if len(sr.WorkspaceRoles)+len(sr.DeploymentRoles)+len(sr.DagRoles) != 0 {
		t.Errorf("roles not replaced: %+v", sr)
	}

	wsTok := e.createToken(map[string]any{"name": "w", "role": RoleWorkspaceMember, "scope": ScopeWorkspace, "entityId": ws1})
	depTok := e.createToken(map[string]any{"name": "d", "role": RoleDeploymentAdmin, "scope": ScopeDeployment, "entityId": e.dep1})
	own := func(typ, id, role string) map[string]any {
		return map[string]any{"entityType": typ, "entityId": id, "role": role}
	}
	for _, tc := range []struct {
		name   string
		tok    string
		body   any
		status int
	}{
		{"roles missing", orgTok.ID, map[string]any{}, 400},
		{"empty roles", orgTok.ID, map[string]any{"roles": []any{}}, 400},
		{"bad entity type", orgTok.ID, map[string]any{"roles": []any{own("TEAM", org1, RoleOrganizationMember)}}, 400},
		{"no own role", orgTok.ID, map[string]any{"roles": []any{own(ScopeWorkspace, ws1, RoleWorkspaceOwner)}}, 400},
		{"org entity not the org", orgTok.ID, map[string]any{"roles": []any{own(ScopeOrganization, org2, RoleOrganizationMember)}}, 400},
		{"workspace role name on org", orgTok.ID, map[string]any{"roles": []any{own(ScopeOrganization, org1, RoleWorkspaceOwner)}}, 400},
		{"duplicate entity", orgTok.ID, map[string]any{"roles": []any{own(ScopeOrganization, org1, RoleOrganizationMember), own(ScopeWorkspace, ws1, RoleWorkspaceOwner), own(ScopeWorkspace, ws1, RoleWorkspaceMember)}}, 400},
		{"unknown workspace", orgTok.ID, map[string]any{"roles": []any{own(ScopeOrganization, org1, RoleOrganizationMember), own(ScopeWorkspace, "cnope0000000000000000000a", RoleWorkspaceOwner)}}, 404},
		{"other org workspace", orgTok.ID, map[string]any{"roles": []any{own(ScopeOrganization, org1, RoleOrganizationMember), own(ScopeWorkspace, ws3, RoleWorkspaceOwner)}}, 404},
		{"unknown deployment", orgTok.ID, map[string]any{"roles": []any{own(ScopeOrganization, org1, RoleOrganizationMember), own(ScopeDeployment, "cnope0000000000000000000a", RoleDeploymentAdmin)}}, 404},
		{"dag role without deployment", orgTok.ID, map[string]any{"roles": []any{own(ScopeOrganization, org1, RoleOrganizationMember), own(EntityDAG, "etl", "DAG_VIEWER")}}, 400},
		{"workspace token with org role", wsTok.ID, map[string]any{"roles": []any{own(ScopeWorkspace, ws1, RoleWorkspaceMember), own(ScopeOrganization, org1, RoleOrganizationMember)}}, 400},
		{"workspace token two own roles", wsTok.ID, map[string]any{"roles": []any{own(ScopeWorkspace, ws1, RoleWorkspaceMember), own(ScopeWorkspace, ws1, RoleWorkspaceOwner)}}, 400},
		{"workspace token other workspace", wsTok.ID, map[string]any{"roles": []any{own(ScopeWorkspace, ws1, RoleWorkspaceMember), own(ScopeWorkspace, ws2, RoleWorkspaceOwner)}}, 400},
		{"workspace token deployment elsewhere", wsTok.ID, map[string]any{"roles": []any{own(ScopeWorkspace, ws1, RoleWorkspaceMember), own(ScopeDeployment, e.dep2, RoleDeploymentAdmin)}}, 400},
		{"deployment token workspace role", depTok.ID, map[string]any{"roles": []any{own(ScopeDeployment, e.dep1, RoleDeploymentAdmin), own(ScopeWorkspace, ws1, RoleWorkspaceMember)}}, 400},
		{"deployment token other deployment", depTok.ID, map[string]any{"roles": []any{own(ScopeDeployment, e.dep2, RoleDeploymentAdmin)}}, 400},
		{"unknown token", "cnope0000000000000000000a", map[string]any{"roles": []any{own(ScopeOrganization, org1, RoleOrganizationMember)}}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.s.Snapshot()
			e.want(tc.status, "POST", tokenPath(org1, tc.tok)+"/roles", e.owner, tc.body)
			if string(e.s.Snapshot()) != string(before) {
				t.Error("a rejected roles update changed the state")
			}
		})
	}
	// Allowed shapes for the narrower scopes.
	e.want(200, "POST", tokenPath(org1, wsTok.ID)+"/roles", e.owner, map[string]any{"roles": []any{
		own(ScopeWorkspace, ws1, RoleWorkspaceOperator), own(ScopeDeployment, e.dep1, RoleDeploymentAdmin)}})
	e.want(200, "POST", tokenPath(org1, depTok.ID)+"/roles", e.owner, map[string]any{"roles": []any{
		own(ScopeDeployment, e.dep1, RoleDeploymentAdmin),
		map[string]any{"entityType": EntityDAGTag, "entityId": "team-a", "deploymentId": e.dep1, "role": "DAG_AUTHOR"}}})
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	orgOnWS1 := e.createToken(map[string]any{"name": "org-on-ws1", "role": RoleOrganizationMember, "scope": ScopeOrganization})
	e.want(200, "POST", tokenPath(org1, orgOnWS1.ID)+"/roles", e.owner, map[string]any{"roles": []any{
		map[string]any{"entityType": ScopeOrganization, "entityId": org1, "role": RoleOrganizationMember},
		map[string]any{"entityType": ScopeWorkspace, "entityId": ws1, "role": RoleWorkspaceAuthor},
		map[string]any{"entityType": ScopeDeployment, "entityId": e.dep1, "role": RoleDeploymentAdmin},
	}})
	wsOnDep1 := e.createToken(map[string]any{"name": "ws1-on-dep1", "role": RoleWorkspaceMember, "scope": ScopeWorkspace, "entityId": ws1})
	e.want(200, "POST", tokenPath(org1, wsOnDep1.ID)+"/roles", e.owner, map[string]any{"roles": []any{
		map[string]any{"entityType": ScopeWorkspace, "entityId": ws1, "role": RoleWorkspaceMember},
		map[string]any{"entityType": ScopeDeployment, "entityId": e.dep1, "role": "VIEWER_CUSTOM"},
	}})
	ws2Tok := e.createToken(map[string]any{"name": "ws2", "role": RoleWorkspaceMember, "scope": ScopeWorkspace, "entityId": ws2})
	_ = ws2Tok

	names := func(query string) []string {
		var page wireTokensPage
		e.want(200, "GET", tokensPath(org1)+"?limit=1000&"+query, e.owner, nil).decode(t, &page)
		var out []string
		for _, tk := range page.Tokens {
			out = append(out, tk.Name)
		}
		if page.TotalCount != len(out) {
			t.Errorf("%s: totalCount %d for %d tokens", query, page.TotalCount, len(out))
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"owner", "member", "ws1-owner", "ws1-operator", "ws1-member", "dep1-admin", "org-on-ws1", "ws1-on-dep1", "ws2"}},
		{"includeOnlyOrganizationTokens=true", []string{"owner", "member", "org-on-ws1"}},
		{"workspaceId=" + ws1, []string{"ws1-owner", "ws1-operator", "ws1-member", "org-on-ws1", "ws1-on-dep1"}},
		{"workspaceId=" + ws2, []string{"ws2"}},
		{"deploymentId=" + e.dep1, []string{"dep1-admin", "org-on-ws1", "ws1-on-dep1"}},
		{"deploymentId=" + e.dep2, nil},
		{"workspaceId=" + ws1 + "&includeOnlyOrganizationTokens=true", []string{"org-on-ws1"}},
		{"kind=DIRECT_ACCESS", nil},
		{"sorts=name:desc&limit=3", []string{"ws2", "ws1-owner", "ws1-operator"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			got := names(tc.query)
			want := slices.Clone(tc.want)
			if strings.Contains(tc.query, "sorts=") {
				got = got[:min(3, len(got))]
			} else {
				// All these tokens share createdAt, so the default order
				// (createdAt, id) follows the random ids: compare as sets.
				slices.Sort(got)
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	e.want(404, "GET", tokensPath(org1)+"?workspaceId=cnope0000000000000000000a", e.owner, nil)
	e.want(404, "GET", tokensPath(org1)+"?deploymentId="+e.dep3, e.owner, nil)
	e.want(400, "GET", tokensPath(org1)+"?sorts=id:asc", e.owner, nil)
	e.want(400, "GET", tokensPath(org1)+"?includeOnlyOrganizationTokens=maybe", e.owner, nil)
}

func TestPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 25 {
		e.clock.Advance(time.Second)
		e.createToken(map[string]any{"name": fmt.Sprintf("t%02d", i), "role": RoleOrganizationMember, "scope": ScopeOrganization})
	}
	all := e.s.Tokens() // 7 seeded + 25
	if len(all) != 32 {
		t.Fatalf("%d tokens", len(all))
	}
	var seen []string
	for offset := 0; ; offset += 10 {
		var page wireTokensPage
		e.want(200, "GET", fmt.Sprintf("%s?offset=%d&limit=10", tokensPath(org1), offset), e.owner, nil).decode(t, &page)
		if page.TotalCount != 31 || page.Limit != 10 || page.Offset != offset {
			t.Fatalf("page %+v", page)
		}
		for _, tk := range page.Tokens {
			seen = append(seen, tk.ID)
		}
		if page.TotalCount <= offset+page.Limit {
			break
		}
	}
	var want []string
	for _, ti := range all {
		if ti.OrgID == org1 {
			want = append(want, ti.ID)
		}
	}
	if !slices.Equal(seen, want) {
		t.Errorf("pages give %d ids in another order than createdAt,id", len(seen))
	}
	var def wireTokensPage
	e.want(200, "GET", tokensPath(org1), e.owner, nil).decode(t, &def)
	if def.Limit != 20 || len(def.Tokens) != 20 || def.TotalCount != 31 {
		t.Errorf("default page: limit %d, %d tokens, total %d", def.Limit, len(def.Tokens), def.TotalCount)
	}
	var beyond wireTokensPage
	e.want(200, "GET", tokensPath(org1)+"?offset=100", e.owner, nil).decode(t, &beyond)
	if len(beyond.Tokens) != 0 || beyond.TotalCount != 31 {
		t.Errorf("beyond the end: %+v", beyond)
	}
	for _, q := range []string{"limit=1001", "limit=-1", "offset=-1", "limit=ten"} {
		e.want(400, "GET", tokensPath(org1)+"?"+q, e.owner, nil)
	}
	e.want(200, "GET", tokensPath(org1)+"?limit=1000", e.owner, nil)
}
