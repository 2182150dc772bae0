package gitmeta

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	sha1 = "0123456789abcdef0123456789abcdef01234567"
	sha2 = "89abcdef0123456789abcdef0123456789abcdef"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		env            map[string]string
		want           Meta
		commit, author string
	}{
		{
			name: "GitHub push",
			env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SHA": sha1, "GITHUB_REPOSITORY": "acme/dags",
				"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REF": "refs/heads/feature/x", "GITHUB_REF_NAME": "feature/x", "GITHUB_ACTOR": "octo"},
			want: Meta{System: GitHub, CommitSHA: sha1, Branch: "feature/x", ServerURL: "https://github.com", Repository: "acme/dags",
				RemoteURL: "https://github.com/acme/dags.git", AuthorUsername: "octo"},
			commit: "https://github.com/acme/dags/commit/" + sha1, author: "https://github.com/octo",
		},
		{
			name: "GitHub pull request: the branch is GITHUB_HEAD_REF, not 7/merge",
			env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SHA": sha1, "GITHUB_REPOSITORY": "acme/dags",
				"GITHUB_REF": "refs/pull/7/merge", "GITHUB_REF_NAME": "7/merge", "GITHUB_HEAD_REF": "fix"},
			want: Meta{System: GitHub, CommitSHA: sha1, Branch: "fix", ServerURL: "https://github.com", Repository: "acme/dags",
				RemoteURL: "https://github.com/acme/dags.git"},
			commit: "https://github.com/acme/dags/commit/" + sha1,
		},
		{
			name: "GitHub tag: no branch; a bad SHA is dropped",
			env:  map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SHA": "not-a-sha", "GITHUB_REF": "refs/tags/v1", "GITHUB_REF_NAME": "v1", "GITHUB_REPOSITORY": "a/b"},
			want: Meta{System: GitHub, ServerURL: "https://github.com", Repository: "a/b", RemoteURL: "https://github.com/a/b.git"},
		},
		{
			name: "GitLab push",
			env: map[string]string{"GITLAB_CI": "true", "CI_COMMIT_SHA": sha1, "CI_COMMIT_BEFORE_SHA": sha2,
				"CI_PROJECT_PATH": "group/sub/dags", "CI_PROJECT_URL": "https://gitlab.example.com/group/sub/dags",
				"CI_SERVER_URL": "https://gitlab.example.com", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main",
				"CI_COMMIT_AUTHOR": "Ada Lovelace <ada@example.com>", "GITLAB_USER_LOGIN": "ada"},
			want: Meta{System: GitLab, CommitSHA: sha1, BeforeSHA: sha2, Branch: "main", ServerURL: "https://gitlab.example.com",
				Repository: "group/sub/dags", RemoteURL: "https://gitlab.example.com/group/sub/dags.git", AuthorName: "Ada Lovelace", AuthorUsername: "ada"},
			commit: "https://gitlab.example.com/group/sub/dags/-/commit/" + sha1, author: "https://gitlab.example.com/ada",
		},
		{
			name: "GitLab merge request, new branch (zero before SHA), credentials in a URL are refused",
			env: map[string]string{"GITLAB_CI": "true", "CI_COMMIT_SHA": sha1, "CI_COMMIT_BEFORE_SHA": strings.Repeat("0", 40),
				"CI_PROJECT_PATH": "g/p", "CI_PROJECT_URL": "https://gitlab-ci-token:glcbt-secret@gitlab.com/g/p", "CI_SERVER_URL": "https://gitlab.com",
				"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feat", "CI_COMMIT_REF_NAME": "feat", "CI_COMMIT_AUTHOR": "bob"},
			want: Meta{System: GitLab, CommitSHA: sha1, Branch: "feat", ServerURL: "https://gitlab.com", Repository: "g/p",
				RemoteURL: "https://gitlab.com/g/p.git", AuthorName: "bob"},
			commit: "https://gitlab.com/g/p/-/commit/" + sha1,
		},
		{name: "neither", env: map[string]string{}, want: Meta{System: Local}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := FromEnv(tt.env)
			if got != tt.want {
				t.Fatalf("FromEnv =\n%+v\nwant\n%+v", got, tt.want)
			}
			if got.CommitURL() != tt.commit || got.AuthorURL() != tt.author {
				t.Errorf("CommitURL %q AuthorURL %q", got.CommitURL(), got.AuthorURL())
			}
		})
	}
}

func TestCleanRemoteDropsCredentials(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://gitlab-ci-token:glcbt-64_secret@gitlab.com/g/p.git": "https://gitlab.com/g/p.git",
		"https://x-access-token:ghs_secret@github.com/a/b":           "https://github.com/a/b",
		"https://github.com/a/b.git?token=secret#frag":               "https://github.com/a/b.git",
		"git@github.com:a/b.git":                                     "git@github.com:a/b.git",
		"ssh://git:pw@host/a.git":                                    "ssh://git@host/a.git",
		"file:///tmp/repo":                                           "",
		"/local/path":                                                "",
		"":                                                           "",
	} {
		if got := CleanRemote(in); got != want {
			t.Errorf("CleanRemote(%q) = %q, want %q", in, got, want)
		}
	}
}

// repo is a scratch git repository.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.email", "t@example.com")
	r.git("config", "user.name", "Tess Ter")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (path → content, "" deletes) and commits them.
