package astrofake

import (
	"slices"
	"strings"
	"testing"
)

func TestDagRoleListFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.createToken(map[string]any{"name": "dags", "role": RoleDeploymentAdmin, "scope": ScopeDeployment, "entityId": e.dep1})
	e.want(200, "POST", tokenPath(org1, tok.ID)+"/roles", e.owner, map[string]any{"roles": []any{
		map[string]any{"entityType": ScopeDeployment, "entityId": e.dep1, "role": RoleDeploymentAdmin},
		map[string]any{"entityType": EntityDAG, "entityId": "etl", "deploymentId": e.dep1, "role": "DAG_VIEWER"},
		map[string]any{"entityType": EntityDAGTag, "entityId": "team-a", "deploymentId": e.dep1, "role": "DAG_AUTHOR"},
	}})
	for _, tc := range []struct {
		query string
		n     int
	}{
		{"dagId=etl", 1},
		{"dagId=other", 0},
		{"dagTags=team-b&dagTags=team-a", 1},
		{"dagId=etl&deploymentId=" + e.dep2, 0},
		{"dagId=etl&deploymentId=" + e.dep1, 1},
	} {
		var page wireTokensPage
		e.want(200, "GET", tokensPath(org1)+"?"+tc.query, e.owner, nil).decode(t, &page)
		if page.TotalCount != tc.n {
			t.Errorf("%s: %d tokens, want %d", tc.query, page.TotalCount, tc.n)
		}
	}
}

func TestDeploymentExtras(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var d wireDeployment
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{
		"name": "re", "workspaceId": ws1, "executor": "ASTRO",
		"defaultTaskPodCpu": "0.5", "resourceQuotaMemory": "64Gi",
		"remoteExecution": map[string]any{"enabled": true, "allowedIpAddressRanges": []string{"10.0.0.0/8"}, "taskLogBucket": "s3://logs"},
	}).decode(t, &d)
	// A lone half of a cpu/memory pair gets the other derived (memory = 2 × cpu).
	if d.DefaultTaskPodMemory != "1Gi" || d.ResourceQuotaCPU != "32" {
		t.Errorf("derived halves: %q %q", d.DefaultTaskPodMemory, d.ResourceQuotaCPU)
	}
	if d.RemoteExecution == nil || !d.RemoteExecution.Enabled || d.RemoteExecution.RemoteAPIURL == "" ||
		!slices.Equal(d.RemoteExecution.AllowedIPAddressRanges, []string{"10.0.0.0/8"}) || d.RemoteExecution.TaskLogBucket != "s3://logs" {
		t.Errorf("remoteExecution %+v", d.RemoteExecution)
	}
	e.want(400, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "x", "workspaceId": ws1, "defaultTaskPodCpu": "lots"})
	e.want(400, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "x", "workspaceId": ws1, "resourceQuotaMemory": "-2Gi"})

	// Seeded HYBRID and HIBERNATING development deployments render validly.
	hyb := e.s.AddDeployment(SeedDeployment{Name: "h", WorkspaceID: ws1, Type: "HYBRID", ClusterName: "byoc", CloudProvider: "AZURE",
		SchedulerAU: 8, WorkerQueues: []WorkerQueue{{Name: "default", IsDefault: true, NodePoolID: "np"}}})
	dev := e.s.AddDeployment(SeedDeployment{Name: "dev", WorkspaceID: ws1, CloudProvider: "GCP", IsDevelopmentMode: true, Status: "HIBERNATING",
		AstroRuntimeVersion: "99.0.0", HibernationSchedules: []HibernationSchedule{{HibernateAtCron: "0 20 * * *", WakeAtCron: "0 6 * * *", IsEnabled: true}}})
	var h, v wireDeployment
	e.want(200, "GET", deploymentPath(org1, hyb), e.owner, nil).decode(t, &h)
	if h.Type != "HYBRID" || h.ClusterName != "byoc" || h.Region != "eastus" || *h.SchedulerAu != 8 || h.WorkerQueues[0].NodePoolID != "np" {
		t.Errorf("hybrid seed %+v", h)
	}
	e.want(200, "GET", deploymentPath(org1, dev), e.owner, nil).decode(t, &v)
	if v.Status != "HIBERNATING" || v.ScalingStatus == nil || !v.ScalingStatus.HibernationStatus.IsHibernating ||
		v.AirflowVersion != "NA" || v.Region != "us-central1" || len(v.ScalingSpec.HibernationSpec.Schedules) != 1 {
		t.Errorf("dev seed %+v", v)
	}
	// Hybrid updates need the scheduler spec.
	upd := map[string]any{"type": "HYBRID", "name": "h2", "workspaceId": ws1, "executor": "CELERY", "isCicdEnforced": false,
		"isDagDeployEnabled": true, "environmentVariables": []any{}}
	e.want(400, "POST", deploymentPath(org1, hyb), e.owner, upd)
	upd["scheduler"] = map[string]any{"au": 12, "replicas": 3}
	var h2 wireDeployment
	e.want(200, "POST", deploymentPath(org1, hyb), e.owner, upd).decode(t, &h2)
	if h2.Name != "h2" || *h2.SchedulerAu != 12 || h2.SchedulerReplicas != 3 || h2.ClusterID != h.ClusterID {
		t.Errorf("hybrid update %+v", h2)
	}
}

func TestSeedingPanics(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	s.AddOrganization(org1, "Acme")
	s.AddOrganization(org1, "Acme renamed")
	s.AddWorkspace(org1, ws1, "W")
	s.AddWorkspace(org1, ws1, "W renamed")
	for name, f := range map[string]func(){
		"workspace in unknown org": func() { s.AddWorkspace("nope", "w", "w") },
		"deployment in unknown ws": func() { s.AddDeployment(SeedDeployment{Name: "d", WorkspaceID: "nope"}) },
		"token in unknown org":     func() { s.MintToken(TokenSpec{OrgID: "nope", Role: RoleOrganizationOwner}) },
		"token without role":       func() { s.MintToken(TokenSpec{OrgID: org1}) },
		"token on unknown workspace": func() {
			s.MintToken(TokenSpec{OrgID: org1, Scope: ScopeWorkspace, EntityID: "nope", Role: RoleWorkspaceOwner})
		},
		"cluster in unknown org": func() { s.AddCluster(SeedCluster{OrgID: "nope"}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	if snap := string(s.Snapshot()); !strings.Contains(snap, "Acme renamed") || !strings.Contains(snap, "W renamed") {
		t.Error("re-adding did not rename")
	}
}
