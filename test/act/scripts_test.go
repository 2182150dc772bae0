package act

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is the directory holding go.mod above the test's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// needShell skips unless bash and curl exist (the scripts' own needs on a runner).
func needShell(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the script tests run on Linux and macOS")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	return bash
}

type scriptResult struct {
	stdout, stderr string
	code           int
}

func (r scriptResult) String() string { return "stdout:\n" + r.stdout + "\nstderr:\n" + r.stderr }

// runScript runs a script of scripts/action with bash in dir and only the
// given environment (plus PATH and HOME unless given).
func runScript(t *testing.T, bash, script, dir string, env map[string]string) scriptResult {
	t.Helper()
	environ := []string{"HOME=" + dir}
	if _, ok := env["PATH"]; !ok {
		environ = append(environ, "PATH="+os.Getenv("PATH"))
	}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	return runBash(t, bash, []string{filepath.Join(repoRoot(t), "scripts", "action", script)}, dir, environ)
}

// runBash runs bash with args in dir with exactly the environment environ.
func runBash(t *testing.T, bash string, args []string, dir string, environ []string) scriptResult {
	t.Helper()
	cmd := exec.Command(bash, args...)
	cmd.Dir = dir
	cmd.Env = environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := scriptResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return res
}

// fakeBinary is a stand-in astro-ci: a shell script that says what it got.
const fakeBinary = "#!/bin/sh\necho \"fake astro-ci $*\"\n"

