// Package cienv detects the CI system astro-ci runs in (GitHub Actions, GitLab
// CI/CD or neither) and turns its environment and event payload into one
// neutral Event: which branch was created, updated or deleted, or why there is
// nothing to do.
//
// Nothing here reads the process environment or the file system directly:
// Detect takes the environment as a map and a readFile function, so tests run
// in parallel and the caller decides what "the environment" is.
//
// # Untrusted input
//
// Branch names are chosen by whoever can push (or open a pull request from a
// fork), and event payloads are parsed from JSON. Detect therefore
//
//   - decodes only the fields it needs into typed structs and reports a missing
//     or malformed field with the file and the field name, never panicking;
//   - rejects every branch name git itself could not have created
//     (ValidateBranch), so a name that reaches the caller is a real branch name;
//   - puts untrusted values into Reason and error texts only through
//     echo.Quote: quoted, and cut to a few hundred characters with the
//     length said, so a 5 MB ref cannot become a 5 MB log line.
//
// A valid branch name can still contain "$(", "`", ";", quotes, "|" and "&":
// git allows them. Event.Branch is data. astro-ci never passes it to a shell,
// never interpolates it into a script and never uses it as a file path; use
// Slug to derive names for other systems (preview Deployments).
//
// # Kinds
//
// BranchCreated and BranchUpdated both mean "make sure the preview for Branch
// exists and is current". Consumers must treat them alike (create if missing,
// update otherwise): one git push produces both a GitHub create and a push
// event, GitLab cannot tell the first merge request pipeline from later ones,
// and a skipped first pipeline turns a new branch into an "update". Created is
// a hint, not a promise.
//
// Sources: GitHub "Events that trigger workflows" and "Webhook events and
// payloads" (https://docs.github.com/en/actions/reference/events-that-trigger-workflows,
// https://docs.github.com/en/webhooks/webhook-events-and-payloads), GitLab
// "Predefined CI/CD variables" (https://docs.gitlab.com/ci/variables/predefined_variables/)
// and "Environments: stopping an environment"
// (https://docs.gitlab.com/ci/environments/#stopping-an-environment).
package cienv

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// System is the CI system astro-ci runs in.
type System string

// Systems.
const (
	GitHub System = "github" // GITHUB_ACTIONS=true
	GitLab System = "gitlab" // GITLAB_CI=true
	Local  System = "local"  // neither
)

// Kind is what happened, in neutral terms.
type Kind string

// Kinds.
const (
	// BranchCreated: GitHub create (ref_type branch), push with created=true
	// (or before = all zeros), pull_request opened/reopened; GitLab push
	// pipeline whose CI_COMMIT_BEFORE_SHA is all zeros.
	BranchCreated Kind = "branch-created"
	// BranchUpdated: GitHub push to an existing branch, pull_request
	// synchronize; GitLab push pipeline, every merge_request_event pipeline.
	BranchUpdated Kind = "branch-updated"
	// BranchDeleted: GitHub delete (ref_type branch), push with deleted=true,
	// pull_request closed (merged or not); GitLab stop job
	// (CI_ENVIRONMENT_ACTION=stop, or Options.Stop).
	BranchDeleted Kind = "branch-deleted"
	// Schedule: GitHub schedule; GitLab CI_PIPELINE_SOURCE=schedule.
	Schedule Kind = "schedule"
	// Manual: GitHub workflow_dispatch; GitLab CI_PIPELINE_SOURCE web or api.
	Manual Kind = "manual"
	// Ignored: tags, pull request actions other than opened, reopened,
	// synchronize and closed, and every other event; Reason says why.
	Ignored Kind = "ignored"
)

// Kinds lists every Kind, in documentation order.
var Kinds = []Kind{BranchCreated, BranchUpdated, BranchDeleted, Schedule, Manual, Ignored}

// ParseKind returns the Kind named s (as spelled by the constants).
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown event kind %s, valid kinds are %s", echo.Quote(s), strings.Join(names, ", "))
}

// IsBranch reports whether k is about one branch (created, updated, deleted);
// an Event of such a kind always has a Branch.
func (k Kind) IsBranch() bool {
	return k == BranchCreated || k == BranchUpdated || k == BranchDeleted
}

