package astro

import (
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// Scope of an API token. The values are the wire enum.
type Scope string

// Token scopes.
const (
	ScopeOrganization Scope = "ORGANIZATION"
	ScopeWorkspace    Scope = "WORKSPACE"
	ScopeDeployment   Scope = "DEPLOYMENT"
)

// Valid reports whether s is one of the three scopes.
func (s Scope) Valid() bool {
	return s == ScopeOrganization || s == ScopeWorkspace || s == ScopeDeployment
}

// Entity types a role can be granted on.
const (
	EntityOrganization = "ORGANIZATION"
	EntityWorkspace    = "WORKSPACE"
	EntityDeployment   = "DEPLOYMENT"
	EntityDAG          = "DAG"
	EntityDAGTag       = "DAG_TAG"
)

// Role is one entry of a token's role set (ApiTokenRole on the wire).
type Role struct {
	EntityID     string `json:"entityId"`
	EntityType   string `json:"entityType"`
	Role         string `json:"role"`
	DeploymentID string `json:"deploymentId,omitempty"`
}

// Subject is a BasicSubjectProfile: who created or updated an object.
type Subject struct {
	ID           string `json:"id"`
	SubjectType  string `json:"subjectType,omitempty"`
	APITokenName string `json:"apiTokenName,omitempty"`
	FullName     string `json:"fullName,omitempty"`
	Username     string `json:"username,omitempty"`
}

// Display names the subject for people.
func (s *Subject) Display() string {
	switch {
	case s == nil:
		return ""
	case s.Username != "":
		return s.Username
	case s.FullName != "":
		return s.FullName
	case s.APITokenName != "":
		return "token " + s.APITokenName
	}
	return s.ID
}

// Token is an Astro API token (ApiToken on the wire). Value is set only in
// the responses of create and rotate, and is a secret.Value so it cannot be
// printed by accident.
type Token struct {
	ID                 string       `json:"id"`
	Name               string       `json:"name"`
	Description        string       `json:"description"`
	Scope              Scope        `json:"scope"`
	Kind               string       `json:"kind,omitempty"`
	ShortToken         string       `json:"shortToken,omitempty"`
	StartAt            time.Time    `json:"startAt"`
	CreatedAt          time.Time    `json:"createdAt"`
	UpdatedAt          time.Time    `json:"updatedAt"`
	EndAt              *time.Time   `json:"endAt,omitempty"`
	ExpiryPeriodInDays *int         `json:"expiryPeriodInDays,omitempty"`
	LastUsedAt         *time.Time   `json:"lastUsedAt,omitempty"`
	LastRotatedAt      *time.Time   `json:"lastRotatedAt,omitempty"`
	Roles              []Role       `json:"roles,omitempty"`
	CreatedBy          *Subject     `json:"createdBy,omitempty"`
	UpdatedBy          *Subject     `json:"updatedBy,omitempty"`
	Value              secret.Value `json:"token"`
}

// EntityID is the id of the workspace or deployment a token is scoped to, or
// the organization id for an Organization token, read from its own-scope role.
func (t *Token) EntityID() string {
	if r, ok := t.OwnRole(); ok {
		return r.EntityID
	}
	return ""
}

// OwnRole is the role the token holds on its own scope's entity.
func (t *Token) OwnRole() (Role, bool) {
	for _, r := range t.Roles {
		if r.EntityType == string(t.Scope) {
			return r, true
		}
	}
	return Role{}, false
}

// CreateTokenRequest is the body of CreateApiToken.
type CreateTokenRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Role        string `json:"role"`
	Scope       Scope  `json:"scope"`
	EntityID    string `json:"entityId,omitempty"`
	// ExpiryDays 0 means "not sent": the token never expires.
	ExpiryDays int `json:"tokenExpiryPeriodInDays,omitempty"`
}

// UpdateTokenRequest is the body of UpdateApiToken. Astro replaces both
// fields, so callers send the current value of the one they keep.
type UpdateTokenRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// SubjectRoles is what UpdateApiTokenRoles returns.
type SubjectRoles struct {
	OrganizationRole string `json:"organizationRole,omitempty"`
	WorkspaceRoles   []struct {
		WorkspaceID string `json:"workspaceId"`
		Role        string `json:"role"`
	} `json:"workspaceRoles,omitempty"`
	DeploymentRoles []struct {
		DeploymentID string `json:"deploymentId"`
		Role         string `json:"role"`
	} `json:"deploymentRoles,omitempty"`
}

// ListTokensOptions filters ListApiTokens. Astro has no filter by scope.
type ListTokensOptions struct {
	WorkspaceID                   string
	DeploymentID                  string
	IncludeOnlyOrganizationTokens bool
}

