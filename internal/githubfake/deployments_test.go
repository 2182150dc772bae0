package githubfake_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/astro-ci/astro-ci/internal/githubfake"
)

const (
	tokDeploy   = "github_pat_deployments" // deployments and pull requests write
	tokNoDeploy = "github_pat_nodeploy"    // contents read only
)

// goGitHub is go-github pointed at the fixture, behind the validator.
func goGitHub(t *testing.T, f *fixture, token string) *github.Client {
	t.Helper()
	f.fake.AddToken(tokDeploy, githubfake.TokenPerms{Label: "deploy", Perms: map[string]string{"deployments": "write", "pull_requests": "write"}})
	f.fake.AddToken(tokNoDeploy, githubfake.TokenPerms{Label: "nodeploy", Perms: map[string]string{"contents": "read"}})
	c := github.NewClient(f.srv.Client()).WithAuthToken(token)
	c.BaseURL, _ = url.Parse(f.srv.URL + "/")
	return c
}

func status(err error) int {
	var ge *github.ErrorResponse
	if errors.As(err, &ge) && ge.Response != nil {
		return ge.Response.StatusCode
	}
	return 0
}

func TestDeploymentOfABranchWithASuccessStatusCarriesTheEnvironmentURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gh := goGitHub(t, f, tokDeploy)
	ctx := context.Background()
	f.fake.AddBranch("o", "r", "feature/x", strings.Repeat("a", 40))
	no := false
	d, _, err := gh.Repositories.CreateDeployment(ctx, "o", "r", &github.DeploymentRequest{
		Ref: github.String("feature/x"), Environment: github.String("preview-feature-x"), AutoMerge: &no,
		RequiredContexts: &[]string{}, TransientEnvironment: &no, ProductionEnvironment: &no,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.GetSHA() != strings.Repeat("a", 40) || d.GetRef() != "feature/x" || d.GetEnvironment() != "preview-feature-x" || d.GetTask() != "deploy" {
		t.Fatalf("deployment %+v", d)
	}
	st, _, err := gh.Repositories.CreateDeploymentStatus(ctx, "o", "r", d.GetID(), &github.DeploymentStatusRequest{
		State: github.String("success"), EnvironmentURL: github.String("https://x.astronomer.run/d1"),
	})
	if err != nil || st.GetState() != "success" || st.GetEnvironmentURL() != "https://x.astronomer.run/d1" {
		t.Fatalf("status %+v %v", st, err)
	}
	list, _, err := gh.Repositories.ListDeployments(ctx, "o", "r", &github.DeploymentsListOptions{Environment: "preview-feature-x"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	sts, _, err := gh.Repositories.ListDeploymentStatuses(ctx, "o", "r", d.GetID(), nil)
	if err != nil || len(sts) != 1 {
		t.Fatalf("statuses %v %v", sts, err)
	}
	// Unknown refs and states are 422.
	if _, _, err := gh.Repositories.CreateDeployment(ctx, "o", "r", &github.DeploymentRequest{Ref: github.String("gone")}); status(err) != 422 {
		t.Errorf("unknown ref: %v", err)
	}
	// A state the description does not allow, sent past the validator.
	raw := github.NewClient(f.raw.Client()).WithAuthToken(tokDeploy)
	raw.BaseURL, _ = url.Parse(f.raw.URL + "/")
	if _, _, err := raw.Repositories.CreateDeploymentStatus(ctx, "o", "r", d.GetID(), &github.DeploymentStatusRequest{State: github.String("done")}); status(err) != 422 {
		t.Errorf("bad state: %v", err)
	}
}

// GitHub: auto_inactive "adds a new inactive status to all prior
// non-transient, non-production environment deployments with the same
// repository and environment name as the created status's deployment".
func TestSuccessStatusRetiresEarlierNonTransientDeploymentsOfTheEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gh := goGitHub(t, f, tokDeploy)
	ctx := context.Background()
	no := false
	mk := func(env string, transient bool) int64 {
		d, _, err := gh.Repositories.CreateDeployment(ctx, "o", "r", &github.DeploymentRequest{Ref: github.String("main"),
			Environment: &env, TransientEnvironment: &transient, ProductionEnvironment: &no, RequiredContexts: &[]string{}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := gh.Repositories.CreateDeploymentStatus(ctx, "o", "r", d.GetID(), &github.DeploymentStatusRequest{State: github.String("success")}); err != nil {
			t.Fatal(err)
		}
		return d.GetID()
	}
	mk("p", false)
	mk("other", false)
	mk("q", true)
	mk("p", false)
	mk("q", true)
	var states []string
	for _, d := range f.fake.Deployments("o", "r") {
		states = append(states, d.Environment+":"+d.Statuses[len(d.Statuses)-1].State)
	}
	if want := []string{"p:inactive", "other:success", "q:success", "p:success", "q:success"}; !slices.Equal(states, want) {
		t.Fatalf("states %q, want %q", states, want)
	}
}

func TestDeploymentsNeedTheDeploymentsPermission(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gh := goGitHub(t, f, tokNoDeploy)
	_, res, err := gh.Repositories.CreateDeployment(context.Background(), "o", "r", &github.DeploymentRequest{Ref: github.String("main")})
	if status(err) != http.StatusForbidden || res.Header.Get("X-Accepted-GitHub-Permissions") != "deployments=write" {
		t.Fatalf("err %v header %q", err, res.Header.Get("X-Accepted-GitHub-Permissions"))
	}
}

func TestBranchesAreListedByNameInPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gh := goGitHub(t, f, tokNoDeploy)
	for _, b := range []string{"b", "a", "c/d"} {
		f.fake.AddBranch("o", "r", b, strings.Repeat("1", 40))
	}
	f.fake.DeleteBranch("o", "r", "b")
	var names []string
	opts := &github.BranchListOptions{ListOptions: github.ListOptions{PerPage: 2}}
	pages := 0
	for {
		bs, res, err := gh.Repositories.ListBranches(context.Background(), "o", "r", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, b := range bs {
			names = append(names, b.GetName())
		}
		if res.NextPage == 0 {
			break
		}
		opts.Page = res.NextPage
	}
	if want := []string{"a", "c/d", "main"}; !slices.Equal(names, want) || pages != 2 {
		t.Fatalf("branches %q in %d pages", names, pages)
	}
}

func TestPullRequestCommentsAreCreatedListedAndEdited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gh := goGitHub(t, f, tokDeploy)
	ctx := context.Background()
	f.fake.AddPullRequest("o", "r", 7)
	c, _, err := gh.Issues.CreateComment(ctx, "o", "r", 7, &github.IssueComment{Body: github.String("one")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Issues.EditComment(ctx, "o", "r", c.GetID(), &github.IssueComment{Body: github.String("two")}); err != nil {
		t.Fatal(err)
	}
	cs, _, err := gh.Issues.ListComments(ctx, "o", "r", 7, nil)
	if err != nil || len(cs) != 1 || cs[0].GetBody() != "two" {
		t.Fatalf("comments %v %v", cs, err)
	}
	if _, _, err := gh.Issues.CreateComment(ctx, "o", "r", 8, &github.IssueComment{Body: github.String("x")}); status(err) != 404 {
		t.Errorf("unknown pull request: %v", err)
	}
	if _, _, err := gh.Issues.CreateComment(ctx, "o", "r", 7, &github.IssueComment{Body: github.String(strings.Repeat("x", 65537))}); status(err) != 422 {
		t.Errorf("too long: %v", err)
	}
	ro := goGitHub(t, f, tokNoDeploy)
	if _, _, err := ro.Issues.CreateComment(ctx, "o", "r", 7, &github.IssueComment{Body: github.String("x")}); status(err) != 403 {
		t.Errorf("without pull_requests write: %v", err)
	}
}
