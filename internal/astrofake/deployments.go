package astrofake

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults a create without the optional fields gets. The server "fills in
// default runtime version, executor, scheduler size, etc." (astro-api.md
// §4.4); the values are plausible, not Astronomer's exact ones.
const (
	defaultRuntime       = "13.1.0"
	defaultTaskPodCPU    = "0.25"
	defaultTaskPodMemory = "0.5Gi"
	defaultQuotaCPU      = "10"
	defaultQuotaMemory   = "20Gi"
)

var (
	machineSpecs = map[string][2]string{
		"A5": {"1", "2Gi"}, "A10": {"2", "4Gi"}, "A20": {"4", "8Gi"}, "A40": {"8", "16Gi"},
		"A60": {"12", "24Gi"}, "A120": {"24", "48Gi"}, "A160": {"32", "64Gi"},
	}
	schedulerSpecs = map[string][2]string{
		"SMALL": {"1", "2Gi"}, "MEDIUM": {"2", "4Gi"}, "LARGE": {"4", "8Gi"}, "EXTRA_LARGE": {"8", "16Gi"},
	}
	// Astro Runtime major → Airflow version; unknown runtimes report "NA"
	// like the real API ("if airflow version is not found, it will return NA").
	airflowByRuntime = map[string]string{
		"9": "2.7.3", "10": "2.8.4", "11": "2.9.3", "12": "2.10.5", "13": "2.11.0", "3": "3.0.6",
	}
	nsAdjectives = []string{"weightless", "stellar", "quiet", "orbital", "bright", "cosmic", "silent", "polar", "lunar", "radiant", "swift", "distant"}
	nsNouns      = []string{"diameter", "nebula", "quasar", "comet", "pulsar", "meteor", "horizon", "eclipse", "zenith", "galaxy", "aurora", "orbit"}
)

func defaultRegion(provider string) string {
	switch provider {
	case "GCP":
		return "us-central1"
	case "AZURE":
		return "eastus"
	}
	return "us-east-1"
}

func airflowVersion(runtime string) string {
	major, _, _ := strings.Cut(runtime, ".")
	if v, ok := airflowByRuntime[major]; ok {
		return v
	}
	return "NA"
}

func imageTagFor(t time.Time) string { return "deploy-" + t.UTC().Format("2006-01-02T15-04") }

// newNamespace returns a Kubernetes-style name like the spec's example
// "weightless-diameter-8927".
func (s *Server) newNamespace() string {
	b := s.randBytes(4)
	return fmt.Sprintf("%s-%s-%04d", nsAdjectives[int(b[0])%len(nsAdjectives)], nsNouns[int(b[1])%len(nsNouns)],
		(int(b[2])<<8|int(b[3]))%10000)
}

func fillQueue(q WorkerQueue, typ string) WorkerQueue {
	if spec, ok := machineSpecs[q.AstroMachine]; ok {
		q.PodCPU = cmp.Or(q.PodCPU, spec[0])
		q.PodMemory = cmp.Or(q.PodMemory, spec[1])
	}
	// Hybrid pods are sized by their node pool, which the fake does not
	// model; hosted queues without a machine get the smallest one.
	if typ != "HYBRID" && q.AstroMachine == "" {
		q.AstroMachine = "A5"
		q.PodCPU, q.PodMemory = cmp.Or(q.PodCPU, "1"), cmp.Or(q.PodMemory, "2Gi")
	}
	q.PodCPU = cmp.Or(q.PodCPU, "1")
	q.PodMemory = cmp.Or(q.PodMemory, "2Gi")
	q.MaxWorkerCount = cmp.Or(q.MaxWorkerCount, 10)
	q.WorkerConcurrency = cmp.Or(q.WorkerConcurrency, 5)
	return q
}

func defaultQueue(id, typ string) WorkerQueue {
	return fillQueue(WorkerQueue{ID: id, Name: "default", IsDefault: true, MinWorkerCount: 0, MaxWorkerCount: 10, WorkerConcurrency: 5}, typ)
}

func defaultWorkloadIdentity(d *deployment) string {
	switch d.cloudProvider {
	case "GCP":
		return d.namespace + "@astro-fake.iam.gserviceaccount.com"
	case "AZURE":
		return "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/astro-fake/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + d.namespace
	}
	return "arn:aws:iam::000000000000:role/" + d.namespace
}

