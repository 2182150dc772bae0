package astrofake

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Scopes, entity types and role names of the wire (ApiToken.scope,
// ApiTokenRole.entityType; astro-api.md §3.1, §3.4).
const (
	ScopeOrganization = "ORGANIZATION"
	ScopeWorkspace    = "WORKSPACE"
	ScopeDeployment   = "DEPLOYMENT"

	EntityDAG    = "DAG"
	EntityDAGTag = "DAG_TAG"

	RoleOrganizationOwner         = "ORGANIZATION_OWNER"
	RoleOrganizationBillingAdmin  = "ORGANIZATION_BILLING_ADMIN"
	RoleOrganizationMember        = "ORGANIZATION_MEMBER"
	RoleOrganizationObserveAdmin  = "ORGANIZATION_OBSERVE_ADMIN"
	RoleOrganizationObserveMember = "ORGANIZATION_OBSERVE_MEMBER"
	RoleWorkspaceOwner            = "WORKSPACE_OWNER"
	RoleWorkspaceOperator         = "WORKSPACE_OPERATOR"
	RoleWorkspaceAuthor           = "WORKSPACE_AUTHOR"
	RoleWorkspaceMember           = "WORKSPACE_MEMBER"
	RoleWorkspaceAccessor         = "WORKSPACE_ACCESSOR"
	RoleDeploymentAdmin           = "DEPLOYMENT_ADMIN"
)

var (
	orgRoles = []string{RoleOrganizationOwner, RoleOrganizationBillingAdmin, RoleOrganizationMember,
		RoleOrganizationObserveAdmin, RoleOrganizationObserveMember}
	wsRoles = []string{RoleWorkspaceOwner, RoleWorkspaceOperator, RoleWorkspaceAuthor,
		RoleWorkspaceMember, RoleWorkspaceAccessor}
)

// Role is one entry of a token's role set (ApiTokenRole).
type Role struct {
	EntityType   string // ORGANIZATION, WORKSPACE, DEPLOYMENT, DAG, DAG_TAG
	EntityID     string // org/workspace/deployment id; the dag_id or tag value for DAG/DAG_TAG
	Role         string
	DeploymentID string // DAG and DAG_TAG only
}

type organization struct {
	id, name  string
	createdAt time.Time
	planID    string
}

type workspace struct {
	id, orgID, name string
	createdAt       time.Time
	seq             int64
}

type cluster struct {
	id, orgID, name, typ, cloudProvider, region string
}

type token struct {
	id, orgID, name, description, scope, kind, entityID string
	roles                                               []Role
	expiryDays                                          int // 0 = never expires
	startAt, endAt, createdAt, updatedAt                time.Time
	lastUsedAt, lastRotatedAt                           time.Time
	createdBy, updatedBy                                wireSubject
	value, jti, shortToken                              string
	deleted                                             bool
	seq                                                 int64
}

type envVar struct {
	key, value string
	secret     bool
	updatedAt  time.Time
}

type remoteExec struct {
	enabled                        bool
	allowed                        []string
	taskLogBucket, taskLogURLPattn string
}

type deployment struct {
	id, orgID, workspaceID                        string
	name, description, typ, executor, schedSize   string
	cloudProvider, region, clusterID, clusterName string
	runtime, namespace, imageTag                  string
	isCicd, isDagDeploy, isHA, isDev              bool
	taskPodCPU, taskPodMem, quotaCPU, quotaMem    string
	queues                                        []WorkerQueue
	schedules                                     []HibernationSchedule
	env                                           []envVar
	workloadIdentity, drWorkloadIdentity          string
	contactEmails                                 []string
	schedulerAU, schedulerReplicas                int // HYBRID
	taskPodNodePoolID                             string
	remote                                        *remoteExec
	fixedStatus                                   string // seeded status; "" = CREATING until ready
	createdAt, updatedAt                          time.Time
	createdBy, updatedBy                          wireSubject
	deleted                                       bool
	seq                                           int64
	code                                          depCode // code deploys (deploys.go)
}

// status is computed on read: CREATING until DeploymentReadyAfter has
// elapsed on the fake's clock since creation, then HEALTHY (astro-api.md §9).
func (s *Server) status(d *deployment) string {
	if st, ok := s.overrideStatus(d); ok {
		return st
	}
	if d.fixedStatus != "" {
		return d.fixedStatus
	}
	if s.clock().Before(d.createdAt.Add(s.readyAfter)) {
		return "CREATING"
	}
	return "HEALTHY"
}

func (s *Server) nextSeq() int64 { s.seq++; return s.seq }

// ---------------------------------------------------------------------------
// Seeding

// AddOrganization adds an organization. Adding an existing id renames it.
func (s *Server) AddOrganization(id, name string) {
	planID := s.newID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orgs[id]; ok {
		o.name = name
		return
	}
	s.orgs[id] = &organization{id: id, name: name, createdAt: s.clock(), planID: planID}
}

// AddWorkspace adds a workspace to an existing organization. It panics when
// the organization is unknown (a test set-up error).
func (s *Server) AddWorkspace(orgID, id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[orgID]; !ok {
		panic(fmt.Sprintf("astrofake: AddWorkspace: unknown organization %q", orgID))
	}
	if w, ok := s.workspaces[id]; ok {
		w.name = name
		return
	}
	s.workspaces[id] = &workspace{id: id, orgID: orgID, name: name, createdAt: s.clock(), seq: s.nextSeq()}
}

// SeedCluster describes a DEDICATED or HYBRID cluster. Clusters are not
// served as a resource; they let CreateDeployment resolve clusterId.
type SeedCluster struct {
	ID, OrgID, Name string
	Type            string // DEDICATED or HYBRID
	CloudProvider   string // AWS, AZURE, GCP
	Region          string
}

// AddCluster registers a cluster and returns its id (generated when empty).
func (s *Server) AddCluster(c SeedCluster) string {
	if c.ID == "" {
		c.ID = s.newID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[c.OrgID]; !ok {
		panic(fmt.Sprintf("astrofake: AddCluster: unknown organization %q", c.OrgID))
	}
	s.addClusterLocked(c)
	return c.ID
}

func (s *Server) addClusterLocked(c SeedCluster) {
	if c.Type == "" {
		c.Type = "DEDICATED"
	}
	if c.Name == "" {
		c.Name = "cluster-" + c.ID[len(c.ID)-6:]
	}
	if c.CloudProvider == "" {
		c.CloudProvider = "AWS"
	}
	if c.Region == "" {
		c.Region = defaultRegion(c.CloudProvider)
	}
	s.clusters[c.ID] = &cluster{id: c.ID, orgID: c.OrgID, name: c.Name, typ: c.Type,
		cloudProvider: c.CloudProvider, region: c.Region}
}

// WorkerQueue is a deployment worker queue. PodCPU and PodMemory are derived
// from AstroMachine when empty.
type WorkerQueue struct {
	ID                  string
	Name                string
	IsDefault           bool
	AstroMachine        string // A5…A160, hosted deployments
	NodePoolID          string // HYBRID
	MinWorkerCount      int
	MaxWorkerCount      int
	WorkerConcurrency   int
	PodEphemeralStorage string
	PodCPU              string
	PodMemory           string
}

// HibernationSchedule is DeploymentHibernationSchedule.
type HibernationSchedule struct {
	HibernateAtCron string
	WakeAtCron      string
	IsEnabled       bool
	Description     string
}

// EnvVar is a deployment environment variable.
type EnvVar struct {
	Key      string
	Value    string
	IsSecret bool
}

// SeedDeployment holds the copyable configuration of a deployment for
// AddDeployment. Empty fields get the defaults CreateDeployment would give.
type SeedDeployment struct {
	ID                   string // "" = generated
	Name                 string
	Description          string
	WorkspaceID          string
	Type                 string // STANDARD (default), DEDICATED, HYBRID
	CloudProvider        string // STANDARD
	Region               string
	ClusterID            string // DEDICATED/HYBRID; registered as a cluster when unknown
	ClusterName          string
	AstroRuntimeVersion  string
	Executor             string
	SchedulerSize        string
	SchedulerAU          int // HYBRID
	SchedulerReplicas    int // HYBRID
	TaskPodNodePoolID    string
	IsHighAvailability   bool
	IsDevelopmentMode    bool
	IsCicdEnforced       bool
	IsDagDeployEnabled   bool
	DefaultTaskPodCPU    string
	DefaultTaskPodMemory string
	ResourceQuotaCPU     string
	ResourceQuotaMemory  string
	WorkerQueues         []WorkerQueue
	HibernationSchedules []HibernationSchedule
	EnvVars              []EnvVar
	WorkloadIdentity     string
	ContactEmails        []string
	RemoteExecution      bool      // remoteExecution.enabled (ASTRO executor)
	Status               string    // default HEALTHY; "CREATING" follows the ready timer
	CreatedAt            time.Time // zero = now
}

// AddDeployment adds a deployment to an existing workspace and returns its id.
func (s *Server) AddDeployment(sd SeedDeployment) string {
	id := sd.ID
	if id == "" {
		id = s.newID()
	}
	ns := s.newNamespace()
	queueIDs := make([]string, len(sd.WorkerQueues)+1)
	for i := range queueIDs {
		queueIDs[i] = s.newID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ws, ok := s.workspaces[sd.WorkspaceID]
	if !ok {
		panic(fmt.Sprintf("astrofake: AddDeployment: unknown workspace %q", sd.WorkspaceID))
	}
	now := s.clock()
	created := sd.CreatedAt.UTC().Truncate(time.Second)
	if sd.CreatedAt.IsZero() {
		created = now
	}
	d := &deployment{
		id: id, orgID: ws.orgID, workspaceID: ws.id,
		name: sd.Name, description: sd.Description,
		typ: cmp.Or(sd.Type, "STANDARD"), executor: cmp.Or(sd.Executor, "CELERY"),
		runtime: cmp.Or(sd.AstroRuntimeVersion, defaultRuntime), namespace: ns,
		isCicd: sd.IsCicdEnforced, isDagDeploy: sd.IsDagDeployEnabled, isHA: sd.IsHighAvailability, isDev: sd.IsDevelopmentMode,
		workloadIdentity: sd.WorkloadIdentity, contactEmails: slices.Clone(sd.ContactEmails),
		schedules:   slices.Clone(sd.HibernationSchedules),
		fixedStatus: cmp.Or(sd.Status, "HEALTHY"),
		createdAt:   created, updatedAt: created, createdBy: s.seedUser, updatedBy: s.seedUser,
		seq: s.nextSeq(),
	}
	if d.fixedStatus == "CREATING" {
		d.fixedStatus = ""
	}
	switch d.typ {
	case "STANDARD":
		d.cloudProvider = cmp.Or(sd.CloudProvider, "AWS")
		d.region = cmp.Or(sd.Region, defaultRegion(d.cloudProvider))
	default:
		cid := cmp.Or(sd.ClusterID, s.newID())
		c, ok := s.clusters[cid]
		if !ok {
			s.addClusterLocked(SeedCluster{ID: cid, OrgID: ws.orgID, Name: sd.ClusterName, Type: d.typ,
				CloudProvider: sd.CloudProvider, Region: sd.Region})
			c = s.clusters[cid]
		}
		d.clusterID, d.clusterName, d.region, d.cloudProvider = c.id, c.name, c.region, c.cloudProvider
	}
	if d.typ == "HYBRID" {
		d.schedulerAU = cmp.Or(sd.SchedulerAU, 5)
		d.schedulerReplicas = cmp.Or(sd.SchedulerReplicas, 1)
		d.taskPodNodePoolID = sd.TaskPodNodePoolID
	} else {
		d.schedSize = cmp.Or(sd.SchedulerSize, "SMALL")
		d.taskPodCPU = cmp.Or(sd.DefaultTaskPodCPU, defaultTaskPodCPU)
		d.taskPodMem = cmp.Or(sd.DefaultTaskPodMemory, defaultTaskPodMemory)
		d.quotaCPU = cmp.Or(sd.ResourceQuotaCPU, defaultQuotaCPU)
		d.quotaMem = cmp.Or(sd.ResourceQuotaMemory, defaultQuotaMemory)
	}
	for i, q := range sd.WorkerQueues {
		q.ID = cmp.Or(q.ID, queueIDs[i])
		d.queues = append(d.queues, fillQueue(q, d.typ))
	}
	if d.executor == "KUBERNETES" && len(d.queues) > 0 {
		panic("astrofake: AddDeployment: a KUBERNETES deployment has no worker queues")
	}
	if len(d.queues) == 0 && d.executor != "KUBERNETES" {
		d.queues = []WorkerQueue{defaultQueue(queueIDs[len(queueIDs)-1], d.typ)}
	}
	if sd.RemoteExecution {
		d.remote = &remoteExec{enabled: true, allowed: []string{}}
	}
	for _, e := range sd.EnvVars {
		d.env = append(d.env, envVar{key: e.Key, value: e.Value, secret: e.IsSecret, updatedAt: created})
	}
	d.imageTag = imageTagFor(created)
	s.deployments[id] = d
	return id
}

// TokenSpec describes a token for MintToken.
type TokenSpec struct {
	OrgID       string
	Name        string // default "fake token"
	Description string
	Scope       string // ORGANIZATION (default), WORKSPACE, DEPLOYMENT
	EntityID    string // workspace or deployment id for WORKSPACE/DEPLOYMENT
	Role        string // the role on the token's own scope entity (required)
	ExtraRoles  []Role
	ExpiryDays  int       // 0 = never expires
	CreatedAt   time.Time // zero = now; also the JWT iat/nbf and startAt
	LastUsedAt  time.Time // zero = unset
}

// MintToken creates a token directly (no authorization, no role rules) and
// returns its id and current value. It panics on an unknown organization or
// entity (a test set-up error).
func (s *Server) MintToken(spec TokenSpec) (id, value string) {
	id = s.newID()
	jti := s.newID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[spec.OrgID]; !ok {
		panic(fmt.Sprintf("astrofake: MintToken: unknown organization %q", spec.OrgID))
	}
	if spec.Role == "" {
		panic("astrofake: MintToken: Role is required")
	}
	scope := cmp.Or(spec.Scope, ScopeOrganization)
	entity := spec.EntityID
	switch scope {
	case ScopeOrganization:
		entity = spec.OrgID
	case ScopeWorkspace:
		if w, ok := s.workspaces[entity]; !ok || w.orgID != spec.OrgID {
			panic(fmt.Sprintf("astrofake: MintToken: unknown workspace %q", entity))
		}
	case ScopeDeployment:
		if d, ok := s.deployments[entity]; !ok || d.deleted || d.orgID != spec.OrgID {
			panic(fmt.Sprintf("astrofake: MintToken: unknown deployment %q", entity))
		}
	default:
		panic(fmt.Sprintf("astrofake: MintToken: bad scope %q", scope))
	}
	created := spec.CreatedAt.UTC().Truncate(time.Second)
	if spec.CreatedAt.IsZero() {
		created = s.clock()
	}
	t := &token{
		id: id, orgID: spec.OrgID, name: cmp.Or(spec.Name, "fake token"), description: spec.Description,
		scope: scope, kind: "STANDARD", entityID: entity,
		roles:      append([]Role{{EntityType: scope, EntityID: entity, Role: spec.Role}}, spec.ExtraRoles...),
		expiryDays: spec.ExpiryDays,
		startAt:    created, createdAt: created, updatedAt: created,
		lastUsedAt: spec.LastUsedAt.UTC().Truncate(time.Second),
		createdBy:  s.seedUser, updatedBy: s.seedUser,
		seq: s.nextSeq(),
	}
	if spec.LastUsedAt.IsZero() {
		t.lastUsedAt = time.Time{}
	}
	if t.expiryDays > 0 {
		t.endAt = created.AddDate(0, 0, t.expiryDays)
	}
	s.mintValueLocked(t, created, jti)
	s.tokens[id] = t
	return id, t.value
}

// ---------------------------------------------------------------------------
// Inspection

// TokenInfo is an exported copy of a token's state, without its secret value.
type TokenInfo struct {
	ID, OrgID, Name, Description string
	Scope, Kind, EntityID        string
	Roles                        []Role
	ExpiryDays                   int
	ShortToken                   string
	StartAt, EndAt               time.Time // EndAt zero = never expires
	CreatedAt, UpdatedAt         time.Time
	LastUsedAt, LastRotatedAt    time.Time // zero = unset
	Deleted                      bool
}

func (t *token) info() TokenInfo {
	return TokenInfo{
		ID: t.id, OrgID: t.orgID, Name: t.name, Description: t.description,
		Scope: t.scope, Kind: t.kind, EntityID: t.entityID, Roles: slices.Clone(t.roles),
		ExpiryDays: t.expiryDays, ShortToken: t.shortToken,
		StartAt: t.startAt, EndAt: t.endAt, CreatedAt: t.createdAt, UpdatedAt: t.updatedAt,
		LastUsedAt: t.lastUsedAt, LastRotatedAt: t.lastRotatedAt, Deleted: t.deleted,
	}
}

// Token returns the state of token id. A deleted token is still reported,
// with Deleted set, so that tests can tell "deleted" from "never existed".
func (s *Server) Token(id string) (TokenInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return TokenInfo{}, false
	}
	return t.info(), true
}

// Tokens returns every live (not deleted) token, sorted by createdAt, id.
func (s *Server) Tokens() []TokenInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TokenInfo
	for _, t := range s.sortedTokens() {
		if !t.deleted {
			out = append(out, t.info())
		}
	}
	return out
}

func (s *Server) sortedTokens() []*token {
	out := make([]*token, 0, len(s.tokens))
	for _, t := range s.tokens {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *token) int {
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.id, b.id))
	})
	return out
}

