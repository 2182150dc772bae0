package gitlabfake

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// TestGroupWithoutScopedVariablesDropsTheScope: on GitLab EE a group whose
// tier lacks the group_scoped_ci_variables licensed feature gets its
// variables in "*" whatever environment_scope says (EE
// API::Helpers::VariablesHelpers#filter_variable_parameters deletes the
// parameter), with 201 or 200 and no warning. Subgroups share the root's
// plan; projects are not affected.
func TestGroupWithoutScopedVariablesDropsTheScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.s.SetScopedGroupVariables("acme", false)
	c := f.client(t, tokOwner)
	ctx := gitlab.WithContext(t.Context())

	for _, g := range []string{"acme", "acme/platform"} {
		v, resp, err := c.GroupVariables.CreateVariable(g, &gitlab.CreateGroupVariableOptions{
			Key: gitlab.Ptr("K"), Value: gitlab.Ptr(goodValue), EnvironmentScope: gitlab.Ptr("production"), Masked: gitlab.Ptr(true),
		}, ctx)
		if err != nil || resp.StatusCode != 201 || v.EnvironmentScope != "*" {
			t.Fatalf("%s: create answered %+v %v", g, v, err)
		}
		if _, ok := f.s.GroupVariable(g, "K", "*"); !ok {
			t.Errorf("%s: not stored in *: %+v", g, f.s.Variables(g))
		}
		// A second scope of the same key collides with the first in "*".
		_, _, err = c.GroupVariables.CreateVariable(g, &gitlab.CreateGroupVariableOptions{
			Key: gitlab.Ptr("K"), Value: gitlab.Ptr(goodValue), EnvironmentScope: gitlab.Ptr("staging"),
		}, ctx)
		var er *gitlab.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != 400 || !strings.Contains(er.Message, "has already been taken") {
			t.Errorf("%s: second scope: %v", g, err)
		}
		// PUT cannot move it either.
		v, _, err = c.GroupVariables.UpdateVariable(g, "K", &gitlab.UpdateGroupVariableOptions{
			Value: gitlab.Ptr(goodValue + "2"), EnvironmentScope: gitlab.Ptr("production"), Filter: &gitlab.VariableFilter{EnvironmentScope: "*"},
		}, ctx)
		if err != nil || v.EnvironmentScope != "*" {
			t.Errorf("%s: update answered %+v %v", g, v, err)
		}
	}
	// Projects keep their scopes; other groups keep the default (available).
	v, _, err := c.ProjectVariables.CreateVariable("acme/platform/deploy", &gitlab.CreateProjectVariableOptions{
		Key: gitlab.Ptr("K"), Value: gitlab.Ptr(goodValue), EnvironmentScope: gitlab.Ptr("production"),
	}, ctx)
	if err != nil || v.EnvironmentScope != "production" {
		t.Errorf("project create: %+v %v", v, err)
	}
	f.s.AddGroup("other")
	f.s.AddToken("glpat-other-owner", TokenPerms{Scopes: []string{"api"}, Roles: map[string]int{"other": Owner}})
	v2, _, err := f.client(t, "glpat-other-owner").GroupVariables.CreateVariable("other", &gitlab.CreateGroupVariableOptions{
		Key: gitlab.Ptr("K"), Value: gitlab.Ptr(goodValue), EnvironmentScope: gitlab.Ptr("production"),
	}, ctx)
	if err != nil || v2.EnvironmentScope != "production" {
		t.Errorf("group with the default tier: %+v %v", v2, err)
	}
	// Turning the feature back on (an upgrade) honours scopes again.
	f.s.SetScopedGroupVariables("acme", true)
	v2, _, err = c.GroupVariables.CreateVariable("acme", &gitlab.CreateGroupVariableOptions{
		Key: gitlab.Ptr("K"), Value: gitlab.Ptr(goodValue), EnvironmentScope: gitlab.Ptr("production"),
	}, ctx)
	if err != nil || v2.EnvironmentScope != "production" {
		t.Errorf("after upgrade: %+v %v", v2, err)
	}
}

