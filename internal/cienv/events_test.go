package cienv

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// eventsDir holds one realistic payload (GitHub) or environment (GitLab) per case.
const eventsDir = "../../testdata/events"

const (
	shaNew  = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
	shaPR   = "a10867b14bb761a232cd80139fbd4c0d33264240"
	shaMain = "9f8b4c2f1e7d6a5b4c3d2e1f0a9b8c7d6e5f4a3b"
	// ghSHA is the runner's GITHUB_SHA in these tests.
	ghSHA = "c0ffee0000000000000000000000000000c0ffee"
	// hostile is a valid git branch name full of shell syntax
	// (testdata/events/github/create-branch-hostile.json).
	hostile = "feature/$(touch${IFS}pwned);echo${IFS}`id`|tee>x&&'\"#!{}"
)

// githubEnv is the runner environment for a payload file; the event name is
// the file name up to the first "-" or ".".
func githubEnv(path string) map[string]string {
	base := filepath.Base(path)
	event := base[:strings.IndexAny(base, "-.")]
	return map[string]string{
		"CI":                "true",
		"GITHUB_ACTIONS":    "true",
		"GITHUB_EVENT_NAME": event,
		"GITHUB_EVENT_PATH": path,
		"GITHUB_REPOSITORY": "acme/airflow-dags",
		"GITHUB_SHA":        ghSHA,
		// What GitHub sets on delete and schedule; create/delete must
		// ignore it.
		"GITHUB_REF":      "refs/heads/main",
		"GITHUB_REF_NAME": "main",
		"GITHUB_REF_TYPE": "branch",
	}
}

// readEnvFile parses KEY=VALUE lines; "#" starts a comment line.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", path, line)
		}
		if _, dup := env[k]; dup {
			t.Fatalf("%s: %s set twice", path, k)
		}
		env[k] = v
	}
	return env
}