// DeploymentInfo is an exported copy of a deployment's state, including the
// stored secret values (which the API never returns).
type DeploymentInfo struct {
	ID, OrgID, WorkspaceID, Name, Description string
	Type, Status, Executor, SchedulerSize     string
	CloudProvider, Region                     string
	ClusterID, ClusterName                    string
	AstroRuntimeVersion, Namespace            string
	IsCicdEnforced, IsDagDeployEnabled        bool
	IsHighAvailability, IsDevelopmentMode     bool
	DefaultTaskPodCPU, DefaultTaskPodMemory   string
	ResourceQuotaCPU, ResourceQuotaMemory     string
	SchedulerAU, SchedulerReplicas            int
	WorkerQueues                              []WorkerQueue
	HibernationSchedules                      []HibernationSchedule
	EnvVars                                   []EnvVar          // in stored order, secrets with their values
	Env                                       map[string]string // non-secret variables
	SecretEnv                                 map[string]string // secret variables' stored values
	WorkloadIdentity                          string
	ContactEmails                             []string
	CreatedAt, UpdatedAt                      time.Time
	Deleted                                   bool
}

func (s *Server) deploymentInfo(d *deployment) DeploymentInfo {
	di := DeploymentInfo{
		ID: d.id, OrgID: d.orgID, WorkspaceID: d.workspaceID, Name: d.name, Description: d.description,
		Type: d.typ, Status: s.status(d), Executor: d.executor, SchedulerSize: d.schedSize,
		CloudProvider: d.cloudProvider, Region: d.region, ClusterID: d.clusterID, ClusterName: d.clusterName,
		AstroRuntimeVersion: d.runtime, Namespace: d.namespace,
		IsCicdEnforced: d.isCicd, IsDagDeployEnabled: d.isDagDeploy, IsHighAvailability: d.isHA, IsDevelopmentMode: d.isDev,
		DefaultTaskPodCPU: d.taskPodCPU, DefaultTaskPodMemory: d.taskPodMem,
		ResourceQuotaCPU: d.quotaCPU, ResourceQuotaMemory: d.quotaMem,
		SchedulerAU: d.schedulerAU, SchedulerReplicas: d.schedulerReplicas,
		WorkerQueues: slices.Clone(d.queues), HibernationSchedules: slices.Clone(d.schedules),
		Env: map[string]string{}, SecretEnv: map[string]string{},
		WorkloadIdentity: d.workloadIdentity, ContactEmails: slices.Clone(d.contactEmails),
		CreatedAt: d.createdAt, UpdatedAt: d.updatedAt, Deleted: d.deleted,
	}
	for _, e := range d.env {
		di.EnvVars = append(di.EnvVars, EnvVar{Key: e.key, Value: e.value, IsSecret: e.secret})
		if e.secret {
			di.SecretEnv[e.key] = e.value
		} else {
			di.Env[e.key] = e.value
		}
	}
	return di
}