// wireDep renders a deployment. It always carries type, executor and
// workspaceName, plus schedulerSize and the four task-pod/quota strings for
// STANDARD and DEDICATED and clusterId/clusterName for DEDICATED and HYBRID,
// because astro-cli dereferences them unchecked (astro-api.md §4.1, §9).
// Secret environment variable values are never rendered.
func (s *Server) wireDep(d *deployment) wireDeployment {
	short := "d" + d.id[max(0, len(d.id)-7):]
	host := d.orgID + "." + s.uiHost + "/" + short
	w := wireDeployment{
		AirflowVersion: airflowVersion(d.runtime), APIURL: "https://" + host + "/api/v1",
		AstroRuntimeVersion: d.runtime, ContactEmails: slices.Clone(d.contactEmails),
		CreatedAt: ts(d.createdAt), CreatedBy: d.createdBy, Description: d.description,
		EnvironmentVariables: []wireEnvVar{}, Executor: d.executor, ID: d.id,
		ImageRepository: "images.astronomer.cloud/" + d.orgID + "/" + d.namespace, ImageTag: d.imageTag,
		IsCicdEnforced: d.isCicd, IsDagDeployEnabled: d.isDagDeploy,
		Name: d.name, Namespace: d.namespace, OrganizationID: d.orgID, Region: d.region,
		RuntimeVersion: d.runtime, Status: s.status(d), Type: d.typ,
		UIURL:     "https://" + host + "?orgId=" + d.orgID,
		UpdatedAt: ts(d.updatedAt), UpdatedBy: d.updatedBy,
		WebServerAirflowAPIURL: host + "/api/v1", WebServerCPU: "0.5", WebServerMemory: "1Gi",
		WebServerIngressHostname: host, WebServerReplicas: 1, WebServerURL: host + "?orgId=" + d.orgID,
		WorkerQueues: []wireWorkerQueue{}, WorkspaceID: d.workspaceID,
		EffectiveWorkloadIdentity: cmp.Or(d.workloadIdentity, defaultWorkloadIdentity(d)),
		EffectiveDRWorkloadIdent:  d.drWorkloadIdentity,
	}
	if w.ContactEmails == nil {
		w.ContactEmails = []string{}
	}
	if ws, ok := s.workspaces[d.workspaceID]; ok {
		w.WorkspaceName = ws.name
	}
	if w.Status == "HEALTHY" {
		w.StatusReason = "Successfully Deployed"
	}
	switch d.typ {
	case "STANDARD":
		w.CloudProvider = d.cloudProvider
	default:
		w.ClusterID, w.ClusterName = d.clusterID, d.clusterName
	}
	if d.typ == "HYBRID" {
		au := d.schedulerAU
		w.SchedulerAu = &au
		w.SchedulerCPU = strconv.FormatFloat(float64(au)*0.1, 'f', -1, 64)
		w.SchedulerMemory = strconv.FormatFloat(float64(au)*0.375, 'f', -1, 64) + "Gi"
		w.SchedulerReplicas = d.schedulerReplicas
		w.TaskPodNodePoolID = d.taskPodNodePoolID
	} else {
		spec := schedulerSpecs[d.schedSize]
		w.SchedulerCPU, w.SchedulerMemory = spec[0], spec[1]
		w.SchedulerReplicas = 1
		if d.isHA {
			w.SchedulerReplicas, w.WebServerReplicas = 2, 2
		}
		w.SchedulerSize = d.schedSize
		w.DefaultTaskPodCPU, w.DefaultTaskPodMemory = d.taskPodCPU, d.taskPodMem
		w.ResourceQuotaCPU, w.ResourceQuotaMemory = d.quotaCPU, d.quotaMem
		ha, dev := d.isHA, d.isDev
		w.IsHighAvailability, w.IsDevelopmentMode = &ha, &dev
	}
	for _, e := range d.env {
		we := wireEnvVar{IsSecret: e.secret, Key: e.key, UpdatedAt: ts(e.updatedAt)}
		if !e.secret {
			v := e.value
			we.Value = &v
		}
		w.EnvironmentVariables = append(w.EnvironmentVariables, we)
	}
	for _, q := range d.queues {
		w.WorkerQueues = append(w.WorkerQueues, wireWorkerQueue{
			AstroMachine: q.AstroMachine, ID: q.ID, IsDefault: q.IsDefault, MaxWorkerCount: q.MaxWorkerCount,
			MinWorkerCount: q.MinWorkerCount, Name: q.Name, NodePoolID: q.NodePoolID, PodCPU: q.PodCPU,
			PodEphemeralStorage: q.PodEphemeralStorage, PodMemory: q.PodMemory, WorkerConcurrency: q.WorkerConcurrency,
		})
	}
	if len(d.schedules) > 0 || d.isDev {
		hs := &wireHibernationSpec{Schedules: []wireHibernationSched{}}
		for _, sc := range d.schedules {
			hs.Schedules = append(hs.Schedules, wireHibernationSched{
				Description: sc.Description, HibernateAtCron: sc.HibernateAtCron, IsEnabled: sc.IsEnabled, WakeAtCron: sc.WakeAtCron,
			})
		}
		w.ScalingSpec = &wireScalingSpec{HibernationSpec: hs}
	}
	if d.isDev {
		w.ScalingStatus = &wireScalingStatus{HibernationStatus: &wireHibernationStatus{IsHibernating: w.Status == "HIBERNATING"}}
	}
	if d.remote != nil {
		w.RemoteExecution = &wireRemoteExec{
			AllowedIPAddressRanges: append([]string{}, d.remote.allowed...), Enabled: d.remote.enabled,
			RemoteAPIURL: "https://" + host + "/api/v2", TaskLogBucket: d.remote.taskLogBucket,
			TaskLogURLPattern: d.remote.taskLogURLPattn,
		}
	}
	s.wireCode(d, &w)
	return w
}

