package astrofake

// Wire structs of the fake. They are written from the official description
// (astro-v1.0.openapi.yaml) on purpose, independently of the project's client
// types, so that a client bug cannot be hidden by a shared struct. Fields that
// the schema marks required carry no omitempty; optional ones do.

// wireError is the Error schema: {message, requestId, statusCode[, fieldErrors]}.
type wireError struct {
	FieldErrors []wireFieldError `json:"fieldErrors,omitempty"`
	Message     string           `json:"message"`
	RequestID   string           `json:"requestId"`
	StatusCode  int              `json:"statusCode"`
}

// wireFieldError is FieldValidationError.
type wireFieldError struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// wireSubject is BasicSubjectProfile.
type wireSubject struct {
	APITokenName string `json:"apiTokenName,omitempty"`
	AvatarURL    string `json:"avatarUrl,omitempty"`
	FullName     string `json:"fullName,omitempty"`
	ID           string `json:"id"`
	SubjectType  string `json:"subjectType,omitempty"`
	Username     string `json:"username,omitempty"`
}

// wireAPIToken is ApiToken.
type wireAPIToken struct {
	CreatedAt          string       `json:"createdAt"`
	CreatedBy          *wireSubject `json:"createdBy,omitempty"`
	Description        string       `json:"description"`
	EndAt              string       `json:"endAt,omitempty"`
	ExpiryPeriodInDays *int         `json:"expiryPeriodInDays,omitempty"`
	ID                 string       `json:"id"`
	Kind               string       `json:"kind"`
	LastRotatedAt      string       `json:"lastRotatedAt,omitempty"`
	LastUsedAt         string       `json:"lastUsedAt,omitempty"`
	Name               string       `json:"name"`
	Roles              []wireRole   `json:"roles"`
	Scope              string       `json:"scope"`
	ShortToken         string       `json:"shortToken"`
	StartAt            string       `json:"startAt"`
	Token              string       `json:"token,omitempty"`
	UpdatedAt          string       `json:"updatedAt"`
	UpdatedBy          *wireSubject `json:"updatedBy,omitempty"`
}

// wireRole is ApiTokenRole.
type wireRole struct {
	DeploymentID string `json:"deploymentId,omitempty"`
	EntityID     string `json:"entityId"`
	EntityType   string `json:"entityType"`
	Role         string `json:"role"`
}

// wireTokensPage is ApiTokensPaginated.
type wireTokensPage struct {
	Limit      int            `json:"limit"`
	Offset     int            `json:"offset"`
	Tokens     []wireAPIToken `json:"tokens"`
	TotalCount int            `json:"totalCount"`
}

// wireCreateTokenReq is CreateApiTokenRequest. Pointers tell "absent" from
// "zero" so that required-field errors can be reported.
type wireCreateTokenReq struct {
	Description             *string `json:"description"`
	EntityID                *string `json:"entityId"`
	Kind                    *string `json:"kind"`
	Name                    *string `json:"name"`
	Role                    *string `json:"role"`
	Scope                   *string `json:"scope"`
	TokenExpiryPeriodInDays *int    `json:"tokenExpiryPeriodInDays"`
}

// wireUpdateTokenReq is UpdateApiTokenRequest.
type wireUpdateTokenReq struct {
	Description *string `json:"description"`
	Name        *string `json:"name"`
}

// wireUpdateRolesReq is UpdateApiTokenRolesRequest.
type wireUpdateRolesReq struct {
	Roles *[]wireRoleReq `json:"roles"`
}

type wireRoleReq struct {
	DeploymentID *string `json:"deploymentId"`
	EntityID     *string `json:"entityId"`
	EntityType   *string `json:"entityType"`
	Role         *string `json:"role"`
}

// wireSubjectRoles is SubjectRoles (the roles endpoint answers with it, not
// with ApiToken; astro-api.md §3.6).
type wireSubjectRoles struct {
	DagRoles         []wireDagRole        `json:"dagRoles"`
	DeploymentRoles  []wireDeploymentRole `json:"deploymentRoles"`
	OrganizationRole string               `json:"organizationRole,omitempty"`
	WorkspaceRoles   []wireWorkspaceRole  `json:"workspaceRoles"`
}

type wireDagRole struct {
	DagID        string `json:"dagId,omitempty"`
	DagTag       string `json:"dagTag,omitempty"`
	DeploymentID string `json:"deploymentId"`
	Role         string `json:"role"`
}

type wireDeploymentRole struct {
	DeploymentID string `json:"deploymentId"`
	Role         string `json:"role"`
}

