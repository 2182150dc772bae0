package astro

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// Deploy types (the wire enum of CreateDeployRequest.type).
const (
	DeployDAGOnly     = "DAG_ONLY"
	DeployImageAndDAG = "IMAGE_AND_DAG"
	DeployImageOnly   = "IMAGE_ONLY"
)

// Deploy statuses.
const (
	DeployInitialized = "INITIALIZED"
	DeployDeployed    = "DEPLOYED"
	DeployFailed      = "FAILED"
)

// Git providers of DeployGit.
const (
	GitProviderGitHub  = "GITHUB"
	GitProviderGeneric = "GENERIC"
)

// DeployGit is the git metadata of a deploy (CreateDeployGitRequest on the
// way in, DeployGit on the way out). Provider and CommitSHA are required;
// GITHUB needs Account and Repo and no RemoteURL, GENERIC needs RemoteURL
// and neither Account nor Repo.
type DeployGit struct {
	Provider        string `json:"provider"`
	CommitSHA       string `json:"commitSha"`
	Account         string `json:"account,omitempty"`
	Repo            string `json:"repo,omitempty"`
	RemoteURL       string `json:"remoteUrl,omitempty"`
	Branch          string `json:"branch,omitempty"`
	CommitURL       string `json:"commitUrl,omitempty"`
	AuthorName      string `json:"authorName,omitempty"`
	AuthorUsername  string `json:"authorUsername,omitempty"`
	AuthorURL       string `json:"authorUrl,omitempty"`
	BeforeCommitSHA string `json:"beforeCommitSha,omitempty"`
	Path            string `json:"path,omitempty"`
}

// CreateDeployRequest is the body of CreateDeploy.
type CreateDeployRequest struct {
	Type        string     `json:"type"`
	Description string     `json:"description,omitempty"`
	Git         *DeployGit `json:"git,omitempty"`
}

// Deploy is one code deploy of a Deployment. DagsUploadURL is an Azure Blob
// URL whose query string is a SAS credential: it is a secret.Value so that
// no formatting path can print it.
type Deploy struct {
	ID                  string       `json:"id"`
	DeploymentID        string       `json:"deploymentId"`
	Type                string       `json:"type"`
	Status              string       `json:"status"`
	Description         string       `json:"description,omitempty"`
	ImageRepository     string       `json:"imageRepository"`
	ImageTag            string       `json:"imageTag"`
	IsDagDeployEnabled  bool         `json:"isDagDeployEnabled"`
	DagsUploadURL       secret.Value `json:"dagsUploadUrl"`
	DagTarballVersion   string       `json:"dagTarballVersion,omitempty"`
	AstroRuntimeVersion string       `json:"astroRuntimeVersion,omitempty"`
	AirflowVersion      string       `json:"airflowVersion,omitempty"`
	Git                 *DeployGit   `json:"git,omitempty"`
	CreatedAt           time.Time    `json:"createdAt"`
	UpdatedAt           time.Time    `json:"updatedAt"`
	CreatedBy           *Subject     `json:"createdBySubject,omitempty"`
}

// FinalizeDeployRequest is the body of FinalizeDeploy.
type FinalizeDeployRequest struct {
	DagTarballVersion string `json:"dagTarballVersion,omitempty"`
}

// HibernationOverride is DeploymentHibernationOverride.
type HibernationOverride struct {
	IsActive      bool       `json:"isActive,omitempty"`
	IsHibernating bool       `json:"isHibernating"`
	OverrideUntil *time.Time `json:"overrideUntil,omitempty"`
}

// ScalingStatus is DeploymentScalingStatus.
type ScalingStatus struct {
	HibernationStatus *HibernationStatus `json:"hibernationStatus,omitempty"`
}

