package preview

import (
	"fmt"
	"slices"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// CopyRequest builds the create request of a preview from its base
// Deployment, the way `astro deployment inspect --template` followed by
// `astro deployment create --deployment-file` does (astro-api.md §4.4): same
// type and placement, runtime, executor, scheduler, task pod and quota
// settings, worker queues, hibernation schedules, non-secret variables and
// workload identity. Secret variables cannot be read back from Astro; the
// caller adds them from CI secrets (secretEnv).
func CopyRequest(base *astro.Deployment, name, description string, secretEnv map[string]string) (astro.DeploymentRequest, error) {
	t := base.Type
	if t == "" {
		t = "STANDARD"
	}
	req := astro.DeploymentRequest{
		Type:                t,
		Name:                name,
		Description:         description,
		WorkspaceID:         base.WorkspaceID,
		AstroRuntimeVersion: base.AstroRuntimeVersion,
		Executor:            base.Executor,
		IsCicdEnforced:      ptr(base.IsCicdEnforced),
		IsDagDeployEnabled:  ptr(base.IsDagDeployEnabled),
		ContactEmails:       slices.Clone(base.ContactEmails),
		WorkloadIdentity:    base.EffectiveWorkloadIdentity,
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
	for _, q := range base.WorkerQueues {
		// The KubernetesExecutor runs no workers: Astro keeps only the default queue.
		if base.Executor == "KUBERNETES" && !q.IsDefault {
			continue
		}
		wq := astro.WorkerQueueRequest{
			Name: q.Name, IsDefault: q.IsDefault, MinWorkerCount: q.MinWorkerCount, MaxWorkerCount: q.MaxWorkerCount,
			WorkerConcurrency: q.WorkerConcurrency, PodEphemeralStorage: q.PodEphemeralStorage,
		}
		if t == "HYBRID" {
			wq.NodePoolID = q.NodePoolID
		} else {
			wq.AstroMachine = q.AstroMachine
		}
		req.WorkerQueues = append(req.WorkerQueues, wq)
	}
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

func ptr[T any](v T) *T { return &v }

// UpdateRequest is the full-replacement update body that keeps everything
// of d as it is and sets the given secret variables. Secret variables not
// named are sent without a value, which keeps what Astro stores.
func UpdateRequest(d *astro.Deployment, secretEnv map[string]string) astro.DeploymentRequest {
	req := astro.DeploymentRequest{
		Type: d.Type, Name: d.Name, Description: d.Description, WorkspaceID: d.WorkspaceID,
		Executor: d.Executor, IsCicdEnforced: ptr(d.IsCicdEnforced), IsDagDeployEnabled: ptr(d.IsDagDeployEnabled),
		ContactEmails: slices.Clone(d.ContactEmails), WorkloadIdentity: d.EffectiveWorkloadIdentity,
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
	for _, q := range d.WorkerQueues {
		wq := astro.WorkerQueueRequest{ID: q.ID, Name: q.Name, IsDefault: q.IsDefault, MinWorkerCount: q.MinWorkerCount, MaxWorkerCount: q.MaxWorkerCount,
			WorkerConcurrency: q.WorkerConcurrency, PodEphemeralStorage: q.PodEphemeralStorage}
		if req.Type == "HYBRID" {
			wq.NodePoolID = q.NodePoolID
		} else {
			wq.AstroMachine = q.AstroMachine
		}
		req.WorkerQueues = append(req.WorkerQueues, wq)
	}
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