type wireWorkspaceRole struct {
	Role        string `json:"role"`
	WorkspaceID string `json:"workspaceId"`
}

// wireOrganization is Organization.
type wireOrganization struct {
	AllowEnhancedSupportAccess     bool                 `json:"allowEnhancedSupportAccess"`
	CreatedAt                      string               `json:"createdAt"`
	CreatedBy                      wireSubject          `json:"createdBy"`
	HasAllowedIPAddressRanges      bool                 `json:"hasAllowedIpAddressRanges"`
	ID                             string               `json:"id"`
	IsBlockedEnableAiFeatures      bool                 `json:"isBlockedEnableAiFeatures"`
	IsScimEnabled                  bool                 `json:"isScimEnabled"`
	Name                           string               `json:"name"`
	Product                        string               `json:"product,omitempty"`
	ProductPlans                   []wireOrgProductPlan `json:"productPlans"`
	ShouldEnforceDedicatedClusters bool                 `json:"shouldEnforceDedicatedClusters"`
	Status                         string               `json:"status,omitempty"`
	UpdatedAt                      string               `json:"updatedAt"`
	UpdatedBy                      wireSubject          `json:"updatedBy"`
}

type wireOrgProductPlan struct {
	AstronomerProduct string `json:"astronomerProduct"`
	OrganizationID    string `json:"organizationId"`
	ProductPlanID     string `json:"productPlanId"`
	ProductPlanName   string `json:"productPlanName"`
}

type wireOrgsPage struct {
	Limit         int                `json:"limit"`
	Offset        int                `json:"offset"`
	Organizations []wireOrganization `json:"organizations"`
	TotalCount    int                `json:"totalCount"`
}

// wireWorkspace is Workspace.
type wireWorkspace struct {
	CicdEnforcedDefault bool         `json:"cicdEnforcedDefault"`
	CreatedAt           string       `json:"createdAt"`
	CreatedBy           *wireSubject `json:"createdBy,omitempty"`
	Description         string       `json:"description"`
	ID                  string       `json:"id"`
	Name                string       `json:"name"`
	OrganizationID      string       `json:"organizationId"`
	OrganizationName    string       `json:"organizationName,omitempty"`
	UpdatedAt           string       `json:"updatedAt"`
	UpdatedBy           *wireSubject `json:"updatedBy,omitempty"`
}

type wireWorkspacesPage struct {
	Limit      int             `json:"limit"`
	Offset     int             `json:"offset"`
	TotalCount int             `json:"totalCount"`
	Workspaces []wireWorkspace `json:"workspaces"`
}

