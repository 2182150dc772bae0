package cienv

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"
	"testing"
)

const evPath = "/home/runner/work/_temp/_github_workflow/event.json"

// files is an in-memory readFile.
func files(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := m[p]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

// ghRun is a GitHub runner environment for event with payload at evPath.
func ghRun(event string, extra ...string) map[string]string {
	env := map[string]string{
		"GITHUB_ACTIONS":    "true",
		"GITHUB_EVENT_NAME": event,
		"GITHUB_EVENT_PATH": evPath,
		"GITHUB_REPOSITORY": "acme/app",
		"GITHUB_SHA":        ghSHA,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

const repoJSON = `"repository":{"full_name":"acme/app","name":"app","owner":{"login":"acme"},"default_branch":"main"}`

func TestDetectGitHubInline(t *testing.T) {
	t.Parallel()
	prJSON := func(action, head string) string {
		return `{"action":"` + action + `","number":7,"pull_request":{"number":7,"head":{"ref":"feature/x","sha":"` + shaPR + `","repo":` + head + `},"base":{"ref":"main","repo":{"full_name":"acme/app"}},"merged":false},` + repoJSON + `}`
	}
	tests := []struct {
		name    string
		env     map[string]string
		payload *string // nil: no file at evPath
		opts    Options
		want    Event
		reason  string
		wantErr string
	}{
		// nektos/act: on create GITHUB_REF is the raw payload ref and
		// GITHUB_REF_NAME/TYPE are empty.
		{
			name:    "act create: raw GITHUB_REF, empty GITHUB_REF_NAME",
			env:     ghRun("create", "GITHUB_REF", "feature/x", "GITHUB_REF_NAME", "", "GITHUB_REF_TYPE", ""),
			payload: ptr(`{"ref":"feature/x","ref_type":"branch","master_branch":"main",` + repoJSON + `}`),
			want:    Event{System: GitHub, Kind: BranchCreated, Branch: "feature/x", DefaultBranch: "main", Repository: "acme/app", SHA: ghSHA, EventName: "create"},
			reason:  `branch "feature/x" created`,
		},
		{
			name:    "act create tag: raw GITHUB_REF looks like a branch",
			env:     ghRun("create", "GITHUB_REF", "v1.2.3", "GITHUB_REF_NAME", "", "GITHUB_REF_TYPE", ""),
			payload: ptr(`{"ref":"v1.2.3","ref_type":"tag","master_branch":"main",` + repoJSON + `}`),
			want:    Event{System: GitHub, Kind: Ignored, DefaultBranch: "main", Repository: "acme/app", EventName: "create"},
			reason:  `tag "v1.2.3"`,
		},
		// act (and GitHub) delete: GITHUB_REF is the local HEAD / default branch.
		{
			name:    "act delete: GITHUB_REF points at main",
			env:     ghRun("delete", "GITHUB_REF", "refs/heads/main", "GITHUB_REF_NAME", "main", "GITHUB_REF_TYPE", "branch"),
			payload: ptr(`{"ref":"feature/x","ref_type":"branch",` + repoJSON + `}`),
			want:    Event{System: GitHub, Kind: BranchDeleted, Branch: "feature/x", DefaultBranch: "main", Repository: "acme/app", EventName: "delete"},
		},
		{
			name:    "hand-written create payload with a full ref",
			env:     ghRun("create"),
			payload: ptr(`{"ref":"refs/heads/feature/x","ref_type":"branch"}`),
			want:    Event{System: GitHub, Kind: BranchCreated, Branch: "feature/x", Repository: "acme/app", SHA: ghSHA, EventName: "create"},
		},
		{
			name:    "act minimal create: payload repository wins over GITHUB_REPOSITORY",
			env:     ghRun("create", "GITHUB_REPOSITORY", "nektos/act"),
			payload: ptr(`{"ref":"feature/x","ref_type":"branch",` + repoJSON + `}`),
			want:    Event{System: GitHub, Kind: BranchCreated, Branch: "feature/x", DefaultBranch: "main", Repository: "acme/app", SHA: ghSHA, EventName: "create"},
		},
		{
			name:    "unknown ref_type is ignored",
			env:     ghRun("delete"),
			payload: ptr(`{"ref":"x","ref_type":"note"}`),
			want:    Event{System: GitHub, Kind: Ignored, Repository: "acme/app", EventName: "delete"},
			reason:  `ref_type "note"`,
		},
		{
			name:    "push without created/deleted: after of zeros means deleted",
			env:     ghRun("push"),
			payload: ptr(`{"ref":"refs/heads/feature/x","before":"` + shaNew + `","after":"` + strings.Repeat("0", 40) + `"}`),
			want:    Event{System: GitHub, Kind: BranchDeleted, Branch: "feature/x", Repository: "acme/app", EventName: "push"},
		},
		{
			name:    "push from a SHA-256 repository: before of 64 zeros",
			env:     ghRun("push"),
			payload: ptr(`{"ref":"refs/heads/feature/x","before":"` + strings.Repeat("0", 64) + `","after":"` + strings.Repeat("ab", 32) + `"}`),
			want:    Event{System: GitHub, Kind: BranchCreated, Branch: "feature/x", Repository: "acme/app", SHA: strings.Repeat("ab", 32), EventName: "push"},
		},
		{
			name:    "push booleans win over before/after",
			env:     ghRun("push"),
			payload: ptr(`{"ref":"refs/heads/feature/x","before":"` + strings.Repeat("0", 40) + `","after":"` + shaNew + `","created":false,"deleted":false}`),
			want:    Event{System: GitHub, Kind: BranchUpdated, Branch: "feature/x", Repository: "acme/app", SHA: shaNew, EventName: "push"},
		},
		{
			name:    "push to a non-branch ref",
			env:     ghRun("push"),
			payload: ptr(`{"ref":"refs/notes/commits","before":"` + shaNew + `","after":"` + shaPR + `"}`),
			want:    Event{System: GitHub, Kind: Ignored, Repository: "acme/app", EventName: "push"},
			reason:  `"refs/notes/commits", which is not a branch`,
		},
		{
			name:    "pull request whose head.repo is absent counts as a fork",
			env:     ghRun("pull_request"),
			payload: ptr(`{"action":"opened","number":7,"pull_request":{"head":{"ref":"feature/x","sha":"` + shaPR + `"},"base":{"ref":"main"}},` + repoJSON + `}`),
			want:    Event{System: GitHub, Kind: BranchCreated, Branch: "feature/x", DefaultBranch: "main", Repository: "acme/app", PullRequest: 7, FromFork: true, SHA: shaPR, EventName: "pull_request"},
		},
		{
			name:    "pull request head repository differing only in case is not a fork",
			env:     ghRun("pull_request"),
			payload: ptr(prJSON("synchronize", `{"full_name":"ACME/App"}`)),
			want:    Event{System: GitHub, Kind: BranchUpdated, Branch: "feature/x", DefaultBranch: "main", Repository: "acme/app", PullRequest: 7, HeadRepository: "ACME/App", SHA: shaPR, EventName: "pull_request"},
		},
		{
			name:    "pull request number only inside pull_request",
			env:     ghRun("pull_request"),
			payload: ptr(`{"action":"closed","pull_request":{"number":9,"merged":true,"head":{"ref":"feature/x","repo":{"full_name":"acme/app"}}},` + repoJSON + `}`),
			want:    Event{System: GitHub, Kind: BranchDeleted, Branch: "feature/x", DefaultBranch: "main", Repository: "acme/app", PullRequest: 9, HeadRepository: "acme/app", EventName: "pull_request"},
			reason:  "closed (merged)",
		},
		{
			name:    "other events are ignored without reading the payload",
			env:     ghRun("release"),
			want:    Event{System: GitHub, Kind: Ignored, Repository: "acme/app", EventName: "release"},
			reason:  `"release"`,
			payload: nil,
		},
		{
			name:   "schedule without GITHUB_EVENT_PATH",
			env:    ghRun("schedule", "GITHUB_EVENT_PATH", "", "GITHUB_REF", "refs/heads/main"),
			want:   Event{System: GitHub, Kind: Schedule, Branch: "main", Repository: "acme/app", SHA: ghSHA, EventName: "schedule"},
			reason: `on branch "main"`,
		},
		{
			name:    "workflow_dispatch on a tag has no branch",
			env:     ghRun("workflow_dispatch", "GITHUB_REF", "refs/tags/v1.2.3"),
			payload: ptr(`{"ref":"refs/tags/v1.2.3","inputs":{}}`),
			want:    Event{System: GitHub, Kind: Manual, Repository: "acme/app", SHA: ghSHA, EventName: "workflow_dispatch"},
			reason:  `"refs/tags/v1.2.3", which is not a branch`,
		},
		{
			name:   "workflow_dispatch from GITHUB_REF_NAME",
			env:    ghRun("workflow_dispatch", "GITHUB_EVENT_PATH", "", "GITHUB_REF_NAME", "feature/x", "GITHUB_REF_TYPE", "branch"),
			want:   Event{System: GitHub, Kind: Manual, Branch: "feature/x", Repository: "acme/app", SHA: ghSHA, EventName: "workflow_dispatch"},
			reason: `on branch "feature/x"`,
		},
		{
			name:   "GITLAB_CI as well (act inside a GitLab job): GitHub wins",
			env:    ghRun("schedule", "GITHUB_EVENT_PATH", "", "GITLAB_CI", "true", "CI_PIPELINE_SOURCE", "push"),
			want:   Event{System: GitHub, Kind: Schedule, Repository: "acme/app", SHA: ghSHA, EventName: "schedule"},
			reason: "schedule",
		},
		{
			name:    "explicit branch replaces the payload's",
			env:     ghRun("delete"),
			payload: ptr(`{"ref":"feature/x","ref_type":"branch"}`),
			opts:    Options{Branch: "feature/y"},
			want:    Event{System: GitHub, Kind: BranchDeleted, Branch: "feature/y", Repository: "acme/app", EventName: "delete"},
			reason:  `branch "feature/y" given explicitly instead of detected "feature/x"`,
		},
		{
			name:    "explicit kind on a tag event still needs a branch",
			env:     ghRun("create"),
			payload: ptr(`{"ref":"v1","ref_type":"tag"}`),
			opts:    Options{Kind: BranchCreated},
			wantErr: `no branch for a branch-created event (kind branch-created given explicitly (detected ignored: GitHub create event for tag "v1"`,
		},
		{
			name:    "explicit kind and branch on a tag event",
			env:     ghRun("create"),
			payload: ptr(`{"ref":"v1","ref_type":"tag"}`),
			opts:    Options{Kind: BranchCreated, Branch: "release/v1"},
			want:    Event{System: GitHub, Kind: BranchCreated, Branch: "release/v1", Repository: "acme/app", EventName: "create"},
			reason:  "kind branch-created given explicitly (detected ignored",
		},

		// Errors: malformed or missing payloads and fields.
		{name: "malformed JSON", env: ghRun("push"), payload: ptr(`{"ref": "refs/heads/x",`),
			wantErr: `GitHub push event payload "` + evPath + `" (GITHUB_EVENT_PATH): invalid JSON: unexpected end of JSON input`},
		{name: "payload null", env: ghRun("create"), payload: ptr(`null`), wantErr: `(GITHUB_EVENT_PATH): not a JSON object`},
		{name: "payload array", env: ghRun("create"), payload: ptr(` [{"ref":"x"}]`), wantErr: "not a JSON object"},
		{name: "payload empty", env: ghRun("create"), payload: ptr(""), wantErr: "not a JSON object"},
		{name: "missing payload file", env: ghRun("push"),
			wantErr: `GitHub push event payload "` + evPath + `" (GITHUB_EVENT_PATH): cannot read: open: file does not exist`},
		{name: "missing payload file for schedule", env: ghRun("schedule"), wantErr: "cannot read"},
		{name: "GITHUB_EVENT_PATH unset", env: ghRun("delete", "GITHUB_EVENT_PATH", ""), wantErr: "GitHub delete event: GITHUB_EVENT_PATH is not set"},
		{name: "GITHUB_EVENT_NAME unset", env: ghRun(""), wantErr: "GITHUB_EVENT_NAME is not set"},
		{name: "create without ref", env: ghRun("create"), payload: ptr(`{"ref_type":"branch"}`), wantErr: "field ref: missing or empty"},
		{name: "create with null ref", env: ghRun("create"), payload: ptr(`{"ref":null,"ref_type":"branch"}`), wantErr: "field ref: missing or empty"},
		{name: "delete without ref_type", env: ghRun("delete"), payload: ptr(`{"ref":"feature/x"}`), wantErr: "field ref_type: missing or empty"},
		{name: "ref of the wrong type", env: ghRun("create"), payload: ptr(`{"ref":["feature/x"],"ref_type":"branch"}`), wantErr: "field ref: expected string, got JSON array"},
		{name: "push without ref", env: ghRun("push"), payload: ptr(`{"before":"` + shaNew + `"}`), wantErr: "field ref: missing or empty"},
		{name: "push created not a boolean", env: ghRun("push"), payload: ptr(`{"ref":"refs/heads/x","created":"yes"}`), wantErr: "field created: expected boolean, got JSON string"},
		{name: "push created and deleted", env: ghRun("push"), payload: ptr(`{"ref":"refs/heads/x","created":true,"deleted":true}`), wantErr: "field created: both created and deleted are true"},
		{name: "push after not a SHA", env: ghRun("push"), payload: ptr(`{"ref":"refs/heads/x","before":"` + shaNew + `","after":"HEAD~1"}`), wantErr: `field after: "HEAD~1" is not a commit SHA`},
		{name: "pull request without action", env: ghRun("pull_request"), payload: ptr(`{"number":7,"pull_request":{"head":{"ref":"x"}}}`), wantErr: "field action: missing or empty"},
		{name: "pull request without pull_request", env: ghRun("pull_request"), payload: ptr(`{"action":"opened","number":7}`), wantErr: "field pull_request: missing or empty"},
		{name: "pull request without number", env: ghRun("pull_request_target"), payload: ptr(`{"action":"opened","pull_request":{"head":{"ref":"x"}}}`), wantErr: "field number: missing or empty"},
		{name: "pull request number a fraction", env: ghRun("pull_request"), payload: ptr(`{"action":"opened","number":7.5,"pull_request":{"head":{"ref":"x"}}}`), wantErr: "field number: expected integer, got JSON number 7.5"},
		{name: "pull request number a string", env: ghRun("pull_request"), payload: ptr(`{"action":"opened","number":"7","pull_request":{"head":{"ref":"x"}}}`), wantErr: "field number: expected integer, got JSON string"},
		{name: "pull request head a string", env: ghRun("pull_request"), payload: ptr(`{"action":"opened","number":7,"pull_request":{"head":"x"}}`), wantErr: "field pull_request.head: expected object, got JSON string"},
		{name: "pull request without head.ref", env: ghRun("pull_request"), payload: ptr(`{"action":"opened","number":7,"pull_request":{"head":{"sha":"` + shaPR + `"}}}`), wantErr: "field pull_request.head.ref: missing or empty"},
		{name: "pull request with head.repo null", env: ghRun("pull_request"), payload: ptr(prJSON("opened", "null")), opts: Options{},
			want: Event{System: GitHub, Kind: BranchCreated, Branch: "feature/x", DefaultBranch: "main", Repository: "acme/app", PullRequest: 7, FromFork: true, SHA: shaPR, EventName: "pull_request"}},
		{name: "pull request head.ref with a space", env: ghRun("pull_request"), payload: ptr(strings.Replace(prJSON("opened", "null"), `"ref":"feature/x"`, `"ref":"feature/x; rm -rf /"`, 1)),
			wantErr: `field pull_request.head.ref: invalid branch name "feature/x; rm -rf /": contains ' '`},
		{name: "repository with a newline", env: ghRun("create"), payload: ptr(`{"ref":"x","ref_type":"branch","repository":{"full_name":"acme/app\n::error::x"}}`),
			wantErr: `repository "acme/app\n::error::x": contains control character '\n'`},
		{name: "invalid default branch", env: ghRun("create"), payload: ptr(`{"ref":"x","ref_type":"branch","master_branch":"ma in"}`), wantErr: `default branch: invalid branch name "ma in"`},
		{name: "GITHUB_SHA not a SHA", env: ghRun("create", "GITHUB_SHA", "main"), payload: ptr(`{"ref":"x","ref_type":"branch"}`), wantErr: `GITHUB_SHA "main" is not a commit SHA`},
		{name: "explicit branch is validated", env: ghRun("delete"), payload: ptr(`{"ref":"feature/x","ref_type":"branch"}`), opts: Options{Branch: "-rf"},
			wantErr: `the explicit branch: invalid branch name "-rf": begins with "-"`},
		{name: "unknown explicit kind", env: ghRun("delete"), payload: ptr(`{"ref":"feature/x","ref_type":"branch"}`), opts: Options{Kind: "delete"},
			wantErr: `unknown event kind "delete", valid kinds are branch-created, branch-updated, branch-deleted, schedule, manual, ignored`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := map[string]string{}
			if tt.payload != nil {
				fsys[evPath] = *tt.payload
			}
			read := files(fsys)
			if tt.env["GITHUB_EVENT_NAME"] == "release" {
				read = func(string) ([]byte, error) {
					t.Error("payload read for an ignored event")
					return nil, errors.New("unexpected")
				}
			}
			got, err := Detect(maps.Clone(tt.env), read, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Detect() error = %v\nwant one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Detect() error = %v", err)
			}
			checkEvent(t, got, tt.want, tt.reason)
		})
	}
}

func TestDetectGitHubErrorTypes(t *testing.T) {
	t.Parallel()
	_, err := Detect(ghRun("push"), files(nil), Options{})
	var pe *PayloadError
	if !errors.As(err, &pe) || pe.Path != evPath || pe.Event != "push" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error %v (%#v), want a *PayloadError wrapping fs.ErrNotExist", err, pe)
	}
	_, err = Detect(ghRun("pull_request"), files(map[string]string{evPath: `{"action":"opened","number":7,"pull_request":{"head":{"sha":"x"}}}`}), Options{})
	if !errors.As(err, &pe) || pe.Field != "pull_request.head.ref" {
		t.Errorf("missing field: error %v, want a *PayloadError for pull_request.head.ref", err)
	}
	// A nil readFile is a programming error reported as an error, not a panic.
	if _, err := Detect(ghRun("push"), nil, Options{}); err == nil {
		t.Error("Detect with nil readFile on GitHub: no error")
	}
}

// TestDetectGitHubGarbage feeds truncated and mangled payloads: errors are
// fine, panics are not, and whatever is accepted is valid.
func TestDetectGitHubGarbage(t *testing.T) {
	t.Parallel()
	docs := []string{
		prJSONFor("opened"),
		`{"ref":"feature/x","ref_type":"branch","master_branch":"main",` + repoJSON + `}`,
		`{"ref":"refs/heads/feature/x","before":"` + shaNew + `","after":"` + shaPR + `","created":false,"deleted":false}`,
	}
	for _, event := range []string{"create", "delete", "push", "pull_request", "pull_request_target", "schedule", "workflow_dispatch"} {
		for _, doc := range docs {
			for i := 0; i <= len(doc); i++ {
				for _, p := range []string{doc[:i], doc[:i] + "}" + doc[i:], strings.Replace(doc, `"`, `'`, i%5)} {
					ev, err := Detect(ghRun(event), files(map[string]string{evPath: p}), Options{})
					if err == nil && ev.Kind.IsBranch() && ValidateBranch(ev.Branch) != nil {
						t.Fatalf("%s %q: accepted invalid branch %q", event, p, ev.Branch)
					}
				}
			}
		}
	}
}

func prJSONFor(action string) string {
	return fmt.Sprintf(`{"action":%q,"number":7,"pull_request":{"number":7,"head":{"ref":"feature/x","sha":%q,"repo":{"full_name":"acme/app"}},"base":{"ref":"main","repo":{"full_name":"acme/app"}},"merged":false},%s}`, action, shaPR, repoJSON)
}

// glRun is a GitLab job environment.
func glRun(source string, extra ...string) map[string]string {
	env := map[string]string{
		"GITLAB_CI":          "true",
		"CI_PIPELINE_SOURCE": source,
		"CI_PROJECT_ID":      "4242",
		"CI_PROJECT_PATH":    "acme/app",
		"CI_DEFAULT_BRANCH":  "main",
		"CI_COMMIT_SHA":      shaNew,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func TestDetectGitLabInline(t *testing.T) {
	t.Parallel()
	gl := func(e Event) Event {
		e.System, e.ProjectID, e.Repository, e.DefaultBranch, e.SHA = GitLab, "4242", "acme/app", "main", shaNew
		return e
	}
	zeros := strings.Repeat("0", 40)
	tests := []struct {
		name    string
		env     map[string]string
		opts    Options
		want    Event
		reason  string
		wantErr string
	}{
		{name: "explicit stop in a push pipeline", env: glRun("push", "CI_COMMIT_BRANCH", "feature/x", "CI_COMMIT_BEFORE_SHA", shaPR), opts: Options{Stop: true},
			want: gl(Event{Kind: BranchDeleted, Branch: "feature/x", EventName: "push"}), reason: `kind branch-deleted given explicitly (detected branch-updated: GitLab push pipeline for branch "feature/x")`},
		{name: "stop job with only CI_COMMIT_REF_NAME", env: glRun("push", "CI_COMMIT_REF_NAME", "feature/x", "CI_ENVIRONMENT_ACTION", "stop", "CI_ENVIRONMENT_NAME", "review/feature-x"),
			want: gl(Event{Kind: BranchDeleted, Branch: "feature/x", Environment: "review/feature-x", EventName: "push"})},
		{name: "stop job of a tag environment is ignored", env: glRun("push", "CI_COMMIT_TAG", "v1", "CI_COMMIT_REF_NAME", "v1", "CI_ENVIRONMENT_ACTION", "stop"),
			want: gl(Event{Kind: Ignored, EventName: "push"}), reason: `tag "v1"`},
		{name: "zeros in a merge request pipeline do not mean created", env: glRun("merge_request_event", "CI_COMMIT_BEFORE_SHA", zeros, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/x", "CI_MERGE_REQUEST_IID", "3"),
			want: gl(Event{Kind: BranchUpdated, Branch: "feature/x", PullRequest: 3, EventName: "merge_request_event"})},
		{name: "zeros in a web pipeline do not mean created", env: glRun("web", "CI_COMMIT_BEFORE_SHA", zeros, "CI_COMMIT_BRANCH", "feature/x"),
			want: gl(Event{Kind: Manual, Branch: "feature/x", EventName: "web"})},
		{name: "SHA-256 project: 64 zeros", env: glRun("push", "CI_COMMIT_BEFORE_SHA", strings.Repeat("0", 64), "CI_COMMIT_BRANCH", "feature/x"),
			want: gl(Event{Kind: BranchCreated, Branch: "feature/x", EventName: "push"})},
		{name: "CI_COMMIT_BRANCH wins over the ref name", env: glRun("push", "CI_COMMIT_BRANCH", "feature/x", "CI_COMMIT_REF_NAME", "other"),
			want: gl(Event{Kind: BranchUpdated, Branch: "feature/x", EventName: "push"})},
		{name: "fork without source project path", env: glRun("merge_request_event", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "main", "CI_MERGE_REQUEST_IID", "3", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "99"),
			want: gl(Event{Kind: BranchUpdated, Branch: "main", PullRequest: 3, FromFork: true, EventName: "merge_request_event"}), reason: "of a fork"},
		{name: "unicode branch", env: glRun("push", "CI_COMMIT_BRANCH", "fix/ünïcødé"),
			want: gl(Event{Kind: BranchUpdated, Branch: "fix/ünïcødé", EventName: "push"})},
		{name: "parent_pipeline is ignored", env: glRun("parent_pipeline", "CI_COMMIT_BRANCH", "feature/x"),
			want: gl(Event{Kind: Ignored, Branch: "feature/x", EventName: "parent_pipeline"}), reason: `"parent_pipeline"`},

		{name: "CI_PIPELINE_SOURCE unset", env: glRun(""), wantErr: "CI_PIPELINE_SOURCE is not set"},
		{name: "push without any branch variable", env: glRun("push"), wantErr: "no branch for a branch-updated event (GitLab push pipeline): pass the branch explicitly"},
		{name: "bad merge request IID", env: glRun("merge_request_event", "CI_MERGE_REQUEST_IID", "17; echo", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "x"), wantErr: `CI_MERGE_REQUEST_IID "17; echo" is not a merge request number`},
		{name: "bad CI_COMMIT_SHA", env: glRun("push", "CI_COMMIT_SHA", "deadbeef", "CI_COMMIT_BRANCH", "x"), wantErr: `CI_COMMIT_SHA "deadbeef" is not a commit SHA`},
		{name: "source branch with control character", env: glRun("merge_request_event", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "x\x1b[31m"),
			wantErr: `CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: invalid branch name "x\x1b[31m": contains control character '\x1b'`},
		{name: "stop job with an invalid ref name", env: glRun("push", "CI_COMMIT_REF_NAME", "a..b", "CI_ENVIRONMENT_ACTION", "stop"), wantErr: `CI_COMMIT_REF_NAME: invalid branch name "a..b"`},
		{name: "environment name with a newline", env: glRun("push", "CI_COMMIT_BRANCH", "x", "CI_ENVIRONMENT_NAME", "review/x\n"), wantErr: `environment "review/x\n": contains control character`},
		{name: "stop conflicts with another kind", env: glRun("push", "CI_COMMIT_BRANCH", "x"), opts: Options{Stop: true, Kind: BranchCreated}, wantErr: "conflicting options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Detect(tt.env, nil, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Detect() error = %v\nwant one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Detect() error = %v", err)
			}
			checkEvent(t, got, tt.want, tt.reason)
		})
	}
}

func TestDetectLocal(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOME": "/home/me", "GITHUB_ACTIONS": "false"}
	tests := []struct {
		name    string
		opts    Options
		want    Event
		reason  string
		wantErr string
		is      error
	}{
		{name: "nothing given", is: ErrNoKind, wantErr: "pass the event kind (--kind)"},
		{name: "branch only", opts: Options{Branch: "feature/x"}, is: ErrNoKind},
		{name: "branch kind without branch", opts: Options{Kind: BranchCreated}, is: ErrNoBranch, wantErr: "(--branch)"},
		{name: "created", opts: Options{Kind: BranchCreated, Branch: "feature/x"},
			want: Event{System: Local, Kind: BranchCreated, Branch: "feature/x", EventName: "local"}, reason: `local run, kind branch-created given explicitly for branch "feature/x"`},
		{name: "stop", opts: Options{Stop: true, Branch: "feature/x"},
			want: Event{System: Local, Kind: BranchDeleted, Branch: "feature/x", EventName: "local"}, reason: "branch-deleted"},
		{name: "stop and the same kind", opts: Options{Stop: true, Kind: BranchDeleted, Branch: "feature/x"},
			want: Event{System: Local, Kind: BranchDeleted, Branch: "feature/x", EventName: "local"}},
		{name: "schedule needs no branch", opts: Options{Kind: Schedule},
			want: Event{System: Local, Kind: Schedule, EventName: "local"}, reason: "local run"},
		{name: "invalid branch", opts: Options{Kind: Manual, Branch: "feature/x.lock"}, wantErr: `ends with ".lock"`},
		{name: "unknown kind", opts: Options{Kind: "created"}, wantErr: `unknown event kind "created"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Detect(env, nil, tt.opts)
			if tt.wantErr != "" || tt.is != nil {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || (tt.is != nil && !errors.Is(err, tt.is)) {
					t.Fatalf("Detect() error = %v, want one containing %q (is %v)", err, tt.wantErr, tt.is)
				}
				return
			}
			if err != nil {
				t.Fatalf("Detect() error = %v", err)
			}
			checkEvent(t, got, tt.want, tt.reason)
		})
	}
}

func TestDetectSystem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want System
	}{
		{nil, Local},
		{map[string]string{"CI": "true"}, Local},
		{map[string]string{"GITHUB_ACTIONS": "true"}, GitHub},
		{map[string]string{"GITHUB_ACTIONS": "TRUE"}, GitHub},
		{map[string]string{"GITHUB_ACTIONS": "false", "GITLAB_CI": "true"}, GitLab},
		{map[string]string{"GITHUB_ACTIONS": "1"}, Local},
		{map[string]string{"GITLAB_CI": "true", "GITHUB_ACTIONS": "true"}, GitHub},
	}
	for _, tt := range tests {
		if got := DetectSystem(tt.env); got != tt.want {
			t.Errorf("DetectSystem(%v) = %s, want %s", tt.env, got, tt.want)
		}
	}
}

func TestParseKind(t *testing.T) {
	t.Parallel()
	for _, k := range Kinds {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	for _, s := range []string{"", "Branch-Created", "create", "delete"} {
		if _, err := ParseKind(s); err == nil {
			t.Errorf("ParseKind(%q): no error", s)
		}
	}
}

func TestIsDefaultBranch(t *testing.T) {
	t.Parallel()
	if !(Event{Branch: "main", DefaultBranch: "main"}).IsDefaultBranch() {
		t.Error("main/main: false")
	}
	if (Event{Branch: "", DefaultBranch: ""}).IsDefaultBranch() || (Event{Branch: "x", DefaultBranch: "main"}).IsDefaultBranch() {
		t.Error("true for a non-default branch")
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzEvent: any GitHub payload and GITHUB_REF, any GitLab variables, give
// an error or a valid Event, never a panic, and every message stays bounded
// (echoed input is cut). Seeds: testdata/fuzz/FuzzEvent and below.
func FuzzEvent(f *testing.F) {
	for i, doc := range []string{
		prJSONFor("opened"), prJSONFor("closed"),
		`{"ref":"feature/x","ref_type":"branch","master_branch":"main",` + repoJSON + `}`,
		`{"ref":"refs/heads/feature/x","before":"` + shaNew + `","after":"` + shaPR + `","created":false,"deleted":false}`,
		`{"ref":"refs/heads/x","inputs":{}}`, `null`, `{}`,
	} {
		f.Add(uint8(i), []byte(doc), "refs/heads/main")
		f.Add(uint8(i)|0x80, []byte(nil), "feature/x")
	}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte, value string) {
		var env map[string]string
		if which&0x80 == 0 {
			events := []string{"create", "delete", "push", "pull_request", "pull_request_target", "schedule", "workflow_dispatch", value}
			env = ghRun(events[int(which)%len(events)], "GITHUB_REF", value)
		} else {
			sources := []string{"push", "merge_request_event", "schedule", "web", "api", "trigger", value}
			env = map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": sources[int(which&0x0f)%len(sources)], "CI_COMMIT_BRANCH": value, "CI_PROJECT_ID": "1"}
			if which&0x40 != 0 {
				env["CI_ENVIRONMENT_ACTION"], env["CI_ENVIRONMENT_NAME"] = "stop", "review/"+value
			}
			if which&0x20 != 0 {
				env["CI_COMMIT_TAG"] = value
			}
			if which&0x10 != 0 {
				env["CI_MERGE_REQUEST_IID"], env["CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"] = value, value
			}
		}
		ev, err := Detect(env, files(map[string]string{evPath: string(payload)}), Options{})
		if err != nil {
			if n := len(err.Error()); n > 2048 {
				t.Fatalf("a %d-byte error: %.200s", n, err)
			}
			return
		}
		if ev.Branch != "" && ValidateBranch(ev.Branch) != nil {
			t.Fatalf("invalid branch %q accepted", ev.Branch)
		}
		if ev.Kind.IsBranch() && ev.Branch == "" {
			t.Fatalf("%s without a branch", ev.Kind)
		}
		if n := len(ev.Reason); n > 2048 {
			t.Fatalf("a %d-byte reason: %.200s", n, ev.Reason)
		}
		for _, s := range []string{ev.Reason, ev.Repository, ev.HeadRepository, ev.DefaultBranch} {
			if err := checkText(s); err != nil {
				t.Fatalf("%q: %v", s, err)
			}
		}
	})
}
