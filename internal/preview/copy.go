package preview

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// checkCopyable refuses a base whose copy could not work.
func checkCopyable(base *astro.Deployment) error {
	if re := base.RemoteExecution; re != nil && re.Enabled {
		return fmt.Errorf("base Deployment %s (%s) uses Remote Execution: its tasks run on agents in your own infrastructure, registered to that Deployment. "+
			"A preview copy would have no agents, so not one of its tasks could run; nothing was created. "+
			"Give --base-deployment a Deployment without Remote Execution", base.Name, base.ID)
	}
	return nil
}

// CopyRequest builds the create request of a preview from its base
// Deployment, the way `astro deployment inspect --template` followed by
// `astro deployment create --deployment-file` does (astro-api.md §4.4): same
// type and placement, runtime, executor, scheduler, task pod and quota
// settings, worker queues, hibernation schedules and non-secret variables.
// Secret variables cannot be read back from Astro; the caller adds them
// from CI secrets (secretEnv).
//
// Not copied: the workload identity, and the DAG deploy setting (previews
// always have DAG deploys on). The base's effectiveWorkloadIdentity
// is its own cloud role (set by the user or Astronomer's default); a copy
// would give every branch production's cloud permissions, or be refused.
// workloadIdentity sets one explicitly; "" lets Astro assign the preview its
// own. runtime, when set, replaces the base's Astro Runtime version.
func CopyRequest(base *astro.Deployment, name, description string, secretEnv map[string]string, workloadIdentity, runtime string) (astro.DeploymentRequest, error) {
	if err := checkCopyable(base); err != nil {
		return astro.DeploymentRequest{}, err
	}
	t := base.Type
	if t == "" {
		t = "STANDARD"
	}
	req := astro.DeploymentRequest{
		Type:                t,
		Name:                name,
		Description:         description,
		WorkspaceID:         base.WorkspaceID,
		AstroRuntimeVersion: cmp.Or(runtime, base.AstroRuntimeVersion),
		Executor:            base.Executor,
		IsCicdEnforced:      ptr(base.IsCicdEnforced),
		// DAG deploys on, whatever the base has: the branch's DAGs go in as
		// a DAG bundle (code.go), and a copied image must not bring the
		// base's DAGs baked into it.
		IsDagDeployEnabled: ptr(true),
		ContactEmails:      slices.Clone(base.ContactEmails),
		WorkloadIdentity:   workloadIdentity,
	}
	switch t {
	case "STANDARD", "DEDICATED":
		if t == "STANDARD" {
			req.CloudProvider, req.Region = base.CloudProvider, base.Region
		} else {
			req.ClusterID = base.ClusterID
		}
		req.SchedulerSize = base.SchedulerSize
		req.IsHighAvailability = base.IsHighAvailability
		req.IsDevelopmentMode = base.IsDevelopmentMode
		req.DefaultTaskPodCPU, req.DefaultTaskPodMemory = base.DefaultTaskPodCPU, base.DefaultTaskPodMemory
		req.ResourceQuotaCPU, req.ResourceQuotaMemory = base.ResourceQuotaCPU, base.ResourceQuotaMemory
		if re := base.RemoteExecution; re != nil {
			req.RemoteExecution = &astro.RemoteExecutionRequest{Enabled: re.Enabled, AllowedIPAddressRanges: slices.Clone(re.AllowedIPAddressRanges), TaskLogBucket: re.TaskLogBucket, TaskLogURLPattern: re.TaskLogURLPattern}
		}
		// Astro hibernates development Deployments only; a schedule on any other is refused.
		if base.IsDevelopmentMode != nil && *base.IsDevelopmentMode && base.ScalingSpec != nil && base.ScalingSpec.HibernationSpec != nil && len(base.ScalingSpec.HibernationSpec.Schedules) > 0 {
			req.ScalingSpec = &astro.ScalingSpec{HibernationSpec: &astro.HibernationSpec{Schedules: slices.Clone(base.ScalingSpec.HibernationSpec.Schedules)}}
		}
	case "HYBRID":
		req.ClusterID = base.ClusterID
		req.TaskPodNodePoolID = base.TaskPodNodePoolID
		au := 0
		if base.SchedulerAU != nil {
			au = *base.SchedulerAU
		}
		req.Scheduler = &astro.SchedulerSpec{AU: au, Replicas: base.SchedulerReplicas}
	default:
		return astro.DeploymentRequest{}, fmt.Errorf("base Deployment %s has type %q, which astro-ci cannot copy", base.ID, t)
	}
	req.WorkerQueues = queueRequests(base, t, false)
	for _, v := range base.EnvironmentVariables {
		if v.IsSecret {
			continue // values never come back from Astro; the caller supplies them
		}
		val := ""
		if v.Value != nil {
			val = *v.Value
		}
		req.EnvironmentVariables = append(req.EnvironmentVariables, astro.EnvironmentVariableRequest{Key: v.Key, Value: &val})
	}
	keys := make([]string, 0, len(secretEnv))
	for k := range secretEnv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := secretEnv[k]
		req.EnvironmentVariables = slices.DeleteFunc(req.EnvironmentVariables, func(e astro.EnvironmentVariableRequest) bool { return e.Key == k })
		req.EnvironmentVariables = append(req.EnvironmentVariables, astro.EnvironmentVariableRequest{Key: k, IsSecret: true, Value: &val})
	}
	return req, nil
}

