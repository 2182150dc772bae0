package act

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The release mechanics of scripts/release.sh, in temporary repositories:
// the release commit the action's pins resolve to, the tag check of the
// release workflow, the moving major tag and the GitLab catalog sync.

// gitIn runs git in dir with a clean configuration and returns its output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=astro-ci test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// releaseRepo is a clone of what release.sh needs of this repository — the
// script, gitlab/ and a CHANGELOG with the given sections — committed on
// main, with a bare origin.
func releaseRepo(t *testing.T, changelog string) (repo, origin string) {
	t.Helper()
	root := repoRoot(t)
	repo, origin = t.TempDir(), t.TempDir()
	gitIn(t, origin, "init", "-q", "--bare")
	if err := os.CopyFS(filepath.Join(repo, "gitlab"), os.DirFS(filepath.Join(root, "gitlab"))); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "scripts", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"scripts/release.sh": script, "CHANGELOG.md": []byte("# Changelog\n\n## [Unreleased]\n\n" + changelog)} {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	gitIn(t, repo, "init", "-q")
	gitIn(t, repo, "remote", "add", "origin", origin)
	gitIn(t, repo, "add", "-A")
	gitIn(t, repo, "commit", "-q", "-m", "main")
	gitIn(t, repo, "push", "-q", "origin", "main")
	return repo, origin
}

// releaseScript runs scripts/release.sh of repo.
func releaseScript(t *testing.T, repo string, env map[string]string, args ...string) scriptResult {
	t.Helper()
	environ := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=maintainer", "GIT_AUTHOR_EMAIL=m@example.com", "GIT_COMMITTER_NAME=maintainer", "GIT_COMMITTER_EMAIL=m@example.com")
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	return runBash(t, needShell(t), append([]string{filepath.Join(repo, "scripts", "release.sh")}, args...), repo, environ)
}

const section123 = "## [1.2.3] - 2026-12-01\n\n### Added\n\n- things\n"

