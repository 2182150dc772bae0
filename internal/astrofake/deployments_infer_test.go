package astrofake

import (
	"strings"
	"testing"
)

// The KubernetesExecutor runs each task in its own pod and has no worker
// queues: terraform-provider-astro's live acceptance tests assert
// worker_queues absent for KUBERNETES deployments (hosted and hybrid), and
// astro-cli refuses worker_queues with KubernetesExecutor before it sends
// anything (fromfile.go errNoUseWorkerQueues / errUseDefaultWorkerType).
func TestInferredKubernetesExecutorHasNoWorkerQueues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	queue := []map[string]any{{"name": "default", "isDefault": true, "astroMachine": "A5", "minWorkerCount": 0, "maxWorkerCount": 1, "workerConcurrency": 1}}
	body := map[string]any{"name": "ke", "workspaceId": ws1, "type": "STANDARD", "executor": "KUBERNETES", "workerQueues": queue}
	fe := e.want(400, "POST", deploymentsPath(org1), e.owner, body).errBody(t)
	if len(fe.FieldErrors) != 1 || fe.FieldErrors[0].Field != "workerQueues" || !strings.Contains(fe.Message, "KUBERNETES") {
		t.Fatalf("want one workerQueues field error naming KUBERNETES: %+v", fe)
	}
	delete(body, "workerQueues")
	var d wireDeployment
	e.want(200, "POST", deploymentsPath(org1), e.owner, body).decode(t, &d)
	if d.Executor != "KUBERNETES" || len(d.WorkerQueues) != 0 {
		t.Fatalf("a KUBERNETES deployment comes back without queues: %+v", d.WorkerQueues)
	}
	// Switching an existing deployment to KUBERNETES drops its queues;
	// switching back gives it the default queue again.
	upd := map[string]any{"name": "ke", "workspaceId": ws1, "type": "STANDARD", "executor": "KUBERNETES", "schedulerSize": "SMALL",
		"isCicdEnforced": false, "isDagDeployEnabled": true, "isHighAvailability": false, "environmentVariables": []any{}}
	var u wireDeployment
	e.want(200, "POST", deploymentPath(org1, e.dep1), e.owner, upd).decode(t, &u)
	if len(u.WorkerQueues) != 0 {
		t.Fatalf("queues after switching to KUBERNETES: %+v", u.WorkerQueues)
	}
	upd["executor"] = "CELERY"
	e.want(200, "POST", deploymentPath(org1, e.dep1), e.owner, upd).decode(t, &u)
	if len(u.WorkerQueues) != 1 || u.WorkerQueues[0].Name != "default" {
		t.Fatalf("queues after switching back to CELERY: %+v", u.WorkerQueues)
	}
	defer func() {
		if recover() == nil {
			t.Error("seeding a KUBERNETES deployment with queues was accepted")
		}
	}()
	e.s.AddDeployment(SeedDeployment{Name: "bad", WorkspaceID: ws1, Executor: "KUBERNETES", WorkerQueues: []WorkerQueue{{Name: "default", IsDefault: true}}})
}