// queueRequests maps d's worker queues to request queues (keeping their ids
// on update). The KubernetesExecutor has none: Astro refuses them.
func queueRequests(d *astro.Deployment, typ string, keepIDs bool) []astro.WorkerQueueRequest {
	if d.Executor == "KUBERNETES" {
		return nil
	}
	var out []astro.WorkerQueueRequest
	for _, q := range d.WorkerQueues {
		wq := astro.WorkerQueueRequest{
			Name: q.Name, IsDefault: q.IsDefault, MinWorkerCount: q.MinWorkerCount, MaxWorkerCount: q.MaxWorkerCount,
			WorkerConcurrency: q.WorkerConcurrency, PodEphemeralStorage: q.PodEphemeralStorage,
		}
		if keepIDs {
			wq.ID = q.ID
		}
		if typ == "HYBRID" {
			wq.NodePoolID = q.NodePoolID
		} else {
			wq.AstroMachine = q.AstroMachine
		}
		out = append(out, wq)
	}
	return out
}

// runtimeRefused explains a create that Astro refused for its runtime
// version (a 400 naming astroRuntimeVersion, astrofake doc.go "Runtime
// versions"), or returns nil for any other error.
func runtimeRefused(err error, version string, given bool) error {
	var ae *astro.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
		return nil
	}
	named := slices.ContainsFunc(ae.FieldErrors, func(f astro.FieldError) bool { return strings.Contains(strings.ToLower(f.Field), "runtimeversion") })
	if !named && !strings.Contains(strings.ToLower(ae.Message), "runtime") {
		return nil
	}
	if given {
		return fmt.Errorf("runtime %s (--runtime-version): Astro no longer offers it for new Deployments: %w; pass --runtime-version with a version Astro offers", version, err)
	}
	return fmt.Errorf("the base Deployment's Astro Runtime %s: Astro no longer offers it for new Deployments: %w; pass --runtime-version with a version it offers "+
		"(the preview starts on it; the branch's image decides what runs once it is deployed)", version, err)
}

func ptr[T any](v T) *T { return &v }

// UpdateRequest is the full-replacement update body that keeps everything
// of d as it is and sets the given secret variables. Secret variables not
// named are sent without a value, which keeps what Astro stores. The
// workload identity is sent only when given: what d has may be the base's,
// copied by an older astro-ci, and left out Astro gives d its own.
func UpdateRequest(d *astro.Deployment, secretEnv map[string]string, workloadIdentity string) astro.DeploymentRequest {
	req := astro.DeploymentRequest{
		Type: d.Type, Name: d.Name, Description: d.Description, WorkspaceID: d.WorkspaceID,
		Executor: d.Executor, IsCicdEnforced: ptr(d.IsCicdEnforced), IsDagDeployEnabled: ptr(d.IsDagDeployEnabled),
		ContactEmails: slices.Clone(d.ContactEmails), WorkloadIdentity: workloadIdentity,
		EnvironmentVariables: []astro.EnvironmentVariableRequest{},
	}
	if req.Type == "" {
		req.Type = "STANDARD"
	}
	if req.Type == "HYBRID" {
		au := 0
		if d.SchedulerAU != nil {
			au = *d.SchedulerAU
		}
		req.Scheduler = &astro.SchedulerSpec{AU: au, Replicas: d.SchedulerReplicas}
		req.TaskPodNodePoolID = d.TaskPodNodePoolID
	} else {
		req.SchedulerSize = d.SchedulerSize
		req.IsHighAvailability = ptr(d.IsHighAvailability != nil && *d.IsHighAvailability)
		req.IsDevelopmentMode = d.IsDevelopmentMode
		req.DefaultTaskPodCPU, req.DefaultTaskPodMemory = d.DefaultTaskPodCPU, d.DefaultTaskPodMemory
		req.ResourceQuotaCPU, req.ResourceQuotaMemory = d.ResourceQuotaCPU, d.ResourceQuotaMemory
		if d.ScalingSpec != nil && d.ScalingSpec.HibernationSpec != nil && len(d.ScalingSpec.HibernationSpec.Schedules) > 0 {
			req.ScalingSpec = &astro.ScalingSpec{HibernationSpec: &astro.HibernationSpec{Schedules: slices.Clone(d.ScalingSpec.HibernationSpec.Schedules)}}
		}
		if re := d.RemoteExecution; re != nil {
			req.RemoteExecution = &astro.RemoteExecutionRequest{Enabled: re.Enabled, AllowedIPAddressRanges: slices.Clone(re.AllowedIPAddressRanges), TaskLogBucket: re.TaskLogBucket, TaskLogURLPattern: re.TaskLogURLPattern}
		}
	}
	req.WorkerQueues = queueRequests(d, req.Type, true)
	for _, v := range d.EnvironmentVariables {
		if _, replaced := secretEnv[v.Key]; replaced {
			continue
		}
		ev := astro.EnvironmentVariableRequest{Key: v.Key, IsSecret: v.IsSecret}
		if !v.IsSecret {
			val := ""
			if v.Value != nil {
				val = *v.Value
			}
			ev.Value = &val
		}
		req.EnvironmentVariables = append(req.EnvironmentVariables, ev)
	}
	keys := make([]string, 0, len(secretEnv))
	for k := range secretEnv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := secretEnv[k]
		req.EnvironmentVariables = append(req.EnvironmentVariables, astro.EnvironmentVariableRequest{Key: k, IsSecret: true, Value: &val})
	}
	return req
}
