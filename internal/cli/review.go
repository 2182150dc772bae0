package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/astro-ci/astro-ci/internal/cienv"
	"github.com/astro-ci/astro-ci/internal/githubdeploy"
	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/report"
)

// Review-app habits on GitHub (package githubdeploy): preview create
// records a GitHub Deployment of the branch whose success status links the
// Airflow UI (the pull request shows "View deployment"), preview delete and
// prune mark it inactive, and --comment keeps one pull request comment up
// to date. None of it can fail the preview: a missing permission or an
// error is a warning. GitLab needs none of it: the review environment's
// URL comes from the dotenv report.

// githubClient is the GitHub client for deployments, comments and
// branches: the workflow's GITHUB_TOKEN (whose `permissions:` grant
// deployments: write), else ASTRO_CI_GITHUB_TOKEN.
func (r *runner) githubClient() (*githubdeploy.Client, error) {
	tok := r.cfg.GitHubTokenFallback
	if tok.IsZero() {
		tok = r.cfg.GitHubToken
	}
	if tok.IsZero() {
		return nil, errors.New("no GITHUB_TOKEN or ASTRO_CI_GITHUB_TOKEN in the environment (add GITHUB_TOKEN: ${{ github.token }} to the step's env:)")
	}
	owner, name, _ := strings.Cut(r.cfg.GitHubRepository, "/")
	return githubdeploy.New(githubdeploy.Config{
		Repo: githubdeploy.Repo{Owner: owner, Name: name}, Token: tok,
		BaseURL: firstNonEmpty(r.cfg.GitHubAPIURLOverride, r.cfg.GitHubAPIURL), HTTPClient: r.httpClient(),
	})
}

var runIDRE = regexp.MustCompile(`^[0-9]{1,20}$`)

// runURL is the GitHub Actions run's page, "" when unknown.
func (r *runner) runURL() string {
	server, repo, id := strings.TrimRight(r.env["GITHUB_SERVER_URL"], "/"), r.cfg.GitHubRepository, r.env["GITHUB_RUN_ID"]
	if !strings.HasPrefix(server, "https://") || strings.Count(repo, "/") != 1 || !runIDRE.MatchString(id) {
		return ""
	}
	return server + "/" + repo + "/actions/runs/" + id
}

// review shows the preview where reviewers look, on GitHub.
func (r *runner) review(p *previewOptions, ev cienv.Event, res *preview.Result, create bool) {
	if p.dryRun || res == nil {
		return
	}
	if r.rep.CI() != report.GitHubActions {
		if p.comment {
			r.rep.Warnf("--comment applies to GitHub pull requests only: no comment written")
		}
		return
	}
	gh, err := r.githubClient()
	if err != nil {
		r.rep.Infof("the preview is not shown on GitHub: %v", err)
		return
	}
	note := func(o githubdeploy.Outcome, err error) githubdeploy.Outcome {
		switch {
		case err != nil:
			r.rep.Warnf("%v (the preview itself is fine)", err)
		case o.Warning != "":
			r.rep.Warnf("%s", o.Warning)
		}
		return o
	}
	switch {
	case create && (res.Action == "created" || res.Action == "exists") && res.URL != "":
		desc := "Astro preview of " + res.BaseName
		if c := res.Code; c != nil && c.Commit != "" {
			desc += " at " + c.Commit[:min(len(c.Commit), 7)]
		}
		o := note(gh.Record(r.ctx, githubdeploy.Preview{Branch: res.Branch, Environment: res.Name, URL: res.URL, LogURL: r.runURL(), Description: desc}))
		if o.DeploymentID != 0 {
			r.rep.Output("github-deployment-id", fmt.Sprint(o.DeploymentID))
			r.rep.Infof("GitHub deployment %d of %s: %s", o.DeploymentID, res.Name, res.URL)
		}
	case !create && (res.Action == "deleted" || res.Action == "absent"):
		if o := note(gh.Deactivate(r.ctx, res.Name)); o.DeploymentID != 0 && o.Warning == "" {
			r.rep.Infof("GitHub deployment %d of %s marked inactive", o.DeploymentID, res.Name)
		}
	}
	if !p.comment {
		return
	}
	if ev.PullRequest == 0 {
		r.rep.Infof("--comment: this event (%s) has no pull request, so no comment", echoEvent(ev))
		return
	}
	cm := githubdeploy.Comment{Key: preview.BranchKey(res.Branch), Name: res.Name, Status: res.Status, URL: res.URL}
	if !create {
		cm.Status, cm.URL = "deleted", ""
	}
	if c := res.Code; c != nil {
		if c.DeployID != "" {
			cm.Commit = c.Commit
			if m := c.Commit; m != "" && r.cfg.GitHubRepository != "" {
				cm.CommitURL = strings.TrimRight(firstNonEmpty(r.env["GITHUB_SERVER_URL"], "https://github.com"), "/") + "/" + r.cfg.GitHubRepository + "/commit/" + m
			}
			cm.Status = strings.TrimPrefix(cm.Status+", code deployed", ", ")
		}
		cm.ImageBuildRequired, cm.BuildCommand = c.ImageBuildRequired != nil && *c.ImageBuildRequired, c.BuildCommand
	}
	if o := note(gh.UpsertComment(r.ctx, ev.PullRequest, cm)); o.CommentID != 0 {
		r.rep.Output("comment-id", fmt.Sprint(o.CommentID))
	}
}

func echoEvent(ev cienv.Event) string {
	if ev.EventName != "" {
		return ev.EventName
	}
	return string(ev.Kind)
}

// deactivateAll marks the GitHub deployments of pruned previews inactive.
func (r *runner) deactivateAll(names []string) {
	if r.rep.CI() != report.GitHubActions || len(names) == 0 {
		return
	}
	gh, err := r.githubClient()
	if err != nil {
		r.rep.Infof("the pruned previews' GitHub deployments stay active: %v", err)
		return
	}
	for _, n := range names {
		o, err := gh.Deactivate(r.ctx, n)
		switch {
		case err != nil:
			r.rep.Warnf("%v", err)
		case o.Warning != "":
			r.rep.Warnf("%s", o.Warning)
			return // the same for every one
		}
	}
}