// wireDeployment is Deployment.
type wireDeployment struct {
	AirflowVersion            string             `json:"airflowVersion"`
	APIURL                    string             `json:"apiUrl"`
	AstroRuntimeVersion       string             `json:"astroRuntimeVersion"`
	CloudProvider             string             `json:"cloudProvider,omitempty"`
	ClusterID                 string             `json:"clusterId,omitempty"`
	ClusterName               string             `json:"clusterName,omitempty"`
	ContactEmails             []string           `json:"contactEmails"`
	CreatedAt                 string             `json:"createdAt"`
	CreatedBy                 wireSubject        `json:"createdBy"`
	DagTarballVersion         string             `json:"dagTarballVersion,omitempty"`
	DefaultTaskPodCPU         string             `json:"defaultTaskPodCpu,omitempty"`
	DefaultTaskPodMemory      string             `json:"defaultTaskPodMemory,omitempty"`
	Description               string             `json:"description"`
	DesiredDagTarballVersion  string             `json:"desiredDagTarballVersion,omitempty"`
	EffectiveDRWorkloadIdent  string             `json:"effectiveDRWorkloadIdentity,omitempty"`
	EffectiveWorkloadIdentity string             `json:"effectiveWorkloadIdentity,omitempty"`
	EnvironmentVariables      []wireEnvVar       `json:"environmentVariables"`
	Executor                  string             `json:"executor"`
	ExternalIPs               []string           `json:"externalIPs,omitempty"`
	ID                        string             `json:"id"`
	ImageRepository           string             `json:"imageRepository"`
	ImageTag                  string             `json:"imageTag"`
	ImageVersion              string             `json:"imageVersion,omitempty"`
	IsCicdEnforced            bool               `json:"isCicdEnforced"`
	IsDagDeployEnabled        bool               `json:"isDagDeployEnabled"`
	IsDevelopmentMode         *bool              `json:"isDevelopmentMode,omitempty"`
	IsHighAvailability        *bool              `json:"isHighAvailability,omitempty"`
	Name                      string             `json:"name"`
	Namespace                 string             `json:"namespace"`
	OrganizationID            string             `json:"organizationId"`
	Region                    string             `json:"region,omitempty"`
	RemoteExecution           *wireRemoteExec    `json:"remoteExecution,omitempty"`
	ResourceQuotaCPU          string             `json:"resourceQuotaCpu,omitempty"`
	ResourceQuotaMemory       string             `json:"resourceQuotaMemory,omitempty"`
	RuntimeVersion            string             `json:"runtimeVersion"`
	ScalingSpec               *wireScalingSpec   `json:"scalingSpec,omitempty"`
	ScalingStatus             *wireScalingStatus `json:"scalingStatus,omitempty"`
	SchedulerAu               *int               `json:"schedulerAu,omitempty"`
	SchedulerCPU              string             `json:"schedulerCpu"`
	SchedulerMemory           string             `json:"schedulerMemory"`
	SchedulerReplicas         int                `json:"schedulerReplicas"`
	SchedulerSize             string             `json:"schedulerSize,omitempty"`
	Status                    string             `json:"status"`
	StatusReason              string             `json:"statusReason,omitempty"`
	TaskPodNodePoolID         string             `json:"taskPodNodePoolId,omitempty"`
	Type                      string             `json:"type"`
	UIURL                     string             `json:"uiUrl"`
	UpdatedAt                 string             `json:"updatedAt"`
	UpdatedBy                 wireSubject        `json:"updatedBy"`
	WebServerAirflowAPIURL    string             `json:"webServerAirflowApiUrl"`
	WebServerCPU              string             `json:"webServerCpu"`
	WebServerIngressHostname  string             `json:"webServerIngressHostname"`
	WebServerMemory           string             `json:"webServerMemory"`
	WebServerReplicas         int                `json:"webServerReplicas"`
	WebServerURL              string             `json:"webServerUrl"`
	WorkerQueues              []wireWorkerQueue  `json:"workerQueues"`
	WorkspaceID               string             `json:"workspaceId"`
	WorkspaceName             string             `json:"workspaceName"`
}

// wireEnvVar is DeploymentEnvironmentVariable; Value is nil for secrets.
type wireEnvVar struct {
	IsSecret  bool    `json:"isSecret"`
	Key       string  `json:"key"`
	UpdatedAt string  `json:"updatedAt"`
	Value     *string `json:"value,omitempty"`
}

// wireWorkerQueue is WorkerQueue.
type wireWorkerQueue struct {
	AstroMachine        string `json:"astroMachine,omitempty"`
	ID                  string `json:"id"`
	IsDefault           bool   `json:"isDefault"`
	MaxWorkerCount      int    `json:"maxWorkerCount"`
	MinWorkerCount      int    `json:"minWorkerCount"`
	Name                string `json:"name"`
	NodePoolID          string `json:"nodePoolId,omitempty"`
	PodCPU              string `json:"podCpu"`
	PodEphemeralStorage string `json:"podEphemeralStorage,omitempty"`
	PodMemory           string `json:"podMemory"`
	WorkerConcurrency   int    `json:"workerConcurrency"`
}

type wireScalingSpec struct {
	HibernationSpec *wireHibernationSpec `json:"hibernationSpec,omitempty"`
}

type wireHibernationSpec struct {
	Override  *wireHibernationOverride `json:"override,omitempty"`
	Schedules []wireHibernationSched   `json:"schedules"`
}

type wireHibernationOverride struct {
	IsActive      *bool  `json:"isActive,omitempty"`
	IsHibernating *bool  `json:"isHibernating,omitempty"`
	OverrideUntil string `json:"overrideUntil,omitempty"`
}

type wireHibernationSched struct {
	Description     string `json:"description,omitempty"`
	HibernateAtCron string `json:"hibernateAtCron"`
	IsEnabled       bool   `json:"isEnabled"`
	WakeAtCron      string `json:"wakeAtCron"`
}

type wireScalingStatus struct {
	HibernationStatus *wireHibernationStatus `json:"hibernationStatus,omitempty"`
}