func (s *Server) lookupDeployment(c *call) (*deployment, int, any) {
	d, ok := s.deployments[c.params["deploymentId"]]
	if !ok || d.deleted || d.orgID != c.params["organizationId"] {
		code, body := errorf(http.StatusNotFound, "Deployment not found")
		return nil, code, body
	}
	return d, 0, nil
}

// ---------------------------------------------------------------------------
// ListDeployments

func (s *Server) listDeployments(c *call) (int, any) {
	org := c.params["organizationId"]
	var fe fieldErrs
	pg := pageParams(c.query, 0, &fe) // ListDeployments declares no maximum (astro-api.md §2)
	keys := sortKeys(c.query, []string{"name", "createdAt", "updatedAt"}, &fe)
	if len(fe) > 0 {
		return fe.response()
	}
	wsIDs, names, depIDs := c.query["workspaceIds"], c.query["names"], c.query["deploymentIds"]
	var list []*deployment
	for _, d := range s.sortedDeployments() {
		if d.deleted || d.orgID != org || !s.canReadDeployment(c.caller, d) {
			continue
		}
		if len(wsIDs) > 0 && !slices.Contains(wsIDs, d.workspaceID) {
			continue
		}
		if len(names) > 0 && !slices.Contains(names, d.name) {
			continue
		}
		if len(depIDs) > 0 && !slices.Contains(depIDs, d.id) {
			continue
		}
		list = append(list, d)
	}
	slices.SortStableFunc(list, func(a, b *deployment) int {
		for _, k := range keys {
			var r int
			switch k[0] {
			case "name":
				r = strings.Compare(a.name, b.name)
			case "createdAt":
				r = a.createdAt.Compare(b.createdAt)
			case "updatedAt":
				r = a.updatedAt.Compare(b.updatedAt)
			}
			if k[1] == "desc" {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.id, b.id))
	})
	out := wireDeploymentsPage{Limit: pg.limit, Offset: pg.offset, TotalCount: len(list), Deployments: []wireDeployment{}}
	for _, d := range paginate(list, pg) {
		out.Deployments = append(out.Deployments, s.wireDep(d))
	}
	return http.StatusOK, out
}

// ---------------------------------------------------------------------------
// GetDeployment

func (s *Server) getDeployment(c *call) (int, any) {
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canReadDeployment(c.caller, d) {
		return forbidden()
	}
	return http.StatusOK, s.wireDep(d)
}

// ---------------------------------------------------------------------------
// DeleteDeployment

// deleteDeployment removes the deployment (204; a second delete is 404).
// Inferred: its DEPLOYMENT-scoped tokens go with it, and roles other tokens
// held on it (DEPLOYMENT roles, DAG roles within it) are dropped, since
// nothing can refer to a deployment that no longer exists.
func (s *Server) deleteDeployment(c *call) (int, any) {
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canCreateDeploymentIn(c.caller, d.workspaceID) {
		return forbidden()
	}
	d.deleted = true
	for _, t := range s.tokens {
		if t.deleted {
			continue
		}
		if t.scope == ScopeDeployment && t.entityID == d.id {
			t.deleted = true
			continue
		}
		t.roles = slices.DeleteFunc(t.roles, func(r Role) bool {
			return (r.EntityType == ScopeDeployment && r.EntityID == d.id) || r.DeploymentID == d.id
		})
	}
	return http.StatusNoContent, nil
}

// ---------------------------------------------------------------------------
// CreateDeployment and UpdateDeployment

var (
	deploymentTypes = []string{"STANDARD", "DEDICATED", "HYBRID"}
	hostedExecutors = []string{"CELERY", "KUBERNETES", "ASTRO"}
	hybridExecutors = []string{"CELERY", "KUBERNETES"}
	schedulerSizes  = []string{"SMALL", "MEDIUM", "LARGE", "EXTRA_LARGE"}
	cloudProviders  = []string{"AWS", "AZURE", "GCP"}
	astroMachines   = []string{"A5", "A10", "A20", "A40", "A60", "A120", "A160"}
)

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func enumCheck(fe *fieldErrs, field string, p *string, allowed []string) {
	if p != nil && !slices.Contains(allowed, *p) {
		fe.add(field, "oneof", "%s must be one of %s", field, strings.Join(allowed, ", "))
	}
}