func TestReleaseScriptCommitAndCheck(t *testing.T) {
	needShell(t)
	t.Parallel()

	t.Run("refuses without a CHANGELOG section", func(t *testing.T) {
		t.Parallel()
		repo, _ := releaseRepo(t, "")
		if res := releaseScript(t, repo, nil, "commit", "1.2.3"); res.code == 0 || !strings.Contains(res.stderr, `CHANGELOG.md has no section "## [1.2.3]"`) {
			t.Fatalf("exit %d\n%s", res.code, res)
		}
	})

	t.Run("refuses a version that is not one", func(t *testing.T) {
		t.Parallel()
		repo, _ := releaseRepo(t, section123)
		if res := releaseScript(t, repo, nil, "commit", "1.2"); res.code == 0 || !strings.Contains(res.stderr, `"1.2" is not a version`) {
			t.Fatalf("exit %d\n%s", res.code, res)
		}
	})

	t.Run("makes the release commit beside main, and the check accepts only it", func(t *testing.T) {
		t.Parallel()
		repo, _ := releaseRepo(t, section123)
		main := gitIn(t, repo, "rev-parse", "HEAD")
		res := releaseScript(t, repo, nil, "commit", "1.2.3")
		if res.code != 0 || !strings.Contains(res.stderr, "publish it: git push origin refs/tags/v1.2.3") {
			t.Fatalf("exit %d\n%s", res.code, res)
		}
		if got := gitIn(t, repo, "rev-parse", "HEAD"); got != main || gitIn(t, repo, "symbolic-ref", "--short", "HEAD") != "main" {
			t.Errorf("main moved: %s → %s", main, got)
		}
		if parent := gitIn(t, repo, "rev-parse", "v1.2.3^{commit}^"); parent != main {
			t.Errorf("the release commit's parent is %s, want main %s", parent, main)
		}
		if got := gitIn(t, repo, "cat-file", "-t", "v1.2.3"); got != "tag" {
			t.Errorf("v1.2.3 is a %s, want an annotated tag", got)
		}
		if got := gitIn(t, repo, "show", "v1.2.3:.release-version"); got != "v1.2.3" {
			t.Errorf(".release-version %q", got)
		}
		for _, tpl := range []string{"rotate", "check", "preview"} {
			body := gitIn(t, repo, "show", "v1.2.3:gitlab/templates/"+tpl+".yml")
			if !strings.Contains(body, "      default: ghcr.io/astro-ci/astro-ci:v1.2.3\n") || strings.Contains(body, "astro-ci:v1.0.0\n") {
				t.Errorf("%s.yml of the release commit does not default to the v1.2.3 image", tpl)
			}
		}
		if changed := gitIn(t, repo, "diff", "--name-only", main, "v1.2.3"); changed != ".release-version\ngitlab/templates/check.yml\ngitlab/templates/preview.yml\ngitlab/templates/rotate.yml" {
			t.Errorf("the release commit changes %q", changed)
		}
		if _, err := os.Stat(filepath.Join(repo, ".release-version")); err == nil {
			t.Error("main's work tree got .release-version")
		}
		if res := releaseScript(t, repo, nil, "commit", "1.2.3"); res.code == 0 || !strings.Contains(res.stderr, "tag v1.2.3 exists already") {
			t.Errorf("second commit: exit %d\n%s", res.code, res)
		}

		// The release workflow's check, on main and on the tag.
		if res := releaseScript(t, repo, nil, "check", "v1.2.3"); res.code == 0 || !strings.Contains(res.stderr, "v1.2.3 is not a release commit: no .release-version") {
			t.Errorf("check on main: exit %d\n%s", res.code, res)
		}
		gitIn(t, repo, "checkout", "-q", "v1.2.3")
		if res := releaseScript(t, repo, nil, "check", "v1.2.3"); res.code != 0 {
			t.Errorf("check on the release commit: exit %d\n%s", res.code, res)
		}
		for tag, want := range map[string]string{
			"v1.2.4": ".release-version says v1.2.3, the tag is v1.2.4",
			"1.2.3":  "release tags are vX.Y.Z: 1.2.3 should be v1.2.3",
		} {
			if res := releaseScript(t, repo, nil, "check", tag); res.code == 0 || !strings.Contains(res.stderr, want) {
				t.Errorf("check %s: exit %d, want %q\n%s", tag, res.code, want, res)
			}
		}
		// A release commit is not a base for the next release.
		if res := releaseScript(t, repo, nil, "commit", "1.2.4"); res.code == 0 || !strings.Contains(res.stderr, "HEAD already carries .release-version") {
			t.Errorf("commit on a release commit: exit %d\n%s", res.code, res)
		}
	})

	t.Run("refuses a dirty work tree", func(t *testing.T) {
		t.Parallel()
		repo, _ := releaseRepo(t, section123)
		if err := os.WriteFile(filepath.Join(repo, "CHANGELOG.md"), []byte("edited\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if res := releaseScript(t, repo, nil, "commit", "1.2.3"); res.code == 0 || !strings.Contains(res.stderr, "uncommitted changes") {
			t.Fatalf("exit %d\n%s", res.code, res)
		}
	})
}

// The major tag follows the newest final release of its major version.
func TestReleaseScriptMajorTag(t *testing.T) {
	needShell(t)
	t.Parallel()
	repo, origin := releaseRepo(t, "## [1.0.0]\n\n## [1.1.5]\n\n## [1.2.0]\n\n## [1.3.0-rc.1]\n")
	for _, v := range []string{"1.0.0", "1.2.0", "1.1.5", "1.3.0-rc.1"} {
		if res := releaseScript(t, repo, nil, "commit", v); res.code != 0 {
			t.Fatalf("commit %s: exit %d\n%s", v, res.code, res)
		}
		gitIn(t, repo, "push", "-q", "origin", "refs/tags/v"+v)
	}
	v1 := func() string {
		out := gitIn(t, origin, "for-each-ref", "--format=%(*objectname)", "refs/tags/v1")
		return out
	}
	for _, tc := range []struct{ tag, want, log string }{
		{"v1.0.0", "v1.0.0", "v1 -> v1.0.0"}, // only when it is the newest: v1.2.0 exists
		{"v1.2.0", "v1.2.0", "v1 -> v1.2.0"},
		{"v1.1.5", "v1.2.0", "v1.2.0 is newer than v1.1.5: v1 stays"},
		{"v1.3.0-rc.1", "v1.2.0", "v1.3.0-rc.1 is a pre-release: v1 stays"},
	} {
		res := releaseScript(t, repo, nil, "major-tag", tc.tag)
		if res.code != 0 {
			t.Fatalf("major-tag %s: exit %d\n%s", tc.tag, res.code, res)
		}
		if tc.tag == "v1.0.0" {
			if !strings.Contains(res.stderr, "v1.2.0 is newer than v1.0.0") || v1() != "" {
				t.Errorf("major-tag v1.0.0 with v1.2.0 released: v1 = %q\n%s", v1(), res)
			}
			continue
		}
		if !strings.Contains(res.stderr, tc.log) {
			t.Errorf("major-tag %s: want %q\n%s", tc.tag, tc.log, res)
		}
		if got, want := v1(), gitIn(t, repo, "rev-parse", tc.want+"^{commit}"); got != want {
			t.Errorf("after major-tag %s: origin's v1 is %q, want %s (%s)", tc.tag, got, tc.want, want)
		}
	}
}

// The GitLab catalog project gets exactly gitlab/ of the release commit and
// the plain-semver tag.
func TestReleaseScriptGitLabSync(t *testing.T) {
	needShell(t)
	t.Parallel()
	repo, _ := releaseRepo(t, section123+"\n## [1.3.0-rc.1]\n")
	for _, v := range []string{"1.2.3", "1.3.0-rc.1"} {
		if res := releaseScript(t, repo, nil, "commit", v); res.code != 0 {
			t.Fatalf("commit %s: exit %d\n%s", v, res.code, res)
		}
	}
	// The catalog project, with an older state and a stray file.
	catalog, seed := t.TempDir(), t.TempDir()
	gitIn(t, catalog, "init", "-q", "--bare")
	if err := os.WriteFile(filepath.Join(seed, "stray.txt"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, seed, "init", "-q")
	gitIn(t, seed, "add", "-A")
	gitIn(t, seed, "commit", "-q", "-m", "old")
	gitIn(t, seed, "push", "-q", catalog, "main")
	env := map[string]string{"GITLAB_CATALOG_URL": catalog}

	gitIn(t, repo, "checkout", "-q", "v1.3.0-rc.1")
	if res := releaseScript(t, repo, env, "gitlab-sync", "v1.3.0-rc.1"); res.code != 0 || !strings.Contains(res.stderr, "pre-release: the catalog gets final versions only") {
		t.Errorf("pre-release: exit %d\n%s", res.code, res)
	}
	gitIn(t, repo, "checkout", "-q", "v1.2.3")
	res := releaseScript(t, repo, env, "gitlab-sync", "v1.2.3")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res)
	}
	files := gitIn(t, catalog, "ls-tree", "-r", "--name-only", "1.2.3")
	if files != ".gitlab-ci.yml\nREADME.md\ntemplates/check.yml\ntemplates/preview.yml\ntemplates/rotate.yml" {
		t.Errorf("catalog tag 1.2.3 holds:\n%s", files)
	}
	if gitIn(t, catalog, "rev-parse", "main") != gitIn(t, catalog, "rev-parse", "1.2.3^{commit}") {
		t.Error("the catalog's main is not the tagged commit")
	}
	if got := gitIn(t, catalog, "show", "1.2.3:templates/rotate.yml"); !strings.Contains(got, "default: ghcr.io/astro-ci/astro-ci:v1.2.3\n") {
		t.Error("the catalog's rotate.yml does not default to the v1.2.3 image")
	}
	if res := releaseScript(t, repo, env, "gitlab-sync", "v1.2.3"); res.code == 0 || !strings.Contains(res.stderr, "the catalog project has tag 1.2.3 already") {
		t.Errorf("second sync: exit %d\n%s", res.code, res)
	}
	if res := releaseScript(t, repo, map[string]string{"GITLAB_CATALOG_URL": "https://gitlab.example.com/astro-ci/astro-ci.git"}, "gitlab-sync", "v1.2.3"); res.code == 0 || !strings.Contains(res.stderr, "GITLAB_CATALOG_TOKEN is not set") {
		t.Errorf("https without a token: exit %d\n%s", res.code, res)
	}
}