// HibernationStatus is DeploymentHibernationStatus.
type HibernationStatus struct {
	IsHibernating bool   `json:"isHibernating"`
	NextEventAt   string `json:"nextEventAt,omitempty"`
	NextEventType string `json:"nextEventType,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// IsHibernating reports whether the Deployment says it sleeps, by status or
// by its hibernation status.
func (d *Deployment) IsHibernating() bool {
	if d.Status == "HIBERNATING" {
		return true
	}
	return d.ScalingStatus != nil && d.ScalingStatus.HibernationStatus != nil && d.ScalingStatus.HibernationStatus.IsHibernating
}

type deploysPage struct {
	Deploys    []Deploy `json:"deploys"`
	Limit      int      `json:"limit"`
	Offset     int      `json:"offset"`
	TotalCount int      `json:"totalCount"`
}

// CreateDeploy starts a deploy (status INITIALIZED). Like every create it
// is not repeated once it may have reached Astro: an *UncertainError asks
// the caller to reconcile (package deploy finds its deploy by the nonce it
// put in the description).
func (c *Client) CreateDeploy(ctx context.Context, deploymentID string, req CreateDeployRequest) (*Deploy, error) {
	var d Deploy
	path := c.orgPath("/deployments/%s/deploys", deploymentID)
	if err := c.do(ctx, http.MethodPost, path, nil, req, &d, once); err != nil {
		return nil, appliedButUnreadable(http.MethodPost, path, err)
	}
	return &d, nil
}

// appliedButUnreadable turns the one failure of a create that do reports
// as a plain error although Astro applied it, a 2xx answer whose body does
// not decode, into an *UncertainError, so the caller reconciles instead of
// concluding that nothing happened.
func appliedButUnreadable(method, path string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) || IsUncertain(err) || errors.Is(err, errNotSent) {
		return err
	}
	return &UncertainError{Method: method, Path: path, Err: err}
}

// GetDeploy reads one deploy.
func (c *Client) GetDeploy(ctx context.Context, deploymentID, deployID string) (*Deploy, error) {
	var d Deploy
	if err := c.do(ctx, http.MethodGet, c.orgPath("/deployments/%s/deploys/%s", deploymentID, deployID), nil, nil, &d, safe); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListDeploys returns every deploy of a Deployment, following pagination.
// Astro documents no order; callers sort by CreatedAt.
func (c *Client) ListDeploys(ctx context.Context, deploymentID string) ([]Deploy, error) {
	var all []Deploy
	err := c.paginate(ctx, c.orgPath("/deployments/%s/deploys", deploymentID), nil, func(decode func(any) error) (int, int, error) {
		var page deploysPage
		if err := decode(&page); err != nil {
			return 0, 0, err
		}
		all = append(all, page.Deploys...)
		return len(page.Deploys), page.TotalCount, nil
	})
	return all, err
}

// FinalizeDeploy ends a deploy: Astro starts running the uploaded DAG
// bundle (and, for image deploys, the pushed image). It is not repeated
// blindly after an unanswered attempt: the caller reads the deploy back
// (GetDeploy) to learn whether it took effect.
func (c *Client) FinalizeDeploy(ctx context.Context, deploymentID, deployID string, req FinalizeDeployRequest) (*Deploy, error) {
	var d Deploy
	path := c.orgPath("/deployments/%s/deploys/%s/finalize", deploymentID, deployID)
	if err := c.do(ctx, http.MethodPost, path, nil, req, &d, once); err != nil {
		return nil, appliedButUnreadable(http.MethodPost, path, err)
	}
	return &d, nil
}

// SetHibernationOverride wakes (isHibernating false) or puts to sleep a
// development Deployment regardless of its schedules, until the given time
// (nil: until the override is deleted). Setting is a full replacement, so
// it is safe to repeat.
func (c *Client) SetHibernationOverride(ctx context.Context, deploymentID string, isHibernating bool, until *time.Time) (*HibernationOverride, error) {
	body := struct {
		IsHibernating bool    `json:"isHibernating"`
		OverrideUntil *string `json:"overrideUntil,omitempty"`
	}{IsHibernating: isHibernating}
	if until != nil {
		s := until.UTC().Truncate(time.Second).Format(time.RFC3339)
		body.OverrideUntil = &s
	}
	var out HibernationOverride
	if err := c.do(ctx, http.MethodPost, c.orgPath("/deployments/%s/hibernation-override", deploymentID), nil, body, &out, safe); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteHibernationOverride returns a Deployment to its schedules.
func (c *Client) DeleteHibernationOverride(ctx context.Context, deploymentID string) error {
	return c.do(ctx, http.MethodDelete, c.orgPath("/deployments/%s/hibernation-override", deploymentID), nil, nil, nil, safe)
}
