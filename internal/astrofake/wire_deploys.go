package astrofake

// Wire structs of the Deploys routes and the hibernation override, written
// from astro-v1.0.openapi.yaml like those in wire.go.

// wireDeploy is Deploy.
type wireDeploy struct {
	AirflowVersion      string         `json:"airflowVersion,omitempty"`
	AstroRuntimeVersion string         `json:"astroRuntimeVersion,omitempty"`
	CreatedAt           string         `json:"createdAt"`
	CreatedBySubject    wireSubject    `json:"createdBySubject"`
	DagTarballVersion   string         `json:"dagTarballVersion,omitempty"`
	DagsUploadURL       string         `json:"dagsUploadUrl,omitempty"`
	DeploymentID        string         `json:"deploymentId"`
	Description         string         `json:"description,omitempty"`
	Git                 *wireDeployGit `json:"git,omitempty"`
	ID                  string         `json:"id"`
	ImageRepository     string         `json:"imageRepository"`
	ImageTag            string         `json:"imageTag"`
	IsDagDeployEnabled  bool           `json:"isDagDeployEnabled"`
	Status              string         `json:"status"`
	Type                string         `json:"type"`
	UpdatedAt           string         `json:"updatedAt,omitempty"`
	UpdatedBySubject    wireSubject    `json:"updatedBySubject"`
}

// wireDeployGit is DeployGit.
type wireDeployGit struct {
	Account         string `json:"account,omitempty"`
	AuthorName      string `json:"authorName,omitempty"`
	AuthorURL       string `json:"authorUrl,omitempty"`
	AuthorUsername  string `json:"authorUsername,omitempty"`
	BeforeCommitSha string `json:"beforeCommitSha,omitempty"`
	Branch          string `json:"branch,omitempty"`
	CommitSha       string `json:"commitSha"`
	CommitURL       string `json:"commitUrl,omitempty"`
	Path            string `json:"path,omitempty"`
	Provider        string `json:"provider"`
	RemoteURL       string `json:"remoteUrl,omitempty"`
	Repo            string `json:"repo,omitempty"`
}

type wireDeploysPage struct {
	Deploys    []wireDeploy `json:"deploys"`
	Limit      int          `json:"limit"`
	Offset     int          `json:"offset"`
	TotalCount int          `json:"totalCount"`
}

// wireCreateDeployReq is CreateDeployRequest.
type wireCreateDeployReq struct {
	BundleMountPath *string           `json:"bundleMountPath"`
	BundleType      *string           `json:"bundleType"`
	Description     *string           `json:"description"`
	Git             *wireDeployGitReq `json:"git"`
	Type            *string           `json:"type"`
}

// wireDeployGitReq is CreateDeployGitRequest.
type wireDeployGitReq struct {
	Account         *string `json:"account"`
	AuthorName      *string `json:"authorName"`
	AuthorURL       *string `json:"authorUrl"`
	AuthorUsername  *string `json:"authorUsername"`
	BeforeCommitSha *string `json:"beforeCommitSha"`
	Branch          *string `json:"branch"`
	CommitSha       *string `json:"commitSha"`
	CommitURL       *string `json:"commitUrl"`
	Path            *string `json:"path"`
	Provider        *string `json:"provider"`
	RemoteURL       *string `json:"remoteUrl"`
	Repo            *string `json:"repo"`
}

// wireUpdateDeployReq is UpdateDeployRequest.
type wireUpdateDeployReq struct {
	Description *string `json:"description"`
}

// wireFinalizeDeployReq is FinalizeDeployRequest.
type wireFinalizeDeployReq struct {
	BundleTarballVersion *string `json:"bundleTarballVersion"`
	DagTarballVersion    *string `json:"dagTarballVersion"`
}

// wireOverrideReq is OverrideDeploymentHibernationBody.
type wireOverrideReq struct {
	IsHibernating *bool   `json:"isHibernating"`
	OverrideUntil *string `json:"overrideUntil"`
}