// Event is one CI trigger in neutral terms. Every string in it is valid UTF-8
// without control characters.
type Event struct {
	System System
	Kind   Kind
	// Reason is one line: what was detected, or why the event is Ignored
	// ("nothing to do: " + Reason). Untrusted values in it are quoted and cut (echo.Quote).
	Reason string
	// Branch is the full branch name exactly as git has it ("feature/x", never
	// "refs/heads/feature/x"), valid by ValidateBranch. Set for every branch
	// kind; may be set for Schedule and Manual; empty for tags. It is data:
	// never pass it to a shell. For pull requests from forks it is the fork's
	// branch name, which can equal a branch of the base repository (see
	// FromFork).
	Branch string
	// DefaultBranch of the repository when known (GitHub
	// repository.default_branch or create's master_branch; GitLab
	// CI_DEFAULT_BRANCH).
	DefaultBranch string
	// Repository is GitHub "owner/repo" or the GitLab project path.
	Repository string
	// ProjectID is GitLab CI_PROJECT_ID.
	ProjectID string
	// PullRequest is the GitHub pull request number or GitLab merge request
	// IID; 0 if none.
	PullRequest int
	// FromFork: the pull/merge request's source lives in another repository.
	// Its Branch then names a branch of the fork, not of Repository, so a
	// preview keyed by branch name alone could overwrite or delete the
	// preview of a same-named branch of Repository; and on GitHub the run
	// has no secrets. Callers should not manage previews for forks (or must
	// key them by HeadRepository too). A GitHub pull request whose head
	// repository was deleted (head.repo null or absent) counts as a fork.
	FromFork bool
	// HeadRepository is the source repository of a pull/merge request
	// (GitHub head.repo.full_name, GitLab
	// CI_MERGE_REQUEST_SOURCE_PROJECT_PATH), when known.
	HeadRepository string
	// SHA is the commit the event is about: the new tip for created and
	// updated branches, the pull request head, GITHUB_SHA/CI_COMMIT_SHA for
	// schedules and manual runs. Empty for GitHub deletions (the runner's
	// GITHUB_SHA is then the default branch's). On GitLab stop jobs it is
	// the old pipeline's commit.
	SHA string
	// Environment is GitLab CI_ENVIRONMENT_NAME (e.g. "review/feature-x").
	Environment string
	// EventName is the raw GITHUB_EVENT_NAME or CI_PIPELINE_SOURCE ("local"
	// outside CI), for messages.
	EventName string
}

// IsDefaultBranch reports whether the event's branch is the repository's
// default branch (known and equal). Previews are normally not made for it.
func (e Event) IsDefaultBranch() bool {
	return e.Branch != "" && e.Branch == e.DefaultBranch
}

// Options are explicit choices of the user (flags of `astro-ci run` /
// `astro-ci preview`). They win over detection on every system.
type Options struct {
	// Branch replaces the detected branch (it is still validated).
	Branch string
	// Stop forces BranchDeleted: the explicit form of a GitLab stop job, for
	// jobs that do not see CI_ENVIRONMENT_ACTION=stop.
	Stop bool
	// Kind forces the event kind. Required outside CI; on CI it replaces the
	// detected kind (the rest of the detected event is kept).
	Kind Kind
}

// ErrNoKind is returned (wrapped) outside CI when Options give no kind.
var ErrNoKind = errors.New("not running in GitHub Actions (GITHUB_ACTIONS=true) or GitLab CI (GITLAB_CI=true), so the event must be given explicitly: pass the event kind (--kind) and, for branch kinds, the branch (--branch)")

// ErrNoBranch is returned (wrapped) when a branch kind has no branch.
var ErrNoBranch = errors.New("no branch")

// DetectSystem returns GitHub when GITHUB_ACTIONS is "true", else GitLab when
// GITLAB_CI is "true", else Local.
//
// GitHub wins when both are set: that happens when a GitLab job runs nektos/act,
// whose steps inherit the host environment, and then the innermost CI is
// GitHub's.
func DetectSystem(env map[string]string) System {
	switch {
	case strings.EqualFold(env["GITHUB_ACTIONS"], "true"):
		return GitHub
	case strings.EqualFold(env["GITLAB_CI"], "true"):
		return GitLab
	default:
		return Local
	}
}

