// Package gitlabbranches lists the branches of a GitLab project through the
// official client (gitlab.com/gitlab-org/api/client-go), so that previews
// whose branch is gone can be pruned. GET /projects/:id/repository/branches
// is paginated with page/per_page (100 at most); the job token
// (CI_JOB_TOKEN) is not accepted there, so the caller passes a project,
// group or personal access token with read_api.
//
// No client-go type leaves the package.
package gitlabbranches

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// Config configures List.
type Config struct {
	BaseURL    string // API root, e.g. https://gitlab.com/api/v4 (CI_API_V4_URL)
	Token      secret.Value
	Project    string // id ("42") or path ("group/sub/project"), CI_PROJECT_ID
	HTTPClient *http.Client
}

// maxPages bounds the walk: 100 branches a page.
const maxPages = 200

// List returns every branch name of the project.
func List(ctx context.Context, cfg Config) ([]string, error) {
	if cfg.Project == "" {
		return nil, errors.New("no GitLab project (CI_PROJECT_ID) to list branches of")
	}
	if cfg.Token.IsZero() {
		return nil, errors.New("no GitLab token to list branches with: give a project or personal access token with read_api (CI_JOB_TOKEN cannot list branches)")
	}
	opts := []gitlab.ClientOptionFunc{gitlab.WithoutRetries()}
	if cfg.BaseURL != "" {
		opts = append(opts, gitlab.WithBaseURL(cfg.BaseURL))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, gitlab.WithHTTPClient(cfg.HTTPClient))
	}
	client, err := gitlab.NewClient(cfg.Token.Reveal(), opts...)
	if err != nil {
		return nil, fmt.Errorf("GitLab API URL %q: %v", cfg.BaseURL, err)
	}
	var names []string
	lo := &gitlab.ListBranchesOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: 1}}
	for range maxPages {
		bs, res, err := client.Branches.ListBranches(cfg.Project, lo, gitlab.WithContext(ctx))
		if err != nil {
			return nil, describe(cfg.Project, res, err, cfg.Token)
		}
		for _, b := range bs {
			names = append(names, b.Name)
		}
		if res.NextPage == 0 {
			return names, nil
		}
		lo.Page = res.NextPage
	}
	return nil, fmt.Errorf("project %s has more than %d branches: refusing to prune on a partial list", cfg.Project, maxPages*100)
}

// describe words an error without the request's headers.
func describe(project string, res *gitlab.Response, err error, token secret.Value) error {
	status := 0
	if res != nil && res.Response != nil {
		status = res.StatusCode
	}
	var ge *gitlab.ErrorResponse
	msg := err.Error()
	if errors.As(err, &ge) {
		msg = strings.TrimSpace(ge.Message)
	}
	// A server (or proxy) may echo what it was sent.
	msg = strings.ReplaceAll(msg, token.Reveal(), secret.Redacted)
	switch status {
	case http.StatusUnauthorized:
		return fmt.Errorf("listing the branches of GitLab project %s: 401: the token was not accepted (CI_JOB_TOKEN cannot list branches; use a project or personal access token with read_api)", project)
	case http.StatusForbidden, http.StatusNotFound:
		return fmt.Errorf("listing the branches of GitLab project %s: %d: the token cannot read the project's repository (it needs read_api and at least the Reporter role): %s", project, status, msg)
	}
	return fmt.Errorf("listing the branches of GitLab project %s: %s", project, msg)
}