type wireHibernationStatus struct {
	IsHibernating bool   `json:"isHibernating"`
	NextEventAt   string `json:"nextEventAt,omitempty"`
	NextEventType string `json:"nextEventType,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

type wireRemoteExec struct {
	AllowedIPAddressRanges []string `json:"allowedIpAddressRanges"`
	Enabled                bool     `json:"enabled"`
	RemoteAPIURL           string   `json:"remoteApiUrl"`
	TaskLogBucket          string   `json:"taskLogBucket,omitempty"`
	TaskLogURLPattern      string   `json:"taskLogUrlPattern,omitempty"`
}

type wireDeploymentsPage struct {
	Deployments []wireDeployment `json:"deployments"`
	Limit       int              `json:"limit"`
	Offset      int              `json:"offset"`
	TotalCount  int              `json:"totalCount"`
}

// wireDeploymentReq is the union of Create{Standard,Dedicated,Hybrid}DeploymentRequest
// and Update{Standard,Dedicated,Hybrid}DeploymentRequest: the bodies are a
// oneOf discriminated by `type`, so one struct decodes all six and the
// handler checks the per-type rules.
type wireDeploymentReq struct {
	AstroRuntimeVersion  *string              `json:"astroRuntimeVersion"`
	CloudProvider        *string              `json:"cloudProvider"`
	ClusterID            *string              `json:"clusterId"`
	ContactEmails        *[]string            `json:"contactEmails"`
	DefaultTaskPodCPU    *string              `json:"defaultTaskPodCpu"`
	DefaultTaskPodMemory *string              `json:"defaultTaskPodMemory"`
	Description          *string              `json:"description"`
	DrWorkloadIdentity   *string              `json:"drWorkloadIdentity"`
	EnvironmentVariables *[]wireEnvVarReq     `json:"environmentVariables"`
	Executor             *string              `json:"executor"`
	IsCicdEnforced       *bool                `json:"isCicdEnforced"`
	IsDagDeployEnabled   *bool                `json:"isDagDeployEnabled"`
	IsDevelopmentMode    *bool                `json:"isDevelopmentMode"`
	IsHighAvailability   *bool                `json:"isHighAvailability"`
	Name                 *string              `json:"name"`
	Region               *string              `json:"region"`
	RemoteExecution      *wireRemoteExecReq   `json:"remoteExecution"`
	ResourceQuotaCPU     *string              `json:"resourceQuotaCpu"`
	ResourceQuotaMemory  *string              `json:"resourceQuotaMemory"`
	ScalingSpec          *wireScalingSpecReq  `json:"scalingSpec"`
	Scheduler            *wireInstanceSpecReq `json:"scheduler"`
	SchedulerSize        *string              `json:"schedulerSize"`
	TaskPodNodePoolID    *string              `json:"taskPodNodePoolId"`
	Type                 *string              `json:"type"`
	WorkerQueues         *[]wireQueueReq      `json:"workerQueues"`
	WorkloadIdentity     *string              `json:"workloadIdentity"`
	WorkspaceID          *string              `json:"workspaceId"`
}

type wireEnvVarReq struct {
	IsSecret *bool   `json:"isSecret"`
	Key      *string `json:"key"`
	Value    *string `json:"value"`
}

// wireQueueReq covers WorkerQueueRequest, HybridWorkerQueueRequest and
// UpdateWorkerQueueRequest.
type wireQueueReq struct {
	AstroMachine        *string `json:"astroMachine"`
	ID                  *string `json:"id"`
	IsDefault           *bool   `json:"isDefault"`
	MaxWorkerCount      *int    `json:"maxWorkerCount"`
	MinWorkerCount      *int    `json:"minWorkerCount"`
	Name                *string `json:"name"`
	NodePoolID          *string `json:"nodePoolId"`
	PodEphemeralStorage *string `json:"podEphemeralStorage"`
	WorkerConcurrency   *int    `json:"workerConcurrency"`
}

type wireScalingSpecReq struct {
	HibernationSpec *wireHibernationSpecReq `json:"hibernationSpec"`
}

type wireHibernationSpecReq struct {
	Override  *wireHibernationOverrideReq `json:"override"`
	Schedules *[]wireHibernationSchedReq  `json:"schedules"`
}

type wireHibernationOverrideReq struct {
	IsHibernating *bool   `json:"isHibernating"`
	OverrideUntil *string `json:"overrideUntil"`
}

type wireHibernationSchedReq struct {
	Description     *string `json:"description"`
	HibernateAtCron *string `json:"hibernateAtCron"`
	IsEnabled       *bool   `json:"isEnabled"`
	WakeAtCron      *string `json:"wakeAtCron"`
}

type wireInstanceSpecReq struct {
	Au       *int `json:"au"`
	Replicas *int `json:"replicas"`
}

type wireRemoteExecReq struct {
	AllowedIPAddressRanges *[]string `json:"allowedIpAddressRanges"`
	Enabled                *bool     `json:"enabled"`
	TaskLogBucket          *string   `json:"taskLogBucket"`
	TaskLogURLPattern      *string   `json:"taskLogUrlPattern"`
}
