package githubdeploy

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/fakeclock"
	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/secret"
)

const (
	tokFull = "github_pat_full_access_0001" // deployments and pull_requests write
	tokBare = "github_pat_bare_access_0002" // no permission beyond metadata
)

type fixture struct {
	fake *githubfake.Server
	srv  *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	v, err := contract.GitHub()
	if err != nil {
		t.Fatal(err)
	}
	fake := githubfake.New(githubfake.Options{Now: fakeclock.New(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)).Now})
	srv := httptest.NewServer(contract.Check(t, v, fake))
	t.Cleanup(srv.Close)
	fake.AddOrg("acme")
	fake.AddRepo("acme", "dags", true)
	fake.AddBranch("acme", "dags", "feature/x", strings.Repeat("f", 40))
	fake.AddPullRequest("acme", "dags", 12)
	fake.AddToken(tokFull, githubfake.TokenPerms{Perms: map[string]string{"deployments": "write", "pull_requests": "write"}})
	fake.AddToken(tokBare, githubfake.TokenPerms{Perms: map[string]string{}})
	return &fixture{fake: fake, srv: srv}
}

func (f *fixture) client(t *testing.T, tok string) *Client {
	t.Helper()
	c, err := New(Config{Repo: Repo{"acme", "dags"}, Token: secret.New(tok), BaseURL: f.srv.URL, HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRecordShowsViewDeploymentAndDeleteMarksItInactive(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, tokFull)
	ctx := context.Background()
	p := Preview{Branch: "feature/x", Environment: "preview-feature-x-1a2b", URL: "https://acme.astronomer.run/d123", Description: strings.Repeat("d", 200)}
	first, err := c.Record(ctx, p)
	if err != nil || first.Warning != "" || first.DeploymentID == 0 {
		t.Fatalf("Record: %+v %v", first, err)
	}
	second, err := c.Record(ctx, p) // a push deploys again
	if err != nil {
		t.Fatal(err)
	}
	ds := f.fake.Deployments("acme", "dags")
	if len(ds) != 2 || ds[0].Ref != "feature/x" || ds[0].Environment != p.Environment || ds[0].Production || ds[0].Transient {
		t.Fatalf("deployments %+v", ds)
	}
	last := func(d githubfake.DeploymentInfo) githubfake.StatusInfo { return d.Statuses[len(d.Statuses)-1] }
	if s := last(ds[1]); s.State != "success" || s.EnvironmentURL != p.URL || len([]rune(s.Description)) > 140 {
		t.Fatalf("newest status %+v", s)
	}
	if s := last(ds[0]); s.State != "inactive" {
		t.Fatalf("the superseded deployment is %q, want inactive (auto_inactive)", s.State)
	}
	out, err := c.Deactivate(ctx, p.Environment)
	if err != nil || out.DeploymentID != second.DeploymentID {
		t.Fatalf("Deactivate: %+v %v", out, err)
	}
	if s := last(f.fake.Deployments("acme", "dags")[1]); s.State != "inactive" {
		t.Fatalf("after delete: %q", s.State)
	}
	// Nothing to deactivate is fine.
	if out, err := c.Deactivate(ctx, "never-deployed"); err != nil || out.DeploymentID != 0 {
		t.Fatalf("Deactivate(none): %+v %v", out, err)
	}
}

func TestWithoutDeploymentsWriteRecordIsAWarningNotAFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, tokBare)
	out, err := c.Record(context.Background(), Preview{Branch: "feature/x", Environment: "p", URL: "https://x"})
	if err != nil || !strings.Contains(out.Warning, "deployments: write") {
		t.Fatalf("Record: %+v %v", out, err)
	}
	if out, err := c.Deactivate(context.Background(), "p"); err != nil || !strings.Contains(out.Warning, "deployments: write") {
		t.Fatalf("Deactivate: %+v %v", out, err)
	}
	if out, err := c.UpsertComment(context.Background(), 12, Comment{Key: "k1", Name: "p", Status: "deployed"}); err != nil || !strings.Contains(out.Warning, "pull-requests: write") {
		t.Fatalf("UpsertComment: %+v %v", out, err)
	}
}

func TestRecordOfAnUnknownBranchFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.client(t, tokFull).Record(context.Background(), Preview{Branch: "gone", Environment: "p", URL: "https://x"})
	if err == nil || !strings.Contains(err.Error(), "422") || strings.Contains(err.Error(), tokFull) {
		t.Fatalf("err = %v", err)
	}
}

func TestUpsertCommentKeepsOneCommentPerPreviewUpToDate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, tokFull)
	ctx := context.Background()
	cm := Comment{Key: "9f8e7d6c", Name: "preview-feature-x", Status: "deployed", URL: "https://acme.astronomer.run/d1",
		Commit: "abc1234", CommitURL: "https://github.com/acme/dags/commit/abc1234"}
	a, err := c.UpsertComment(ctx, 12, cm)
	if err != nil || a.CommentID == 0 {
		t.Fatalf("first: %+v %v", a, err)
	}
	other := Comment{Key: "1111", Name: "preview-other", Status: "deployed"}
	if _, err := c.UpsertComment(ctx, 12, other); err != nil {
		t.Fatal(err)
	}
	cm.Commit, cm.ImageBuildRequired, cm.BuildCommand = "def5678", true, "astro deploy cl123 --image"
	b, err := c.UpsertComment(ctx, 12, cm)
	if err != nil || b.CommentID != a.CommentID {
		t.Fatalf("update: %+v %v (first was %d)", b, err, a.CommentID)
	}
	bodies := f.fake.Comments("acme", "dags", 12)
	if len(bodies) != 2 {
		t.Fatalf("%d comments, want one per preview", len(bodies))
	}
	got := bodies[0]
	for _, want := range []string{Marker("9f8e7d6c"), "`preview-feature-x`", "[open](https://acme.astronomer.run/d1)", "`def5678`",
		"| Image build required | yes |", "astro deploy cl123 --image"} {
		if !strings.Contains(got, want) {
			t.Errorf("comment lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, Marker("9f8e7d6c")) {
		t.Errorf("the marker must open the comment")
	}
	if _, err := c.UpsertComment(ctx, 12, Comment{Key: "bad key -->"}); err == nil {
		t.Error("a key that could close the marker was accepted")
	}
}

func TestCommentBodyCannotBeBrokenByItsValues(t *testing.T) {
	t.Parallel()
	body := Comment{Key: "k", Name: "a`|b\nc", Status: "ok", URL: "javascript:alert(1)", Commit: "x"}.Body()
	if strings.Contains(body, "javascript:") || strings.Count(body, "`")%2 != 0 || strings.Contains(body, "a`|b") {
		t.Fatalf("body:\n%s", body)
	}
}

func TestBranchesListsEveryBranch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 130 {
		f.fake.AddBranch("acme", "dags", fmt.Sprintf("b%03d", i), strings.Repeat("1", 40))
	}
	names, err := f.client(t, tokBare).Branches(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 130 + feature/x + main, in two pages of 100.
	if !slices.Contains(names, "feature/x") || !slices.Contains(names, "main") || !slices.Contains(names, "b129") || len(names) != 132 {
		t.Fatalf("%d branches", len(names))
	}
	pages := 0
	for _, r := range f.fake.Requests() {
		if strings.HasSuffix(r.Path, "/branches") {
			pages++
		}
	}
	if pages != 2 {
		t.Errorf("%d list requests, want 2", pages)
	}
}
