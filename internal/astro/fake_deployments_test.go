package astro

// The client driven against internal/astrofake: Deployments.

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/astro-ci/astro-ci/internal/astrofake"
)

func TestFakeListDeployments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      ListDeploymentsOptions
		pageSize  int
		want      []string // fixture names
		wantQuery map[string][]string
	}{
		{name: "no filter", want: []string{"prod", "analytics", "preview1", "preview2", "lonely"}},
		{
			name: "one workspace", opts: ListDeploymentsOptions{WorkspaceIDs: []string{fxWS1}},
			want: []string{"prod", "preview1", "lonely"}, wantQuery: map[string][]string{"workspaceIds": {fxWS1}},
		},
		{
			name: "two workspaces, exploded", opts: ListDeploymentsOptions{WorkspaceIDs: []string{fxWS1, fxWS2}},
			want: []string{"prod", "analytics", "preview1", "preview2", "lonely"}, wantQuery: map[string][]string{"workspaceIds": {fxWS1, fxWS2}},
		},
		{
			name: "a name two deployments share", opts: ListDeploymentsOptions{Names: []string{"preview"}},
			want: []string{"preview1", "preview2"}, wantQuery: map[string][]string{"names": {"preview"}},
		},
		{
			name: "several names", opts: ListDeploymentsOptions{Names: []string{"preview", "prod"}},
			want: []string{"prod", "preview1", "preview2"}, wantQuery: map[string][]string{"names": {"preview", "prod"}},
		},
		{
			name: "name with spaces and symbols", opts: ListDeploymentsOptions{Names: []string{"pr #7 / feature&x"}},
			want: []string{"lonely"}, wantQuery: map[string][]string{"names": {"pr #7 / feature&x"}},
		},
		{
			name: "deployment ids", opts: ListDeploymentsOptions{DeploymentIDs: []string{fxDep1, fxDep2}},
			want: []string{"prod", "analytics"}, wantQuery: map[string][]string{"deploymentIds": {fxDep1, fxDep2}},
		},
		{
			name: "workspace and name", opts: ListDeploymentsOptions{WorkspaceIDs: []string{fxWS2}, Names: []string{"preview"}},
			want: []string{"preview2"}, wantQuery: map[string][]string{"workspaceIds": {fxWS2}, "names": {"preview"}},
		},
		{name: "no match", opts: ListDeploymentsOptions{Names: []string{"nope"}}, want: []string{}},
		{name: "paginated", pageSize: 2, want: []string{"prod", "analytics", "preview1", "preview2", "lonely"}},
		{
			name: "paginated with filter", pageSize: 1, opts: ListDeploymentsOptions{Names: []string{"preview"}},
			want: []string{"preview1", "preview2"}, wantQuery: map[string][]string{"names": {"preview"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			m := map[string]string{"prod": fxDep1, "analytics": fxDep2}
			m["preview1"] = e.fake.AddDeployment(astrofake.SeedDeployment{Name: "preview", WorkspaceID: fxWS1})
			m["preview2"] = e.fake.AddDeployment(astrofake.SeedDeployment{Name: "preview", WorkspaceID: fxWS2})
			m["lonely"] = e.fake.AddDeployment(astrofake.SeedDeployment{Name: "pr #7 / feature&x", WorkspaceID: fxWS1})
			e.fake.AddDeployment(astrofake.SeedDeployment{Name: "preview", WorkspaceID: fxWSOrg2}) // another organization
			ps := tt.pageSize
			if ps == 0 {
				ps = DefaultPageSize
			}
			got, err := e.client(e.owner, pageSize(ps)).ListDeployments(context.Background(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, n := range tt.want {
				want = append(want, m[n])
			}
			if g := depIDs(got); !slices.Equal(g, sorted(want...)) {
				t.Fatalf("ListDeployments(%+v) = %v, want %v", tt.opts, g, sorted(want...))
			}
			reqs := e.requests("ListDeployments")
			if w := max(1, ceilDiv(len(want), ps)); len(reqs) != w {
				t.Fatalf("%d requests, want %d", len(reqs), w)
			}
			for i, r := range reqs {
				if r.Query.Get("offset") != strconv.Itoa(i*ps) || r.Query.Get("limit") != strconv.Itoa(ps) {
					t.Errorf("request %d: offset=%q limit=%q", i, r.Query.Get("offset"), r.Query.Get("limit"))
				}
				for k, v := range tt.wantQuery {
					if !slices.Equal(r.Query[k], v) {
						t.Errorf("request %d: %s = %q, want %q", i, k, r.Query[k], v)
					}
				}
			}
		})
	}
}

func TestFakeGetDeployment(t *testing.T) {
	t.Parallel()
	e := newFxEnv(t)
	d, err := e.client(e.owner).GetDeployment(context.Background(), fxDep1)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != fxDep1 || d.Name != "prod" || d.Description != "production" || d.WorkspaceID != fxWS1 || d.WorkspaceName != "Data Platform" ||
		d.OrganizationID != fxOrg || d.Status != "HEALTHY" || d.Type != "STANDARD" || d.Executor != "CELERY" || d.SchedulerSize != "MEDIUM" ||
		d.AstroRuntimeVersion != "12.6.0" || d.CloudProvider != "AWS" || d.Region != "us-east-1" || !d.IsDagDeployEnabled || d.IsCicdEnforced {
		t.Fatalf("deployment = %+v", d)
	}
	if d.IsHighAvailability == nil || *d.IsHighAvailability || d.WebServerURL == "" || d.UIURL == "" || d.CreatedAt.IsZero() {
		t.Fatalf("deployment = %+v", d)
	}
	if len(d.WorkerQueues) != 1 || d.WorkerQueues[0].Name != "default" || !d.WorkerQueues[0].IsDefault || d.WorkerQueues[0].AstroMachine != "A10" ||
		d.WorkerQueues[0].MaxWorkerCount != 5 || d.WorkerQueues[0].ID == "" {
		t.Fatalf("queues = %+v", d.WorkerQueues)
	}
	env := map[string]EnvironmentVariable{}
	for _, v := range d.EnvironmentVariables {
		env[v.Key] = v
	}
	if p := env["PLAIN"]; p.IsSecret || p.Value == nil || *p.Value != "visible" {
		t.Fatalf("PLAIN = %+v", p)
	}
	if s, ok := env["SECRET"]; !ok || !s.IsSecret || s.Value != nil {
		t.Fatalf("SECRET = %+v (the value must not come back)", s)
	}
	_, err = e.client(e.owner).GetDeployment(context.Background(), "clnope00000000000000000000")
	apiErr(t, e.seen(err), 404)
}

// standardCreate is a full STANDARD create body.
func standardCreate() DeploymentRequest {
	return DeploymentRequest{
		Type: "STANDARD", Name: "preview-pr-7", Description: "astro-ci preview", WorkspaceID: fxWS1,
		CloudProvider: "AWS", Region: "us-east-1", AstroRuntimeVersion: "13.1.0",
		Executor: "CELERY", SchedulerSize: "SMALL",
		IsCicdEnforced: ptr(false), IsDagDeployEnabled: ptr(true), IsHighAvailability: ptr(false), IsDevelopmentMode: ptr(false),
		DefaultTaskPodCPU: "0.25", DefaultTaskPodMemory: "0.5Gi", ResourceQuotaCPU: "10", ResourceQuotaMemory: "20Gi",
		WorkerQueues: []WorkerQueueRequest{
			{Name: "default", IsDefault: true, AstroMachine: "A5", MinWorkerCount: 0, MaxWorkerCount: 3, WorkerConcurrency: 5},
			{Name: "heavy", AstroMachine: "A20", MinWorkerCount: 1, MaxWorkerCount: 2, WorkerConcurrency: 8},
		},
		EnvironmentVariables: []EnvironmentVariableRequest{
			{Key: "PLAIN", Value: ptr("one")},
			{Key: "TO_DROP", Value: ptr("x")},
			{Key: "API_KEY", IsSecret: true, Value: ptr("sup3r-s3cret-api-key")},
		},
		ContactEmails: []string{"ops@example.com"},
	}
}

func TestFakeDeploymentLifecycle(t *testing.T) {
	t.Parallel()
	e := newFxEnv(t)
	const apiKey = "sup3r-s3cret-api-key"
	e.addSecret(apiKey)
	c := e.client(e.owner)
	ctx := context.Background()

	// Create.
	d, err := c.CreateDeployment(ctx, standardCreate())
	if err != nil {
		t.Fatal(err)
	}
	if d.ID == "" || d.Status != "CREATING" || d.Name != "preview-pr-7" || d.Description != "astro-ci preview" || d.WorkspaceID != fxWS1 ||
		d.Type != "STANDARD" || d.Executor != "CELERY" || d.SchedulerSize != "SMALL" || d.AstroRuntimeVersion != "13.1.0" || !d.IsDagDeployEnabled {
		t.Fatalf("created = %+v", d)
	}
	if len(d.WorkerQueues) != 2 || d.WorkerQueues[0].Name != "default" || !d.WorkerQueues[0].IsDefault || d.WorkerQueues[1].WorkerConcurrency != 8 {
		t.Fatalf("queues = %+v", d.WorkerQueues)
	}
	for _, v := range d.EnvironmentVariables {
		if v.Key == "API_KEY" && (!v.IsSecret || v.Value != nil) {
			t.Fatalf("secret variable came back with a value: %+v", v)
		}
	}
	if di, ok := e.fake.Deployment(d.ID); !ok || di.SecretEnv["API_KEY"] != apiKey || di.Env["PLAIN"] != "one" {
		t.Fatalf("fake state: %+v", di)
	}
	if n := len(e.requests("CreateDeployment")); n != 1 {
		t.Fatalf("%d create requests", n)
	}

	// CREATING until the fake's clock passes DeploymentReadyAfter.
	if g, err := c.GetDeployment(ctx, d.ID); err != nil || g.Status != "CREATING" {
		t.Fatalf("before ready: %v %v", g, err)
	}
	e.clock.Advance(fxReadyAfter + 1)
	g, err := c.GetDeployment(ctx, d.ID)
	if err != nil || g.Status != "HEALTHY" {
		t.Fatalf("after ready: status %v, %v", g, err)
	}

	// Update: a full replacement, as UpdateStandardDeploymentRequest requires.
	upd := DeploymentRequest{
		Type: "STANDARD", Name: "preview-pr-7-renamed", WorkspaceID: fxWS1,
		Executor: "ASTRO", SchedulerSize: "MEDIUM",
		IsCicdEnforced: ptr(true), IsDagDeployEnabled: ptr(false), IsHighAvailability: ptr(true),
		WorkerQueues: []WorkerQueueRequest{
			{ID: g.WorkerQueues[0].ID, Name: "default", IsDefault: true, AstroMachine: "A10", MinWorkerCount: 1, MaxWorkerCount: 4, WorkerConcurrency: 6},
		},
		EnvironmentVariables: []EnvironmentVariableRequest{
			{Key: "PLAIN", Value: ptr("two")},
			{Key: "API_KEY", IsSecret: true}, // no value: keep the stored one
			{Key: "NEW", Value: ptr("3")},
		},
	}
	u, err := c.UpdateDeployment(ctx, d.ID, upd)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != d.ID || u.Name != "preview-pr-7-renamed" || u.Executor != "ASTRO" || u.SchedulerSize != "MEDIUM" || !u.IsCicdEnforced ||
		u.IsDagDeployEnabled || u.IsHighAvailability == nil || !*u.IsHighAvailability || u.Description != "" || u.Status != "HEALTHY" {
		t.Fatalf("updated = %+v", u)
	}
	if len(u.WorkerQueues) != 1 || u.WorkerQueues[0].ID != g.WorkerQueues[0].ID || u.WorkerQueues[0].MaxWorkerCount != 4 {
		t.Fatalf("queues = %+v", u.WorkerQueues)
	}
	var keys []string
	for _, v := range u.EnvironmentVariables {
		keys = append(keys, v.Key)
		if v.IsSecret && v.Value != nil {
			t.Fatalf("secret variable came back with a value: %+v", v)
		}
	}
	if !slices.Equal(keys, []string{"PLAIN", "API_KEY", "NEW"}) {
		t.Fatalf("env keys = %v (TO_DROP must be gone)", keys)
	}
	di, _ := e.fake.Deployment(d.ID)
	if di.SecretEnv["API_KEY"] != apiKey || di.Env["PLAIN"] != "two" || di.Env["NEW"] != "3" || di.Env["TO_DROP"] != "" ||
		!di.IsCicdEnforced || di.IsDagDeployEnabled || !di.IsHighAvailability || di.Executor != "ASTRO" || di.SchedulerSize != "MEDIUM" {
		t.Fatalf("fake state after update: %+v", di)
	}

	// Update of an unknown deployment.
	_, err = c.UpdateDeployment(ctx, "clnope00000000000000000000", upd)
	apiErr(t, e.seen(err), 404)

	// Delete, then 404.
	if err := c.DeleteDeployment(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if di, _ := e.fake.Deployment(d.ID); !di.Deleted {
		t.Fatal("fake: not deleted")
	}
	_, err = c.GetDeployment(ctx, d.ID)
	apiErr(t, e.seen(err), 404)
	if err := c.DeleteDeployment(ctx, d.ID); !IsNotFound(e.seen(err)) {
		t.Fatalf("second delete: %v", err)
	}
	if l, err := c.ListDeployments(ctx, ListDeploymentsOptions{DeploymentIDs: []string{d.ID}}); err != nil || len(l) != 0 {
		t.Fatalf("deleted deployment listed: %v %v", depIDs(l), err)
	}
}

// TestFakeUpdateDeploymentWithoutEnvironmentVariables updates a Deployment
// to have no environment variables. UpdateStandardDeploymentRequest
// requires environmentVariables; an empty list is how a caller says "none".
func TestFakeUpdateDeploymentWithoutEnvironmentVariables(t *testing.T) {
	t.Parallel()
	e := newFxEnv(t)
	c := e.client(e.owner)
	upd := DeploymentRequest{
		Type: "STANDARD", Name: "analytics", WorkspaceID: fxWS2, Executor: "CELERY", SchedulerSize: "SMALL",
		IsCicdEnforced: ptr(false), IsDagDeployEnabled: ptr(true), IsHighAvailability: ptr(false),
		EnvironmentVariables: []EnvironmentVariableRequest{},
	}
	if _, err := c.UpdateDeployment(context.Background(), fxDep2, upd); err != nil {
		t.Fatalf("UpdateDeployment with an empty environmentVariables list: %v", e.seen(err))
	}
	// dep1 has two variables: clearing them must work too.
	upd.Name, upd.WorkspaceID = "prod", fxWS1
	if _, err := c.UpdateDeployment(context.Background(), fxDep1, upd); err != nil {
		t.Fatalf("clearing the environment variables: %v", e.seen(err))
	}
	if di, _ := e.fake.Deployment(fxDep1); len(di.EnvVars) != 0 {
		t.Fatalf("variables left: %+v", di.EnvVars)
	}
}

func TestFakeCreateDeploymentRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mutate    func(*DeploymentRequest)
		wantField string
	}{
		{"no default queue", func(r *DeploymentRequest) { r.WorkerQueues = r.WorkerQueues[1:] }, "workerQueues"},
		{"secret without value", func(r *DeploymentRequest) {
			r.EnvironmentVariables = []EnvironmentVariableRequest{{Key: "S", IsSecret: true}}
		}, "environmentVariables[0].value"},
		{"unknown workspace", func(r *DeploymentRequest) { r.WorkspaceID = "clnope00000000000000000000" }, "workspaceId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			e.addSecret("sup3r-s3cret-api-key")
			req := standardCreate()
			tt.mutate(&req)
			before := len(e.fake.Deployments())
			_, err := e.client(e.owner).CreateDeployment(context.Background(), req)
			ae := apiErr(t, e.seen(err), 400)
			if IsUncertain(err) {
				t.Fatal("a 400 is certain: nothing was created")
			}
			if len(ae.FieldErrors) == 0 || ae.FieldErrors[0].Field != tt.wantField {
				t.Fatalf("fieldErrors = %+v, want %s", ae.FieldErrors, tt.wantField)
			}
			if after := len(e.fake.Deployments()); after != before {
				t.Fatalf("%d deployments, want %d", after, before)
			}
		})
	}
}