func (r *repo) commit(files map[string]string) string {
	r.t.Helper()
	for p, c := range files {
		full := filepath.Join(r.dir, filepath.FromSlash(p))
		if c == "" {
			_ = os.Remove(full)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "change", "--allow-empty")
	return r.git("rev-parse", "HEAD")
}

var project = map[string]string{
	"Dockerfile": "FROM astrocrpublic.azurecr.io/runtime:3.0-1\n", "requirements.txt": "pandas\n",
	"dags/etl.py": "dag\n", "include/sql/q.sql": "select 1\n", "README.md": "hi\n",
}

func TestChangedOutsideDagsListsWhatTheBaseImageLacks(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	base := r.commit(project)
	g := Git{}
	ctx := context.Background()

	r.commit(map[string]string{"dags/etl.py": "dag v2\n", "dags/new dag ü.py": "x\n", "README.md": "docs\n", ".github/workflows/ci.yml": "on: push\n"})
	ch, err := g.ChangedOutsideDags(ctx, r.dir, Compare{ImageCommit: base})
	if err != nil || ch.ImageBuildRequired() || ch.Base != base || ch.BaseIs != "image commit" {
		t.Fatalf("DAG and docs changes only: %+v %v", ch, err)
	}
	r.commit(map[string]string{"requirements.txt": "pandas\napache-airflow-providers-snowflake\n", "plugins/p.py": "x\n", "include/sql/q.sql": ""})
	ch, err = g.ChangedOutsideDags(ctx, r.dir, Compare{ImageCommit: base})
	if want := []string{"include/sql/q.sql", "plugins/p.py", "requirements.txt"}; err != nil || !slices.Equal(ch.Paths, want) || !ch.ImageBuildRequired() {
		t.Fatalf("Paths = %q (%v), want %q", ch.Paths, err, want)
	}
}

func TestChangedOutsideDagsOnlyLooksInsideTheProjectDirectory(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	files := map[string]string{"other/app.go": "package x\n"}
	for p, c := range project {
		files["airflow/"+p] = c
	}
	base := r.commit(files)
	r.commit(map[string]string{"other/app.go": "package y\n", "airflow/dags/etl.py": "v2\n", "airflow/packages.txt": "git\n"})
	ch, err := Git{}.ChangedOutsideDags(context.Background(), filepath.Join(r.dir, "airflow"), Compare{ImageCommit: base})
	if err != nil || !slices.Equal(ch.Paths, []string{"packages.txt"}) {
		t.Fatalf("Paths = %q, %v", ch.Paths, err)
	}
}

func TestChangedOutsideDagsFallsBackToTheMergeBase(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.commit(project)
	r.git("checkout", "-q", "-b", "feature")
	r.commit(map[string]string{"dags/etl.py": "v2\n"})
	r.git("checkout", "-q", "main")
	r.commit(map[string]string{"requirements.txt": "changed on main\n"}) // not the branch's change
	r.git("checkout", "-q", "feature")
	ch, err := Git{}.ChangedOutsideDags(context.Background(), r.dir, Compare{MergeBaseWith: "main"})
	if err != nil || ch.BaseIs != "merge base" || ch.ImageBuildRequired() {
		t.Fatalf("%+v %v", ch, err)
	}
	if _, err := (Git{}).ChangedOutsideDags(context.Background(), r.dir, Compare{}); err == nil {
		t.Fatal("nothing to compare with, and no error")
	}
	if _, err := (Git{}).ChangedOutsideDags(context.Background(), r.dir, Compare{MergeBaseWith: "--output=/tmp/x"}); err == nil {
		t.Fatal("an option as a ref was accepted")
	}
}

func TestChangedOutsideDagsSaysSoWhenAShallowCloneLacksTheImageCommit(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	base := r.commit(project)
	r.commit(map[string]string{"dags/etl.py": "v2\n"})
	r.commit(map[string]string{"dags/etl.py": "v3\n"})
	shallow := filepath.Join(t.TempDir(), "clone")
	r.git("clone", "-q", "--depth", "1", "file://"+r.dir, shallow)
	_, err := Git{}.ChangedOutsideDags(context.Background(), shallow, Compare{ImageCommit: base})
	var cm *ErrCommitMissing
	if !errors.As(err, &cm) || !cm.Shallow || !strings.Contains(err.Error(), "fetch-depth: 0") {
		t.Fatalf("err = %v", err)
	}
	// Not shallow, but the commit is unknown.
	_, err = Git{}.ChangedOutsideDags(context.Background(), r.dir, Compare{ImageCommit: sha2})
	if !errors.As(err, &cm) || cm.Shallow {
		t.Fatalf("unknown commit: %v", err)
	}
	if _, err := (Git{}).ChangedOutsideDags(context.Background(), r.dir, Compare{ImageCommit: "HEAD~1"}); err == nil {
		t.Fatal("a revision expression was taken as the image commit")
	}
}

func TestFromGitReadsTheCheckoutWithoutCredentials(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	head := r.commit(project)
	r.git("remote", "add", "origin", "https://gitlab-ci-token:glcbt-secret@gitlab.com/g/p.git")
	m, err := Git{}.FromGit(context.Background(), r.dir)
	if err != nil || m.CommitSHA != head || m.Branch != "main" || m.AuthorName != "Tess Ter" || m.RemoteURL != "https://gitlab.com/g/p.git" {
		t.Fatalf("FromGit = %+v, %v", m, err)
	}
	env := FromEnv(map[string]string{"GITLAB_CI": "true", "CI_COMMIT_SHA": sha1}).Merge(m)
	if env.CommitSHA != sha1 || env.Branch != "main" {
		t.Errorf("Merge: %+v", env)
	}
	if _, err := (Git{}).FromGit(context.Background(), t.TempDir()); !errors.Is(err, ErrNoGit) {
		t.Errorf("outside a checkout: %v", err)
	}
}

func TestGitCommandsEndAtTheirTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	slow := filepath.Join(dir, "git")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := Git{Binary: slow, Timeout: 100 * time.Millisecond}.FromGit(context.Background(), dir)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("the timeout did not stop git")
	}
}