// Deployment returns the state of deployment id; deleted ones are reported
// with Deleted set.
func (s *Server) Deployment(id string) (DeploymentInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deployments[id]
	if !ok {
		return DeploymentInfo{}, false
	}
	return s.deploymentInfo(d), true
}

// Deployments returns every live deployment, sorted by createdAt, id.
func (s *Server) Deployments() []DeploymentInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DeploymentInfo
	for _, d := range s.sortedDeployments() {
		if !d.deleted {
			out = append(out, s.deploymentInfo(d))
		}
	}
	return out
}

func (s *Server) sortedDeployments() []*deployment {
	out := make([]*deployment, 0, len(s.deployments))
	for _, d := range s.deployments {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *deployment) int {
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.id, b.id))
	})
	return out
}

// Authenticates reports whether value would authenticate right now (it is
// the current value of a live, unexpired token). It does not touch lastUsedAt.
func (s *Server) Authenticates(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokenForValueLocked(value)
	return t != nil && !s.expired(t)
}

// TokenIDForValue returns the id of the live token whose current value is
// value, expired or not.
func (s *Server) TokenIDForValue(value string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokenForValueLocked(value); t != nil {
		return t.id, true
	}
	return "", false
}

// ---------------------------------------------------------------------------
// Snapshot

