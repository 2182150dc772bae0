package astro

// The client driven against internal/astrofake: error responses, retries
// against injected faults, and secrets in errors.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// everyMethod calls each client method once; ListTokens and ListDeployments
// included. ids name a token and a deployment to address.
func everyMethod(tokID, depID string) []struct {
	name string
	call func(context.Context, *Client) error
} {
	return []struct {
		name string
		call func(context.Context, *Client) error
	}{
		{"ListTokens", func(ctx context.Context, c *Client) error {
			_, err := c.ListTokens(ctx, ListTokensOptions{})
			return err
		}},
		{"GetToken", func(ctx context.Context, c *Client) error { _, err := c.GetToken(ctx, tokID); return err }},
		{"CreateToken", func(ctx context.Context, c *Client) error {
			_, err := c.CreateToken(ctx, CreateTokenRequest{Name: "n", Role: "WORKSPACE_MEMBER", Scope: ScopeWorkspace, EntityID: fxWS1})
			return err
		}},
		{"UpdateToken", func(ctx context.Context, c *Client) error {
			_, err := c.UpdateToken(ctx, tokID, UpdateTokenRequest{Name: "n"})
			return err
		}},
		{"RotateToken", func(ctx context.Context, c *Client) error { _, err := c.RotateToken(ctx, tokID); return err }},
		{"DeleteToken", func(ctx context.Context, c *Client) error { return c.DeleteToken(ctx, tokID) }},
		{"SetTokenRoles", func(ctx context.Context, c *Client) error {
			_, err := c.SetTokenRoles(ctx, tokID, []Role{{EntityType: EntityWorkspace, EntityID: fxWS1, Role: "WORKSPACE_OWNER"}})
			return err
		}},
		{"ListDeployments", func(ctx context.Context, c *Client) error {
			_, err := c.ListDeployments(ctx, ListDeploymentsOptions{})
			return err
		}},
		{"GetDeployment", func(ctx context.Context, c *Client) error { _, err := c.GetDeployment(ctx, depID); return err }},
		{"CreateDeployment", func(ctx context.Context, c *Client) error {
			_, err := c.CreateDeployment(ctx, DeploymentRequest{Name: "x", WorkspaceID: fxWS1})
			return err
		}},
		{"UpdateDeployment", func(ctx context.Context, c *Client) error {
			_, err := c.UpdateDeployment(ctx, depID, DeploymentRequest{Type: "STANDARD", Name: "x", WorkspaceID: fxWS1, Executor: "CELERY",
				SchedulerSize: "SMALL", IsCicdEnforced: ptr(false), IsDagDeployEnabled: ptr(true), IsHighAvailability: ptr(false),
				EnvironmentVariables: []EnvironmentVariableRequest{{Key: "A", Value: ptr("b")}}})
			return err
		}},
		{"DeleteDeployment", func(ctx context.Context, c *Client) error { return c.DeleteDeployment(ctx, depID) }},
	}
}

// TestFakeErrorUnauthorized calls every method with a well-formed token the
// fake does not know: 401 everywhere, never retried, never uncertain.
func TestFakeErrorUnauthorized(t *testing.T) {
	t.Parallel()
	for i, m := range everyMethod("", "") {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			tokID, _ := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
			unknown := mint(t, map[string]any{"apiTokenId": "clunknown0000000000000000", "permissions": []string{"organizationId:" + fxOrg}})
			e.addSecret(unknown.Reveal())
			c := e.client(unknown.Reveal())
			err := e.seen(everyMethod(tokID, fxDep1)[i].call(context.Background(), c))
			ae := apiErr(t, err, 401)
			if !IsUnauthorized(err) || IsUncertain(err) || IsNotFound(err) {
				t.Fatalf("classification of %v", err)
			}
			reqs := e.fake.Requests()
			if len(reqs) != 1 || reqs[0].Status != 401 || reqs[0].TokenID != "" {
				t.Fatalf("requests = %+v, want one unauthenticated 401", reqs)
			}
			if ae.RequestID != reqs[0].RequestID {
				t.Fatalf("request id %q, fake logged %q", ae.RequestID, reqs[0].RequestID)
			}
			if !strings.Contains(err.Error(), ae.RequestID) || !strings.Contains(err.Error(), "ASTRO_API_TOKEN") {
				t.Fatalf("error text lacks the request id or the hint: %v", err)
			}
		})
	}
}

func TestFakeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		run    func(ctx context.Context, e *fxEnv) error
		status int
		check  func(t *testing.T, e *fxEnv, ae *APIError)
	}{
		{
			name: "403 workspace member creates a token", status: 403,
			run: func(ctx context.Context, e *fxEnv) error {
				_, val := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
				_, err := e.client(val).CreateToken(ctx, CreateTokenRequest{Name: "n", Role: "WORKSPACE_MEMBER", Scope: ScopeWorkspace, EntityID: fxWS1})
				return err
			},
			check: func(t *testing.T, e *fxEnv, ae *APIError) {
				if len(e.fake.Tokens()) != 2 {
					t.Fatal("a token was created")
				}
			},
		},
		{
			name: "403 workspace member rotates a token", status: 403,
			run: func(ctx context.Context, e *fxEnv) error {
				_, val := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
				_, err := e.client(val).RotateToken(ctx, e.ownerID)
				return err
			},
		},
		{
			name: "403 deployment admin deletes its deployment", status: 403,
			run: func(ctx context.Context, e *fxEnv) error {
				_, val := e.mint(astrofake.TokenSpec{Scope: "DEPLOYMENT", EntityID: fxDep1, Role: "DEPLOYMENT_ADMIN"})
				return e.client(val).DeleteDeployment(ctx, fxDep1)
			},
		},
		{
			name: "403 other organization", status: 403,
			run: func(ctx context.Context, e *fxEnv) error {
				_, val := e.mint(astrofake.TokenSpec{OrgID: fxOrg2, Role: "ORGANIZATION_OWNER"})
				// The client addresses the token's own org from its claims;
				// force fxOrg to cross organizations.
				c := e.client(val, func(c *Config) { c.OrganizationID = fxOrg })
				_, err := c.ListDeployments(ctx, ListDeploymentsOptions{})
				return err
			},
		},
		{
			name: "404 token", status: 404,
			run: func(ctx context.Context, e *fxEnv) error {
				_, err := e.client(e.owner).GetToken(ctx, "clnope00000000000000000000")
				return err
			},
		},
		{
			name: "404 rotate unknown token is certain", status: 404,
			run: func(ctx context.Context, e *fxEnv) error {
				_, err := e.client(e.owner).RotateToken(ctx, "clnope00000000000000000000")
				return err
			},
		},
		{
			name: "404 update roles of unknown token", status: 404,
			run: func(ctx context.Context, e *fxEnv) error {
				_, err := e.client(e.owner).SetTokenRoles(ctx, "clnope00000000000000000000", []Role{{EntityType: EntityOrganization, EntityID: fxOrg, Role: "ORGANIZATION_MEMBER"}})
				return err
			},
		},
		{
			name: "404 token of another organization", status: 404,
			run: func(ctx context.Context, e *fxEnv) error {
				id, _ := e.mint(astrofake.TokenSpec{OrgID: fxOrg2, Role: "ORGANIZATION_OWNER"})
				_, err := e.client(e.owner).UpdateToken(ctx, id, UpdateTokenRequest{Name: "mine now"})
				return err
			},
		},
		{
			name: "404 id with path characters stays one segment", status: 404,
			run: func(ctx context.Context, e *fxEnv) error {
				_, err := e.client(e.owner).GetToken(ctx, "../deployments/"+fxDep1)
				return err
			},
			check: func(t *testing.T, e *fxEnv, ae *APIError) {
				if r := e.fake.Requests()[0]; r.Route != "GetApiToken" {
					t.Fatalf("routed to %q (%s)", r.Route, r.Path)
				}
			},
		},
		{
			name: "400 create token without entityId", status: 400,
			run: func(ctx context.Context, e *fxEnv) error {
				_, err := e.client(e.owner).CreateToken(ctx, CreateTokenRequest{Name: "n", Role: "WORKSPACE_MEMBER", Scope: ScopeWorkspace})
				return err
			},
			check: func(t *testing.T, e *fxEnv, ae *APIError) {
				if len(ae.FieldErrors) != 1 || ae.FieldErrors[0].Field != "entityId" || ae.FieldErrors[0].Code != "required" || ae.FieldErrors[0].Message == "" {
					t.Fatalf("fieldErrors = %+v", ae.FieldErrors)
				}
				if !strings.Contains(ae.Error(), "entityId: ") {
					t.Fatalf("Error() does not show the field error: %s", ae.Error())
				}
			},
		},
		{
			name: "400 create token with a role of another scope", status: 400,
			run: func(ctx context.Context, e *fxEnv) error {
				_, err := e.client(e.owner).CreateToken(ctx, CreateTokenRequest{Name: "n", Role: "ORGANIZATION_OWNER", Scope: ScopeWorkspace, EntityID: fxWS1, ExpiryDays: 30})
				return err
			},
			check: func(t *testing.T, e *fxEnv, ae *APIError) {
				var fields []string
				for _, f := range ae.FieldErrors {
					fields = append(fields, f.Field)
				}
				if !slices.Equal(fields, []string{"role"}) {
					t.Fatalf("fields = %v", fields)
				}
			},
		},
		{
			name: "400 update deployment changes the type", status: 400,
			run: func(ctx context.Context, e *fxEnv) error {
				_, err := e.client(e.owner).UpdateDeployment(ctx, fxDep1, DeploymentRequest{Type: "DEDICATED", Name: "prod", WorkspaceID: fxWS1,
					Executor: "CELERY", SchedulerSize: "SMALL", IsCicdEnforced: ptr(false), IsDagDeployEnabled: ptr(true), IsHighAvailability: ptr(false),
					EnvironmentVariables: []EnvironmentVariableRequest{{Key: "PLAIN", Value: ptr("v")}}})
				return err
			},
			check: func(t *testing.T, e *fxEnv, ae *APIError) {
				if len(ae.FieldErrors) != 1 || ae.FieldErrors[0].Field != "type" {
					t.Fatalf("fieldErrors = %+v", ae.FieldErrors)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			err := e.seen(tt.run(context.Background(), e))
			ae := apiErr(t, err, tt.status)
			if IsUncertain(err) {
				t.Fatalf("a %d is not uncertain: %v", tt.status, err)
			}
			if n := len(e.fake.Requests()); n != 1 {
				t.Fatalf("%d requests: a %d must not be retried", n, tt.status)
			}
			if ae.RequestID != e.fake.Requests()[0].RequestID {
				t.Fatalf("request id %q, fake logged %q", ae.RequestID, e.fake.Requests()[0].RequestID)
			}
			if len(e.waits.get()) != 0 {
				t.Fatalf("waited %v", e.waits.get())
			}
			if tt.check != nil {
				tt.check(t, e, ae)
			}
		})
	}
}

