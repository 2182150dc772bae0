package cienv

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// GitLab CI/CD: https://docs.gitlab.com/ci/variables/predefined_variables/
// and https://docs.gitlab.com/ci/environments/#stopping-an-environment.
//
// GitLab runs no pipeline when a branch is deleted. The deletion arrives as the
// environment's on_stop job, run in the context of the branch's last pipeline
// (its variables, the deleted branch's CI_COMMIT_REF_NAME), with
// CI_ENVIRONMENT_ACTION=stop — or, for a job that cannot rely on that, with
// Options.Stop.

// detectGitLab maps CI_PIPELINE_SOURCE and the predefined variables to an
// Event. It returns the variable Event.Branch came from.
func detectGitLab(env map[string]string) (Event, string, error) {
	source := env["CI_PIPELINE_SOURCE"]
	ev := Event{
		System:         GitLab,
		EventName:      source,
		Repository:     env["CI_PROJECT_PATH"],
		ProjectID:      env["CI_PROJECT_ID"],
		DefaultBranch:  env["CI_DEFAULT_BRANCH"],
		SHA:            env["CI_COMMIT_SHA"],
		Environment:    env["CI_ENVIRONMENT_NAME"],
		HeadRepository: env["CI_MERGE_REQUEST_SOURCE_PROJECT_PATH"],
	}
	if source == "" {
		return ev, "", errors.New("GITLAB_CI=true but CI_PIPELINE_SOURCE is not set")
	}
	if ev.SHA != "" && !isHex(ev.SHA) {
		return ev, "", fmt.Errorf("CI_COMMIT_SHA %s is not a commit SHA", echo.Quote(ev.SHA))
	}
	if iid := env["CI_MERGE_REQUEST_IID"]; iid != "" {
		n, err := strconv.Atoi(iid)
		if err != nil || n <= 0 {
			return ev, "", fmt.Errorf("CI_MERGE_REQUEST_IID %s is not a merge request number", echo.Quote(iid))
		}
		ev.PullRequest = n
	}
	if src := env["CI_MERGE_REQUEST_SOURCE_PROJECT_ID"]; src != "" && ev.ProjectID != "" && src != ev.ProjectID {
		ev.FromFork = true
	}

	if tag := env["CI_COMMIT_TAG"]; tag != "" {
		ev.Kind = Ignored
		ev.Reason = fmt.Sprintf("GitLab %s pipeline for tag %s: previews are for branches", word(source), echo.Quote(tag))
		return ev, "", nil
	}
	// CI_COMMIT_BRANCH is set in branch pipelines, the source branch variable
	// in merge request pipelines; CI_COMMIT_REF_NAME is the fallback (and
	// what a stop job of an old pipeline still carries).
	var branchVar string
	for _, v := range []string{"CI_COMMIT_BRANCH", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_REF_NAME"} {
		if env[v] != "" {
			ev.Branch, branchVar = env[v], v
			break
		}
	}
	of := ""
	if ev.Branch != "" {
		of = fmt.Sprintf(" for branch %s", echo.Quote(ev.Branch))
	}
	if ev.FromFork {
		if ev.HeadRepository != "" {
			of += fmt.Sprintf(" of fork %s", echo.Quote(ev.HeadRepository))
		} else {
			of += " of a fork"
		}
	}
	mr := ""
	if ev.PullRequest != 0 {
		mr = fmt.Sprintf(" (merge request !%d)", ev.PullRequest)
	}

	if env["CI_ENVIRONMENT_ACTION"] == "stop" {
		ev.Kind = BranchDeleted
		ev.Reason = fmt.Sprintf("GitLab stop job of environment %s%s%s", echo.Quote(ev.Environment), of, mr)
		return ev, branchVar, nil
	}
	switch source {
	case "push":
		// CI_COMMIT_BEFORE_SHA is all zeros for the first pipeline of a new
		// branch — and for every merge request pipeline and manual run, so
		// it is only trusted here.
		if isZeroSHA(env["CI_COMMIT_BEFORE_SHA"]) {
			ev.Kind = BranchCreated
			ev.Reason = "GitLab push pipeline" + of + ", a new branch (CI_COMMIT_BEFORE_SHA is all zeros)"
		} else {
			ev.Kind = BranchUpdated
			ev.Reason = "GitLab push pipeline" + of
		}
	case "merge_request_event":
		// GitLab cannot tell the first merge request pipeline from later
		// ones (CI_COMMIT_BEFORE_SHA is always zeros here): create or update.
		ev.Kind = BranchUpdated
		ev.Reason = "GitLab merge request pipeline" + of + mr
	case "schedule":
		ev.Kind = Schedule
		ev.Reason = "GitLab scheduled pipeline" + of
	case "web", "api":
		ev.Kind = Manual
		ev.Reason = fmt.Sprintf("GitLab pipeline run from %s%s", map[string]string{"web": "the web UI", "api": "the API"}[source], of)
	default:
		ev.Kind = Ignored
		ev.Reason = fmt.Sprintf("GitLab pipeline source %s is not a branch, schedule or manual pipeline", echo.Quote(source))
	}
	return ev, branchVar, nil
}