type snapTime string

func st(t time.Time) snapTime {
	if t.IsZero() {
		return ""
	}
	return snapTime(t.UTC().Format(time.RFC3339Nano))
}

type snapshot struct {
	Organizations []snapOrg        `json:"organizations"`
	Workspaces    []snapWorkspace  `json:"workspaces"`
	Clusters      []snapCluster    `json:"clusters"`
	Tokens        []snapToken      `json:"tokens"`
	Deployments   []snapDeployment `json:"deployments"`
	Code          []snapCode       `json:"code,omitempty"` // deploys.go
}

type snapOrg struct {
	ID, Name  string
	CreatedAt snapTime
}

type snapWorkspace struct {
	ID, OrgID, Name string
	CreatedAt       snapTime
}

type snapCluster struct {
	ID, OrgID, Name, Type, CloudProvider, Region string
}

type snapToken struct {
	ID, OrgID, Name, Description, Scope, Kind, EntityID string
	Roles                                               []Role
	ExpiryDays                                          int
	StartAt, EndAt, CreatedAt, UpdatedAt                snapTime
	LastUsedAt, LastRotatedAt                           snapTime
	CreatedBy, UpdatedBy                                wireSubject
	ShortToken                                          string
	ValueSHA256                                         string
	Deleted                                             bool
}