// TestBefore169GroupFilterIsIgnored: before GitLab 16.9 the group variable
// routes did not declare filter (issue 340185; lib/api/group_variables.rb
// looked the variable up with find_by(key:) / find_by!(key:)), so GET, PUT
// and DELETE with filter[environment_scope] act on the first variable with
// the key in any scope, and GET never answers 409. Project routes honour the
// filter (since 13.x); from 16.9 group routes do too.
func TestBefore169GroupFilterIsIgnored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		ignored bool
	}{{"16.8.4-ee", true}, {"15.11.13-ee", true}, {"16.9.0-ee", false}, {"17.11.1", false}, {"", false}} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			s := New(Options{Version: tc.version})
			s.AddProject("acme/web")
			s.AddToken(tokOwner, TokenPerms{Scopes: []string{"api"}, Roles: map[string]int{"acme": Owner}})
			srv := httptest.NewServer(s)
			defer srv.Close()
			c, err := gitlab.NewClient(tokOwner, gitlab.WithBaseURL(srv.URL+"/api/v4"), gitlab.WithHTTPClient(srv.Client()), gitlab.WithoutRetries())
			if err != nil {
				t.Fatal(err)
			}
			ctx := gitlab.WithContext(t.Context())
			s.SetGroupVariable("acme", Variable{Key: "K", Value: "star-value-1"})
			s.SetGroupVariable("acme", Variable{Key: "K", Value: "prod-value-1", EnvironmentScope: "production"})
			s.SetProjectVariable("acme/web", Variable{Key: "K", Value: "star-value-1"})
			s.SetProjectVariable("acme/web", Variable{Key: "K", Value: "prod-value-1", EnvironmentScope: "production"})

			wantVersion := tc.version
			if wantVersion == "" {
				wantVersion = DefaultVersion
			}
			if v, _, err := c.Version.GetVersion(ctx); err != nil || v.Version != wantVersion {
				t.Errorf("version %+v %v", v, err)
			}
			prod := &gitlab.VariableFilter{EnvironmentScope: "production"}
			got, _, err := c.GroupVariables.GetVariable("acme", "K", &gitlab.GetGroupVariableOptions{Filter: prod}, ctx)
			if err != nil {
				t.Fatal(err)
			}
			if wantScope := map[bool]string{true: "*", false: "production"}[tc.ignored]; got.EnvironmentScope != wantScope {
				t.Errorf("GET filter=production answered scope %q, want %q", got.EnvironmentScope, wantScope)
			}
			_, _, err = c.GroupVariables.GetVariable("acme", "K", nil, ctx)
			if tc.ignored != (err == nil) {
				t.Errorf("GET without a filter: %v (409 expected from 16.9)", err)
			}
			upd, _, err := c.GroupVariables.UpdateVariable("acme", "K", &gitlab.UpdateGroupVariableOptions{Value: gitlab.Ptr("new-value-12"), Filter: prod}, ctx)
			if err != nil {
				t.Fatal(err)
			}
			star, _ := s.GroupVariable("acme", "K", "*")
			if tc.ignored != (star.Value == "new-value-12") || tc.ignored != (upd.EnvironmentScope == "*") {
				t.Errorf("PUT filter=production changed * to %q and answered scope %q", star.Value, upd.EnvironmentScope)
			}
			if _, err := c.GroupVariables.RemoveVariable("acme", "K", &gitlab.RemoveGroupVariableOptions{Filter: prod}, ctx); err != nil {
				t.Fatal(err)
			}
			_, starLeft := s.GroupVariable("acme", "K", "*")
			_, prodLeft := s.GroupVariable("acme", "K", "production")
			if tc.ignored != (!starLeft && prodLeft) {
				t.Errorf("DELETE filter=production left * %v, production %v", starLeft, prodLeft)
			}
			// Project variables honour the filter on every version.
			pv, _, err := c.ProjectVariables.GetVariable("acme/web", "K", &gitlab.GetProjectVariableOptions{Filter: prod}, ctx)
			if err != nil || pv.EnvironmentScope != "production" {
				t.Errorf("project GET: %+v %v", pv, err)
			}
		})
	}
}

// TestUnreadableAnswers: a garbage or truncated body, with the request
// applied or not, as client-go sees it.
func TestUnreadableAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		fault   Fault
		applied bool
	}{
		{"garbage after apply", Fault{Method: "PUT", AfterApply: true, Body: "<html>upstream reset</html>"}, true},
		{"truncated after apply", Fault{Method: "PUT", AfterApply: true, Truncate: 12}, true},
		{"garbage 200 from a proxy, not applied", Fault{Method: "PUT", Status: 200, Body: "\x00\x01garbage"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.s.SetProjectVariable("acme/web", Variable{Key: "K", Value: goodValue, Masked: true})
			tc.fault.Times = 1
			f.s.InjectFault(tc.fault)
			c := f.client(t, tokMaint)
			_, resp, err := c.ProjectVariables.UpdateVariable("acme/web", "K", &gitlab.UpdateProjectVariableOptions{
				Value: gitlab.Ptr(goodValue + "new"), Filter: &gitlab.VariableFilter{EnvironmentScope: "*"},
			}, gitlab.WithContext(t.Context()))
			if err == nil {
				t.Fatal("client-go read the answer")
			}
			if resp == nil || resp.StatusCode != 200 {
				t.Errorf("response %v", resp)
			}
			v, _ := f.s.ProjectVariable("acme/web", "K", "*")
			if tc.applied != (v.Value == goodValue+"new") {
				t.Errorf("applied = %v, want %v", v.Value == goodValue+"new", tc.applied)
			}
			reqs := f.s.Requests()
			if last := reqs[len(reqs)-1]; !last.Fault || last.Status != 200 {
				t.Errorf("log %+v", last)
			}
		})
	}
}