// Detect turns the CI environment into an Event. env is the process
// environment as a map; readFile reads the GitHub event payload
// (GITHUB_EVENT_PATH), normally os.ReadFile. Errors name the variable, file
// and field at fault; a branch name git would reject is an error.
func Detect(env map[string]string, readFile func(string) ([]byte, error), o Options) (Event, error) {
	if o.Kind != "" {
		if _, err := ParseKind(string(o.Kind)); err != nil {
			return Event{}, err
		}
		if o.Stop && o.Kind != BranchDeleted {
			return Event{}, fmt.Errorf("conflicting options: stop forces %s, but kind %s was given", BranchDeleted, o.Kind)
		}
	}
	var (
		ev  Event
		err error
		// src names where ev.Branch came from, for error messages.
		src string
	)
	switch DetectSystem(env) {
	case GitHub:
		if readFile == nil {
			return Event{}, errors.New("cienv: Detect needs a readFile function on GitHub")
		}
		ev, src, err = detectGitHub(env, readFile)
	case GitLab:
		ev, src, err = detectGitLab(env)
	default:
		if o.Kind == "" && !o.Stop {
			return Event{}, ErrNoKind
		}
		ev = Event{System: Local, EventName: "local", Reason: "local run"}
	}
	if err != nil {
		return Event{}, err
	}
	return finish(ev, src, o)
}

// finish applies the options and validates the result.
func finish(ev Event, src string, o Options) (Event, error) {
	if o.Branch != "" {
		if ev.Branch != "" && ev.Branch != o.Branch {
			ev.Reason += fmt.Sprintf("; branch %s given explicitly instead of detected %s", echo.Quote(o.Branch), echo.Quote(ev.Branch))
		} else if ev.System != Local {
			ev.Reason += fmt.Sprintf("; branch %s given explicitly", echo.Quote(o.Branch))
		}
		ev.Branch, src = o.Branch, "the explicit branch"
	}
	forced := o.Kind
	if o.Stop {
		forced = BranchDeleted
	}
	if forced != "" {
		if ev.System == Local {
			ev.Reason = fmt.Sprintf("local run, kind %s given explicitly", forced)
			if ev.Branch != "" {
				ev.Reason += fmt.Sprintf(" for branch %s", echo.Quote(ev.Branch))
			}
		} else if forced != ev.Kind {
			ev.Reason = fmt.Sprintf("kind %s given explicitly (detected %s: %s)", forced, ev.Kind, ev.Reason)
		}
		ev.Kind = forced
	}
	if ev.Branch != "" {
		if err := ValidateBranch(ev.Branch); err != nil {
			return Event{}, fmt.Errorf("%s: %w", src, err)
		}
	}
	if ev.Kind.IsBranch() && ev.Branch == "" {
		return Event{}, fmt.Errorf("%w for a %s event (%s): pass the branch explicitly (--branch)", ErrNoBranch, ev.Kind, ev.Reason)
	}
	if ev.DefaultBranch != "" {
		if err := ValidateBranch(ev.DefaultBranch); err != nil {
			return Event{}, fmt.Errorf("default branch: %w", err)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"repository", ev.Repository}, {"project id", ev.ProjectID},
		{"head repository", ev.HeadRepository}, {"environment", ev.Environment},
		{"event name", ev.EventName},
	} {
		if err := checkText(f.v); err != nil {
			return Event{}, fmt.Errorf("%s %s: %w", f.name, echo.Quote(f.v), err)
		}
	}
	if ev.SHA != "" && !isHex(ev.SHA) {
		return Event{}, fmt.Errorf("commit %s is not a 40 or 64 digit hex SHA", echo.Quote(ev.SHA)) // backstop: detection checks its sources
	}
	return ev, nil
}

// checkText rejects invalid UTF-8 and control characters in values that end up
// in messages (a newline could forge a GitHub workflow command or a log line).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("contains control character %q", r)
		}
	}
	return nil
}

// word returns s as it is when it is a short lower-case word (an event or
// pipeline source name as GitHub and GitLab spell them), else quoted and cut.
func word(s string) string {
	if len(s) > 0 && len(s) <= 40 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz_") == "" {
		return s
	}
	return echo.Quote(s)
}

// isHex reports whether s is a full SHA-1 (40) or SHA-256 (64) object name.
func isHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isZeroSHA reports whether s is git's all-zeros object name, used for "no
// commit" (before of a new ref, after of a deleted one).
func isZeroSHA(s string) bool {
	return (len(s) == 40 || len(s) == 64) && strings.Trim(s, "0") == ""
}