// A runtime Astro no longer offers for new Deployments is refused with a
// 400 naming astroRuntimeVersion. Evidence: Astronomer's docs ("Run a
// deprecated Astro Runtime", astronomer/docs PRs #3553, #3595): deprecated
// versions need Astronomer's permission, and for some "the Astro API returns
// a failure"; astro-cli issue #1449 (creating a preview on an older runtime
// fails; "parse the error to figure out what I could deploy"); astro-cli
// checks versions against deployment-options runtimeReleases. The shape
// (400, fieldErrors[{field: astroRuntimeVersion}], the offered versions in
// the message) is the fake's choice within the documented Error schema.
func TestInferredRuntimeNotOfferedForNewDeploymentsIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fe := e.want(400, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "old", "workspaceId": ws1, "astroRuntimeVersion": "9.1.0"}).errBody(t)
	if len(fe.FieldErrors) != 1 || fe.FieldErrors[0].Field != "astroRuntimeVersion" || !strings.Contains(fe.Message, "not available for new Deployments") ||
		!strings.Contains(fe.Message, "13.*") {
		t.Fatalf("refusal: %+v", fe)
	}
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "new", "workspaceId": ws1, "astroRuntimeVersion": "13.1.0"})
	// A deployment already on an old runtime keeps it through updates.
	old := e.s.AddDeployment(SeedDeployment{Name: "legacy", WorkspaceID: ws1, AstroRuntimeVersion: "9.1.0"})
	e.want(200, "POST", deploymentPath(org1, old), e.owner, map[string]any{"name": "legacy", "workspaceId": ws1, "type": "STANDARD", "executor": "CELERY",
		"schedulerSize": "SMALL", "isCicdEnforced": false, "isDagDeployEnabled": true, "isHighAvailability": false, "environmentVariables": []any{}})
	if d, _ := e.s.Deployment(old); d.AstroRuntimeVersion != "9.1.0" {
		t.Fatalf("runtime after update: %s", d.AstroRuntimeVersion)
	}
	strict := newEnv(t, func(o *Options) { o.RuntimeReleases = []string{"13.2.0"} })
	strict.want(400, "POST", deploymentsPath(org1), strict.owner, map[string]any{"name": "n", "workspaceId": ws1, "astroRuntimeVersion": "13.1.0"})
}

// effectiveWorkloadIdentity is "either user-configured or Astronomer-provided
// default" (spec). A create without workloadIdentity gets the deployment's
// own default (terraform: "if it is not provided the workload identity will
// be assigned automatically"); a create naming another deployment's
// Astronomer-managed identity is refused: that role is in Astronomer's
// account and trusts only its own deployment's namespace (inferred; the
// alternative, accepting it, would hand one deployment another's cloud
// permissions). A customer-managed identity is accepted and echoed.
func TestInferredWorkloadIdentityIsOwnUnlessSetAndNeverAnothersDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var base wireDeployment
	e.want(200, "GET", deploymentPath(org1, e.dep1), e.owner, nil).decode(t, &base)
	var d wireDeployment
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "p", "workspaceId": ws1}).decode(t, &d)
	if d.EffectiveWorkloadIdentity == "" || d.EffectiveWorkloadIdentity == base.EffectiveWorkloadIdentity || !strings.Contains(d.EffectiveWorkloadIdentity, d.Namespace) {
		t.Fatalf("default identity %q (base %q)", d.EffectiveWorkloadIdentity, base.EffectiveWorkloadIdentity)
	}
	fe := e.want(400, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "p2", "workspaceId": ws1, "workloadIdentity": base.EffectiveWorkloadIdentity}).errBody(t)
	if len(fe.FieldErrors) != 1 || fe.FieldErrors[0].Field != "workloadIdentity" {
		t.Fatalf("another deployment's default identity: %+v", fe)
	}
	own := "arn:aws:iam::123456789012:role/preview-role"
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "p3", "workspaceId": ws1, "workloadIdentity": own}).decode(t, &d)
	if d.EffectiveWorkloadIdentity != own {
		t.Fatalf("customer-managed identity echoed as %q", d.EffectiveWorkloadIdentity)
	}
	// An update may send a deployment's own default back (a full replacement keeps it).
	var p wireDeployment
	e.want(200, "POST", deploymentsPath(org1), e.owner, map[string]any{"name": "p4", "workspaceId": ws1}).decode(t, &p)
	e.want(200, "POST", deploymentPath(org1, p.ID), e.owner, map[string]any{"name": "p4", "workspaceId": ws1, "type": "STANDARD", "executor": "CELERY",
		"schedulerSize": "SMALL", "isCicdEnforced": false, "isDagDeployEnabled": true, "isHighAvailability": false, "environmentVariables": []any{},
		"workloadIdentity": p.EffectiveWorkloadIdentity})
}