func TestDetectTestdata(t *testing.T) {
	t.Parallel()
	gh := func(e Event) Event {
		e.System, e.Repository = GitHub, "acme/airflow-dags"
		if e.DefaultBranch == "" {
			e.DefaultBranch = "main"
		}
		return e
	}
	gl := func(e Event) Event {
		e.System, e.Repository, e.ProjectID = GitLab, "acme/data/airflow-dags", "4242"
		e.DefaultBranch = "main"
		return e
	}
	const b = "feature/orders-dag"
	const reviewEnv = "review/feature-orders-dag"
	tests := map[string]struct {
		want    Event
		reason  string // substring of Reason
		wantErr string // substring of the error; want is then unused
	}{
		"github/create-branch.json": {want: gh(Event{Kind: BranchCreated, Branch: b, SHA: ghSHA, EventName: "create"}), reason: `branch "feature/orders-dag" created`},
		"github/create-tag.json":    {want: gh(Event{Kind: Ignored, EventName: "create"}), reason: `tag "v1.4.0"`},
		"github/delete-branch.json": {want: gh(Event{Kind: BranchDeleted, Branch: b, EventName: "delete"}), reason: `branch "feature/orders-dag" deleted`},
		"github/delete-tag.json":    {want: gh(Event{Kind: Ignored, EventName: "delete"}), reason: `tag "v1.3.0"`},
		"github/create-branch-hostile.json": {want: gh(Event{Kind: BranchCreated, Branch: hostile, SHA: ghSHA, EventName: "create"}),
			reason: `"feature/$(touch${IFS}pwned);echo${IFS}` + "`id`" + `|tee>x&&'\"#!{}"`},
		"github/create-branch-invalid.json":    {wantErr: `GitHub create event payload "../../testdata/events/github/create-branch-invalid.json" field ref: invalid branch name "feature/..x": contains ".."`},
		"github/push-new-branch.json":          {want: gh(Event{Kind: BranchCreated, Branch: b, SHA: shaNew, EventName: "push"}), reason: "created"},
		"github/push-minimal-new-branch.json":  {want: gh(Event{Kind: BranchCreated, Branch: "fix/login", SHA: shaNew, EventName: "push"}), reason: "created"},
		"github/push-update.json":              {want: gh(Event{Kind: BranchUpdated, Branch: b, SHA: shaNew, EventName: "push"}), reason: `push to branch "feature/orders-dag"`},
		"github/push-delete.json":              {want: gh(Event{Kind: BranchDeleted, Branch: b, EventName: "push"}), reason: "deleted"},
		"github/push-tag.json":                 {want: gh(Event{Kind: Ignored, EventName: "push"}), reason: `tag "v1.4.0"`},
		"github/push-unicode-branch.json":      {want: gh(Event{Kind: BranchUpdated, Branch: "feature/größe-日本", SHA: shaNew, EventName: "push"})},
		"github/push-branch-newline.json":      {wantErr: `invalid branch name "feature/x\necho pwned": contains control character '\n'`},
		"github/pull_request-opened.json":      {want: gh(Event{Kind: BranchCreated, Branch: b, PullRequest: 42, HeadRepository: "acme/airflow-dags", SHA: shaPR, EventName: "pull_request"}), reason: "#42 opened"},
		"github/pull_request-reopened.json":    {want: gh(Event{Kind: BranchCreated, Branch: b, PullRequest: 42, HeadRepository: "acme/airflow-dags", SHA: shaPR, EventName: "pull_request"}), reason: "#42 reopened"},
		"github/pull_request-synchronize.json": {want: gh(Event{Kind: BranchUpdated, Branch: b, PullRequest: 42, HeadRepository: "acme/airflow-dags", SHA: shaPR, EventName: "pull_request"}), reason: "#42 synchronize"},
		"github/pull_request-closed.json":      {want: gh(Event{Kind: BranchDeleted, Branch: b, PullRequest: 42, HeadRepository: "acme/airflow-dags", EventName: "pull_request"}), reason: "closed (not merged)"},
		"github/pull_request-closed-merged.json": {want: gh(Event{Kind: BranchDeleted, Branch: b, PullRequest: 42, HeadRepository: "acme/airflow-dags", EventName: "pull_request"}),
			reason: "closed (merged)"},
		"github/pull_request-labeled.json": {want: gh(Event{Kind: Ignored, Branch: b, PullRequest: 42, HeadRepository: "acme/airflow-dags", SHA: shaPR, EventName: "pull_request"}),
			reason: `#42 action "labeled" for branch "feature/orders-dag": only opened`},
		"github/pull_request-opened-fork.json": {want: gh(Event{Kind: BranchCreated, Branch: "main", PullRequest: 43, FromFork: true, HeadRepository: "contributor/airflow-dags", SHA: shaPR, EventName: "pull_request"}),
			reason: `of fork "contributor/airflow-dags"`},
		"github/pull_request-closed-deleted-fork.json": {want: gh(Event{Kind: BranchDeleted, Branch: "fix/typo", PullRequest: 44, FromFork: true, EventName: "pull_request"}),
			reason: "deleted fork"},
		"github/pull_request_target-opened.json": {want: gh(Event{Kind: BranchCreated, Branch: "fix/typo", PullRequest: 45, FromFork: true, HeadRepository: "contributor/airflow-dags", SHA: shaPR, EventName: "pull_request_target"}),
			reason: "pull_request_target runs with the base repository's secrets"},
		"github/schedule.json":          {want: gh(Event{Kind: Schedule, Branch: "main", SHA: ghSHA, EventName: "schedule"}), reason: "schedule"},
		"github/workflow_dispatch.json": {want: gh(Event{Kind: Manual, Branch: b, SHA: ghSHA, EventName: "workflow_dispatch"}), reason: `on branch "feature/orders-dag"`},

		"gitlab/push-new-branch.env": {want: gl(Event{Kind: BranchCreated, Branch: b, SHA: shaNew, Environment: reviewEnv, EventName: "push"}), reason: `for branch "feature/orders-dag", a new branch`},
		"gitlab/push-update.env":     {want: gl(Event{Kind: BranchUpdated, Branch: b, SHA: shaNew, Environment: reviewEnv, EventName: "push"}), reason: `push pipeline for branch "feature/orders-dag"`},
		"gitlab/push-tag.env":        {want: gl(Event{Kind: Ignored, SHA: shaNew, EventName: "push"}), reason: `tag "v1.4.0"`},
		"gitlab/merge_request_event.env": {want: gl(Event{Kind: BranchUpdated, Branch: b, PullRequest: 17, HeadRepository: "acme/data/airflow-dags", SHA: shaPR, Environment: reviewEnv, EventName: "merge_request_event"}),
			reason: "merge request !17"},
		"gitlab/merge_request_event-fork.env": {want: gl(Event{Kind: BranchUpdated, Branch: "main", PullRequest: 18, FromFork: true, HeadRepository: "contributor/airflow-dags", SHA: shaPR, EventName: "merge_request_event"}),
			reason: `of fork "contributor/airflow-dags"`},
		"gitlab/schedule.env": {want: gl(Event{Kind: Schedule, Branch: "main", SHA: shaMain, EventName: "schedule"}), reason: "scheduled"},
		"gitlab/web.env":      {want: gl(Event{Kind: Manual, Branch: b, SHA: shaNew, EventName: "web"}), reason: "web UI"},
		"gitlab/api.env":      {want: gl(Event{Kind: Manual, Branch: b, SHA: shaNew, EventName: "api"}), reason: "the API"},
		"gitlab/trigger.env":  {want: gl(Event{Kind: Ignored, Branch: b, SHA: shaNew, EventName: "trigger"}), reason: `source "trigger"`},
		"gitlab/stop.env":     {want: gl(Event{Kind: BranchDeleted, Branch: b, SHA: shaNew, Environment: reviewEnv, EventName: "push"}), reason: `stop job of environment "review/feature-orders-dag"`},
		"gitlab/stop-merge_request_event.env": {want: gl(Event{Kind: BranchDeleted, Branch: b, PullRequest: 17, HeadRepository: "acme/data/airflow-dags", SHA: shaPR, Environment: reviewEnv, EventName: "merge_request_event"}),
			reason: "stop job"},
		"gitlab/push-branch-invalid.env": {wantErr: `CI_COMMIT_BRANCH: invalid branch name "feature/x.lock": component "x.lock" ends with ".lock"`},
	}

	// Every file has an expectation, and every expectation a file.
	var files []string
	err := filepath.WalkDir(eventsDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(eventsDir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	seen := map[string]bool{}
	for _, f := range files {
		seen[f] = true
		if _, ok := tests[f]; !ok {
			t.Errorf("testdata/events/%s has no expectation in TestDetectTestdata", f)
		}
	}
	for name := range tests {
		if !seen[name] {
			t.Errorf("expectation for missing file testdata/events/%s", name)
		}
	}

	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(eventsDir, filepath.FromSlash(name))
			var env map[string]string
			if strings.HasPrefix(name, "github/") {
				env = githubEnv(path)
			} else {
				env = readEnvFile(t, path)
			}
			got, err := Detect(env, os.ReadFile, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Detect() error = %v, want one containing %q", err, tt.wantErr)
				}
				var be *BranchError
				if !errors.As(err, &be) {
					t.Errorf("error %v does not wrap a *BranchError", err)
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

// checkEvent compares all fields but Reason, which must be one non-empty line
// containing reason.
func checkEvent(t *testing.T, got, want Event, reason string) {
	t.Helper()
	r := got.Reason
	got.Reason, want.Reason = "", ""
	if got != want {
		t.Errorf("Detect() =\n  %+v\nwant\n  %+v", got, want)
	}
	if r == "" || strings.ContainsAny(r, "\r\n") {
		t.Errorf("Reason %q: want one non-empty line", r)
	}
	if !strings.Contains(r, reason) {
		t.Errorf("Reason %q does not contain %q", r, reason)
	}
}
