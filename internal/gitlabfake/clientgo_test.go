package gitlabfake

import (
	"errors"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// client returns a client-go client for the fixture, with client-go's
// retries off so a fault is seen once.
func (f *fixture) client(t *testing.T, tok string) *gitlab.Client {
	t.Helper()
	c, err := gitlab.NewClient(tok, gitlab.WithBaseURL(f.srv.URL+"/api/v4"), gitlab.WithHTTPClient(f.srv.Client()), gitlab.WithoutRetries())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func statusOf(err error) int {
	if errors.Is(err, gitlab.ErrNotFound) {
		return 404
	}
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	return 0
}

// TestClientGoSpeaksToFake drives the fake with the official client only:
// it proves the fake answers what client-go sends and decodes.
func TestClientGoSpeaksToFake(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, tokMaint)
	ctx := gitlab.WithContext(t.Context())
	pid := "acme/platform/deploy" // client-go escapes it: acme%2Fplatform%2Fdeploy

	// create
	v, resp, err := c.ProjectVariables.CreateVariable(pid, &gitlab.CreateProjectVariableOptions{
		Key: gitlab.Ptr("TOKEN"), Value: gitlab.Ptr(goodValue), Masked: gitlab.Ptr(true), Protected: gitlab.Ptr(true),
		Description: gitlab.Ptr("d"), VariableType: gitlab.Ptr(gitlab.EnvVariableType),
	}, ctx)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v", err)
	}
	if v.Key != "TOKEN" || v.Value != goodValue || !v.Masked || !v.Protected || v.EnvironmentScope != "*" || v.Description != "d" || v.VariableType != gitlab.EnvVariableType {
		t.Errorf("create answered %+v", v)
	}
	last := f.s.Requests()[len(f.s.Requests())-1]
	if last.Path != "/api/v4/projects/acme%2Fplatform%2Fdeploy/variables" {
		t.Errorf("client-go sent path %s", last.Path)
	}

	// create in another scope, then the duplicate
	if _, _, err := c.ProjectVariables.CreateVariable(pid, &gitlab.CreateProjectVariableOptions{
		Key: gitlab.Ptr("TOKEN"), Value: gitlab.Ptr("review-value"), EnvironmentScope: gitlab.Ptr("review/x"),
	}, ctx); err != nil {
		t.Fatalf("create review/x: %v", err)
	}
	_, _, err = c.ProjectVariables.CreateVariable(pid, &gitlab.CreateProjectVariableOptions{Key: gitlab.Ptr("TOKEN"), Value: gitlab.Ptr("x")}, ctx)
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 400 || !strings.Contains(er.Message, "(TOKEN) has already been taken") {
		t.Errorf("duplicate create: %v", err)
	}

	// get: without a filter the key is ambiguous; with one it is not
	_, _, err = c.ProjectVariables.GetVariable(pid, "TOKEN", nil, ctx)
	if statusOf(err) != 409 || !strings.Contains(err.Error(), "filter[environment_scope]") {
		t.Errorf("get without filter: %v", err)
	}
	v, _, err = c.ProjectVariables.GetVariable(pid, "TOKEN", &gitlab.GetProjectVariableOptions{Filter: &gitlab.VariableFilter{EnvironmentScope: "review/x"}}, ctx)
	if err != nil || v.Value != "review-value" {
		t.Errorf("get review/x: %+v %v", v, err)
	}

	// update with a filter (sent in the JSON body)
	v, _, err = c.ProjectVariables.UpdateVariable(pid, "TOKEN", &gitlab.UpdateProjectVariableOptions{
		Value: gitlab.Ptr(goodValue + "2"), Filter: &gitlab.VariableFilter{EnvironmentScope: "*"},
	}, ctx)
	if err != nil || v.Value != goodValue+"2" || !v.Protected || !v.Masked {
		t.Errorf("update: %+v %v", v, err)
	}
	if r, _ := f.s.ProjectVariable(pid, "TOKEN", "review/x"); r.Value != "review-value" {
		t.Errorf("update leaked into review/x: %q", r.Value)
	}
	_, _, err = c.ProjectVariables.UpdateVariable(pid, "TOKEN", &gitlab.UpdateProjectVariableOptions{
		Value: gitlab.Ptr("x"), Filter: &gitlab.VariableFilter{EnvironmentScope: "production"},
	}, ctx)
	if !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("update of a missing scope: %v", err)
	}

	// unmaskable
	_, _, err = c.ProjectVariables.UpdateVariable(pid, "TOKEN", &gitlab.UpdateProjectVariableOptions{
		Value: gitlab.Ptr("not maskable"), Filter: &gitlab.VariableFilter{EnvironmentScope: "*"},
	}, ctx)
	if !errors.As(err, &er) || er.Response.StatusCode != 400 || !strings.Contains(er.Message, "{value: [is invalid]}") {
		t.Errorf("unmaskable update: %v", err)
	}

	// hidden
	v, _, err = c.ProjectVariables.CreateVariable(pid, &gitlab.CreateProjectVariableOptions{
		Key: gitlab.Ptr("HIDDEN"), Value: gitlab.Ptr(goodValue), MaskedAndHidden: gitlab.Ptr(true),
	}, ctx)
	if err != nil || !v.Hidden || !v.Masked || v.Value != "" {
		t.Errorf("hidden create: %+v %v", v, err)
	}
	if stored, _ := f.s.ProjectVariable(pid, "HIDDEN", ""); stored.Value != goodValue || !stored.Hidden {
		t.Errorf("hidden stored %+v", stored)
	}

	// list, paginated
	for i := range 25 {
		if _, _, err := c.ProjectVariables.CreateVariable(pid, &gitlab.CreateProjectVariableOptions{
			Key: gitlab.Ptr("L" + string(rune('A'+i))), Value: gitlab.Ptr("v"),
		}, ctx); err != nil {
			t.Fatal(err)
		}
	}
	var all []*gitlab.ProjectVariable
	opt := &gitlab.ListProjectVariablesOptions{ListOptions: gitlab.ListOptions{PerPage: 10}}
	pages := 0
	for {
		vs, resp, err := c.ProjectVariables.ListVariables(pid, opt, ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, vs...)
		if resp.TotalItems != 28 || resp.TotalPages != 3 {
			t.Errorf("page %d: total %d in %d pages", resp.CurrentPage, resp.TotalItems, resp.TotalPages)
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if len(all) != 28 || pages != 3 {
		t.Errorf("listed %d variables in %d pages", len(all), pages)
	}

	// delete with a filter, then again
	if _, err := c.ProjectVariables.RemoveVariable(pid, "TOKEN", &gitlab.RemoveProjectVariableOptions{Filter: &gitlab.VariableFilter{EnvironmentScope: "review/x"}}, ctx); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, err := c.ProjectVariables.RemoveVariable(pid, "TOKEN", &gitlab.RemoveProjectVariableOptions{Filter: &gitlab.VariableFilter{EnvironmentScope: "review/x"}}, ctx); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, ok := f.s.ProjectVariable(pid, "TOKEN", "*"); !ok {
		t.Error("delete of review/x removed *")
	}
	if r := f.s.Requests()[len(f.s.Requests())-1]; r.Query.Get("filter[environment_scope]") != "review/x" {
		t.Errorf("delete filter not in the query: %v", r.Query)
	}
}

func TestClientGoGroupsProjectsTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, tokOwner)
	ctx := gitlab.WithContext(t.Context())

	g, _, err := c.Groups.GetGroup("acme/platform", nil, ctx)
	if err != nil || g.ID != int64(f.platformID) || g.FullPath != "acme/platform" || g.ParentID != int64(f.acmeID) {
		t.Errorf("group: %+v %v", g, err)
	}
	p, _, err := c.Projects.GetProject("acme/platform/deploy", nil, ctx)
	if err != nil || p.ID != int64(f.deployID) || p.PathWithNamespace != "acme/platform/deploy" || p.Namespace.FullPath != "acme/platform" {
		t.Fatalf("project: %+v %v", p, err)
	}
	if p.Permissions == nil || p.Permissions.GroupAccess == nil || p.Permissions.GroupAccess.AccessLevel != gitlab.OwnerPermissions {
		t.Errorf("permissions: %+v", p.Permissions)
	}
	pat, _, err := c.PersonalAccessTokens.GetSinglePersonalAccessToken(ctx)
	if err != nil || !pat.Active || len(pat.Scopes) != 1 || pat.Scopes[0] != "api" || pat.ExpiresAt == nil {
		t.Errorf("token self: %+v %v", pat, err)
	}

	// group variables, by numeric id and by path
	gid := f.platformID
	v, _, err := c.GroupVariables.CreateVariable(gid, &gitlab.CreateGroupVariableOptions{
		Key: gitlab.Ptr("GV"), Value: gitlab.Ptr(goodValue), Masked: gitlab.Ptr(true), Raw: gitlab.Ptr(true),
	}, ctx)
	if err != nil || !v.Masked || !v.Raw {
		t.Fatalf("group create: %+v %v", v, err)
	}
	v, _, err = c.GroupVariables.UpdateVariable("acme/platform", "GV", &gitlab.UpdateGroupVariableOptions{
		Value: gitlab.Ptr(goodValue + "x"), Filter: &gitlab.VariableFilter{EnvironmentScope: "*"},
	}, ctx)
	if err != nil || v.Value != goodValue+"x" || !v.Raw {
		t.Errorf("group update: %+v %v", v, err)
	}
	vs, _, err := c.GroupVariables.ListVariables("acme/platform", nil, ctx)
	if err != nil || len(vs) != 1 {
		t.Errorf("group list: %v %v", vs, err)
	}
	if _, _, err := c.GroupVariables.GetVariable("acme/platform", "NOPE", nil, ctx); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("group get missing: %v", err)
	}
	if _, err := c.GroupVariables.RemoveVariable("acme/platform", "GV", nil, ctx); err != nil {
		t.Errorf("group delete: %v", err)
	}

	// auth failures as client-go reports them
	for _, tc := range []struct {
		tok  string
		want int
	}{{"nope", 401}, {tokExpired, 401}, {tokJob, 401}, {tokDev, 403}, {tokReadAPI, 403}} {
		_, _, err := f.client(t, tc.tok).ProjectVariables.CreateVariable("acme/platform/deploy", &gitlab.CreateProjectVariableOptions{
			Key: gitlab.Ptr("X"), Value: gitlab.Ptr("y"),
		}, ctx)
		if got := statusOf(err); got != tc.want {
			t.Errorf("token %s: status %d (%v), want %d", tc.tok, got, err, tc.want)
		}
	}
	if _, _, err := c.Projects.GetProject("other/secret", nil, ctx); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("no-role project: %v", err)
	}
}