type snapEnv struct {
	Key         string
	Value       string `json:",omitempty"` // non-secret values only
	ValueSHA256 string `json:",omitempty"` // secret values are hashed
	IsSecret    bool
	UpdatedAt   snapTime
}

type snapDeployment struct {
	ID, OrgID, WorkspaceID, Name, Description, Type, Executor, SchedulerSize       string
	CloudProvider, Region, ClusterID, ClusterName                                  string
	AstroRuntimeVersion, Namespace, ImageTag                                       string
	IsCicdEnforced, IsDagDeployEnabled, IsHighAvailability, IsDevelopmentMode      bool
	DefaultTaskPodCPU, DefaultTaskPodMemory, ResourceQuotaCPU, ResourceQuotaMemory string
	SchedulerAU, SchedulerReplicas                                                 int
	TaskPodNodePoolID                                                              string
	WorkerQueues                                                                   []WorkerQueue
	HibernationSchedules                                                           []HibernationSchedule
	Env                                                                            []snapEnv
	WorkloadIdentity, DRWorkloadIdentity                                           string
	ContactEmails                                                                  []string
	RemoteExecution                                                                *snapRemote
	FixedStatus                                                                    string
	CreatedAt, UpdatedAt                                                           snapTime
	CreatedBy, UpdatedBy                                                           wireSubject
	Deleted                                                                        bool
}