// Deployment is the part of an Astro Deployment the tool reads and copies.
type Deployment struct {
	ID                        string                `json:"id"`
	Name                      string                `json:"name"`
	Description               string                `json:"description,omitempty"`
	OrganizationID            string                `json:"organizationId"`
	WorkspaceID               string                `json:"workspaceId"`
	WorkspaceName             string                `json:"workspaceName,omitempty"`
	Status                    string                `json:"status"`
	StatusReason              string                `json:"statusReason,omitempty"`
	Type                      string                `json:"type,omitempty"`
	CloudProvider             string                `json:"cloudProvider,omitempty"`
	Region                    string                `json:"region,omitempty"`
	ClusterID                 string                `json:"clusterId,omitempty"`
	ClusterName               string                `json:"clusterName,omitempty"`
	AstroRuntimeVersion       string                `json:"astroRuntimeVersion"`
	Executor                  string                `json:"executor,omitempty"`
	SchedulerSize             string                `json:"schedulerSize,omitempty"`
	SchedulerAU               *int                  `json:"schedulerAu,omitempty"`
	SchedulerReplicas         int                   `json:"schedulerReplicas"`
	IsCicdEnforced            bool                  `json:"isCicdEnforced"`
	IsDagDeployEnabled        bool                  `json:"isDagDeployEnabled"`
	IsHighAvailability        *bool                 `json:"isHighAvailability,omitempty"`
	IsDevelopmentMode         *bool                 `json:"isDevelopmentMode,omitempty"`
	DefaultTaskPodCPU         string                `json:"defaultTaskPodCpu,omitempty"`
	DefaultTaskPodMemory      string                `json:"defaultTaskPodMemory,omitempty"`
	ResourceQuotaCPU          string                `json:"resourceQuotaCpu,omitempty"`
	ResourceQuotaMemory       string                `json:"resourceQuotaMemory,omitempty"`
	TaskPodNodePoolID         string                `json:"taskPodNodePoolId,omitempty"`
	WorkerQueues              []WorkerQueue         `json:"workerQueues,omitempty"`
	EnvironmentVariables      []EnvironmentVariable `json:"environmentVariables,omitzero"`
	ContactEmails             []string              `json:"contactEmails,omitempty"`
	EffectiveWorkloadIdentity string                `json:"effectiveWorkloadIdentity,omitempty"`
	ScalingSpec               *ScalingSpec          `json:"scalingSpec,omitempty"`
	RemoteExecution           *RemoteExecution      `json:"remoteExecution,omitempty"`
	WebServerURL              string                `json:"webServerUrl,omitempty"`
	UIURL                     string                `json:"uiUrl,omitempty"`
	ScalingStatus             *ScalingStatus        `json:"scalingStatus,omitempty"`
	ImageRepository           string                `json:"imageRepository,omitempty"`
	ImageTag                  string                `json:"imageTag,omitempty"`
	ImageVersion              string                `json:"imageVersion,omitempty"`
	DagTarballVersion         string                `json:"dagTarballVersion,omitempty"`
	DesiredDagTarballVersion  string                `json:"desiredDagTarballVersion,omitempty"`
	CreatedAt                 time.Time             `json:"createdAt"`
	UpdatedAt                 time.Time             `json:"updatedAt"`
}

// WorkerQueue as Astro returns it.
type WorkerQueue struct {
	ID                  string `json:"id,omitempty"`
	Name                string `json:"name"`
	IsDefault           bool   `json:"isDefault"`
	AstroMachine        string `json:"astroMachine,omitempty"`
	NodePoolID          string `json:"nodePoolId,omitempty"`
	MinWorkerCount      int    `json:"minWorkerCount"`
	MaxWorkerCount      int    `json:"maxWorkerCount"`
	WorkerConcurrency   int    `json:"workerConcurrency"`
	PodCPU              string `json:"podCpu,omitempty"`
	PodMemory           string `json:"podMemory,omitempty"`
	PodEphemeralStorage string `json:"podEphemeralStorage,omitempty"`
}

// EnvironmentVariable of a Deployment as Astro returns it: the value of a
// secret variable never comes back.
type EnvironmentVariable struct {
	Key      string  `json:"key"`
	IsSecret bool    `json:"isSecret"`
	Value    *string `json:"value,omitempty"`
}

// EnvironmentVariableRequest sets a variable. A secret variable sent without
// Value keeps the value Astro already stores.
type EnvironmentVariableRequest struct {
	Key      string  `json:"key"`
	IsSecret bool    `json:"isSecret"`
	Value    *string `json:"value,omitempty"`
}

// ScalingSpec carries the hibernation settings.
type ScalingSpec struct {
	HibernationSpec *HibernationSpec `json:"hibernationSpec,omitempty"`
}

