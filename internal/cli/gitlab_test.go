package cli

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/gitlabfake"
)

const glToken = "glpat-fakefakefakefake0001"

// gitlab serves the GitLab fake (client-go is its real client) and points
// astro-ci at it with a Maintainer project access token.
func (h *harness) gitlab() *gitlabfake.Server {
	h.t.Helper()
	gl := gitlabfake.New(gitlabfake.Options{Now: h.clock.Now})
	gl.AddGroup("acme/data")
	gl.AddProject("acme/data/airflow-dags")
	gl.AddToken(glToken, gitlabfake.TokenPerms{Name: "astro-ci", Scopes: []string{"api"}, Roles: map[string]int{"acme/data": 50}})
	srv := httptest.NewServer(gl)
	h.t.Cleanup(srv.Close)
	h.env["ASTRO_CI_GITLAB_TOKEN"] = glToken
	h.env["CI_API_V4_URL"] = srv.URL + "/api/v4"
	h.addValue(glToken)
	return gl
}

func TestRotateIntoGitLabVariables(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gl := h.gitlab()
	h.admin()
	out, r := h.rotateJSON(
		"--target", "gitlab://acme/data/airflow-dags/variables/ASTRO_API_TOKEN",
		"--target", "gitlab://acme/data/airflow-dags/variables/ASTRO_API_TOKEN?environment_scope=production&protected=true&hidden=true",
		"--target", "gitlab://groups/acme/data/variables/ASTRO_API_TOKEN",
	)
	if r.code != 0 || len(out.Targets) != 3 {
		t.Fatal(r)
	}
	all, _ := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_API_TOKEN", "*")
	prod, _ := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_API_TOKEN", "production")
	grp, _ := gl.GroupVariable("acme/data", "ASTRO_API_TOKEN", "*")
	h.addValue(all.Value)
	if !h.fake.Authenticates(all.Value) || prod.Value != all.Value || grp.Value != all.Value {
		t.Fatal("variables do not hold the new value")
	}
	if !all.Masked || all.Hidden || !prod.Masked || !prod.Hidden || !prod.Protected || all.Description != "managed by astro-ci" {
		t.Fatalf("flags: %+v / %+v", all, prod)
	}
	// Rotating again updates in place; hidden cannot be added afterwards, and astro-ci says so.
	h.env["ASTRO_API_TOKEN"] = all.Value
	r = h.run("", "token", "rotate", "--target", "gitlab://acme/data/airflow-dags/variables/ASTRO_API_TOKEN?hidden=true")
	if r.code != 0 || !strings.Contains(r.stderr, "cannot be made hidden") && !strings.Contains(r.stderr, "hidden") {
		t.Fatal(r)
	}
	again, _ := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_API_TOKEN", "*")
	h.addValue(again.Value)
	if again.Value == all.Value || !again.Masked || !h.fake.Authenticates(again.Value) {
		t.Fatal("second rotation did not update the variable")
	}
}

func TestGitLabDefaultTargetAndJobToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gl := h.gitlab()
	h.admin()
	h.env["GITLAB_CI"] = "true"
	h.env["CI_PROJECT_ID"] = "acme/data/airflow-dags"
	if r := h.run("", "token", "rotate"); r.code != 0 || strings.Contains(r.stdout+r.stderr, "::add-mask::") {
		t.Fatal(r)
	}
	v, ok := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_API_TOKEN", "*")
	h.addValue(v.Value)
	if !ok || !h.fake.Authenticates(v.Value) {
		t.Fatal("default GitLab target not written")
	}
	// Only CI_JOB_TOKEN: explained, nothing changed.
	delete(h.env, "ASTRO_CI_GITLAB_TOKEN")
	h.env["CI_JOB_TOKEN"] = "glcbt-64_jobtokenjobtokenjobtoken"
	h.env["ASTRO_API_TOKEN"] = v.Value
	r := h.run("", "token", "rotate")
	if r.code != 1 || !strings.Contains(r.stderr, "CI_JOB_TOKEN cannot manage CI/CD variables") || !strings.Contains(r.stderr, "preflight failed, nothing was changed") {
		t.Fatal(r)
	}
	if !h.fake.Authenticates(v.Value) {
		t.Fatal("token changed although preflight failed")
	}
}

func TestGitLabRefusesUnmaskableValue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gl := h.gitlab()
	h.addValue("not maskable value with spaces")
	r := h.run("not maskable value with spaces\n", "target", "put", "--target", "gitlab://acme/data/airflow-dags/variables/SOME_TOKEN")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot mask") {
		t.Fatal(r)
	}
	if _, ok := gl.ProjectVariable("acme/data/airflow-dags", "SOME_TOKEN", "*"); ok {
		t.Fatal("an unmaskable value was stored")
	}
}

func TestGitLabPermissionExplained(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gl := h.gitlab()
	const dev = "glpat-developerdeveloper0001"
	gl.AddToken(dev, gitlabfake.TokenPerms{Name: "dev", Scopes: []string{"api"}, Roles: map[string]int{"acme/data/airflow-dags": 30}})
	h.env["ASTRO_CI_GITLAB_TOKEN"] = dev
	h.addValue(dev)
	h.admin()
	r := h.run("", "token", "rotate", "--target", "gitlab://acme/data/airflow-dags/variables/ASTRO_API_TOKEN")
	if r.code != 1 || !strings.Contains(r.stderr, "Maintainer") {
		t.Fatal(r)
	}
}

// In a review environment ASTRO_API_TOKEN is the preview's Deployment token;
// ASTRO_CI_API_TOKEN, when set, is astro-ci's own credential.
func TestAstroCIAPITokenWins(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gl := h.gitlab()
	_, admin := h.admin()
	_, weak := h.mint(tokenSpecWS("preview-ish"), false)
	h.env["ASTRO_API_TOKEN"] = weak
	h.env["ASTRO_CI_API_TOKEN"] = admin
	h.env["GITLAB_CI"] = "true"
	h.env["CI_PROJECT_ID"] = "acme/data/airflow-dags"
	out, r := h.rotateJSON()
	if r.code != 0 || out.Token.Name != "ci admin" {
		t.Fatal(r)
	}
	// The default target is the variable the credential came from.
	v, ok := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_CI_API_TOKEN", "*")
	h.addValue(v.Value)
	if !ok || !h.fake.Authenticates(v.Value) {
		t.Fatal("ASTRO_CI_API_TOKEN not written back")
	}
}
