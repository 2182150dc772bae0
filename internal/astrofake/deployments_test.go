package astrofake

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDeploymentCreateMinimalThenHealthy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var d wireDeployment
	e.want(200, "POST", deploymentsPath(org1), e.ws1Oper, map[string]any{"name": "preview", "workspaceId": ws1}).decode(t, &d)
	if !cuidRE.MatchString(d.ID) {
		t.Errorf("id %q", d.ID)
	}
	if d.Status != "CREATING" || d.Type != "STANDARD" || d.Executor != "CELERY" || d.SchedulerSize != "SMALL" ||
		d.CloudProvider != "AWS" || d.Region != "us-east-1" || d.WorkspaceName != "Data Platform" ||
		d.AstroRuntimeVersion != defaultRuntime || d.RuntimeVersion != defaultRuntime || d.AirflowVersion != "2.11.0" ||
		d.DefaultTaskPodCPU == "" || d.DefaultTaskPodMemory == "" || d.ResourceQuotaCPU == "" || d.ResourceQuotaMemory == "" ||
		d.ClusterID != "" || !d.IsDagDeployEnabled || d.IsCicdEnforced {
		t.Errorf("defaults: %+v", d)
	}
	if !strings.HasPrefix(d.UIURL, "https://"+org1+".astronomer.run/d") || !strings.HasPrefix(d.APIURL, "https://") || d.Namespace == "" {
		t.Errorf("urls: ui %q api %q ns %q", d.UIURL, d.APIURL, d.Namespace)
	}
	if len(d.WorkerQueues) != 1 || d.WorkerQueues[0].Name != "default" || !d.WorkerQueues[0].IsDefault || d.WorkerQueues[0].PodCPU == "" || d.WorkerQueues[0].ID == "" {
		t.Errorf("queues %+v", d.WorkerQueues)
	}
	if d.CreatedBy.SubjectType != "SERVICEKEY" || d.CreatedBy.ID == "" {
		t.Errorf("createdBy %+v", d.CreatedBy)
	}
	get := func() wireDeployment {
		var g wireDeployment
		e.want(200, "GET", deploymentPath(org1, d.ID), e.owner, nil).decode(t, &g)
		return g
	}
	e.clock.Advance(time.Second)
	if s := get().Status; s != "CREATING" {
		t.Errorf("after 1s status %s", s)
	}
	e.clock.Advance(time.Second)
	if s := get().Status; s != "HEALTHY" {
		t.Errorf("after 2s status %s", s)
	}
	// Duplicate names are allowed (astro-api.md §4.2).
	var dup wireDeployment
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "preview", "workspaceId": ws1, "type": "STANDARD"}).decode(t, &dup)
	var page wireDeploymentsPage
	e.want(200, "GET", deploymentsPath(org1)+"?names=preview&workspaceIds="+ws1, e.owner, nil).decode(t, &page)
	if page.TotalCount != 2 || len(page.Deployments) != 2 || page.Deployments[0].ID != d.ID || page.Deployments[1].ID != dup.ID {
		t.Errorf("list by name: %+v", page)
	}
	// Delete: 204, then 404 everywhere.
	e.want(204, "DELETE", deploymentPath(org1, d.ID), e.ws1Oper, nil)
	e.want(404, "DELETE", deploymentPath(org1, d.ID), e.ws1Oper, nil)
	e.want(404, "GET", deploymentPath(org1, d.ID), e.owner, nil)
	if info, ok := e.s.Deployment(d.ID); !ok || !info.Deleted {
		t.Errorf("Deployment() after delete: %+v %v", info, ok)
	}
}

func TestDeploymentReadyImmediately(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.DeploymentReadyAfter = -1 })
	var d wireDeployment
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "x", "workspaceId": ws1}).decode(t, &d)
	if d.Status != "HEALTHY" {
		t.Errorf("status %s", d.Status)
	}
}

func TestDeploymentCreateTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ded := e.s.AddCluster(SeedCluster{OrgID: org1, Name: "dedicated-1", Type: "DEDICATED", CloudProvider: "GCP", Region: "us-east4"})
	hyb := e.s.AddCluster(SeedCluster{OrgID: org1, Name: "byoc", Type: "HYBRID", CloudProvider: "AWS", Region: "eu-west-1"})

	var d wireDeployment
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{
		"name": "ded", "workspaceId": ws1, "type": "DEDICATED", "clusterId": ded, "executor": "ASTRO", "schedulerSize": "LARGE",
		"isHighAvailability": true, "isDevelopmentMode": true, "defaultTaskPodCpu": "1", "defaultTaskPodMemory": "2Gi",
		"workerQueues": []any{
			map[string]any{"name": "default", "isDefault": true, "astroMachine": "A20", "minWorkerCount": 0, "maxWorkerCount": 3, "workerConcurrency": 20},
			map[string]any{"name": "heavy", "isDefault": false, "astroMachine": "A60", "minWorkerCount": 1, "maxWorkerCount": 2, "workerConcurrency": 4, "podEphemeralStorage": "20Gi"},
		},
		"scalingSpec":      map[string]any{"hibernationSpec": map[string]any{"schedules": []any{map[string]any{"hibernateAtCron": "0 20 * * *", "wakeAtCron": "0 6 * * 1-5", "isEnabled": true, "description": "nights"}}}},
		"workloadIdentity": "sa@proj.iam.gserviceaccount.com",
		"contactEmails":    []string{"a@example.com"},
	}).decode(t, &d)
	if d.Type != "DEDICATED" || d.ClusterID != ded || d.ClusterName != "dedicated-1" || d.CloudProvider != "" || d.Region != "us-east4" ||
		d.Executor != "ASTRO" || d.SchedulerSize != "LARGE" || d.SchedulerCPU != "4" || d.SchedulerReplicas != 2 ||
		d.DefaultTaskPodCPU != "1" || d.DefaultTaskPodMemory != "2Gi" || d.EffectiveWorkloadIdentity != "sa@proj.iam.gserviceaccount.com" {
		t.Errorf("dedicated: %+v", d)
	}
	if len(d.WorkerQueues) != 2 || d.WorkerQueues[0].PodCPU != "4" || d.WorkerQueues[0].PodMemory != "8Gi" ||
		d.WorkerQueues[1].PodCPU != "12" || d.WorkerQueues[1].PodEphemeralStorage != "20Gi" || d.WorkerQueues[0].ID == d.WorkerQueues[1].ID {
		t.Errorf("queues %+v", d.WorkerQueues)
	}
	if d.ScalingSpec == nil || len(d.ScalingSpec.HibernationSpec.Schedules) != 1 || d.ScalingSpec.HibernationSpec.Schedules[0].Description != "nights" {
		t.Errorf("scalingSpec %+v", d.ScalingSpec)
	}

	// Type inferred from the cluster when absent.
	d = wireDeployment{}
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "inferred", "workspaceId": ws1, "clusterId": ded}).decode(t, &d)
	if d.Type != "DEDICATED" {
		t.Errorf("inferred type %s", d.Type)
	}
	// Hybrid.
	d = wireDeployment{}
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{
		"name": "hyb", "workspaceId": ws2, "type": "HYBRID", "clusterId": hyb, "executor": "KUBERNETES",
		"scheduler": map[string]any{"au": 10, "replicas": 2}, "taskPodNodePoolId": "np1",
	}).decode(t, &d)
	if d.Type != "HYBRID" || d.ClusterName != "byoc" || d.SchedulerAu == nil || *d.SchedulerAu != 10 || d.SchedulerReplicas != 2 ||
		d.TaskPodNodePoolID != "np1" || d.SchedulerSize != "" || d.IsHighAvailability != nil {
		t.Errorf("hybrid: %+v", d)
	}
	// The only DEDICATED cluster is picked when clusterId is omitted.
	d = wireDeployment{}
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "auto", "workspaceId": ws1, "type": "DEDICATED"}).decode(t, &d)
	if d.ClusterID != ded {
		t.Errorf("auto cluster %q", d.ClusterID)
	}
	d = wireDeployment{}
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "gcp", "workspaceId": ws1, "cloudProvider": "GCP", "region": "europe-west4"}).decode(t, &d)
	if d.CloudProvider != "GCP" || d.Region != "europe-west4" {
		t.Errorf("standard placement %s %s", d.CloudProvider, d.Region)
	}
}

func TestDeploymentCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.s.AddCluster(SeedCluster{ID: "cluster-h", OrgID: org1, Type: "HYBRID"})
	q := func(m map[string]any) map[string]any {
		base := map[string]any{"name": "default", "isDefault": true, "astroMachine": "A5", "minWorkerCount": 0, "maxWorkerCount": 1, "workerConcurrency": 1}
		for k, v := range m {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		return base
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"missing name", map[string]any{"workspaceId": ws1}, "name"},
		{"missing workspace", map[string]any{"name": "x"}, "workspaceId"},
		{"unknown workspace", map[string]any{"name": "x", "workspaceId": "cnope0000000000000000000a"}, "workspaceId"},
		{"other org workspace", map[string]any{"name": "x", "workspaceId": ws3}, "workspaceId"},
		{"long name", map[string]any{"name": strings.Repeat("n", 501), "workspaceId": ws1}, "name"},
		{"bad type", map[string]any{"name": "x", "workspaceId": ws1, "type": "SERVERLESS"}, "type"},
		{"bad executor", map[string]any{"name": "x", "workspaceId": ws1, "executor": "LOCAL"}, "executor"},
		{"bad scheduler size", map[string]any{"name": "x", "workspaceId": ws1, "schedulerSize": "HUGE"}, "schedulerSize"},
		{"provider without region", map[string]any{"name": "x", "workspaceId": ws1, "cloudProvider": "AWS"}, "region"},
		{"memory not twice cpu", map[string]any{"name": "x", "workspaceId": ws1, "defaultTaskPodCpu": "1", "defaultTaskPodMemory": "1Gi"}, "defaultTaskPodMemory"},
		{"memory without Gi", map[string]any{"name": "x", "workspaceId": ws1, "resourceQuotaCpu": "10", "resourceQuotaMemory": "20"}, "resourceQuotaMemory"},
		{"unknown cluster", map[string]any{"name": "x", "workspaceId": ws1, "clusterId": "cnope0000000000000000000a"}, "clusterId"},
		{"dedicated without cluster", map[string]any{"name": "x", "workspaceId": ws1, "type": "DEDICATED"}, "clusterId"},
		{"queue without machine", map[string]any{"name": "x", "workspaceId": ws1, "workerQueues": []any{q(map[string]any{"astroMachine": nil})}}, "workerQueues[0].astroMachine"},
		{"queue bad machine", map[string]any{"name": "x", "workspaceId": ws1, "workerQueues": []any{q(map[string]any{"astroMachine": "A7"})}}, "workerQueues[0].astroMachine"},
		{"queue min above max", map[string]any{"name": "x", "workspaceId": ws1, "workerQueues": []any{q(map[string]any{"minWorkerCount": 3})}}, "workerQueues[0].minWorkerCount"},
		{"no default queue", map[string]any{"name": "x", "workspaceId": ws1, "workerQueues": []any{q(map[string]any{"name": "other"})}}, "workerQueues"},
		{"queue with id", map[string]any{"name": "x", "workspaceId": ws1, "workerQueues": []any{q(map[string]any{"id": "cq"})}}, "workerQueues[0].id"},
		{"hybrid queue without node pool", map[string]any{"name": "x", "workspaceId": ws1, "type": "HYBRID", "clusterId": "cluster-h", "workerQueues": []any{q(nil)}}, "workerQueues[0].nodePoolId"},
		{"hybrid au", map[string]any{"name": "x", "workspaceId": ws1, "type": "HYBRID", "clusterId": "cluster-h", "scheduler": map[string]any{"au": 30, "replicas": 1}}, "scheduler.au"},
		{"hybrid astro executor", map[string]any{"name": "x", "workspaceId": ws1, "type": "HYBRID", "clusterId": "cluster-h", "executor": "ASTRO"}, "executor"},
		{"secret without value", map[string]any{"name": "x", "workspaceId": ws1, "environmentVariables": []any{map[string]any{"key": "K", "isSecret": true}}}, "environmentVariables[0].value"},
		{"env without isSecret", map[string]any{"name": "x", "workspaceId": ws1, "environmentVariables": []any{map[string]any{"key": "K", "value": "v"}}}, "environmentVariables[0].isSecret"},
		{"duplicate env key", map[string]any{"name": "x", "workspaceId": ws1, "environmentVariables": []any{map[string]any{"key": "K", "value": "v", "isSecret": false}, map[string]any{"key": "K", "value": "w", "isSecret": false}}}, "environmentVariables[1].key"},
		{"hibernation without dev mode", map[string]any{"name": "x", "workspaceId": ws1, "scalingSpec": map[string]any{"hibernationSpec": map[string]any{"schedules": []any{map[string]any{"hibernateAtCron": "0 1 * * *", "wakeAtCron": "0 2 * * *", "isEnabled": true}}}}}, "scalingSpec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eb := e.want(400, "POST", deploymentsPath(org1), e.owner, tc.body).errBody(t)
			if !slices.ContainsFunc(eb.FieldErrors, func(f wireFieldError) bool { return f.Field == tc.field }) {
				t.Errorf("fieldErrors %+v lack %q", eb.FieldErrors, tc.field)
			}
		})
	}
	if n := len(e.s.Deployments()); n != 3 {
		t.Errorf("%d deployments after rejected creates", n)
	}
}