type snapRemote struct {
	Enabled                          bool
	AllowedIPAddressRanges           []string
	TaskLogBucket, TaskLogURLPattern string
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Snapshot returns a deterministic JSON rendering of the entire state:
// organizations, workspaces, clusters, tokens (with a SHA-256 of each
// current value, never the value) and deployments (secret env values
// hashed). It is byte-identical as long as nothing changed; the computed
// deployment status is left out (it moves with the clock), the stored
// inputs of that computation are in. The request log and faults are not
// state and are not included.
func (s *Server) Snapshot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var snap snapshot
	for _, o := range s.orgs {
		snap.Organizations = append(snap.Organizations, snapOrg{ID: o.id, Name: o.name, CreatedAt: st(o.createdAt)})
	}
	slices.SortFunc(snap.Organizations, func(a, b snapOrg) int { return cmp.Compare(a.ID, b.ID) })
	for _, w := range s.workspaces {
		snap.Workspaces = append(snap.Workspaces, snapWorkspace{ID: w.id, OrgID: w.orgID, Name: w.name, CreatedAt: st(w.createdAt)})
	}
	slices.SortFunc(snap.Workspaces, func(a, b snapWorkspace) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range s.clusters {
		snap.Clusters = append(snap.Clusters, snapCluster{ID: c.id, OrgID: c.orgID, Name: c.name, Type: c.typ, CloudProvider: c.cloudProvider, Region: c.region})
	}
	slices.SortFunc(snap.Clusters, func(a, b snapCluster) int { return cmp.Compare(a.ID, b.ID) })
	for _, t := range s.sortedTokens() {
		snap.Tokens = append(snap.Tokens, snapToken{
			ID: t.id, OrgID: t.orgID, Name: t.name, Description: t.description, Scope: t.scope, Kind: t.kind,
			EntityID: t.entityID, Roles: slices.Clone(t.roles), ExpiryDays: t.expiryDays,
			StartAt: st(t.startAt), EndAt: st(t.endAt), CreatedAt: st(t.createdAt), UpdatedAt: st(t.updatedAt),
			LastUsedAt: st(t.lastUsedAt), LastRotatedAt: st(t.lastRotatedAt),
			CreatedBy: t.createdBy, UpdatedBy: t.updatedBy, ShortToken: t.shortToken,
			ValueSHA256: sha(t.value), Deleted: t.deleted,
		})
	}
	for _, d := range s.sortedDeployments() {
		sd := snapDeployment{
			ID: d.id, OrgID: d.orgID, WorkspaceID: d.workspaceID, Name: d.name, Description: d.description,
			Type: d.typ, Executor: d.executor, SchedulerSize: d.schedSize,
			CloudProvider: d.cloudProvider, Region: d.region, ClusterID: d.clusterID, ClusterName: d.clusterName,
			AstroRuntimeVersion: d.runtime, Namespace: d.namespace, ImageTag: d.imageTag,
			IsCicdEnforced: d.isCicd, IsDagDeployEnabled: d.isDagDeploy, IsHighAvailability: d.isHA, IsDevelopmentMode: d.isDev,
			DefaultTaskPodCPU: d.taskPodCPU, DefaultTaskPodMemory: d.taskPodMem, ResourceQuotaCPU: d.quotaCPU, ResourceQuotaMemory: d.quotaMem,
			SchedulerAU: d.schedulerAU, SchedulerReplicas: d.schedulerReplicas, TaskPodNodePoolID: d.taskPodNodePoolID,
			WorkerQueues: slices.Clone(d.queues), HibernationSchedules: slices.Clone(d.schedules),
			WorkloadIdentity: d.workloadIdentity, DRWorkloadIdentity: d.drWorkloadIdentity,
			ContactEmails: slices.Clone(d.contactEmails), FixedStatus: d.fixedStatus,
			CreatedAt: st(d.createdAt), UpdatedAt: st(d.updatedAt), CreatedBy: d.createdBy, UpdatedBy: d.updatedBy,
			Deleted: d.deleted,
		}
		for _, e := range d.env {
			se := snapEnv{Key: e.key, IsSecret: e.secret, UpdatedAt: st(e.updatedAt)}
			if e.secret {
				se.ValueSHA256 = sha(e.value)
			} else {
				se.Value = e.value
			}
			sd.Env = append(sd.Env, se)
		}
		if d.remote != nil {
			sd.RemoteExecution = &snapRemote{Enabled: d.remote.enabled, AllowedIPAddressRanges: slices.Clone(d.remote.allowed),
				TaskLogBucket: d.remote.taskLogBucket, TaskLogURLPattern: d.remote.taskLogURLPattn}
		}
		snap.Deployments = append(snap.Deployments, sd)
	}
	snap.Code = s.snapCodeLocked()
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}
