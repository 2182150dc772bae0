package astro

// The client driven against internal/astrofake through the contract
// validator: API tokens. Deployments are in fake_deployments_test.go,
// errors, retries and leaks in fake_faults_test.go, helpers in
// fake_env_test.go.

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// listFixture seeds tokens of every scope in fxOrg, some with roles on other
// entities, and returns their ids by name.
func listFixture(e *fxEnv) map[string]string {
	m := map[string]string{"owner": e.ownerID}
	add := func(name string, spec astrofake.TokenSpec) {
		spec.Name = name
		id, _ := e.mint(spec)
		m[name] = id
	}
	// An organization token with a workspace role on ws1 (§3.2: listed for workspaceId=ws1).
	add("orgWithWS1", astrofake.TokenSpec{Role: "ORGANIZATION_MEMBER",
		ExtraRoles: []astrofake.Role{{EntityType: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_AUTHOR"}}})
	add("orgPlain", astrofake.TokenSpec{Role: "ORGANIZATION_BILLING_ADMIN"})
	add("ws1Owner", astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_OWNER"})
	// A workspace token with a deployment role on dep1 (listed for deploymentId=dep1).
	add("ws1WithDep1", astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER",
		ExtraRoles: []astrofake.Role{{EntityType: "DEPLOYMENT", EntityID: fxDep1, Role: "DEPLOYMENT_ADMIN"}}})
	add("ws2Member", astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS2, Role: "WORKSPACE_MEMBER"})
	add("dep1Admin", astrofake.TokenSpec{Scope: "DEPLOYMENT", EntityID: fxDep1, Role: "DEPLOYMENT_ADMIN"})
	add("dep2Admin", astrofake.TokenSpec{Scope: "DEPLOYMENT", EntityID: fxDep2, Role: "DEPLOYMENT_ADMIN"})
	// A token of another organization never shows.
	_, _ = e.mint(astrofake.TokenSpec{OrgID: fxOrg2, Name: "foreign", Role: "ORGANIZATION_OWNER"})
	return m
}

func TestFakeListTokensFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      ListTokensOptions
		wantQuery map[string]string
		want      []string // fixture names
	}{
		{
			name: "no filter",
			want: []string{"owner", "orgWithWS1", "orgPlain", "ws1Owner", "ws1WithDep1", "ws2Member", "dep1Admin", "dep2Admin"},
		},
		{
			name:      "workspaceId",
			opts:      ListTokensOptions{WorkspaceID: fxWS1},
			wantQuery: map[string]string{"workspaceId": fxWS1},
			want:      []string{"orgWithWS1", "ws1Owner", "ws1WithDep1"},
		},
		{
			name:      "deploymentId",
			opts:      ListTokensOptions{DeploymentID: fxDep1},
			wantQuery: map[string]string{"deploymentId": fxDep1},
			want:      []string{"ws1WithDep1", "dep1Admin"},
		},
		{
			name:      "includeOnlyOrganizationTokens",
			opts:      ListTokensOptions{IncludeOnlyOrganizationTokens: true},
			wantQuery: map[string]string{"includeOnlyOrganizationTokens": "true"},
			want:      []string{"owner", "orgWithWS1", "orgPlain"},
		},
		{
			name:      "workspaceId and includeOnlyOrganizationTokens",
			opts:      ListTokensOptions{WorkspaceID: fxWS1, IncludeOnlyOrganizationTokens: true},
			wantQuery: map[string]string{"workspaceId": fxWS1, "includeOnlyOrganizationTokens": "true"},
			want:      []string{"orgWithWS1"},
		},
		{
			name:      "deploymentId without tokens",
			opts:      ListTokensOptions{DeploymentID: fxDep2 + "x"},
			wantQuery: map[string]string{"deploymentId": fxDep2 + "x"},
			want:      nil, // unknown deployment: 404, checked below
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			m := listFixture(e)
			const ps = 2
			c := e.client(e.owner, pageSize(ps))
			got, err := c.ListTokens(context.Background(), tt.opts)
			if tt.want == nil {
				if !IsNotFound(e.seen(err)) {
					t.Fatalf("ListTokens(unknown deployment) = %v, want a 404", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ListTokens: %v", err)
			}
			var want []string
			for _, n := range tt.want {
				want = append(want, m[n])
			}
			if g, w := ids(got), sorted(want...); !slices.Equal(g, w) {
				t.Fatalf("ListTokens(%+v) = %v, want %v", tt.opts, g, w)
			}
			for _, tok := range got {
				if !tok.Value.IsZero() {
					t.Errorf("token %s listed with a value", tok.ID)
				}
			}
			reqs := e.requests("ListApiTokens")
			if len(reqs) != ceilDiv(len(want), ps) {
				t.Fatalf("%d list requests for %d tokens at page size %d, want %d", len(reqs), len(want), ps, ceilDiv(len(want), ps))
			}
			for i, r := range reqs {
				if r.Query.Get("offset") != strconv.Itoa(i*ps) || r.Query.Get("limit") != strconv.Itoa(ps) {
					t.Errorf("request %d: offset=%q limit=%q", i, r.Query.Get("offset"), r.Query.Get("limit"))
				}
				for k, v := range tt.wantQuery {
					if r.Query.Get(k) != v {
						t.Errorf("request %d: %s=%q, want %q (every page must carry the filter)", i, k, r.Query.Get(k), v)
					}
				}
				for _, k := range []string{"workspaceId", "deploymentId", "includeOnlyOrganizationTokens"} {
					if _, set := tt.wantQuery[k]; !set && r.Query.Has(k) {
						t.Errorf("request %d sends %s although the filter is unset", i, k)
					}
				}
			}
		})
	}
}

func TestFakeListTokensPagination(t *testing.T) {
	t.Parallel()
	tests := []struct{ tokens, pageSize int }{
		{1, 2}, // only the owner: one request
		{2, 2}, // exactly one full page: no second request
		{5, 2},
		{6, 2}, // the last page is full: totalCount, not a short page, ends the walk
		{7, 3},
		{9, 3},
		{9, 1000}, // default-sized pages
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.tokens)+"/"+strconv.Itoa(tt.pageSize), func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			// Several tokens share a creation second: the fake's order must
			// still be stable across pages.
			for i := 1; i < tt.tokens; i++ {
				if i%2 == 0 {
					e.clock.Advance(time.Second)
				}
				e.mint(astrofake.TokenSpec{Name: "t" + strconv.Itoa(i), Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
			}
			c := e.client(e.owner, pageSize(tt.pageSize))
			got, err := c.ListTokens(context.Background(), ListTokensOptions{})
			if err != nil {
				t.Fatalf("ListTokens: %v", err)
			}
			var want []string
			for _, ti := range e.fake.Tokens() {
				want = append(want, ti.ID)
			}
			g := ids(got)
			if len(g) != tt.tokens || !slices.Equal(g, sorted(want...)) || len(slices.Compact(slices.Clone(g))) != len(g) {
				t.Fatalf("got %d tokens %v, want the %d tokens %v, no duplicates", len(g), g, tt.tokens, sorted(want...))
			}
			if n, w := len(e.requests("ListApiTokens")), ceilDiv(tt.tokens, tt.pageSize); n != w {
				t.Fatalf("%d requests, want ceil(%d/%d) = %d", n, tt.tokens, tt.pageSize, w)
			}
		})
	}
}

func TestFakeTokenLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, e *fxEnv)
	}{
		{"GetToken", func(t *testing.T, e *fxEnv) {
			id, _ := e.mint(astrofake.TokenSpec{Name: "ci", Description: "for CI", Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_OPERATOR", ExpiryDays: 30})
			tok, err := e.client(e.owner).GetToken(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !tok.Value.IsZero() {
				t.Fatal("GetToken returned a value")
			}
			if tok.ID != id || tok.Name != "ci" || tok.Description != "for CI" || tok.Scope != ScopeWorkspace || tok.Kind != "STANDARD" {
				t.Fatalf("token = %+v", tok)
			}
			if tok.EntityID() != fxWS1 || len(tok.Roles) != 1 || tok.Roles[0].Role != "WORKSPACE_OPERATOR" {
				t.Fatalf("roles = %+v", tok.Roles)
			}
			if !tok.CreatedAt.Equal(fxT0) || !tok.StartAt.Equal(fxT0) || tok.EndAt == nil || !tok.EndAt.Equal(fxT0.AddDate(0, 0, 30)) ||
				tok.ExpiryPeriodInDays == nil || *tok.ExpiryPeriodInDays != 30 || tok.LastRotatedAt != nil {
				t.Fatalf("times = created %v start %v end %v period %v rotated %v", tok.CreatedAt, tok.StartAt, tok.EndAt, tok.ExpiryPeriodInDays, tok.LastRotatedAt)
			}
			if tok.ShortToken == "" || tok.CreatedBy == nil || tok.CreatedBy.Display() == "" {
				t.Fatalf("shortToken %q createdBy %+v", tok.ShortToken, tok.CreatedBy)
			}
		}},
		{"CreateToken", func(t *testing.T, e *fxEnv) {
			c := e.client(e.owner)
			cases := []struct {
				req    CreateTokenRequest
				entity string
				expiry bool
			}{
				{CreateTokenRequest{Name: "org", Description: "d", Role: "ORGANIZATION_MEMBER", Scope: ScopeOrganization}, fxOrg, false},
				{CreateTokenRequest{Name: "ws", Role: "WORKSPACE_OPERATOR", Scope: ScopeWorkspace, EntityID: fxWS1, ExpiryDays: 30}, fxWS1, true},
				{CreateTokenRequest{Name: "dep", Role: "DEPLOYMENT_ADMIN", Scope: ScopeDeployment, EntityID: fxDep1, ExpiryDays: 1}, fxDep1, true},
			}
			for _, cs := range cases {
				tok, err := c.CreateToken(context.Background(), cs.req)
				e.keep(tok)
				if err != nil {
					t.Fatalf("CreateToken(%s): %v", cs.req.Name, err)
				}
				if tok.Value.IsZero() || !e.fake.Authenticates(tok.Value.Reveal()) {
					t.Fatalf("%s: the value is missing or does not authenticate", cs.req.Name)
				}
				if tok.Scope != cs.req.Scope || tok.Name != cs.req.Name || tok.Description != cs.req.Description || tok.EntityID() != cs.entity {
					t.Fatalf("%s: token = %+v", cs.req.Name, tok)
				}
				if (tok.EndAt != nil) != cs.expiry {
					t.Fatalf("%s: endAt = %v, want set %v", cs.req.Name, tok.EndAt, cs.expiry)
				}
				cl, err := ParseClaims(tok.Value)
				if err != nil || cl.TokenID != tok.ID || cl.OrganizationID != fxOrg {
					t.Fatalf("%s: claims %+v, %v", cs.req.Name, cl, err)
				}
				if cs.expiry && (cl.ExpiresAt == nil || !cl.ExpiresAt.Equal(*tok.EndAt)) {
					t.Fatalf("%s: exp %v, endAt %v", cs.req.Name, cl.ExpiresAt, tok.EndAt)
				}
				// The new value works as a client credential.
				nc, err := c.WithToken(tok.Value)
				if err != nil {
					t.Fatal(err)
				}
				self, err := nc.GetToken(context.Background(), tok.ID)
				if err != nil || self.ID != tok.ID || !self.Value.IsZero() {
					t.Fatalf("%s: reading itself: %+v, %v", cs.req.Name, self, err)
				}
				if ti, ok := e.fake.Token(tok.ID); !ok || ti.Name != cs.req.Name || ti.Scope != string(cs.req.Scope) {
					t.Fatalf("%s: fake state %+v", cs.req.Name, ti)
				}
			}
			if n := len(e.requests("CreateApiToken")); n != len(cases) {
				t.Fatalf("%d create requests, want %d", n, len(cases))
			}
		}},
		{"UpdateToken", func(t *testing.T, e *fxEnv) {
			id, _ := e.mint(astrofake.TokenSpec{Name: "old", Description: "old desc", Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
			e.clock.Advance(time.Hour)
			c := e.client(e.owner)
			tok, err := c.UpdateToken(context.Background(), id, UpdateTokenRequest{Name: "new", Description: "new desc"})
			if err != nil {
				t.Fatal(err)
			}
			if tok.ID != id || tok.Name != "new" || tok.Description != "new desc" || !tok.Value.IsZero() || !tok.UpdatedAt.Equal(fxT0.Add(time.Hour)) {
				t.Fatalf("token = %+v", tok)
			}
			// Both fields are replaced: an empty description clears it.
			tok, err = c.UpdateToken(context.Background(), id, UpdateTokenRequest{Name: "newer"})
			if err != nil {
				t.Fatal(err)
			}
			ti, _ := e.fake.Token(id)
			if tok.Name != "newer" || tok.Description != "" || ti.Name != "newer" || ti.Description != "" {
				t.Fatalf("after clearing the description: client %+v, fake %+v", tok, ti)
			}
			if ti.Roles[0].Role != "WORKSPACE_MEMBER" {
				t.Fatalf("update touched the roles: %+v", ti.Roles)
			}
		}},
		{"RotateToken", func(t *testing.T, e *fxEnv) {
			id, old := e.mint(astrofake.TokenSpec{Name: "rot", Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_OWNER", ExpiryDays: 10})
			oldClient := e.client(old)
			if _, err := oldClient.GetToken(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(2 * time.Hour)
			before, _ := e.fake.Token(id)
			tok, err := e.client(e.owner).RotateToken(context.Background(), id)
			e.keep(tok)
			if err != nil {
				t.Fatal(err)
			}
			now := fxT0.Add(2 * time.Hour)
			if tok.ID != id || tok.Value.IsZero() || tok.Value.Reveal() == old {
				t.Fatalf("rotate: id %s (want %s), value changed %v", tok.ID, id, tok.Value.Reveal() != old)
			}
			if tok.LastRotatedAt == nil || !tok.LastRotatedAt.Equal(now) {
				t.Fatalf("lastRotatedAt = %v, want %v", tok.LastRotatedAt, now)
			}
			if e.fake.Authenticates(old) || !e.fake.Authenticates(tok.Value.Reveal()) {
				t.Fatal("after rotation the old value must fail and the new one work")
			}
			if tok.ShortToken == before.ShortToken {
				t.Error("shortToken did not change with the value")
			}
			after, _ := e.fake.Token(id)
			if !after.LastRotatedAt.Equal(now) || after.Name != "rot" || !slices.Equal(after.Roles, before.Roles) {
				t.Fatalf("fake state after rotation: %+v", after)
			}
			if _, err := oldClient.GetToken(context.Background(), id); !IsUnauthorized(e.seen(err)) {
				t.Fatalf("old value: err = %v, want 401", err)
			}
			nc, err := oldClient.WithToken(tok.Value)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nc.GetToken(context.Background(), id); err != nil {
				t.Fatalf("new value: %v", err)
			}
		}},
		{"RotateToken of itself, then WithToken", func(t *testing.T, e *fxEnv) {
			c := e.client(e.owner)
			tok, err := c.RotateToken(context.Background(), e.ownerID)
			e.keep(tok)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListTokens(context.Background(), ListTokensOptions{}); !IsUnauthorized(e.seen(err)) {
				t.Fatalf("self-rotated client: err = %v, want 401", err)
			}
			nc, err := c.WithToken(tok.Value)
			if err != nil {
				t.Fatal(err)
			}
			if nc.OrganizationID() != fxOrg || nc.Claims().TokenID != e.ownerID {
				t.Fatalf("WithToken: org %s claims %+v", nc.OrganizationID(), nc.Claims())
			}
			if _, err := nc.ListTokens(context.Background(), ListTokensOptions{}); err != nil {
				t.Fatalf("after WithToken: %v", err)
			}
		}},
		{"DeleteToken", func(t *testing.T, e *fxEnv) {
			id, _ := e.mint(astrofake.TokenSpec{Name: "doomed", Scope: "DEPLOYMENT", EntityID: fxDep1, Role: "DEPLOYMENT_ADMIN"})
			c := e.client(e.owner)
			if err := c.DeleteToken(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			if ti, ok := e.fake.Token(id); !ok || !ti.Deleted {
				t.Fatalf("fake: %+v", ti)
			}
			_, err := c.GetToken(context.Background(), id)
			apiErr(t, e.seen(err), 404)
			if !IsNotFound(err) {
				t.Fatal("IsNotFound false")
			}
			if err := c.DeleteToken(context.Background(), id); !IsNotFound(e.seen(err)) {
				t.Fatalf("second delete: %v, want 404", err)
			}
			list, err := c.ListTokens(context.Background(), ListTokensOptions{DeploymentID: fxDep1})
			if err != nil || len(list) != 0 {
				t.Fatalf("deleted token still listed: %v %v", ids(list), err)
			}
		}},
		{"WithToken", func(t *testing.T, e *fxEnv) {
			wsID, wsVal := e.mint(astrofake.TokenSpec{Name: "ws1", Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_OWNER"})
			ws2ID, _ := e.mint(astrofake.TokenSpec{Name: "ws2", Scope: "WORKSPACE", EntityID: fxWS2, Role: "WORKSPACE_OWNER"})
			goneID, goneVal := e.mint(astrofake.TokenSpec{Name: "gone", Role: "ORGANIZATION_OWNER"})
			c := e.client(e.owner)
			wc, err := c.WithToken(secret.New(wsVal))
			if err != nil {
				t.Fatal(err)
			}
			if wc.Claims().WorkspaceID != fxWS1 || wc.Claims().TokenID != wsID || wc.OrganizationID() != fxOrg {
				t.Fatalf("claims %+v", wc.Claims())
			}
			// The workspace token sees its own workspace's tokens, not the other one's.
			list, err := wc.ListTokens(context.Background(), ListTokensOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(ids(list), wsID) || slices.Contains(ids(list), ws2ID) || slices.Contains(ids(list), e.ownerID) {
				t.Fatalf("workspace token lists %v", ids(list))
			}
			if reqs := e.fake.Requests(); reqs[len(reqs)-1].TokenID != wsID {
				t.Fatalf("the request authenticated as %s, want %s", reqs[len(reqs)-1].TokenID, wsID)
			}
			// The original client is unaffected.
			if _, err := c.GetToken(context.Background(), ws2ID); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteToken(context.Background(), goneID); err != nil {
				t.Fatal(err)
			}
			gc, err := c.WithToken(secret.New(goneVal))
			if err != nil {
				t.Fatal(err)
			}
			_, err = gc.GetToken(context.Background(), goneID)
			apiErr(t, e.seen(err), 401)
			if !IsUnauthorized(err) {
				t.Fatal("IsUnauthorized false")
			}
			if _, err := c.WithToken(secret.New("not-a-jwt")); !errors.Is(e.seen(err), ErrNotAstroToken) {
				t.Fatalf("WithToken(garbage) = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newFxEnv(t))
		})
	}
}

func TestFakeSetTokenRoles(t *testing.T) {
	t.Parallel()
	t.Run("organization token given workspace and deployment roles, then replaced", func(t *testing.T) {
		t.Parallel()
		e := newFxEnv(t)
		id, val := e.mint(astrofake.TokenSpec{Name: "org member", Role: "ORGANIZATION_MEMBER"})
		c := e.client(e.owner)
		orgRole := Role{EntityType: EntityOrganization, EntityID: fxOrg, Role: "ORGANIZATION_MEMBER"}

		set1 := []Role{orgRole, {EntityType: EntityWorkspace, EntityID: fxWS1, Role: "WORKSPACE_OWNER"}}
		sr, err := c.SetTokenRoles(context.Background(), id, set1)
		if err != nil {
			t.Fatal(err)
		}
		if sr.OrganizationRole != "ORGANIZATION_MEMBER" || len(sr.WorkspaceRoles) != 1 || sr.WorkspaceRoles[0].WorkspaceID != fxWS1 ||
			sr.WorkspaceRoles[0].Role != "WORKSPACE_OWNER" || len(sr.DeploymentRoles) != 0 {
			t.Fatalf("SubjectRoles = %+v", sr)
		}
		// The grant takes effect: the token may now create workspace tokens in ws1.
		mc := e.client(val)
		created, err := mc.CreateToken(context.Background(), CreateTokenRequest{Name: "by member", Role: "WORKSPACE_MEMBER", Scope: ScopeWorkspace, EntityID: fxWS1})
		e.keep(created)
		if err != nil {
			t.Fatalf("create with the granted role: %v", err)
		}
		if l, err := c.ListTokens(context.Background(), ListTokensOptions{WorkspaceID: fxWS1, IncludeOnlyOrganizationTokens: true}); err != nil || !slices.Equal(ids(l), []string{id}) {
			t.Fatalf("org tokens with a role on ws1: %v %v", ids(l), err)
		}

		// Full replacement: ws1 goes, ws2 and dep2 come.
		set2 := []Role{orgRole,
			{EntityType: EntityWorkspace, EntityID: fxWS2, Role: "WORKSPACE_MEMBER"},
			{EntityType: EntityDeployment, EntityID: fxDep2, Role: "DEPLOYMENT_ADMIN"}}
		sr, err = c.SetTokenRoles(context.Background(), id, set2)
		if err != nil {
			t.Fatal(err)
		}
		if len(sr.WorkspaceRoles) != 1 || sr.WorkspaceRoles[0].WorkspaceID != fxWS2 || len(sr.DeploymentRoles) != 1 || sr.DeploymentRoles[0].DeploymentID != fxDep2 {
			t.Fatalf("SubjectRoles = %+v", sr)
		}
		tok, err := c.GetToken(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tok.Roles, set2) {
			t.Fatalf("roles = %+v, want %+v", tok.Roles, set2)
		}
		if tok.EntityID() != fxOrg {
			t.Fatalf("EntityID = %s", tok.EntityID())
		}
		if l, err := c.ListTokens(context.Background(), ListTokensOptions{WorkspaceID: fxWS1, IncludeOnlyOrganizationTokens: true}); err != nil || len(l) != 0 {
			t.Fatalf("the ws1 role survived the replacement: %v %v", ids(l), err)
		}
		if l, err := c.ListTokens(context.Background(), ListTokensOptions{WorkspaceID: fxWS2, IncludeOnlyOrganizationTokens: true}); err != nil || !slices.Equal(ids(l), []string{id}) {
			t.Fatalf("org tokens with a role on ws2: %v %v", ids(l), err)
		}
		// The ws1 grant is gone for the token too.
		_, err = mc.CreateToken(context.Background(), CreateTokenRequest{Name: "again", Role: "WORKSPACE_MEMBER", Scope: ScopeWorkspace, EntityID: fxWS1})
		apiErr(t, e.seen(err), 403)
	})

	t.Run("workspace token gains a deployment role", func(t *testing.T) {
		t.Parallel()
		e := newFxEnv(t)
		id, _ := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
		roles := []Role{
			{EntityType: EntityWorkspace, EntityID: fxWS1, Role: "WORKSPACE_AUTHOR"},
			{EntityType: EntityDeployment, EntityID: fxDep1, Role: "DEPLOYMENT_ADMIN"},
		}
		sr, err := e.client(e.owner).SetTokenRoles(context.Background(), id, roles)
		if err != nil {
			t.Fatal(err)
		}
		if sr.OrganizationRole != "" || len(sr.WorkspaceRoles) != 1 || sr.WorkspaceRoles[0].Role != "WORKSPACE_AUTHOR" || len(sr.DeploymentRoles) != 1 {
			t.Fatalf("SubjectRoles = %+v", sr)
		}
		ti, _ := e.fake.Token(id)
		if len(ti.Roles) != 2 || ti.Roles[0].Role != "WORKSPACE_AUTHOR" || ti.Roles[1].EntityID != fxDep1 {
			t.Fatalf("fake roles = %+v", ti.Roles)
		}
	})

	t.Run("rejected sets", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name      string
			roles     []Role
			wantField string
		}{
			{"no role on its own workspace", []Role{{EntityType: EntityWorkspace, EntityID: fxWS2, Role: "WORKSPACE_MEMBER"}}, ""},
			{"workspace token with an organization role", []Role{
				{EntityType: EntityWorkspace, EntityID: fxWS1, Role: "WORKSPACE_MEMBER"},
				{EntityType: EntityOrganization, EntityID: fxOrg, Role: "ORGANIZATION_MEMBER"}}, ""},
		}
		// An empty set is invalid per the description (minItems 1): the
		// client refuses it without a request.
		for _, roles := range [][]Role{nil, {}} {
			e := newFxEnv(t, fxOptions{})
			id, _ := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
			if _, err := e.client(e.owner).SetTokenRoles(context.Background(), id, roles); err == nil || len(e.requests("UpdateApiTokenRoles")) != 0 {
				t.Fatalf("empty role set: err %v, %d requests", err, len(e.requests("UpdateApiTokenRoles")))
			}
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newFxEnv(t, fxOptions{lenient: true})
				id, _ := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
				before, _ := e.fake.Token(id)
				_, err := e.client(e.owner).SetTokenRoles(context.Background(), id, tt.roles)
				ae := apiErr(t, e.seen(err), 400)
				if len(ae.FieldErrors) == 0 {
					t.Fatalf("no fieldErrors: %+v", ae)
				}
				if tt.wantField != "" && ae.FieldErrors[0].Field != tt.wantField {
					t.Fatalf("fieldErrors = %+v, want field %s", ae.FieldErrors, tt.wantField)
				}
				for _, f := range ae.FieldErrors {
					if f.Code == "" || f.Message == "" || f.Field == "" {
						t.Fatalf("incomplete field error %+v", f)
					}
				}
				if after, _ := e.fake.Token(id); !slices.Equal(after.Roles, before.Roles) {
					t.Fatalf("a rejected set changed the roles: %+v", after.Roles)
				}
				if n := len(e.requests("UpdateApiTokenRoles")); n != 1 {
					t.Fatalf("%d requests, a 400 must not be retried", n)
				}
			})
		}
	})
}

// TestServerTimeIsAstrosClock: the client reads Astro's time from the Date
// header (the fake sends its own clock), never goes back, and shares it with
// the clients WithToken derives. Rotation judges whether another run's
// deadline has passed with it, so runners with skewed clocks agree.
func TestServerTimeIsAstrosClock(t *testing.T) {
	t.Parallel()
	e := newFxEnv(t)
	c := e.client(e.owner)
	if _, ok := c.ServerTime(); ok {
		t.Fatal("ServerTime known before any answer")
	}
	e.clock.Advance(90 * time.Minute)
	if _, err := c.GetToken(context.Background(), e.ownerID); err != nil {
		t.Fatal(err)
	}
	got, ok := c.ServerTime()
	if !ok || !got.Equal(fxT0.Add(90*time.Minute)) {
		t.Fatalf("ServerTime = %v %v, want %v", got, ok, fxT0.Add(90*time.Minute))
	}
	_, v := e.mint(astrofake.TokenSpec{Name: "other", Role: "ORGANIZATION_OWNER"})
	d, err := c.WithToken(secret.New(v))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := d.ServerTime(); !st.Equal(got) {
		t.Fatalf("derived client's ServerTime = %v, want %v", st, got)
	}
	e.clock.Advance(-time.Hour) // an older Date (another server behind a balancer) never moves it back
	if _, err := d.GetToken(context.Background(), e.ownerID); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.ServerTime(); !st.Equal(got) {
		t.Fatalf("ServerTime went back to %v", st)
	}
}