// updateBody is what a careful client sends: the full STANDARD update.
func updateBody(name string, env []any) map[string]any {
	return map[string]any{
		"type": "STANDARD", "name": name, "workspaceId": ws1, "executor": "CELERY", "schedulerSize": "MEDIUM",
		"isCicdEnforced": true, "isDagDeployEnabled": true, "isHighAvailability": false,
		"environmentVariables": env,
		"workerQueues":         []any{map[string]any{"name": "default", "isDefault": true, "astroMachine": "A10", "minWorkerCount": 1, "maxWorkerCount": 5, "workerConcurrency": 10}},
	}
}

func TestDeploymentSecretsAndUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.want(200, "GET", deploymentPath(org1, e.dep1), e.owner, nil)
	if strings.Contains(string(r.body), "s3cr3t-value") {
		t.Fatal("GET echoes a secret value")
	}
	var d wireDeployment
	r.decode(t, &d)
	var raw map[string]any
	r.decode(t, &raw)
	for _, v := range raw["environmentVariables"].([]any) {
		m := v.(map[string]any)
		if _, has := m["value"]; has == (m["isSecret"] == true) {
			t.Errorf("env var %v: value presence wrong", m)
		}
	}
	// Secret kept when re-sent without value; plain var changed; new var.
	e.clock.Advance(time.Minute)
	env := []any{
		map[string]any{"key": "PLAIN", "value": "changed", "isSecret": false},
		map[string]any{"key": "SECRET", "isSecret": true},
		map[string]any{"key": "NEW_SECRET", "value": "brand-new", "isSecret": true},
	}
	r = e.want(200, "POST", deploymentPath(org1, e.dep1), e.dep1Admin, updateBody("prod-renamed", env))
	if strings.Contains(string(r.body), "s3cr3t-value") || strings.Contains(string(r.body), "brand-new") {
		t.Fatal("update response echoes a secret")
	}
	r.decode(t, &d)
	if d.Name != "prod-renamed" || !d.IsCicdEnforced || d.UpdatedAt != "2026-03-01T12:01:00Z" || d.UpdatedBy.ID != e.dep1AdminID || d.CreatedAt != "2026-03-01T12:00:00Z" {
		t.Errorf("update: %+v", d)
	}
	byKey := map[string]wireEnvVar{}
	for _, v := range d.EnvironmentVariables {
		byKey[v.Key] = v
	}
	if byKey["SECRET"].UpdatedAt != "2026-03-01T12:00:00Z" || byKey["PLAIN"].UpdatedAt != "2026-03-01T12:01:00Z" {
		t.Errorf("env updatedAt: %+v", byKey)
	}
	info, _ := e.s.Deployment(e.dep1)
	if info.SecretEnv["SECRET"] != "s3cr3t-value" || info.SecretEnv["NEW_SECRET"] != "brand-new" || info.Env["PLAIN"] != "changed" {
		t.Errorf("stored env: %+v / %+v", info.Env, info.SecretEnv)
	}
	// Overwrite the secret with a value.
	env[1] = map[string]any{"key": "SECRET", "value": "rotated", "isSecret": true}
	e.want(200, "POST", deploymentPath(org1, e.dep1), e.owner, updateBody("prod-renamed", env))
	if info, _ := e.s.Deployment(e.dep1); info.SecretEnv["SECRET"] != "rotated" {
		t.Errorf("secret after overwrite %q", info.SecretEnv["SECRET"])
	}
	// Full replacement: a var left out is gone; a new secret needs a value.
	e.want(200, "POST", deploymentPath(org1, e.dep1), e.owner, updateBody("prod-renamed", []any{}))
	if info, _ := e.s.Deployment(e.dep1); len(info.EnvVars) != 0 {
		t.Errorf("env after empty list: %+v", info.EnvVars)
	}
	e.want(400, "POST", deploymentPath(org1, e.dep1), e.owner, updateBody("x", []any{map[string]any{"key": "S2", "isSecret": true}}))
}

func TestDeploymentUpdateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	info, _ := e.s.Deployment(e.dep1)
	queueID := info.WorkerQueues[0].ID
	e.want(200, "GET", deploymentsPath(org1), e.owner, nil) // sets the caller's lastUsedAt once
	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		status int
	}{
		{"missing type", func(b map[string]any) { delete(b, "type") }, 400},
		{"missing environmentVariables", func(b map[string]any) { delete(b, "environmentVariables") }, 400},
		{"missing schedulerSize", func(b map[string]any) { delete(b, "schedulerSize") }, 400},
		{"missing isHighAvailability", func(b map[string]any) { delete(b, "isHighAvailability") }, 400},
		{"missing executor", func(b map[string]any) { delete(b, "executor") }, 400},
		{"type change", func(b map[string]any) { b["type"] = "DEDICATED" }, 400},
		{"dev mode on", func(b map[string]any) { b["isDevelopmentMode"] = true }, 400},
		{"unknown queue id", func(b map[string]any) {
			b["workerQueues"].([]any)[0].(map[string]any)["id"] = "cnope0000000000000000000a"
		}, 400},
		{"unknown workspace", func(b map[string]any) { b["workspaceId"] = "cnope0000000000000000000a" }, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := updateBody("prod", []any{})
			tc.mutate(b)
			before := e.s.Snapshot()
			e.want(tc.status, "POST", deploymentPath(org1, e.dep1), e.owner, b)
			if string(before) != string(e.s.Snapshot()) {
				t.Error("rejected update changed the state")
			}
		})
	}
	e.want(404, "POST", deploymentPath(org1, "cnope0000000000000000000a"), e.owner, updateBody("x", []any{}))
	e.want(404, "POST", deploymentPath(org1, e.dep3), e.owner, updateBody("x", []any{}))
	// A known queue id is kept; omitted optional fields reset to defaults.
	b := updateBody("prod", []any{})
	b["workerQueues"].([]any)[0].(map[string]any)["id"] = queueID
	var d wireDeployment
	e.want(200, "POST", deploymentPath(org1, e.dep1), e.owner, b).decode(t, &d)
	if d.WorkerQueues[0].ID != queueID || len(d.ContactEmails) != 0 || d.DefaultTaskPodCPU != defaultTaskPodCPU || d.AstroRuntimeVersion != "12.6.0" {
		t.Errorf("after update: queue %q emails %v taskpod %q runtime %q", d.WorkerQueues[0].ID, d.ContactEmails, d.DefaultTaskPodCPU, d.AstroRuntimeVersion)
	}
}

func TestDeploymentListFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	list := func(tok, query string) []string {
		var page wireDeploymentsPage
		e.want(200, "GET", deploymentsPath(org1)+"?"+query, tok, nil).decode(t, &page)
		var names []string
		for _, d := range page.Deployments {
			names = append(names, d.Name)
		}
		if page.TotalCount < len(names) {
			t.Errorf("totalCount %d < %d", page.TotalCount, len(names))
		}
		return names
	}
	for _, tc := range []struct {
		tok, query string
		want       []string
	}{
		{e.owner, "", []string{"prod", "analytics"}},
		{e.owner, "workspaceIds=" + ws2, []string{"analytics"}},
		{e.owner, "workspaceIds=" + ws1 + "&workspaceIds=" + ws2, []string{"prod", "analytics"}},
		{e.owner, "deploymentIds=" + e.dep2, []string{"analytics"}},
		{e.owner, "names=prod", []string{"prod"}},
		{e.owner, "sorts=name:asc", []string{"analytics", "prod"}},
		{e.owner, "limit=1&offset=1", []string{"analytics"}},
		{e.member, "", nil},                   // an ORGANIZATION_MEMBER sees no workspace
		{e.ws1Member, "", []string{"prod"}},   // its own workspace only
		{e.dep1Admin, "", []string{"prod"}},   // its own deployment only
		{e.owner, "workspaceIds=" + ws3, nil}, // another org's workspace: nothing
	} {
		got := list(tc.tok, tc.query)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q want %q", tc.query, got, tc.want)
		}
	}
	e.want(400, "GET", deploymentsPath(org1)+"?sorts=status:asc", e.owner, nil)
	e.want(400, "GET", deploymentsPath(org1)+"?limit=-5", e.owner, nil)
	e.want(200, "GET", deploymentsPath(org1)+"?limit=5000", e.owner, nil) // ListDeployments has no maximum
}

func TestDeleteDeploymentCascades(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wsTok := e.createToken(map[string]any{"name": "w", "role": RoleWorkspaceOwner, "scope": ScopeWorkspace, "entityId": ws1})
	e.want(200, "POST", tokenPath(org1, wsTok.ID)+"/roles", e.owner, map[string]any{"roles": []any{
		map[string]any{"entityType": ScopeWorkspace, "entityId": ws1, "role": RoleWorkspaceOwner},
		map[string]any{"entityType": ScopeDeployment, "entityId": e.dep1, "role": RoleDeploymentAdmin},
	}})
	e.want(204, "DELETE", deploymentPath(org1, e.dep1), e.owner, nil)
	if ti, _ := e.s.Token(e.dep1AdminID); !ti.Deleted {
		t.Error("the deployment's token survived it")
	}
	if ti, _ := e.s.Token(wsTok.ID); len(ti.Roles) != 1 {
		t.Errorf("roles on the deleted deployment kept: %+v", ti.Roles)
	}
	e.want(401, "GET", deploymentsPath(org1), e.dep1Admin, nil)
}

func TestSeedDeploymentInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	info, ok := e.s.Deployment(e.dep1)
	if !ok || info.Status != "HEALTHY" || info.SchedulerSize != "MEDIUM" || info.WorkerQueues[0].PodCPU != "2" || info.ContactEmails[0] != "ops@example.com" {
		t.Errorf("%+v", info)
	}
	if len(e.s.Deployments()) != 3 {
		t.Error("Deployments() count")
	}
	// Seeded deployments render valid (contract-checked) responses.
	var d wireDeployment
	e.want(200, "GET", deploymentPath(org1, e.dep2), e.owner, nil).decode(t, &d)
	b, _ := json.Marshal(d)
	if !strings.Contains(string(b), `"type":"STANDARD"`) || d.WorkspaceName != "Analytics" {
		t.Errorf("%s", b)
	}
}