func TestFakeFaults(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name      string
		fault     astrofake.Fault
		call      func(ctx context.Context, e *fxEnv, c *Client) error
		route     string
		wantReqs  int
		wantWaits []time.Duration
		uncertain bool
		status    int // StatusCode(err) when an error is expected; -1 = no APIError in the chain
		check     func(t *testing.T, e *fxEnv)
	}{
		{
			name:  "GetApiToken 503 twice, then success",
			fault: astrofake.Fault{Route: "GetApiToken", Status: 503, Times: 2},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				tok, err := c.GetToken(ctx, e.ownerID)
				if err == nil && tok.ID != e.ownerID {
					return fmt.Errorf("got %s", tok.ID)
				}
				return err
			},
			route: "GetApiToken", wantReqs: 3, wantWaits: []time.Duration{250 * ms, 500 * ms},
		},
		{
			name:  "GetApiToken 429 honours Retry-After",
			fault: astrofake.Fault{Route: "GetApiToken", Status: 429, RetryAfter: "2", Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				_, err := c.GetToken(ctx, e.ownerID)
				return err
			},
			route: "GetApiToken", wantReqs: 2, wantWaits: []time.Duration{2 * time.Second},
		},
		{
			name:  "GetApiToken 503 gives up after MaxAttempts",
			fault: astrofake.Fault{Route: "GetApiToken", Status: 503},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				_, err := c.GetToken(ctx, e.ownerID)
				return err
			},
			route: "GetApiToken", wantReqs: 5, wantWaits: []time.Duration{250 * ms, 500 * ms, time.Second, 2 * time.Second},
			status: 503,
		},
		{
			name:  "ListApiTokens dropped once is retried",
			fault: astrofake.Fault{Route: "ListApiTokens", Drop: true, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				l, err := c.ListTokens(ctx, ListTokensOptions{})
				if err == nil && len(l) != len(e.fake.Tokens()) {
					return fmt.Errorf("listed %v", ids(l))
				}
				return err
			},
			route: "ListApiTokens", wantReqs: 2, wantWaits: []time.Duration{250 * ms},
		},
		{
			name:  "ListDeployments 504 once is retried",
			fault: astrofake.Fault{Route: "ListDeployments", Status: 504, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				l, err := c.ListDeployments(ctx, ListDeploymentsOptions{})
				if err == nil && len(l) != 2 {
					return fmt.Errorf("listed %v", depIDs(l))
				}
				return err
			},
			route: "ListDeployments", wantReqs: 2, wantWaits: []time.Duration{250 * ms},
		},
		{
			name:  "UpdateApiToken applied, response dropped: retried (idempotent)",
			fault: astrofake.Fault{Route: "UpdateApiToken", Drop: true, AfterApply: true, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				tok, err := c.UpdateToken(ctx, e.ownerID, UpdateTokenRequest{Name: "renamed", Description: "d"})
				if err == nil && tok.Name != "renamed" {
					return fmt.Errorf("name %q", tok.Name)
				}
				return err
			},
			route: "UpdateApiToken", wantReqs: 2, wantWaits: []time.Duration{250 * ms},
		},
		{
			name:  "UpdateApiTokenRoles 502 once is retried",
			fault: astrofake.Fault{Route: "UpdateApiTokenRoles", Status: 502, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				id, _ := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
				_, err := c.SetTokenRoles(ctx, id, []Role{{EntityType: EntityWorkspace, EntityID: fxWS1, Role: "WORKSPACE_OWNER"}})
				return err
			},
			route: "UpdateApiTokenRoles", wantReqs: 2, wantWaits: []time.Duration{250 * ms},
		},
		{
			name:  "DeleteApiToken 503 once is retried",
			fault: astrofake.Fault{Route: "DeleteApiToken", Status: 503, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				id, _ := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
				return c.DeleteToken(ctx, id)
			},
			route: "DeleteApiToken", wantReqs: 2, wantWaits: []time.Duration{250 * ms},
		},
		{
			name:  "CreateApiToken 429 is retried (certainly not applied)",
			fault: astrofake.Fault{Route: "CreateApiToken", Status: 429, RetryAfter: "1", Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				tok, err := c.CreateToken(ctx, CreateTokenRequest{Name: "created", Role: "WORKSPACE_MEMBER", Scope: ScopeWorkspace, EntityID: fxWS1})
				e.keep(tok)
				return err
			},
			route: "CreateApiToken", wantReqs: 2, wantWaits: []time.Duration{time.Second},
			check: func(t *testing.T, e *fxEnv) {
				if n := len(e.tokensNamed("created")); n != 1 {
					t.Fatalf("%d tokens created, want 1", n)
				}
			},
		},
		{
			name:  "CreateApiToken applied, connection dropped: uncertain, token exists once",
			fault: astrofake.Fault{Route: "CreateApiToken", Drop: true, AfterApply: true, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				tok, err := c.CreateToken(ctx, CreateTokenRequest{Name: "created", Description: "nonce-123", Role: "WORKSPACE_MEMBER", Scope: ScopeWorkspace, EntityID: fxWS1})
				e.keep(tok)
				return err
			},
			route: "CreateApiToken", wantReqs: 1, uncertain: true, status: -1,
			check: func(t *testing.T, e *fxEnv) {
				got := e.tokensNamed("created")
				if len(got) != 1 || got[0].Description != "nonce-123" {
					t.Fatalf("tokens created: %+v, want exactly one", got)
				}
			},
		},
		{
			name:  "CreateApiToken 503 before applying: uncertain, nothing created",
			fault: astrofake.Fault{Route: "CreateApiToken", Status: 503, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				tok, err := c.CreateToken(ctx, CreateTokenRequest{Name: "created", Role: "WORKSPACE_MEMBER", Scope: ScopeWorkspace, EntityID: fxWS1})
				e.keep(tok)
				return err
			},
			route: "CreateApiToken", wantReqs: 1, uncertain: true, status: 503,
			check: func(t *testing.T, e *fxEnv) {
				if n := len(e.tokensNamed("created")); n != 0 {
					t.Fatalf("%d tokens created, want 0", n)
				}
			},
		},
		{
			name:  "RotateApiToken applied, then 502: uncertain, rotated",
			fault: astrofake.Fault{Route: "RotateApiToken", Status: 502, AfterApply: true, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				e.clock.Advance(time.Hour)
				tok, err := c.RotateToken(ctx, e.targetID)
				e.keep(tok)
				return err
			},
			route: "RotateApiToken", wantReqs: 1, uncertain: true, status: 502,
			check: func(t *testing.T, e *fxEnv) {
				ti, _ := e.fake.Token(e.targetID)
				if !ti.LastRotatedAt.Equal(fxT0.Add(time.Hour)) {
					t.Fatalf("lastRotatedAt = %v: the rotation was applied", ti.LastRotatedAt)
				}
				if e.fake.Authenticates(e.targetValue) {
					t.Fatal("the old value still works after an applied rotation")
				}
			},
		},
		{
			name:  "RotateApiToken 503 before applying: uncertain, not rotated",
			fault: astrofake.Fault{Route: "RotateApiToken", Status: 503, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				tok, err := c.RotateToken(ctx, e.targetID)
				e.keep(tok)
				return err
			},
			route: "RotateApiToken", wantReqs: 1, uncertain: true, status: 503,
			check: func(t *testing.T, e *fxEnv) {
				ti, _ := e.fake.Token(e.targetID)
				if !ti.LastRotatedAt.IsZero() || !e.fake.Authenticates(e.targetValue) {
					t.Fatalf("rotated although the fault answered first: %+v", ti)
				}
			},
		},
		{
			name:  "CreateDeployment applied, connection dropped: uncertain, exists once",
			fault: astrofake.Fault{Route: "CreateDeployment", Drop: true, AfterApply: true, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				_, err := c.CreateDeployment(ctx, DeploymentRequest{Name: "preview-x", WorkspaceID: fxWS1})
				return err
			},
			route: "CreateDeployment", wantReqs: 1, uncertain: true, status: -1,
			check: func(t *testing.T, e *fxEnv) {
				n := 0
				for _, d := range e.fake.Deployments() {
					if d.Name == "preview-x" {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%d deployments created, want 1", n)
				}
			},
		},
		{
			name:  "DeleteDeployment applied, then 502: retried, second answer 404",
			fault: astrofake.Fault{Route: "DeleteDeployment", Status: 502, AfterApply: true, Times: 1},
			call: func(ctx context.Context, e *fxEnv, c *Client) error {
				return c.DeleteDeployment(ctx, fxDep2)
			},
			route: "DeleteDeployment", wantReqs: 2, wantWaits: []time.Duration{250 * ms}, status: 404,
			check: func(t *testing.T, e *fxEnv) {
				if d, _ := e.fake.Deployment(fxDep2); !d.Deleted {
					t.Fatal("not deleted")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			e.targetID, e.targetValue = e.mint(astrofake.TokenSpec{Name: "target", Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_OWNER"})
			c := e.client(e.owner, noKeepAlive)
			e.fake.InjectFault(tt.fault)
			err := e.seen(tt.call(context.Background(), e, c))
			wantErr := tt.uncertain || tt.status != 0
			if !wantErr && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if wantErr && err == nil {
				t.Fatal("no error")
			}
			if IsUncertain(err) != tt.uncertain {
				t.Fatalf("IsUncertain(%v) = %v, want %v", err, IsUncertain(err), tt.uncertain)
			}
			if tt.uncertain {
				var ue *UncertainError
				if !errors.As(err, &ue) || ue.Method != "POST" || ue.Path == "" || ue.Err == nil {
					t.Fatalf("UncertainError = %+v", ue)
				}
			}
			switch {
			case tt.status > 0 && StatusCode(err) != tt.status:
				t.Fatalf("StatusCode(%v) = %d, want %d", err, StatusCode(err), tt.status)
			case tt.status < 0 && StatusCode(err) != 0:
				t.Fatalf("StatusCode(%v) = %d, want none (no response)", err, StatusCode(err))
			}
			if n := len(e.requests(tt.route)); n != tt.wantReqs {
				t.Fatalf("%d %s requests, want %d", n, tt.route, tt.wantReqs)
			}
			if w := e.waits.get(); !slices.Equal(w, tt.wantWaits) {
				t.Fatalf("waits = %v, want %v", w, tt.wantWaits)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// TestFakeNoSecretInErrors provokes every kind of error the client returns
// and looks for token values in their text (Error, %+v, %#v). Each fxEnv
// also checks, at cleanup, every error the other tests recorded with seen.
func TestFakeNoSecretInErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  func(ctx context.Context, e *fxEnv) error
	}{
		{"401 rotated-away value", func(ctx context.Context, e *fxEnv) error {
			id, old := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_OWNER"})
			tok, err := e.client(e.owner).RotateToken(ctx, id)
			e.keep(tok)
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			_, err = e.client(old).GetToken(ctx, id)
			return err
		}},
		{"401 deleted token", func(ctx context.Context, e *fxEnv) error {
			id, val := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_OWNER"})
			if err := e.client(e.owner).DeleteToken(ctx, id); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			_, err := e.client(val).ListTokens(ctx, ListTokensOptions{})
			return err
		}},
		{"401 expired token", func(ctx context.Context, e *fxEnv) error {
			_, val := e.mint(astrofake.TokenSpec{Role: "ORGANIZATION_OWNER", ExpiryDays: 1})
			e.clock.Advance(48 * time.Hour)
			_, err := e.client(val).CreateToken(ctx, CreateTokenRequest{Name: "n", Role: "ORGANIZATION_MEMBER", Scope: ScopeOrganization})
			return err
		}},
		{"403", func(ctx context.Context, e *fxEnv) error {
			_, val := e.mint(astrofake.TokenSpec{Scope: "WORKSPACE", EntityID: fxWS1, Role: "WORKSPACE_MEMBER"})
			_, err := e.client(val).RotateToken(ctx, e.ownerID)
			return err
		}},
		{"404 rotate", func(ctx context.Context, e *fxEnv) error {
			_, err := e.client(e.owner).RotateToken(ctx, "clnope00000000000000000000")
			return err
		}},
		{"400 with field errors", func(ctx context.Context, e *fxEnv) error {
			_, err := e.client(e.owner).CreateToken(ctx, CreateTokenRequest{Name: "n", Role: "NOPE", Scope: ScopeDeployment})
			return err
		}},
		{"uncertain create (dropped)", func(ctx context.Context, e *fxEnv) error {
			e.fake.InjectFault(astrofake.Fault{Route: "CreateApiToken", Drop: true, AfterApply: true, Times: 1})
			_, err := e.client(e.owner, noKeepAlive).CreateToken(ctx, CreateTokenRequest{Name: "n", Role: "ORGANIZATION_MEMBER", Scope: ScopeOrganization})
			return err
		}},
		{"uncertain rotate (applied, 502)", func(ctx context.Context, e *fxEnv) error {
			e.fake.InjectFault(astrofake.Fault{Route: "RotateApiToken", Status: 502, AfterApply: true, Times: 1})
			_, err := e.client(e.owner).RotateToken(ctx, e.ownerID)
			return err
		}},
		{"gave up (503)", func(ctx context.Context, e *fxEnv) error {
			e.fake.InjectFault(astrofake.Fault{Route: "ListDeployments", Status: 503})
			_, err := e.client(e.owner).ListDeployments(ctx, ListDeploymentsOptions{})
			return err
		}},
		{"gave up (dropped)", func(ctx context.Context, e *fxEnv) error {
			e.fake.InjectFault(astrofake.Fault{Route: "GetDeployment", Drop: true})
			_, err := e.client(e.owner, noKeepAlive).GetDeployment(ctx, fxDep1)
			return err
		}},
		{"context cancelled while waiting to retry", func(ctx context.Context, e *fxEnv) error {
			e.fake.InjectFault(astrofake.Fault{Route: "GetApiToken", Status: 503})
			ctx, cancel := context.WithCancel(ctx)
			c := e.client(e.owner, func(c *Config) {
				c.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
			})
			_, err := c.GetToken(ctx, e.ownerID)
			return err
		}},
		{"WithToken garbage", func(ctx context.Context, e *fxEnv) error {
			e.addSecret("astro_plain_secret_value_1234")
			_, err := e.client(e.owner).WithToken(secret.New("astro_plain_secret_value_1234"))
			return err
		}},
		{"New with a token without organization", func(ctx context.Context, e *fxEnv) error {
			v := mint(t, map[string]any{"apiTokenId": "x", "permissions": []string{"workspaceId:w"}})
			e.addSecret(v.Reveal())
			_, err := New(Config{BaseURL: e.srv.URL + "/v1", Token: v})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			err := tt.err(context.Background(), e)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.HasPrefix(err.Error(), "setup: ") {
				t.Fatal(err)
			}
			e.seen(err) // checked again at cleanup, with the trace lines
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%v", errors.Unwrap(err))} {
				if l := e.leaks(s); len(l) > 0 {
					t.Fatalf("the error text quotes %d secret value(s)", len(l))
				}
			}
			t.Logf("%v", err)
		})
	}
}