// HibernationSpec lists hibernation schedules; the override is not copied.
type HibernationSpec struct {
	Schedules []HibernationSchedule `json:"schedules,omitempty"`
	// Override is read only (GetDeployment); set it with SetHibernationOverride.
	Override *HibernationOverride `json:"override,omitempty"`
}

// HibernationSchedule is one hibernate/wake cron pair.
type HibernationSchedule struct {
	HibernateAtCron string `json:"hibernateAtCron"`
	WakeAtCron      string `json:"wakeAtCron"`
	IsEnabled       bool   `json:"isEnabled"`
	Description     string `json:"description,omitempty"`
}

// RemoteExecution settings of a Deployment.
type RemoteExecution struct {
	Enabled                bool     `json:"enabled"`
	AllowedIPAddressRanges []string `json:"allowedIpAddressRanges"`
	RemoteAPIURL           string   `json:"remoteApiUrl,omitempty"`
	TaskLogBucket          string   `json:"taskLogBucket,omitempty"`
	TaskLogURLPattern      string   `json:"taskLogUrlPattern,omitempty"`
}

// ListDeploymentsOptions filters ListDeployments.
type ListDeploymentsOptions struct {
	WorkspaceIDs  []string
	Names         []string
	DeploymentIDs []string
}

// DeploymentRequest is the body of CreateDeployment and UpdateDeployment, a
// oneOf on Type (STANDARD, DEDICATED, HYBRID) on the wire: the caller fills
// the fields that its type takes and leaves the others empty.
type DeploymentRequest struct {
	Type                 string                       `json:"type,omitempty"`
	Name                 string                       `json:"name"`
	Description          string                       `json:"description,omitempty"`
	WorkspaceID          string                       `json:"workspaceId"`
	CloudProvider        string                       `json:"cloudProvider,omitempty"`
	Region               string                       `json:"region,omitempty"`
	ClusterID            string                       `json:"clusterId,omitempty"`
	AstroRuntimeVersion  string                       `json:"astroRuntimeVersion,omitempty"`
	Executor             string                       `json:"executor,omitempty"`
	SchedulerSize        string                       `json:"schedulerSize,omitempty"`
	Scheduler            *SchedulerSpec               `json:"scheduler,omitempty"`
	IsCicdEnforced       *bool                        `json:"isCicdEnforced,omitempty"`
	IsDagDeployEnabled   *bool                        `json:"isDagDeployEnabled,omitempty"`
	IsHighAvailability   *bool                        `json:"isHighAvailability,omitempty"`
	IsDevelopmentMode    *bool                        `json:"isDevelopmentMode,omitempty"`
	DefaultTaskPodCPU    string                       `json:"defaultTaskPodCpu,omitempty"`
	DefaultTaskPodMemory string                       `json:"defaultTaskPodMemory,omitempty"`
	ResourceQuotaCPU     string                       `json:"resourceQuotaCpu,omitempty"`
	ResourceQuotaMemory  string                       `json:"resourceQuotaMemory,omitempty"`
	TaskPodNodePoolID    string                       `json:"taskPodNodePoolId,omitempty"`
	WorkerQueues         []WorkerQueueRequest         `json:"workerQueues,omitempty"`
	EnvironmentVariables []EnvironmentVariableRequest `json:"environmentVariables,omitzero"`
	ContactEmails        []string                     `json:"contactEmails,omitempty"`
	WorkloadIdentity     string                       `json:"workloadIdentity,omitempty"`
	ScalingSpec          *ScalingSpec                 `json:"scalingSpec,omitempty"`
	RemoteExecution      *RemoteExecutionRequest      `json:"remoteExecution,omitempty"`
}

// SchedulerSpec sizes a Hybrid Deployment's scheduler.
type SchedulerSpec struct {
	AU       int `json:"au"`
	Replicas int `json:"replicas"`
}

// WorkerQueueRequest is a worker queue in a create or update body.
type WorkerQueueRequest struct {
	ID                  string `json:"id,omitempty"`
	Name                string `json:"name"`
	IsDefault           bool   `json:"isDefault"`
	AstroMachine        string `json:"astroMachine,omitempty"`
	NodePoolID          string `json:"nodePoolId,omitempty"`
	MinWorkerCount      int    `json:"minWorkerCount"`
	MaxWorkerCount      int    `json:"maxWorkerCount"`
	WorkerConcurrency   int    `json:"workerConcurrency"`
	PodEphemeralStorage string `json:"podEphemeralStorage,omitempty"`
}

// RemoteExecutionRequest is RemoteExecution without the server-assigned URL.
type RemoteExecutionRequest struct {
	Enabled                bool     `json:"enabled"`
	AllowedIPAddressRanges []string `json:"allowedIpAddressRanges,omitempty"`
	TaskLogBucket          string   `json:"taskLogBucket,omitempty"`
	TaskLogURLPattern      string   `json:"taskLogUrlPattern,omitempty"`
}
