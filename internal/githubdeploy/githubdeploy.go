// Package githubdeploy shows previews where reviewers look on GitHub: a
// GitHub Deployment per preview deploy, whose success status carries the
// Airflow UI as environment_url (the pull request then shows "View
// deployment"), marked inactive when the preview goes; one pull request
// comment kept up to date (found by a hidden marker); and the repository's
// branches, to prune previews whose branch is gone.
//
// Deployments are created for ref = the branch, environment = the preview
// name, production_environment false, transient_environment false (so
// that GitHub's auto_inactive retires the previous deployment of the same
// preview when a new one succeeds: one request fewer per deploy),
// auto_merge false (never merge the default branch into the user's branch)
// and required_contexts [] (a preview does not wait for the branch's
// checks). Without the permission (GitHub Actions: `permissions:
// deployments: write`, `pull-requests: write`) each operation returns a
// Warning, not an error: the preview itself is fine.
//
// Everything goes through go-github; no go-github type leaves the package.
package githubdeploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// Repo is a GitHub repository.
type Repo struct{ Owner, Name string }

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// Config configures a Client.
type Config struct {
	Repo       Repo
	Token      secret.Value
	BaseURL    string // API root; default https://api.github.com/ (GITHUB_API_URL)
	HTTPClient *http.Client
}

// Client records deployments and comments of one repository.
type Client struct {
	gh   *github.Client
	repo Repo
}

// New builds a Client; it makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Repo.Owner == "" || cfg.Repo.Name == "" {
		return nil, errors.New("no GitHub repository (GITHUB_REPOSITORY) to record the preview in")
	}
	if cfg.Token.IsZero() {
		return nil, errors.New("no GitHub token to record the preview with")
	}
	gh := github.NewClient(cfg.HTTPClient).WithAuthToken(cfg.Token.Reveal())
	if cfg.BaseURL != "" {
		u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/") + "/")
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("GitHub API URL %q is not an absolute URL", cfg.BaseURL)
		}
		gh.BaseURL = u
	}
	return &Client{gh: gh, repo: cfg.Repo}, nil
}

// Preview is what a deployment records.
type Preview struct {
	Branch      string // the ref
	Environment string // the preview's name
	URL         string // the Airflow UI
	LogURL      string // the CI run, optional
	Description string // at most 140 characters are kept
}

// Outcome of one operation: done, or skipped with a warning.
type Outcome struct {
	DeploymentID int64
	CommentID    int64
	Warning      string // set when GitHub refused for lack of permission
}

// missingPermission turns a 403 into a warning naming the permission.
func missingPermission(err error, what, permission string) (string, bool) {
	var ge *github.ErrorResponse
	if !errors.As(err, &ge) || ge.Response == nil || ge.Response.StatusCode != http.StatusForbidden {
		return "", false
	}
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return "", false
	}
	return fmt.Sprintf("could not %s: the GitHub token lacks the %q permission (in GitHub Actions add `permissions: %s` to the job); the preview works without it", what, permission, permission), true
}

// describe keeps GitHub's error message and status, never a header.
func describe(what string, err error) error {
	var ge *github.ErrorResponse
	if errors.As(err, &ge) && ge.Response != nil {
		return fmt.Errorf("%s: GitHub answered %d: %s", what, ge.Response.StatusCode, ge.Message)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Record creates a deployment of the preview and its success status.
func (c *Client) Record(ctx context.Context, p Preview) (Outcome, error) {
	if p.Branch == "" || p.Environment == "" {
		return Outcome{}, errors.New("a GitHub deployment needs the branch and the preview name")
	}
	f := false
	desc := truncate(p.Description, 140)
	d, _, err := c.gh.Repositories.CreateDeployment(ctx, c.repo.Owner, c.repo.Name, &github.DeploymentRequest{
		Ref: &p.Branch, Environment: &p.Environment, Description: &desc, Task: github.String("deploy"),
		AutoMerge: &f, RequiredContexts: &[]string{}, TransientEnvironment: &f, ProductionEnvironment: &f,
	})
	if err != nil {
		if w, ok := missingPermission(err, "record a GitHub deployment of the preview", "deployments: write"); ok {
			return Outcome{Warning: w}, nil
		}
		return Outcome{}, describe(fmt.Sprintf("recording a GitHub deployment of %s for %q", p.Environment, p.Branch), err)
	}
	out := Outcome{DeploymentID: d.GetID()}
	st := &github.DeploymentStatusRequest{State: github.String("success"), EnvironmentURL: &p.URL,
		Description: &desc, AutoInactive: github.Bool(true)}
	if p.LogURL != "" {
		st.LogURL = &p.LogURL
	}
	if _, _, err := c.gh.Repositories.CreateDeploymentStatus(ctx, c.repo.Owner, c.repo.Name, d.GetID(), st); err != nil {
		if w, ok := missingPermission(err, "mark the GitHub deployment successful", "deployments: write"); ok {
			out.Warning = w
			return out, nil
		}
		return out, describe("marking the GitHub deployment successful", err)
	}
	return out, nil
}

// Deactivate marks the newest deployment of the preview inactive (the
// older ones were retired by auto_inactive). None is fine.
func (c *Client) Deactivate(ctx context.Context, environment string) (Outcome, error) {
	ds, _, err := c.gh.Repositories.ListDeployments(ctx, c.repo.Owner, c.repo.Name, &github.DeploymentsListOptions{
		Environment: environment, ListOptions: github.ListOptions{PerPage: 1},
	})
	if err != nil {
		if w, ok := missingPermission(err, "mark the preview's GitHub deployment inactive", "deployments: write"); ok {
			return Outcome{Warning: w}, nil
		}
		return Outcome{}, describe("listing the GitHub deployments of "+environment, err)
	}
	if len(ds) == 0 {
		return Outcome{}, nil
	}
	id := ds[0].GetID()
	_, _, err = c.gh.Repositories.CreateDeploymentStatus(ctx, c.repo.Owner, c.repo.Name, id, &github.DeploymentStatusRequest{
		State: github.String("inactive"), Description: github.String("the preview was deleted"),
	})
	if err != nil {
		if w, ok := missingPermission(err, "mark the preview's GitHub deployment inactive", "deployments: write"); ok {
			return Outcome{DeploymentID: id, Warning: w}, nil
		}
		return Outcome{DeploymentID: id}, describe("marking the GitHub deployment inactive", err)
	}
	return Outcome{DeploymentID: id}, nil
}

// Branches lists every branch name of the repository.
func (c *Client) Branches(ctx context.Context) ([]string, error) {
	var names []string
	opts := &github.BranchListOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		bs, res, err := c.gh.Repositories.ListBranches(ctx, c.repo.Owner, c.repo.Name, opts)
		if err != nil {
			return nil, describe("listing the branches of "+c.repo.String(), err)
		}
		for _, b := range bs {
			names = append(names, b.GetName())
		}
		if res.NextPage == 0 {
			return names, nil
		}
		opts.Page = res.NextPage
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