func TestInstallScriptRelease(t *testing.T) {
	bash := needShell(t)
	t.Parallel()
	archive, err := releaseArchive([]byte(fakeBinary))
	if err != nil {
		t.Fatal(err)
	}
	const archiveName = "astro-ci_9.9.9_linux_amd64.tar.gz"

	// installEnv is a runner's environment for install.sh (runnerEnv) with
	// the release server at base.
	installEnv := func(t *testing.T, base string, extra map[string]string) (map[string]string, string) {
		env := map[string]string{"ASTRO_CI_RELEASE_BASE_URL": base}
		for k, v := range extra {
			env[k] = v
		}
		return runnerEnv(t, env)
	}
	cached := func(env map[string]string) string {
		return filepath.Join(env["RUNNER_TOOL_CACHE"], "astro-ci", "9.9.9", "linux_amd64", "astro-ci")
	}

	for _, tc := range []struct{ name, ref, path, version string }{
		{name: "tag ref", ref: "v9.9.9"},
		{name: "tag from the runner's action path", path: "/home/runner/work/_actions/astro-ci/astro-ci/v9.9.9"},
		{name: "version input over a branch ref", ref: "main", version: "9.9.9"},
	} {
		t.Run("downloads, verifies and caches: "+tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newReleaseServer(t, release("v9.9.9", "linux_amd64", archive, nil))
			env, dir := installEnv(t, srv.URL, map[string]string{"ASTROCI_ACTION_REF": tc.ref, "ASTROCI_ACTION_PATH": tc.path, "ASTROCI_VERSION": tc.version})
			res := runScript(t, bash, "install.sh", dir, env)
			if res.code != 0 {
				t.Fatalf("exit %d\n%s", res.code, res)
			}
			want := cached(env)
			if got := strings.TrimSpace(res.stdout); got != want {
				t.Errorf("stdout %q, want the cached path %q", got, want)
			}
			if !strings.Contains(res.stderr, "verified sha256 "+sha256Hex(archive)) {
				t.Errorf("no verification line:\n%s", res)
			}
			out, _ := os.ReadFile(env["GITHUB_OUTPUT"])
			if string(out) != "bin="+want+"\n" {
				t.Errorf("GITHUB_OUTPUT %q", out)
			}
			ran, err := exec.Command(want, "version").Output()
			if err != nil || string(ran) != "fake astro-ci version\n" {
				t.Errorf("running the installed binary: %q, %v", ran, err)
			}
			// Again: from the tool cache, no download.
			res = runScript(t, bash, "install.sh", dir, env)
			if res.code != 0 || !strings.Contains(res.stderr, "from the tool cache") {
				t.Fatalf("second run: exit %d\n%s", res.code, res)
			}
			if n := srv.count("v9.9.9/" + archiveName); n != 1 {
				t.Errorf("archive downloaded %d times, want 1", n)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		mutate func(files map[string][]byte)
		base   string
		env    map[string]string
		want   string
	}{
		{
			name:   "tampered archive",
			mutate: func(f map[string][]byte) { f["v9.9.9/"+archiveName] = tampered(f["v9.9.9/"+archiveName]) },
			want:   "checksum mismatch for " + archiveName + ": checksums.txt says sha256 " + sha256Hex(archive),
		},
		{
			name: "no entry in checksums.txt",
			mutate: func(f map[string][]byte) {
				f["v9.9.9/checksums.txt"] = checksums(map[string][]byte{"astro-ci_9.9.9_darwin_arm64.tar.gz": archive})
			},
			want: "checksum: v9.9.9's checksums.txt has no entry for " + archiveName,
		},
		{
			name: "malformed entry in checksums.txt",
			mutate: func(f map[string][]byte) {
				f["v9.9.9/checksums.txt"] = []byte("not-a-sum  " + archiveName + "\n")
			},
			want: "has no single valid SHA-256 for " + archiveName,
		},
		{
			name:   "no checksums.txt",
			mutate: func(f map[string][]byte) { delete(f, "v9.9.9/checksums.txt") },
			want:   "could not download",
		},
		{
			name: "plain http to another host",
			base: "http://releases.example.com",
			want: "ASTRO_CI_RELEASE_BASE_URL must be an https:// URL",
		},
		{
			name: "version input that is not a version",
			env:  map[string]string{"ASTROCI_VERSION": "1.2.3; touch PWNED"},
			want: "version input: not a release version",
		},
	} {
		t.Run("refuses: "+tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newReleaseServer(t, release("v9.9.9", "linux_amd64", archive, tc.mutate))
			base := srv.URL
			if tc.base != "" {
				base = tc.base
			}
			extra := map[string]string{"ASTROCI_ACTION_REF": "v9.9.9"}
			for k, v := range tc.env {
				extra[k] = v
			}
			env, dir := installEnv(t, base, extra)
			res := runScript(t, bash, "install.sh", dir, env)
			if res.code == 0 {
				t.Fatalf("exit 0, want a refusal\n%s", res)
			}
			if !strings.Contains(res.stdout, "::error title=astro-ci install::") || !strings.Contains(res.stdout, tc.want) {
				t.Errorf("want an error annotation with %q\n%s", tc.want, res)
			}
			if _, err := os.Stat(cached(env)); err == nil {
				t.Error("a refused binary is in the tool cache")
			}
			if out, _ := os.ReadFile(env["GITHUB_OUTPUT"]); len(out) != 0 {
				t.Errorf("GITHUB_OUTPUT written: %q", out)
			}
			if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
				t.Error("an input was executed")
			}
		})
	}

	// Hashing as on macOS (shasum) and on Windows without coreutils
	// (certutil, which prints upper-case hex, spaced on older Windows).
	sha256sum, _ := exec.LookPath("sha256sum")
	certutil := "#!/bin/sh\n# certutil -hashfile FILE SHA256, as Windows prints it\necho \"SHA256 hash of $2:\"\n" +
		sha256sum + " \"$2\" | cut -d' ' -f1 | tr a-f A-F | sed 's/../& /g'\necho 'CertUtil: -hashfile command completed successfully.'\n"
	for _, tc := range []struct {
		name, tool, fake string
	}{
		{"shasum", "shasum", ""},
		{"certutil", "", certutil},
	} {
		t.Run("verifies with "+tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.tool != "" {
				if _, err := exec.LookPath(tc.tool); err != nil {
					t.Skip("no " + tc.tool)
				}
			}
			if sha256sum == "" {
				t.Skip("no sha256sum")
			}
			srv := newReleaseServer(t, release("v9.9.9", "linux_amd64", archive, nil))
			env, dir := installEnv(t, srv.URL, map[string]string{"ASTROCI_ACTION_REF": "v9.9.9"})
			env["PATH"] = toolPath(t, append(scriptTools, tc.tool)...)
			if tc.fake != "" {
				if err := os.WriteFile(filepath.Join(env["PATH"], "certutil"), []byte(tc.fake), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			res := runScript(t, bash, "install.sh", dir, env)
			if res.code != 0 || !strings.Contains(res.stderr, "verified sha256 "+sha256Hex(archive)) {
				t.Fatalf("exit %d\n%s", res.code, res)
			}
			// And the mismatch is still caught.
			env2, dir2 := installEnv(t, newReleaseServer(t, release("v9.9.9", "linux_amd64", archive, func(f map[string][]byte) {
				f["v9.9.9/"+archiveName] = tampered(f["v9.9.9/"+archiveName])
			})).URL, map[string]string{"ASTROCI_ACTION_REF": "v9.9.9", "PATH": env["PATH"]})
			if res := runScript(t, bash, "install.sh", dir2, env2); res.code == 0 || !strings.Contains(res.stdout, "checksum mismatch") {
				t.Fatalf("tampered: exit %d\n%s", res.code, res)
			}
		})
	}

	t.Run("refuses without any SHA-256 tool", func(t *testing.T) {
		t.Parallel()
		env, dir := installEnv(t, "http://127.0.0.1:9", map[string]string{"ASTROCI_ACTION_REF": "v9.9.9", "PATH": toolPath(t, scriptTools...)})
		res := runScript(t, bash, "install.sh", dir, env)
		if res.code == 0 || !strings.Contains(res.stdout, "no sha256sum, shasum or certutil") {
			t.Fatalf("exit %d\n%s", res.code, res)
		}
	})

	t.Run("source build without Go says what to do", func(t *testing.T) {
		t.Parallel()
		env, dir := installEnv(t, "", map[string]string{"ASTROCI_ACTION_REF": "main", "ASTROCI_ACTION_PATH": repoRoot(t), "PATH": toolPath(t, scriptTools...)})
		res := runScript(t, bash, "install.sh", dir, env)
		if res.code == 0 || !strings.Contains(res.stdout, "add actions/setup-go before this step") || !strings.Contains(res.stdout, "pin a release") {
			t.Fatalf("exit %d, want the no-Go advice\n%s", res.code, res)
		}
	})
}

// scriptTools are what install.sh needs besides a hashing tool and Go.
var scriptTools = []string{"bash", "uname", "mktemp", "rm", "awk", "sort", "tr", "cp", "mv", "chmod", "mkdir", "cat", "sed", "cut", "curl", "tar", "gzip", "tail"}

// toolPath is a directory for PATH holding only the named tools (those that exist).
func toolPath(t *testing.T, tools ...string) string {
	t.Helper()
	bin := t.TempDir()
	seen := map[string]bool{}
	for _, tool := range tools {
		if tool == "" || seen[tool] {
			continue
		}
		seen[tool] = true
		p, err := exec.LookPath(tool)
		if err != nil {
			continue
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func TestRunScript(t *testing.T) {
	bash := needShell(t)
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "astro-ci")
	// spy prints its argv, the variables astro-ci would read, and the
	// names of the variables that should not reach it.
	spy := `#!/bin/sh
printf 'argv=%s\n' "$*"
for v in ASTRO_API_TOKEN ASTRO_CI_GITHUB_TOKEN ASTRO_CI_GRACE ASTRO_CI_STRATEGY ASTRO_CI_TARGETS; do
	eval "printf '%s=[%s]\n' $v \"\${$v:-}\""
done
env | grep -E '^(INPUT_|ASTROCI_|ASTRO_CI_RELEASE_)' | cut -d= -f1 | sort
`
	if err := os.WriteFile(bin, []byte(spy), 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("maps inputs to ASTRO_CI_ variables, empty ones leave the caller's env", func(t *testing.T) {
		t.Parallel()
		res := runScript(t, bash, "run.sh", dir, map[string]string{
			"ASTROCI_BIN": bin, "ASTROCI_ACTION_PATH": "/x",
			"INPUT_COMMAND":         "token   rotate",
			"INPUT_TARGETS":         "github://acme/a/secrets/ASTRO_API_TOKEN\ngithub://acme/b/secrets/ASTRO_API_TOKEN",
			"INPUT_GRACE":           "2d",
			"INPUT_STRATEGY":        "",
			"ASTRO_CI_STRATEGY":     "rotate",
			"INPUT_ASTRO_API_TOKEN": "input-token",
			"INPUT_GITHUB_TOKEN":    "",
			"ASTRO_CI_GITHUB_TOKEN": "env-token",
			// the install step's, not astro-ci's
			"ASTRO_CI_RELEASE_BASE_URL": "https://mirror.example.com", "ASTRO_CI_RELEASE_REPOSITORY": "acme/astro-ci",
		})
		if res.code != 0 {
			t.Fatalf("exit %d\n%s", res.code, res)
		}
		want := strings.Join([]string{
			"argv=token rotate",
			"ASTRO_API_TOKEN=[input-token]",
			"ASTRO_CI_GITHUB_TOKEN=[env-token]",
			"ASTRO_CI_GRACE=[2d]",
			"ASTRO_CI_STRATEGY=[rotate]",
			"ASTRO_CI_TARGETS=[github://acme/a/secrets/ASTRO_API_TOKEN",
			"github://acme/b/secrets/ASTRO_API_TOKEN]",
		}, "\n") + "\n" // and no INPUT_* or ASTROCI_* variable
		if res.stdout != want {
			t.Errorf("got\n%s\nwant\n%s", res.stdout, want)
		}
	})

	for _, command := range []string{"", "target put", "token rotate; touch PWNED", "$(touch PWNED)", "`touch PWNED`", "token rotate --target x", "tokens list", "-h"} {
		t.Run("refuses command "+command, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			res := runScript(t, bash, "run.sh", work, map[string]string{"ASTROCI_BIN": bin, "INPUT_COMMAND": command})
			if res.code != 2 || !strings.Contains(res.stdout, "::error title=astro-ci::command input: not one of") {
				t.Errorf("exit %d, want 2 and the allow-list error\n%s", res.code, res)
			}
			if strings.Contains(res.stdout, "argv=") {
				t.Error("the binary ran")
			}
			if _, err := os.Stat(filepath.Join(work, "PWNED")); err == nil {
				t.Error("the input was executed")
			}
		})
	}
}

// releaseSHA is the made-up commit the stand-in release binaries say they
// were built from.
const releaseSHA = "c0ffee0123456789abcdef0123456789abcdef01"

// fakeRelease is a stand-in astro-ci that says it is v9.9.9 built from
// commit (as `astro-ci version --format json` does).
func fakeRelease(commit string) []byte {
	return []byte("#!/bin/sh\nif [ \"$*\" = 'version --format json' ]; then\n  echo '{\"version\":\"v9.9.9\",\"commit\":\"" + commit + "\",\"go\":\"go1\"}'\n  exit 0\nfi\necho \"fake astro-ci $*\"\n")
}

// actionFiles is the action's files as a checkout of a commit holds them:
// enough source for install.sh to consider a build, and .release-version
// when release is not empty.
func actionFiles(t *testing.T, release string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cmd", "astro-ci"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"go.mod": "module github.com/astro-ci/astro-ci\n"}
	if release != "" {
		files[".release-version"] = release
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runnerEnv is a Linux X64 runner's environment for install.sh, with its own
// temp, tool cache and file-command files.
func runnerEnv(t *testing.T, extra map[string]string) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
		"RUNNER_TEMP": filepath.Join(dir, "temp"), "RUNNER_TOOL_CACHE": filepath.Join(dir, "toolcache"),
		"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_PATH": filepath.Join(dir, "path"),
	}
	for _, d := range []string{env["RUNNER_TEMP"], env["RUNNER_TOOL_CACHE"]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range extra {
		env[k] = v
	}
	return env, dir
}

// noGoPath is a PATH with what install.sh uses, but neither Go nor gh.
func noGoPath(t *testing.T, more ...string) string {
	return toolPath(t, append(append(scriptTools, "sha256sum", "grep", "head"), more...)...)
}

// A release commit (its .release-version) downloads its release however it
// is pinned; pinned by SHA, only when the release was built from that commit.
func TestInstallScriptReleaseCommit(t *testing.T) {
	bash := needShell(t)
	t.Parallel()
	archive, err := releaseArchive(fakeRelease(releaseSHA))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ref, release string
		want               []string
	}{
		{"pinned by the release commit's SHA", releaseSHA, "v9.9.9", []string{
			"this action is the release commit of astro-ci v9.9.9 (its .release-version): downloading that release",
			"verified sha256 " + sha256Hex(archive),
			"astro-ci v9.9.9 was built from commit " + releaseSHA + ", the commit this action is pinned to"}},
		{"pinned by the moving major tag", "v9", "v9.9.9", []string{"this action is the release commit of astro-ci v9.9.9", "verified sha256"}},
		{"pinned by the release tag", "v9.9.9", "v9.9.9\n", []string{"this action is the release commit of astro-ci v9.9.9", "verified sha256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newReleaseServer(t, release("v9.9.9", "linux_amd64", archive, nil))
			env, dir := runnerEnv(t, map[string]string{"ASTROCI_ACTION_PATH": actionFiles(t, tc.release), "ASTROCI_ACTION_REF": tc.ref,
				"ASTRO_CI_RELEASE_BASE_URL": srv.URL, "PATH": noGoPath(t)})
			res := runScript(t, bash, "install.sh", dir, env)
			if res.code != 0 {
				t.Fatalf("exit %d (no Go on PATH: it must not build)\n%s", res.code, res)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("log lacks %q\n%s", w, res)
				}
			}
			if strings.Contains(res.stderr, "building astro-ci from source") {
				t.Errorf("built from source:\n%s", res)
			}
			bin := strings.TrimSpace(res.stdout)
			if out, err := exec.Command(bin, "version").Output(); err != nil || string(out) != "fake astro-ci version\n" {
				t.Errorf("%s: %q %v", bin, out, err)
			}
			// Again, from the tool cache, still checked against the commit.
			res = runScript(t, bash, "install.sh", dir, env)
			if res.code != 0 || !strings.Contains(res.stderr, "from the tool cache") || srv.count("v9.9.9/astro-ci_9.9.9_linux_amd64.tar.gz") != 1 {
				t.Errorf("second run: exit %d, %d downloads\n%s", res.code, srv.count("v9.9.9/astro-ci_9.9.9_linux_amd64.tar.gz"), res)
			}
		})
	}

	t.Run("another commit carrying .release-version is built from source", func(t *testing.T) {
		t.Parallel()
		srv := newReleaseServer(t, release("v9.9.9", "linux_amd64", archive, nil))
		other := strings.Repeat("ab", 20)
		env, dir := runnerEnv(t, map[string]string{"ASTROCI_ACTION_PATH": actionFiles(t, "v9.9.9"), "ASTROCI_ACTION_REF": other,
			"ASTRO_CI_RELEASE_BASE_URL": srv.URL, "PATH": noGoPath(t)})
		res := runScript(t, bash, "install.sh", dir, env)
		want := "commit " + other + " carries .release-version v9.9.9, but astro-ci v9.9.9 was built from commit " + releaseSHA + ": this is not the release commit, so astro-ci is built from source"
		if res.code == 0 || !strings.Contains(res.stderr, want) || !strings.Contains(res.stdout, "there is no Go on this runner") {
			t.Fatalf("exit %d, want %q and the no-Go error\n%s", res.code, want, res)
		}
		if out, _ := os.ReadFile(env["GITHUB_OUTPUT"]); len(out) != 0 {
			t.Errorf("GITHUB_OUTPUT written: %q", out)
		}
	})

	t.Run("a commit without .release-version says it builds from source", func(t *testing.T) {
		t.Parallel()
		env, dir := runnerEnv(t, map[string]string{"ASTROCI_ACTION_PATH": actionFiles(t, ""), "ASTROCI_ACTION_REF": releaseSHA, "PATH": noGoPath(t)})
		res := runScript(t, bash, "install.sh", dir, env)
		if res.code == 0 || !strings.Contains(res.stderr, "the action ref "+releaseSHA+" is not a release commit (no .release-version): astro-ci is built from source") {
			t.Fatalf("exit %d\n%s", res.code, res)
		}
	})

	t.Run("a .release-version that is not a version is refused", func(t *testing.T) {
		t.Parallel()
		env, dir := runnerEnv(t, map[string]string{"ASTROCI_ACTION_PATH": actionFiles(t, "v9.9.9; touch PWNED"), "ASTROCI_ACTION_REF": releaseSHA, "PATH": noGoPath(t)})
		res := runScript(t, bash, "install.sh", dir, env)
		if res.code == 0 || !strings.Contains(res.stdout, ".release-version of the action does not hold a release version") {
			t.Fatalf("exit %d\n%s", res.code, res)
		}
	})
}

// Build provenance: gh attestation verify when it can run, a clear account
// when it cannot, a refusal when it says no.
func TestInstallScriptProvenance(t *testing.T) {
	bash := needShell(t)
	t.Parallel()
	archive, err := releaseArchive(fakeRelease(releaseSHA))
	if err != nil {
		t.Fatal(err)
	}
	const archiveName = "astro-ci_9.9.9_linux_amd64.tar.gz"
	// gh stands in for the GitHub CLI: it records its arguments and says yes
	// or no.
	gh := func(t *testing.T, path string, ok bool) string {
		log := filepath.Join(t.TempDir(), "gh.log")
		code := "0"
		if !ok {
			code = "1"
		}
		script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + log + "'\necho 'gh: verifying'\nexit " + code + "\n"
		if err := os.WriteFile(filepath.Join(path, "gh"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return log
	}
	for _, tc := range []struct {
		name       string
		gh         string // "", "yes", "no"
		env        map[string]string
		ok         bool
		want       string
		wantGHArgs bool
	}{
		{name: "verified by gh", gh: "yes", env: map[string]string{"GH_TOKEN": "ghs_x"}, ok: true, wantGHArgs: true,
			want: "provenance: verified: " + archiveName + " was built by astro-ci/astro-ci's release workflow"},
		{name: "refused when gh finds no valid attestation", gh: "no", env: map[string]string{"GH_TOKEN": "ghs_x"}, wantGHArgs: true,
			want: "provenance: gh attestation verify found no valid attestation that astro-ci/astro-ci's release workflow built " + archiveName + "; refusing to run it"},
		{name: "without gh: said, not refused", ok: true,
			want: "provenance: NOT verified: the GitHub CLI (gh) is not installed. Verified: " + archiveName + " matches the SHA-256 in the release's checksums.txt"},
		{name: "without a token for gh: said", gh: "yes", ok: true, want: "provenance: NOT verified: gh has no token (GH_TOKEN)"},
		{name: "on GHES: said", gh: "yes", env: map[string]string{"GH_TOKEN": "ghs_x", "GITHUB_SERVER_URL": "https://ghe.example.com"}, ok: true,
			want: "provenance: NOT verified: this runner's GitHub is https://ghe.example.com, and astro-ci's attestations are on github.com"},
		{name: "require without gh: refused", env: map[string]string{"ASTROCI_PROVENANCE": "require"},
			want: "provenance: cannot verify the build provenance of " + archiveName + ": the GitHub CLI (gh) is not installed; refusing it (provenance: require)"},
		{name: "skip: not checked", gh: "no", env: map[string]string{"GH_TOKEN": "ghs_x", "ASTROCI_PROVENANCE": "skip"}, ok: true,
			want: "provenance: not checked (provenance: skip)"},
		{name: "a bad provenance input", env: map[string]string{"ASTROCI_PROVENANCE": "maybe"}, want: "provenance input: auto, require or skip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newReleaseServer(t, release("v9.9.9", "linux_amd64", archive, nil))
			path := noGoPath(t)
			log := ""
			if tc.gh != "" {
				log = gh(t, path, tc.gh == "yes")
			}
			extra := map[string]string{"ASTROCI_ACTION_REF": "v9.9.9", "ASTRO_CI_RELEASE_BASE_URL": srv.URL, "PATH": path}
			for k, v := range tc.env {
				extra[k] = v
			}
			env, dir := runnerEnv(t, extra)
			res := runScript(t, bash, "install.sh", dir, env)
			if (res.code == 0) != tc.ok {
				t.Fatalf("exit %d, want success %v\n%s", res.code, tc.ok, res)
			}
			if !strings.Contains(res.stdout+res.stderr, tc.want) {
				t.Errorf("want %q\n%s", tc.want, res)
			}
			cached := filepath.Join(env["RUNNER_TOOL_CACHE"], "astro-ci", "9.9.9", "linux_amd64", "astro-ci")
			if _, err := os.Stat(cached); (err == nil) != tc.ok {
				t.Errorf("cached binary present: %v, want %v", err == nil, tc.ok)
			}
			if tc.wantGHArgs {
				b, err := os.ReadFile(log)
				args := strings.Fields(string(b))
				want := []string{"attestation", "verify", "", "--repo", "astro-ci/astro-ci", "--signer-workflow", "astro-ci/astro-ci/.github/workflows/release.yml"}
				if err != nil || len(args) != len(want) || !strings.HasSuffix(args[2], "/"+archiveName) {
					t.Fatalf("gh got %q, %v", args, err)
				}
				for i, w := range want {
					if w != "" && args[i] != w {
						t.Errorf("gh argument %d: %q, want %q", i, args[i], w)
					}
				}
			}
		})
	}
}

// command: install puts the binary's directory on GITHUB_PATH and tells the
// run step to skip.
func TestInstallScriptInstallCommand(t *testing.T) {
	bash := needShell(t)
	t.Parallel()
	archive, err := releaseArchive(fakeRelease(releaseSHA))
	if err != nil {
		t.Fatal(err)
	}
	srv := newReleaseServer(t, release("v9.9.9", "linux_amd64", archive, nil))
	for _, command := range []string{"install", "  install\n", "version"} {
		env, dir := runnerEnv(t, map[string]string{"ASTROCI_ACTION_REF": "v9.9.9", "ASTRO_CI_RELEASE_BASE_URL": srv.URL, "ASTROCI_COMMAND": command, "PATH": noGoPath(t)})
		res := runScript(t, bash, "install.sh", dir, env)
		if res.code != 0 {
			t.Fatalf("%q: exit %d\n%s", command, res.code, res)
		}
		bin := strings.TrimSpace(res.stdout)
		out, _ := os.ReadFile(env["GITHUB_OUTPUT"])
		path, _ := os.ReadFile(env["GITHUB_PATH"])
		if strings.TrimSpace(command) == "install" {
			if string(out) != "bin="+bin+"\nrun=false\n" || string(path) != filepath.Dir(bin)+"\n" || !strings.Contains(res.stderr, "astro-ci is on PATH for the next steps") {
				t.Errorf("%q: GITHUB_OUTPUT %q, GITHUB_PATH %q\n%s", command, out, path, res)
			}
		} else if string(out) != "bin="+bin+"\n" || len(path) != 0 {
			t.Errorf("%q: GITHUB_OUTPUT %q, GITHUB_PATH %q", command, out, path)
		}
	}
}

// args: one argv word per line, never a shell; a flag with an input of its
// own is refused.
func TestRunScriptArgs(t *testing.T) {
	bash := needShell(t)
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "astro-ci")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, command, args string
		code                int
		want                string
	}{
		{"each line one word", "token create", "--token-role\nWORKSPACE_OPERATOR\n--description=a b  c\n\n--all\r\n", 0,
			"[token]\n[create]\n[--token-role]\n[WORKSPACE_OPERATOR]\n[--description=a b  c]\n[--all]\n"},
		{"shell syntax stays text", "token list", "--name=$(touch PWNED)\n`touch PWNED`; touch PWNED\n'quoted'", 0,
			"[token]\n[list]\n[--name=$(touch PWNED)]\n[`touch PWNED`; touch PWNED]\n['quoted']\n"},
		{"no args", "version", "", 0, "[version]\n"},
		{"a flag with its own input", "token rotate", "--expiry-days\n30\n--grace=1h", 2, "args line 3: --grace has an input of its own: use the grace input instead"},
		{"a flag with its own input, single dash", "token rotate", "-target\nASTRO_API_TOKEN", 2, "args line 1: --target has an input of its own: use the targets input instead"},
		{"format", "token list", "--format\njson", 2, "use the format input instead"},
		{"install runs nothing", "install", "--all", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			res := runScript(t, bash, "run.sh", work, map[string]string{"ASTROCI_BIN": bin, "INPUT_COMMAND": tc.command, "INPUT_ARGS": tc.args})
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", res.code, tc.code, res)
			}
			if tc.code == 0 && res.stdout != tc.want {
				t.Errorf("argv\n%s\nwant\n%s", res.stdout, tc.want)
			}
			if tc.code != 0 && (!strings.Contains(res.stdout, "::error title=astro-ci::"+tc.want) && !strings.Contains(res.stdout, tc.want)) {
				t.Errorf("want %q\n%s", tc.want, res)
			}
			if tc.code != 0 && strings.Contains(res.stdout, "[") {
				t.Errorf("the binary ran:\n%s", res)
			}
			if _, err := os.Stat(filepath.Join(work, "PWNED")); err == nil {
				t.Error("an argument ran as shell code")
			}
		})
	}
}