// quantity parses "0.5" (cores) or "1Gi" (memory, Gi required).
func quantity(v string, gi bool) (float64, bool) {
	if gi {
		var ok bool
		if v, ok = strings.CutSuffix(v, "Gi"); !ok {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// cpuMemPair resolves a cpu/memory pair where memory must be twice the cpu
// (spec descriptions of defaultTaskPod* and resourceQuota*). A missing half
// is derived from the other; both missing gives the defaults.
func cpuMemPair(fe *fieldErrs, cpuField, memField string, cpu, mem *string, defCPU, defMem string) (string, string) {
	switch {
	case cpu == nil && mem == nil:
		return defCPU, defMem
	case cpu != nil && mem == nil:
		f, ok := quantity(*cpu, false)
		if !ok {
			fe.add(cpuField, "quantity", "%s must be a positive number of CPU cores", cpuField)
			return "", ""
		}
		return *cpu, strconv.FormatFloat(f*2, 'f', -1, 64) + "Gi"
	case cpu == nil && mem != nil:
		f, ok := quantity(*mem, true)
		if !ok {
			fe.add(memField, "quantity", "%s must be a positive quantity in Gi, e.g. 1Gi", memField)
			return "", ""
		}
		return strconv.FormatFloat(f/2, 'f', -1, 64), *mem
	}
	c, okC := quantity(*cpu, false)
	m, okM := quantity(*mem, true)
	if !okC {
		fe.add(cpuField, "quantity", "%s must be a positive number of CPU cores", cpuField)
	}
	if !okM {
		fe.add(memField, "quantity", "%s must be a positive quantity in Gi, e.g. 1Gi", memField)
	}
	if okC && okM && math.Abs(m-2*c) > 1e-9 {
		fe.add(memField, "ratio", "%s must be twice %s", memField, cpuField)
	}
	return *cpu, *mem
}

// depSpec is the validated configurable part of a create or update body.
type depSpec struct {
	typ, name, description, workspaceID, executor, schedSize string
	runtime                                                  string
	cloudProvider, region                                    string
	cluster                                                  *cluster
	isCicd, isDagDeploy, isHA, isDev                         bool
	taskPodCPU, taskPodMem, quotaCPU, quotaMem               string
	queues                                                   []wireQueueReq // validated
	schedules                                                []HibernationSchedule
	env                                                      []wireEnvVarReq // validated
	workloadIdentity, drWorkloadIdentity                     string
	contactEmails                                            []string
	schedulerAU, schedulerReplicas                           int
	taskPodNodePoolID                                        string
	remote                                                   *remoteExec
}

// parseDeploymentReq validates the fields common to create and update.
// update selects the Update*DeploymentRequest required lists (astro-api.md
// §4.5); create needs only name and workspaceId (§4.4).
func (s *Server) parseDeploymentReq(req *wireDeploymentReq, typ string, update bool, fe *fieldErrs) depSpec {
	sp := depSpec{typ: typ}
	hybrid := typ == "HYBRID"
	required := func(field string, present bool) {
		if !present {
			fe.add(field, "required", "%s is required", field)
		}
	}
	required("name", req.Name != nil && strings.TrimSpace(*req.Name) != "")
	required("workspaceId", req.WorkspaceID != nil && *req.WorkspaceID != "")
	if update {
		required("executor", req.Executor != nil)
		required("isCicdEnforced", req.IsCicdEnforced != nil)
		required("isDagDeployEnabled", req.IsDagDeployEnabled != nil)
		required("environmentVariables", req.EnvironmentVariables != nil)
		if hybrid {
			required("scheduler", req.Scheduler != nil)
		} else {
			required("schedulerSize", req.SchedulerSize != nil)
			required("isHighAvailability", req.IsHighAvailability != nil)
		}
	}
	sp.name, sp.workspaceID, sp.description = str(req.Name), str(req.WorkspaceID), str(req.Description)
	if utf8.RuneCountInString(sp.name) > 500 {
		fe.add("name", "max", "name must be at most 500 characters")
	}
	if utf8.RuneCountInString(sp.description) > 1000 {
		fe.add("description", "max", "description must be at most 1000 characters")
	}
	if hybrid {
		enumCheck(fe, "executor", req.Executor, hybridExecutors)
	} else {
		enumCheck(fe, "executor", req.Executor, hostedExecutors)
		enumCheck(fe, "schedulerSize", req.SchedulerSize, schedulerSizes)
	}
	sp.executor = cmp.Or(str(req.Executor), "CELERY")
	sp.schedSize = cmp.Or(str(req.SchedulerSize), "SMALL")
	sp.runtime = cmp.Or(str(req.AstroRuntimeVersion), defaultRuntime)
	sp.isCicd = boolOr(req.IsCicdEnforced, false)
	sp.isDagDeploy = boolOr(req.IsDagDeployEnabled, true)
	sp.isHA = boolOr(req.IsHighAvailability, false)
	sp.isDev = boolOr(req.IsDevelopmentMode, false)
	sp.workloadIdentity, sp.drWorkloadIdentity = str(req.WorkloadIdentity), str(req.DrWorkloadIdentity)
	if req.ContactEmails != nil {
		sp.contactEmails = slices.Clone(*req.ContactEmails)
	}
	for i, e := range sp.contactEmails {
		if !strings.Contains(e, "@") {
			fe.add(fmt.Sprintf("contactEmails[%d]", i), "email", "contactEmails[%d] is not an email address", i)
		}
	}
	if !hybrid {
		sp.taskPodCPU, sp.taskPodMem = cpuMemPair(fe, "defaultTaskPodCpu", "defaultTaskPodMemory",
			req.DefaultTaskPodCPU, req.DefaultTaskPodMemory, defaultTaskPodCPU, defaultTaskPodMemory)
		sp.quotaCPU, sp.quotaMem = cpuMemPair(fe, "resourceQuotaCpu", "resourceQuotaMemory",
			req.ResourceQuotaCPU, req.ResourceQuotaMemory, defaultQuotaCPU, defaultQuotaMemory)
	} else {
		sp.schedulerAU, sp.schedulerReplicas = 5, 1
		if req.Scheduler != nil {
			if req.Scheduler.Au == nil {
				fe.add("scheduler.au", "required", "scheduler.au is required")
			} else if a := *req.Scheduler.Au; a < 5 || a > 24 {
				fe.add("scheduler.au", "range", "scheduler.au must be between 5 and 24")
			} else {
				sp.schedulerAU = a
			}
			if req.Scheduler.Replicas == nil {
				fe.add("scheduler.replicas", "required", "scheduler.replicas is required")
			} else if r := *req.Scheduler.Replicas; r < 1 || r > 4 {
				fe.add("scheduler.replicas", "range", "scheduler.replicas must be between 1 and 4")
			} else {
				sp.schedulerReplicas = r
			}
		}
		sp.taskPodNodePoolID = str(req.TaskPodNodePoolID)
	}
	// Worker queues. The KubernetesExecutor has none (inferred, see
	// kubernetesHasNoQueues): each task runs in its own pod.
	if req.WorkerQueues != nil && sp.executor == "KUBERNETES" {
		fe.add("workerQueues", "executor", "worker queues are not available with the KUBERNETES executor, which runs each task in its own pod: "+
			"size task pods with defaultTaskPodCpu and defaultTaskPodMemory (taskPodNodePoolId on Hybrid) and send no workerQueues")
	}
	if req.WorkerQueues != nil {
		qs := *req.WorkerQueues
		if len(qs) == 0 {
			fe.add("workerQueues", "min", "workerQueues must contain at least 1 item")
		}
		names := map[string]bool{}
		defaults := 0
		for i, q := range qs {
			f := func(n string) string { return fmt.Sprintf("workerQueues[%d].%s", i, n) }
			required(f("name"), q.Name != nil && *q.Name != "")
			required(f("isDefault"), q.IsDefault != nil)
			required(f("minWorkerCount"), q.MinWorkerCount != nil)
			required(f("maxWorkerCount"), q.MaxWorkerCount != nil)
			required(f("workerConcurrency"), q.WorkerConcurrency != nil)
			if hybrid {
				required(f("nodePoolId"), q.NodePoolID != nil && *q.NodePoolID != "")
			} else {
				// Required by WorkerQueueRequest on create; "required for
				// Astro Hosted deployments" by UpdateWorkerQueueRequest.
				required(f("astroMachine"), q.AstroMachine != nil)
				enumCheck(fe, f("astroMachine"), q.AstroMachine, astroMachines)
			}
			if q.Name != nil && utf8.RuneCountInString(*q.Name) > 63 {
				fe.add(f("name"), "max", "%s must be at most 63 characters", f("name"))
			}
			if q.Name != nil {
				if names[*q.Name] {
					fe.add(f("name"), "duplicate", "worker queue names must be unique")
				}
				names[*q.Name] = true
			}
			if q.MinWorkerCount != nil && *q.MinWorkerCount < 0 {
				fe.add(f("minWorkerCount"), "min", "%s must be >= 0", f("minWorkerCount"))
			}
			if q.MaxWorkerCount != nil && *q.MaxWorkerCount < 1 {
				fe.add(f("maxWorkerCount"), "min", "%s must be >= 1", f("maxWorkerCount"))
			}
			if q.WorkerConcurrency != nil && *q.WorkerConcurrency < 1 {
				fe.add(f("workerConcurrency"), "min", "%s must be >= 1", f("workerConcurrency"))
			}
			if q.MinWorkerCount != nil && q.MaxWorkerCount != nil && *q.MinWorkerCount > *q.MaxWorkerCount {
				fe.add(f("minWorkerCount"), "range", "%s must not exceed maxWorkerCount", f("minWorkerCount"))
			}
			if boolOr(q.IsDefault, false) {
				defaults++
			}
		}
		// "All these Deployments need at least 1 worker queue called default".
		if len(qs) > 0 && sp.executor != "KUBERNETES" && !names["default"] {
			fe.add("workerQueues", "default", "a worker queue named default is required")
		}
		if defaults > 1 {
			fe.add("workerQueues", "default", "at most one worker queue can be the default")
		}
		sp.queues = qs
	}
	// Hibernation schedules: development-mode deployments only.
	if req.ScalingSpec != nil && req.ScalingSpec.HibernationSpec != nil {
		hs := req.ScalingSpec.HibernationSpec
		if hs.Schedules != nil {
			if len(*hs.Schedules) > 10 {
				fe.add("scalingSpec.hibernationSpec.schedules", "max", "at most 10 hibernation schedules are allowed")
			}
			for i, sc := range *hs.Schedules {
				f := func(n string) string { return fmt.Sprintf("scalingSpec.hibernationSpec.schedules[%d].%s", i, n) }
				required(f("hibernateAtCron"), sc.HibernateAtCron != nil && *sc.HibernateAtCron != "")
				required(f("wakeAtCron"), sc.WakeAtCron != nil && *sc.WakeAtCron != "")
				required(f("isEnabled"), sc.IsEnabled != nil)
				if utf8.RuneCountInString(str(sc.Description)) > 200 {
					fe.add(f("description"), "max", "%s must be at most 200 characters", f("description"))
				}
				for _, cron := range []*string{sc.HibernateAtCron, sc.WakeAtCron} {
					if cron != nil && *cron != "" && len(strings.Fields(*cron)) != 5 {
						fe.add(f("hibernateAtCron"), "cron", "hibernation schedules take 5-part cron expressions")
						break
					}
				}
				sp.schedules = append(sp.schedules, HibernationSchedule{
					HibernateAtCron: str(sc.HibernateAtCron), WakeAtCron: str(sc.WakeAtCron),
					IsEnabled: boolOr(sc.IsEnabled, false), Description: str(sc.Description),
				})
			}
		}
	}
	// Environment variables: key and isSecret are required; keys unique.
	if req.EnvironmentVariables != nil {
		keys := map[string]bool{}
		for i, e := range *req.EnvironmentVariables {
			f := func(n string) string { return fmt.Sprintf("environmentVariables[%d].%s", i, n) }
			required(f("key"), e.Key != nil && *e.Key != "")
			required(f("isSecret"), e.IsSecret != nil)
			if e.Key != nil && *e.Key != "" {
				if keys[*e.Key] {
					fe.add(f("key"), "duplicate", "environment variable keys must be unique")
				}
				keys[*e.Key] = true
			}
		}
		sp.env = *req.EnvironmentVariables
	}
	if req.RemoteExecution != nil {
		re := req.RemoteExecution
		required("remoteExecution.enabled", re.Enabled != nil)
		sp.remote = &remoteExec{enabled: boolOr(re.Enabled, false), taskLogBucket: str(re.TaskLogBucket), taskLogURLPattn: str(re.TaskLogURLPattern)}
		if re.AllowedIPAddressRanges != nil {
			sp.remote.allowed = slices.Clone(*re.AllowedIPAddressRanges)
		}
	}
	return sp
}

// resolveInfra applies §4.4's resolution order for create: clusterId first
// (its type wins; STANDARD + clusterId gives the cluster's type), then
// cloudProvider + region together (STANDARD), then, for lack of modelled
// workspace defaults, AWS us-east-1 for STANDARD or the organization's only
// cluster of the requested type.
func (s *Server) resolveInfra(org string, req *wireDeploymentReq, sp *depSpec, typeGiven bool, fe *fieldErrs) {
	if cid := str(req.ClusterID); cid != "" {
		c, ok := s.clusters[cid]
		if !ok || c.orgID != org {
			fe.add("clusterId", "not_found", "cluster %s not found", cid)
			return
		}
		if typeGiven && sp.typ != "STANDARD" && sp.typ != c.typ {
			fe.add("clusterId", "type", "cluster %s hosts %s deployments, not %s", cid, c.typ, sp.typ)
			return
		}
		sp.typ, sp.cluster, sp.cloudProvider, sp.region = c.typ, c, c.cloudProvider, c.region
		return
	}
	if sp.typ == "STANDARD" {
		enumCheck(fe, "cloudProvider", req.CloudProvider, cloudProviders)
		if (req.CloudProvider == nil) != (req.Region == nil) {
			fe.add("region", "required_with", "cloudProvider and region must be provided together")
			return
		}
		sp.cloudProvider = cmp.Or(str(req.CloudProvider), "AWS")
		sp.region = cmp.Or(str(req.Region), defaultRegion(sp.cloudProvider))
		return
	}
	var only *cluster
	n := 0
	for _, c := range s.clusters {
		if c.orgID == org && c.typ == sp.typ {
			only, n = c, n+1
		}
	}
	if n != 1 {
		fe.add("clusterId", "required", "clusterId is required for %s deployments", sp.typ)
		return
	}
	sp.cluster, sp.cloudProvider, sp.region = only, only.cloudProvider, only.region
}

func (s *Server) createDeployment(c *call) (int, any) {
	org := c.params["organizationId"]
	var req wireDeploymentReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	var fe fieldErrs
	enumCheck(&fe, "type", req.Type, deploymentTypes)
	if len(fe) > 0 {
		return fe.response()
	}
	// type is optional in v1; without it the cluster decides, else STANDARD.
	typ := str(req.Type)
	if typ == "" {
		typ = "STANDARD"
		if c, ok := s.clusters[str(req.ClusterID)]; ok && c.orgID == org {
			typ = c.typ
		}
	}
	sp := s.parseDeploymentReq(&req, typ, false, &fe)
	if len(fe) == 0 {
		s.resolveInfra(org, &req, &sp, req.Type != nil, &fe)
	}
	for i, e := range sp.env {
		if boolOr(e.IsSecret, false) && e.Value == nil {
			fe.add(fmt.Sprintf("environmentVariables[%d].value", i), "required", "a new secret environment variable needs a value")
		}
	}
	for i, q := range sp.queues {
		if q.ID != nil && *q.ID != "" {
			fe.add(fmt.Sprintf("workerQueues[%d].id", i), "invalid", "a new deployment has no worker queue with this id")
		}
	}
	// Hibernation is a development-mode feature (astro-api.md §4.7).
	if len(sp.schedules) > 0 && !sp.isDev {
		fe.add("scalingSpec", "development", "hibernation is available only for development-mode deployments (isDevelopmentMode)")
	}
	s.checkRuntimeOffered(req.AstroRuntimeVersion, &fe)
	s.checkWorkloadIdentity(sp.workloadIdentity, "", &fe)
	if len(fe) > 0 {
		return fe.response()
	}
	// CreateDeployment declares no 404: an unknown workspace is a 400.
	if w, ok := s.workspaces[sp.workspaceID]; !ok || w.orgID != org {
		return badRequest("workspaceId", "not_found", "workspace %s not found", sp.workspaceID)
	}
	if !s.canCreateDeploymentIn(c.caller, sp.workspaceID) {
		return forbidden()
	}
	now := s.clock()
	d := &deployment{
		id: s.newID(), orgID: org, namespace: s.newNamespace(), runtime: sp.runtime,
		createdAt: now, createdBy: callerSubject(c.caller), seq: s.nextSeq(),
		imageTag: imageTagFor(now),
	}
	if s.readyAfter == 0 {
		d.fixedStatus = "HEALTHY"
	}
	s.applySpec(d, sp, now, callerSubject(c.caller))
	s.deployments[d.id] = d
	return http.StatusOK, s.wireDep(d)
}

// applySpec writes a validated spec into d: a full replacement of the
// configurable fields.
func (s *Server) applySpec(d *deployment, sp depSpec, now time.Time, by wireSubject) {
	d.typ, d.name, d.description, d.workspaceID = sp.typ, sp.name, sp.description, sp.workspaceID
	d.executor, d.isCicd, d.isDagDeploy = sp.executor, sp.isCicd, sp.isDagDeploy
	if sp.cluster != nil {
		d.clusterID, d.clusterName = sp.cluster.id, sp.cluster.name
	}
	if sp.cloudProvider != "" {
		d.cloudProvider, d.region = sp.cloudProvider, sp.region
	}
	if sp.typ == "HYBRID" {
		d.schedulerAU, d.schedulerReplicas, d.taskPodNodePoolID = sp.schedulerAU, sp.schedulerReplicas, sp.taskPodNodePoolID
	} else {
		d.schedSize, d.isHA, d.isDev = sp.schedSize, sp.isHA, sp.isDev
		d.taskPodCPU, d.taskPodMem, d.quotaCPU, d.quotaMem = sp.taskPodCPU, sp.taskPodMem, sp.quotaCPU, sp.quotaMem
	}
	d.schedules = sp.schedules
	d.workloadIdentity, d.drWorkloadIdentity = sp.workloadIdentity, sp.drWorkloadIdentity
	d.contactEmails = sp.contactEmails
	d.remote = sp.remote
	// Queues: an id keeps that queue's id; others get new ones.
	var queues []WorkerQueue
	for _, q := range sp.queues {
		wq := WorkerQueue{
			ID: str(q.ID), Name: str(q.Name), IsDefault: boolOr(q.IsDefault, false), AstroMachine: str(q.AstroMachine),
			NodePoolID: str(q.NodePoolID), PodEphemeralStorage: str(q.PodEphemeralStorage),
		}
		if q.MinWorkerCount != nil {
			wq.MinWorkerCount = *q.MinWorkerCount
		}
		if q.MaxWorkerCount != nil {
			wq.MaxWorkerCount = *q.MaxWorkerCount
		}
		if q.WorkerConcurrency != nil {
			wq.WorkerConcurrency = *q.WorkerConcurrency
		}
		if wq.ID == "" {
			wq.ID = s.newID()
		}
		queues = append(queues, fillQueue(wq, d.typ))
	}
	if len(queues) == 0 && d.executor != "KUBERNETES" {
		queues = []WorkerQueue{defaultQueue(s.newID(), d.typ)}
	}
	d.queues = queues
	// Environment variables: a value-less variable keeps the stored value of
	// the same key (how astro-cli keeps secrets on update, astro-api.md §4.5).
	old := map[string]envVar{}
	for _, e := range d.env {
		old[e.key] = e
	}
	var env []envVar
	for _, e := range sp.env {
		nv := envVar{key: str(e.Key), secret: boolOr(e.IsSecret, false), updatedAt: now}
		prev, had := old[nv.key]
		if e.Value != nil {
			nv.value = *e.Value
		} else if had {
			nv.value = prev.value
		}
		if had && prev.value == nv.value && prev.secret == nv.secret {
			nv.updatedAt = prev.updatedAt
		}
		env = append(env, nv)
	}
	d.env = env
	d.updatedAt, d.updatedBy = now, by
}

// updateDeployment is a full replacement of the configurable fields
// (astro-api.md §4.5): required fields per Update*DeploymentRequest; absent
// optional fields fall back to what a create would give (inferred). The
// type cannot change, isDevelopmentMode cannot go from false to true, and
// a secret variable sent without value keeps its stored value.
func (s *Server) updateDeployment(c *call) (int, any) {
	org := c.params["organizationId"]
	var req wireDeploymentReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	var fe fieldErrs
	if req.Type == nil {
		fe.add("type", "required", "type is required")
		return fe.response()
	}
	enumCheck(&fe, "type", req.Type, deploymentTypes)
	if len(fe) > 0 {
		return fe.response()
	}
	sp := s.parseDeploymentReq(&req, *req.Type, true, &fe)
	if len(fe) > 0 {
		return fe.response()
	}
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canUpdateDeployment(c.caller, d) {
		return forbidden()
	}
	if sp.typ != d.typ {
		return badRequest("type", "immutable", "the deployment type is %s and cannot be changed", d.typ)
	}
	if w, ok := s.workspaces[sp.workspaceID]; !ok || w.orgID != org {
		return badRequest("workspaceId", "not_found", "workspace %s not found", sp.workspaceID)
	}
	if sp.workspaceID != d.workspaceID && !s.canCreateDeploymentIn(c.caller, sp.workspaceID) {
		return forbidden()
	}
	if req.IsDevelopmentMode == nil {
		sp.isDev = d.isDev
	} else if sp.isDev && !d.isDev {
		return badRequest("isDevelopmentMode", "immutable", "isDevelopmentMode cannot be changed from false to true")
	}
	if len(sp.schedules) > 0 && !sp.isDev {
		return badRequest("scalingSpec", "development", "hibernation is available only for development-mode deployments (isDevelopmentMode)")
	}
	have := map[string]bool{}
	for _, q := range d.queues {
		have[q.ID] = true
	}
	for i, q := range sp.queues {
		if q.ID != nil && *q.ID != "" && !have[*q.ID] {
			fe.add(fmt.Sprintf("workerQueues[%d].id", i), "not_found", "worker queue %s not found on this deployment", *q.ID)
		}
	}
	s.checkWorkloadIdentity(sp.workloadIdentity, d.id, &fe)
	stored := map[string]bool{}
	for _, e := range d.env {
		stored[e.key] = true
	}
	for i, e := range sp.env {
		if boolOr(e.IsSecret, false) && e.Value == nil && !stored[str(e.Key)] {
			fe.add(fmt.Sprintf("environmentVariables[%d].value", i), "required", "a new secret environment variable needs a value")
		}
	}
	if len(fe) > 0 {
		return fe.response()
	}
	// Placement is not updatable: keep cluster / provider / region.
	sp.cloudProvider, sp.region = d.cloudProvider, d.region
	if d.clusterID != "" {
		sp.cluster = &cluster{id: d.clusterID, name: d.clusterName}
	}
	s.applySpec(d, sp, s.clock(), callerSubject(c.caller))
	return http.StatusOK, s.wireDep(d)
}
