package act

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/sandbox"
)

// releaseTag is the made-up release the local release server serves.
const releaseTag = "v9.9.9"

// suite is what every act test shares: built once per test binary.
type suite struct {
	root   string // the repository
	actBin string // .cache/bin/act
	dir    string // temporary; removed by TestMain
	src    string // the action's files, as a commit of main holds them
	// releaseSrc is the action's files as the release commit of releaseTag
	// holds them: src plus .release-version (scripts/release-commit.sh).
	releaseSrc string
	astroCI    string // bin/astro-ci, for seeding secrets
	sandbox    string // bin/astro-sandbox
	archive    []byte // releaseArchive of an astro-ci stamped releaseTag, built from releaseSHA
	goEnv      map[string]string
}

var (
	shared     *suite
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil && shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup skips unless ASTRO_CI_RUNNER_TESTS=1 and fails when act is missing.
func setup(t *testing.T) *suite {
	t.Helper()
	if os.Getenv("ASTRO_CI_RUNNER_TESTS") != "1" {
		t.Skip("real-runner test: set ASTRO_CI_RUNNER_TESTS=1 (needs nektos/act: scripts/tools.sh runners)")
	}
	if runtime.GOOS == "windows" {
		t.Fatal("the act tests run on Linux and macOS hosts")
	}
	root := repoRoot(t)
	act := filepath.Join(root, ".cache", "bin", "act")
	if _, err := os.Stat(act); err != nil {
		t.Fatalf("ASTRO_CI_RUNNER_TESTS=1 but nektos/act is not installed at %s: run scripts/tools.sh runners", act)
	}
	for _, tool := range []string{"git", "bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the act tests need %s on PATH", tool)
		}
	}
	sharedOnce.Do(func() { shared, sharedErr = newSuite(root, act) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func newSuite(root, act string) (*suite, error) {
	dir, err := os.MkdirTemp("", "astro-ci-act-")
	if err != nil {
		return nil, err
	}
	s := &suite{root: root, actBin: act, dir: dir, src: filepath.Join(dir, "src"), releaseSrc: filepath.Join(dir, "release-src"), goEnv: map[string]string{}}
	s.astroCI = filepath.Join(dir, "bin", "astro-ci")
	s.sandbox = filepath.Join(dir, "bin", "astro-sandbox")
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		return s, fmt.Errorf("go env: %w", err)
	}
	vals := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		s.goEnv[k] = vals[i]
	}
	// At once: the tools, the binary a release would hold, the source copy.
	release := filepath.Join(dir, "release", "astro-ci")
	builds := [][]string{
		{"build", "-o", filepath.Join(dir, "bin") + string(filepath.Separator), "./cmd/astro-ci", "./cmd/astro-sandbox"},
		{"build", "-trimpath", "-ldflags", "-s -w -X github.com/astro-ci/astro-ci/internal/version.Version=" + releaseTag +
			" -X github.com/astro-ci/astro-ci/internal/version.Commit=" + releaseSHA, "-o", release, "./cmd/astro-ci"},
	}
	errs := make([]error, len(builds)+1)
	var wg sync.WaitGroup
	for i, args := range builds {
		wg.Go(func() {
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	wg.Go(func() { errs[len(builds)] = copySource(root, s.src) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	if err := os.CopyFS(s.releaseSrc, os.DirFS(s.src)); err != nil {
		return s, err
	}
	if err := os.WriteFile(filepath.Join(s.releaseSrc, ".release-version"), []byte(releaseTag+"\n"), 0o644); err != nil {
		return s, err
	}
	bin, err := os.ReadFile(release)
	if err != nil {
		return s, err
	}
	s.archive, err = releaseArchive(bin)
	return s, err
}

// copySource copies the repository as a release or a git archive of it holds
// it: everything but .git, the caches and build output. Files that vanish
// while it walks (other tools' scratch files) are skipped.
func copySource(root, dst string) error {
	skip := map[string]bool{".git": true, ".cache": true, "bin": true, "dist": true, "node_modules": true, ".gitlab-ci-local": true}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		// In a git worktree .git is a file naming the real repository: copied,
		// it would make the test's `git init` and `git commit` act on that
		// repository instead of a scratch one.
		if skip[rel] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if info, err := d.Info(); err == nil {
			mode = info.Mode().Perm()
		}
		return os.WriteFile(filepath.Join(dst, rel), b, mode)
	})
}

// platform is the host's goreleaser os_arch, which act's host runner reports.
func platform() string { return runtime.GOOS + "_" + runtime.GOARCH }

// sandboxProc is one astro-sandbox serving on 127.0.0.1.
type sandboxProc struct {
	env map[string]string
	url string
}

// startSandbox starts astro-sandbox with extra serve flags, if any.
func (s *suite) startSandbox(t *testing.T, extra ...string) *sandboxProc {
	t.Helper()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "sandbox.env")
	ctx, cancel := context.WithCancel(context.Background())
	// The fake's clock has one-second steps and astro-ci polls every 10s
	// while waiting: a negative delay makes new Deployments HEALTHY at once.
	cmd := exec.CommandContext(ctx, s.sandbox, append([]string{"serve", "-addr", "127.0.0.1:0", "-env-file", envFile, "-deployment-ready-after", "-1s"}, extra...)...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(envFile)
		if err == nil && len(b) > 0 {
			env := map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				if k, v, ok := strings.Cut(sc.Text(), "="); ok {
					env[k] = v
				}
			}
			return &sandboxProc{env: env, url: env["ASTRO_SANDBOX_URL"]}
		}
		if time.Now().After(deadline) {
			t.Fatalf("astro-sandbox did not write %s: %s", envFile, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *sandboxProc) state(t *testing.T) sandbox.State {
	t.Helper()
	resp, err := http.Get(p.url + "/_sandbox/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st sandbox.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (p *sandboxProc) secret(t *testing.T, scope, name string) (sandbox.SecretState, bool) {
	t.Helper()
	for _, s := range p.state(t).GitHubSecrets {
		if s.Scope == scope && s.Name == name {
			return s, true
		}
	}
	return sandbox.SecretState{}, false
}

// secrets are the sandbox's credential values: none may appear in a log.
func (p *sandboxProc) secrets() []string {
	var out []string
	for _, k := range []string{"ASTRO_API_TOKEN", "ASTRO_SANDBOX_DEPLOY_TOKEN", "ASTRO_CI_GITHUB_TOKEN", "ASTRO_CI_GITLAB_TOKEN"} {
		if v := p.env[k]; v != "" {
			out = append(out, v)
		}
	}
	return out
}

// forge is the pair of credentials and API addresses a workflow needs:
// secrets for -s, env for --env.
func (p *sandboxProc) forge() (secrets, env map[string]string) {
	return map[string]string{"ASTRO_API_TOKEN": p.env["ASTRO_API_TOKEN"], "ASTRO_CI_GITHUB_TOKEN": p.env["ASTRO_CI_GITHUB_TOKEN"]},
		map[string]string{"GITHUB_API_URL": p.env["GITHUB_API_URL"], "ASTRO_API_URL": p.env["ASTRO_API_URL"]}
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}`)

func assertNoSecrets(t *testing.T, log string, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(log, v) {
			t.Errorf("a secret value (%.6s…) appears in act's output", v)
		}
	}
	if m := jwtRE.FindString(log); m != "" {
		t.Errorf("a JWT-like string (%.10s…) appears in act's output", m)
	}
}

// newRepo makes a git repository whose origin is acme/airflow-dags (act takes
// GITHUB_REPOSITORY from it), optionally holding the action's source, with
// the given files.
func (s *suite) newRepo(t *testing.T, withSource bool, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if withSource {
		if err := os.CopyFS(dir, os.DirFS(s.src)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		t.Fatalf("%s has a .git before git init: the test would commit to another repository", dir)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"remote", "add", "origin", "https://github.com/acme/airflow-dags.git"},
		{"add", "-A"},
		{"-c", "user.name=astro-ci test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "test"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// run is one act invocation.
type run struct {
	dir      string // the repository (cwd)
	event    string
	payload  any
	workflow string            // relative to dir
	secrets  map[string]string // -s, through a 0600 file
	env      map[string]string // --env
	// localRefs: refs of astro-ci/astro-ci that resolve to the suite's source.
	localRefs []string
	// localDirs: refs of astro-ci/astro-ci that resolve to other files
	// (e.g. the release commit's).
	localDirs map[string]string
	// path: the PATH of act and so of the job's steps; default the host's.
	path string
	// cache: act's action cache (and with it the runner's tool cache);
	// default a fresh one.
	cache string
}

// act runs act on the host executor, offline, with a clean environment: no
// Docker, no image pulls, no action downloads (actions/checkout is emulated
// by copying the repository; astro-ci/astro-ci comes from --local-repository),
// no version check, no cache server, no ~/.actrc.
func (s *suite) act(t *testing.T, r run) (string, error) {
	t.Helper()
	tmp := t.TempDir()
	payload, err := json.Marshal(r.payload)
	if err != nil {
		t.Fatal(err)
	}
	eventFile := filepath.Join(tmp, "event.json")
	secretFile := filepath.Join(tmp, "secrets")
	var sec strings.Builder
	for k, v := range r.secrets {
		fmt.Fprintf(&sec, "%s=%s\n", k, v)
	}
	for f, b := range map[string][]byte{eventFile: payload, secretFile: []byte(sec.String())} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r.cache == "" {
		r.cache = filepath.Join(tmp, "cache")
	}
	args := []string{r.event, "-e", eventFile, "-W", r.workflow,
		"-P", "ubuntu-latest=-self-hosted",
		"--action-cache-path", r.cache, "--action-offline-mode", "--no-cache-server",
		"--secret-file", secretFile, "--env-file", filepath.Join(tmp, "none.env"), "--var-file", filepath.Join(tmp, "none.vars"),
	}
	for k, v := range r.env {
		args = append(args, "--env", k+"="+v)
	}
	for _, ref := range r.localRefs {
		args = append(args, "--local-repository", "astro-ci/astro-ci@"+ref+"="+s.src)
	}
	for ref, dir := range r.localDirs {
		args = append(args, "--local-repository", "astro-ci/astro-ci@"+ref+"="+dir)
	}
	if r.path == "" {
		r.path = os.Getenv("PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.actBin, args...)
	cmd.Dir = r.dir
	home := filepath.Join(tmp, "home")
	cmd.Env = []string{
		"PATH=" + r.path, "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "TMPDIR=" + tmp,
		"ACT_DISABLE_VERSION_CHECK=1",
		// The source builds inside the action: the host's caches, offline.
		"GOCACHE=" + s.goEnv["GOCACHE"], "GOMODCACHE=" + s.goEnv["GOMODCACHE"], "GOPATH=" + s.goEnv["GOPATH"],
		"GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("act %s -W %s: %s, %v", r.event, r.workflow, time.Since(start).Round(time.Millisecond), err)
	if os.Getenv("ACT_TEST_LOG") == "1" {
		t.Logf("act output:\n%s", out)
	}
	return string(out), err
}

func mustSucceed(t *testing.T, out string, err error) {
	t.Helper()
	if err != nil || !strings.Contains(out, "Job succeeded") {
		t.Fatalf("act failed: %v\n%s", err, out)
	}
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("act output lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("act output:\n%s", out)
	}
}

func repository() map[string]any {
	return map[string]any{"full_name": "acme/airflow-dags", "name": "airflow-dags", "owner": map[string]any{"login": "acme"}, "default_branch": "main"}
}

func pushEvent() map[string]any {
	return map[string]any{"ref": "refs/heads/main", "before": strings.Repeat("1", 40), "after": strings.Repeat("2", 40), "repository": repository(), "sender": map[string]any{"login": "octocat"}}
}

func branchEvent(ref string) map[string]any {
	return map[string]any{"ref": ref, "ref_type": "branch", "master_branch": "main", "pusher_type": "user", "repository": repository(), "sender": map[string]any{"login": "octocat"}}
}

// seedSecret puts value into a GitHub secret of the sandbox with the host's
// astro-ci (target put), as if an earlier run had written it.
func (s *suite) seedSecret(t *testing.T, sb *sandboxProc, target, value string) {
	t.Helper()
	cmd := exec.Command(s.astroCI, "target", "put", "--target", target)
	cmd.Env = []string{"ASTRO_CI_GITHUB_TOKEN=" + sb.env["ASTRO_CI_GITHUB_TOKEN"], "GITHUB_API_URL=" + sb.env["GITHUB_API_URL"]}
	cmd.Stdin = strings.NewReader(value)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("seeding %s: %v\n%s", target, err, out)
	}
}

const repoSecret = "repo:acme/airflow-dags"

// assertSelfRotated checks that the repository secret ASTRO_API_TOKEN holds
// a valid token other than the sandbox's original one, which Astro no longer
// knows (overlap without grace deletes it) or, with a grace, still knows.
func assertSelfRotated(t *testing.T, sb *sandboxProc, grace bool) sandbox.SecretState {
	t.Helper()
	after, ok := sb.secret(t, repoSecret, "ASTRO_API_TOKEN")
	switch {
	case !ok:
		t.Fatal("the repository secret ASTRO_API_TOKEN is missing")
	case !after.Valid:
		t.Errorf("the repository secret holds a value Astro refuses: %+v", after)
	case after.Fingerprint == sandbox.Fingerprint(sb.env["ASTRO_API_TOKEN"]) || after.TokenID == sb.env["ASTRO_SANDBOX_ADMIN_TOKEN_ID"]:
		t.Errorf("the repository secret still holds the original token: %+v", after)
	}
	kept := false
	for _, tok := range sb.state(t).Tokens {
		kept = kept || tok.ID == sb.env["ASTRO_SANDBOX_ADMIN_TOKEN_ID"]
	}
	switch {
	case kept && !grace:
		t.Errorf("the superseded token %s still exists", sb.env["ASTRO_SANDBOX_ADMIN_TOKEN_ID"])
	case !kept && grace:
		t.Errorf("the superseded token %s is gone although the grace keeps it for jobs that read it", sb.env["ASTRO_SANDBOX_ADMIN_TOKEN_ID"])
	}
	return after
}

const checkout = "      - uses: actions/checkout@v4\n"

// (a) uses: ./ — the action from this checkout, built from source.
func TestRotateWithLocalAction(t *testing.T) {
	s := setup(t)
	t.Parallel()
	sb := s.startSandbox(t)
	const target = "github://acme/airflow-dags/secrets/ASTRO_API_TOKEN"
	s.seedSecret(t, sb, target, sb.env["ASTRO_API_TOKEN"])
	before, ok := sb.secret(t, repoSecret, "ASTRO_API_TOKEN")
	if !ok || !before.Valid || before.TokenID != sb.env["ASTRO_SANDBOX_ADMIN_TOKEN_ID"] {
		t.Fatalf("seeded secret: %+v %v", before, ok)
	}

	repo := s.newRepo(t, true, map[string]string{".github/workflows/rotate.yml": `name: rotate
on: push
jobs:
  rotate:
    runs-on: ubuntu-latest
    steps:
` + checkout + `      - id: astro
        uses: ./
        with:
          command: token rotate
          targets: ` + target + `
          astro-api-token: ${{ secrets.ASTRO_API_TOKEN }}
          github-token: ${{ secrets.ASTRO_CI_GITHUB_TOKEN }}
      - env:
          ROTATED: ${{ steps.astro.outputs.rotated }}
          TOKEN_ID: ${{ steps.astro.outputs.token-id }}
          EXPIRES_AT: ${{ steps.astro.outputs.expires-at }}
        run: echo "outputs rotated=$ROTATED token-id=$TOKEN_ID expires-at=$EXPIRES_AT"
`})
	secrets, env := sb.forge()
	out, err := s.act(t, run{dir: repo, event: "push", payload: pushEvent(), workflow: ".github/workflows/rotate.yml", secrets: secrets, env: env})
	mustSucceed(t, out, err)
	after := assertSelfRotated(t, sb, false)
	if after.Fingerprint == before.Fingerprint {
		t.Error("the secret's value did not change")
	}
	mustContain(t, out,
		"building astro-ci from source (local,",
		"outputs rotated=true token-id="+after.TokenID+" expires-at=2",
		"⚙  ***", // how act shows astro-ci's ::add-mask:: of the new value
	)
	assertNoSecrets(t, out, sb.secrets()...)
}

// (b) the preview lifecycle on create and delete events, through `run`.
func TestPreviewLifecycle(t *testing.T) {
	s := setup(t)
	t.Parallel()
	sb := s.startSandbox(t)
	const warehouse = "sandbox-warehouse-secret-2f9c"
	repo := s.newRepo(t, true, map[string]string{".github/workflows/preview.yml": `name: preview
on: [create, delete]
jobs:
  preview:
    if: github.event.ref_type == 'branch'
    runs-on: ubuntu-latest
    steps:
` + checkout + `      - id: astro
        uses: ./
        env:
          WAREHOUSE_PASSWORD: ${{ secrets.WAREHOUSE_PASSWORD }}
        with:
          command: run
          base-deployment: production
          wait: true
          timeout: 2m
          token-targets: github://acme/airflow-dags/environments/preview-{slug}/secrets/ASTRO_API_TOKEN?create_environment=true
          secret-env: WAREHOUSE_PASSWORD=WAREHOUSE_PASSWORD
          astro-api-token: ${{ secrets.ASTRO_API_TOKEN }}
          github-token: ${{ secrets.ASTRO_CI_GITHUB_TOKEN }}
      - env:
          ACTION: ${{ steps.astro.outputs.action }}
          NAME: ${{ steps.astro.outputs.preview-name }}
          ID: ${{ steps.astro.outputs.preview-id }}
          STATUS: ${{ steps.astro.outputs.preview-status }}
          URL: ${{ steps.astro.outputs.preview-url }}
        run: echo "outputs action=$ACTION preview-name=$NAME preview-id=$ID preview-status=$STATUS preview-url=$URL"
`})
	secrets, env := sb.forge()
	secrets["WAREHOUSE_PASSWORD"] = warehouse
	cache := t.TempDir()
	const name = "preview-feature-orders-dag-72991e" // README: feature/orders-dag
	const envScope = "env:acme/airflow-dags/" + name

	out, err := s.act(t, run{dir: repo, event: "create", payload: branchEvent("feature/orders-dag"), workflow: ".github/workflows/preview.yml", secrets: secrets, env: env, cache: cache})
	mustSucceed(t, out, err)
	var dep sandbox.DeploymentState
	for _, d := range sb.state(t).Deployments {
		if d.Name == name {
			dep = d
		}
	}
	if dep.ID == "" || !strings.Contains(dep.Description, "[astro-ci preview") || dep.Status != "HEALTHY" {
		t.Fatalf("no healthy preview %s with astro-ci's marker: %+v", name, sb.state(t).Deployments)
	}
	if sec, ok := sb.secret(t, envScope, "ASTRO_API_TOKEN"); !ok || !sec.Valid {
		t.Errorf("environment secret %s/ASTRO_API_TOKEN: %+v, present %v", envScope, sec, ok)
	}
	mustContain(t, out,
		"outputs action=created preview-name="+name+" preview-id="+dep.ID+" preview-status=HEALTHY preview-url=http",
		"secret variables: WAREHOUSE_PASSWORD",
		"preview "+name+" is HEALTHY after 0s", // wait: true reached astro-ci
	)
	assertNoSecrets(t, out, append(sb.secrets(), warehouse)...)

	out, err = s.act(t, run{dir: repo, event: "delete", payload: branchEvent("feature/orders-dag"), workflow: ".github/workflows/preview.yml", secrets: secrets, env: env, cache: cache})
	mustSucceed(t, out, err)
	for _, d := range sb.state(t).Deployments {
		if d.Name == name || d.ID == dep.ID {
			t.Errorf("the preview is still there: %+v", d)
		}
	}
	if sec, ok := sb.secret(t, envScope, "ASTRO_API_TOKEN"); ok {
		t.Errorf("the preview's environment secret is still there: %+v", sec)
	}
	mustContain(t, out, "outputs action=deleted preview-name="+name)
	assertNoSecrets(t, out, append(sb.secrets(), warehouse)...)
}

// consumerWorkflow is a workflow of another repository using the action at ref.
func consumerWorkflow(ref, version string) string {
	wf := `name: consumer
on: push
jobs:
  use:
    runs-on: ubuntu-latest
    steps:
      - uses: astro-ci/astro-ci@` + ref + `
        with:
          command: version
`
	if version != "" {
		wf += "          version: " + version + "\n"
	}
	return wf
}

// (c) the consumer view: which refs build from source, and the cache by commit.
func TestConsumerRefs(t *testing.T) {
	s := setup(t)
	t.Parallel()
	const sha = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name, ref, version string
		want               []string
		again              []string // a second run with the same runner tool cache
	}{
		{name: "branch builds from source", ref: "main",
			want: []string{"building astro-ci from source (main,", "astro-ci dev-main ("}},
		{name: "major tag builds from source", ref: "v1",
			want: []string{"building astro-ci from source (v1,", "astro-ci dev-v1 ("}},
		{name: "commit builds from source once, cached by commit", ref: sha,
			want:  []string{"building astro-ci from source (" + sha + ",", "astro-ci dev-" + sha + " ("},
			again: []string{"astro-ci built from commit " + sha + " (", "from the tool cache", "astro-ci dev-" + sha + " ("}},
		{name: "version source over a release tag", ref: releaseTag, version: "source",
			want: []string{"building astro-ci from source (" + releaseTag + ",", "astro-ci dev-" + releaseTag + " ("}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo := s.newRepo(t, false, map[string]string{".github/workflows/use.yml": consumerWorkflow(tc.ref, tc.version)})
			r := run{dir: repo, event: "push", payload: pushEvent(), workflow: ".github/workflows/use.yml", localRefs: []string{tc.ref}, cache: t.TempDir()}
			out, err := s.act(t, r)
			mustSucceed(t, out, err)
			mustContain(t, out, tc.want...)
			if tc.again != nil {
				out, err := s.act(t, r)
				mustSucceed(t, out, err)
				mustContain(t, out, tc.again...)
				if strings.Contains(out, "building astro-ci from source") {
					t.Error("built again despite the tool cache")
				}
			}
		})
	}
}

// (d) a release tag downloads the release archive, verifies it against
// checksums.txt and caches it; a tampered archive is refused and never runs.
func TestReleaseDownload(t *testing.T) {
	s := setup(t)
	t.Parallel()
	archiveName := "astro-ci_" + strings.TrimPrefix(releaseTag, "v") + "_" + platform() + ".tar.gz"
	stamped := "astro-ci " + releaseTag + " (" // what the release binary prints

	t.Run("tag downloads, verifies, caches", func(t *testing.T) {
		t.Parallel()
		srv := newReleaseServer(t, release(releaseTag, platform(), s.archive, nil))
		repo := s.newRepo(t, false, map[string]string{".github/workflows/use.yml": consumerWorkflow(releaseTag, "")})
		r := run{dir: repo, event: "push", payload: pushEvent(), workflow: ".github/workflows/use.yml", localRefs: []string{releaseTag},
			env: map[string]string{"ASTRO_CI_RELEASE_BASE_URL": srv.URL}, cache: t.TempDir()}
		out, err := s.act(t, r)
		mustSucceed(t, out, err)
		mustContain(t, out, "downloading "+srv.URL+"/"+releaseTag+"/"+archiveName, "verified sha256 "+sha256Hex(s.archive), stamped)
		out, err = s.act(t, r)
		mustSucceed(t, out, err)
		mustContain(t, out, "astro-ci "+releaseTag+" ("+strings.ReplaceAll(platform(), "_", "/")+") from the tool cache", stamped)
		if n := srv.count(releaseTag + "/" + archiveName); n != 1 {
			t.Errorf("archive downloaded %d times, want 1", n)
		}
	})

	t.Run("version input downloads for a branch ref", func(t *testing.T) {
		t.Parallel()
		srv := newReleaseServer(t, release(releaseTag, platform(), s.archive, nil))
		repo := s.newRepo(t, false, map[string]string{".github/workflows/use.yml": consumerWorkflow("main", releaseTag)})
		out, err := s.act(t, run{dir: repo, event: "push", payload: pushEvent(), workflow: ".github/workflows/use.yml", localRefs: []string{"main"},
			env: map[string]string{"ASTRO_CI_RELEASE_BASE_URL": srv.URL}})
		mustSucceed(t, out, err)
		mustContain(t, out, "verified sha256 "+sha256Hex(s.archive), stamped)
	})

	t.Run("tampered archive is refused and does not run", func(t *testing.T) {
		t.Parallel()
		srv := newReleaseServer(t, release(releaseTag, platform(), s.archive, func(f map[string][]byte) {
			f[releaseTag+"/"+archiveName] = tampered(f[releaseTag+"/"+archiveName])
		}))
		repo := s.newRepo(t, false, map[string]string{".github/workflows/use.yml": consumerWorkflow(releaseTag, "")})
		cache := t.TempDir()
		out, err := s.act(t, run{dir: repo, event: "push", payload: pushEvent(), workflow: ".github/workflows/use.yml", localRefs: []string{releaseTag},
			env: map[string]string{"ASTRO_CI_RELEASE_BASE_URL": srv.URL}, cache: cache})
		if err == nil || strings.Contains(out, "Job succeeded") {
			t.Fatalf("act succeeded with a tampered archive:\n%s", out)
		}
		mustContain(t, out, "checksum mismatch for "+archiveName, "refusing to run it", "Job failed")
		if strings.Contains(out, stamped) || strings.Contains(out, "scripts/action/run.sh") {
			t.Errorf("the tampered binary ran:\n%s", out)
		}
		if m, _ := filepath.Glob(filepath.Join(cache, "tool_cache", "astro-ci", "*", "*", "astro-ci")); len(m) != 0 {
			t.Errorf("tampered binary cached: %v", m)
		}
	})
}

// jobTools are what a job of the act tests runs with besides astro-ci:
// bash and the tools install.sh and act's host executor use. Not Go, not gh.
var jobTools = append(append([]string{}, scriptTools...), "sh", "env", "grep", "head", "sha256sum", "git", "ls",
	"dirname", "basename", "id", "tee", "date", "sleep", "touch", "wc", "xargs", "find", "ln", "readlink", "realpath")

// jobPath is a PATH for act without Go (and without gh): a job that would
// build astro-ci from source fails.
func jobPath(t *testing.T) string {
	t.Helper()
	dir := toolPath(t, jobTools...)
	for _, tool := range []string{"go", "gh"} {
		if _, err := os.Stat(filepath.Join(dir, tool)); err == nil {
			t.Fatalf("%s in the no-Go PATH", tool)
		}
	}
	return dir
}

// noGoStep fails the job if Go is on its PATH, and says so otherwise.
const noGoStep = `      - run: if command -v go; then echo "go is on PATH"; exit 1; fi; echo "no Go on PATH"
`

// (e) The release commit, pinned by its SHA (or by the moving major tag, or
// installed for later steps), downloads its release from the release server
// and verifies it — on a runner without Go, so no source build could have
// happened.
func TestReleaseCommitPin(t *testing.T) {
	s := setup(t)
	t.Parallel()
	archiveName := "astro-ci_" + strings.TrimPrefix(releaseTag, "v") + "_" + platform() + ".tar.gz"
	stamped := "astro-ci " + releaseTag + " ("
	download := []string{
		"no Go on PATH",
		"this action is the release commit of astro-ci " + releaseTag + " (its .release-version): downloading that release",
		"verified sha256 " + sha256Hex(s.archive),
		"provenance: NOT verified: the GitHub CLI (gh) is not installed",
		stamped,
	}
	for _, tc := range []struct {
		name, ref, steps string
		want             []string
	}{
		{name: "by commit SHA", ref: releaseSHA,
			steps: "      - uses: astro-ci/astro-ci@" + releaseSHA + " # " + releaseTag + "\n        with:\n          command: version\n",
			want:  append(download, "astro-ci "+releaseTag+" was built from commit "+releaseSHA+", the commit this action is pinned to")},
		{name: "by the major tag", ref: "v9",
			steps: "      - uses: astro-ci/astro-ci@v9\n        with:\n          command: version\n",
			want:  download},
		{name: "command install, then astro-ci in a later step", ref: releaseSHA,
			steps: "      - id: astro\n        uses: astro-ci/astro-ci@" + releaseSHA + "\n        with:\n          command: install\n" +
				"      - env:\n          BIN: ${{ steps.astro.outputs.astro-ci-path }}\n        run: astro-ci version && echo \"astro-ci-path=$BIN\" && test \"$(command -v astro-ci)\" = \"$BIN\"\n",
			want: append(download, "astro-ci is on PATH for the next steps of this job", "astro-ci-path=/")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newReleaseServer(t, release(releaseTag, platform(), s.archive, nil))
			wf := "name: consumer\non: push\njobs:\n  use:\n    runs-on: ubuntu-latest\n    steps:\n" + noGoStep + tc.steps
			repo := s.newRepo(t, false, map[string]string{".github/workflows/use.yml": wf})
			out, err := s.act(t, run{dir: repo, event: "push", payload: pushEvent(), workflow: ".github/workflows/use.yml",
				localDirs: map[string]string{tc.ref: s.releaseSrc}, path: jobPath(t),
				env: map[string]string{"ASTRO_CI_RELEASE_BASE_URL": srv.URL}})
			mustSucceed(t, out, err)
			mustContain(t, out, tc.want...)
			if strings.Contains(out, "building astro-ci from source") {
				t.Errorf("built from source:\n%s", out)
			}
			if n := srv.count(releaseTag + "/" + archiveName); n != 1 {
				t.Errorf("archive downloaded %d times, want 1", n)
			}
		})
	}

	// A commit made after the release commit still carries .release-version
	// (a branch started from the release): it is not the release, and says so.
	t.Run("another commit with the file builds from source", func(t *testing.T) {
		t.Parallel()
		srv := newReleaseServer(t, release(releaseTag, platform(), s.archive, nil))
		other := strings.Repeat("de", 20)
		repo := s.newRepo(t, false, map[string]string{".github/workflows/use.yml": consumerWorkflow(other, "")})
		out, err := s.act(t, run{dir: repo, event: "push", payload: pushEvent(), workflow: ".github/workflows/use.yml",
			localDirs: map[string]string{other: s.releaseSrc}, env: map[string]string{"ASTRO_CI_RELEASE_BASE_URL": srv.URL}})
		mustSucceed(t, out, err)
		mustContain(t, out, "commit "+other+" carries .release-version "+releaseTag+", but astro-ci "+releaseTag+" was built from commit "+releaseSHA,
			"building astro-ci from source ("+other+",", "astro-ci dev-"+other+" (")
	})
}

// args reaches the flags that have no input (here --all of token check).
func TestArgsInput(t *testing.T) {
	s := setup(t)
	t.Parallel()
	sb := s.startSandbox(t)
	srv := newReleaseServer(t, release(releaseTag, platform(), s.archive, nil))
	wf := "name: check\non: push\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n" +
		"      - id: astro\n        uses: astro-ci/astro-ci@" + releaseSHA + "\n        with:\n          command: token check\n" +
		"          warn-within: 1d\n          fail-within: 0\n          args: |\n            --all\n" +
		"          astro-api-token: ${{ secrets.ASTRO_API_TOKEN }}\n"
	repo := s.newRepo(t, false, map[string]string{".github/workflows/check.yml": wf})
	secrets, env := sb.forge()
	env["ASTRO_CI_RELEASE_BASE_URL"] = srv.URL
	out, err := s.act(t, run{dir: repo, event: "push", payload: pushEvent(), workflow: ".github/workflows/check.yml", secrets: secrets, env: env,
		localDirs: map[string]string{releaseSHA: s.releaseSrc}, path: jobPath(t)})
	mustSucceed(t, out, err)
	// Without --all only ASTRO_API_TOKEN ("astro-ci admin") would be listed.
	mustContain(t, out, "deploy-bot", "astro-ci admin")
	assertNoSecrets(t, out, sb.secrets()...)
}

// quickstart reads docs/examples/github/<name> and points its one
// `uses: astro-ci/astro-ci@…` line at ref; nothing else changes.
func (s *suite) quickstart(t *testing.T, name, ref string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.root, "docs", "examples", "github", name))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s*-\s+uses:\s+astro-ci/astro-ci@)\S+(\s*)$`)
	if n := len(re.FindAllIndex(b, -1)); n != 1 {
		t.Fatalf("%s: %d `uses: astro-ci/astro-ci@` lines, want 1", name, n)
	}
	return re.ReplaceAllString(string(b), "${1}"+ref+"${2}")
}

// The README quick-start workflows, exactly as published but for the ref:
// the consumer view with a release download.
func TestQuickstarts(t *testing.T) {
	s := setup(t)
	t.Parallel()

	t.Run("quickstart-rotate.yml on schedule", func(t *testing.T) {
		t.Parallel()
		sb := s.startSandbox(t)
		srv := newReleaseServer(t, release(releaseTag, platform(), s.archive, nil))
		repo := s.newRepo(t, false, map[string]string{".github/workflows/rotate.yml": s.quickstart(t, "quickstart-rotate.yml", releaseSHA)})
		secrets, env := sb.forge()
		env["ASTRO_CI_RELEASE_BASE_URL"] = srv.URL
		out, err := s.act(t, run{dir: repo, event: "schedule", payload: map[string]any{"schedule": "17 5 * * *", "repository": repository()},
			workflow: ".github/workflows/rotate.yml", secrets: secrets, env: env, localDirs: map[string]string{releaseSHA: s.releaseSrc}, path: jobPath(t)})
		mustSucceed(t, out, err)
		assertSelfRotated(t, sb, true) // the quick start's grace: 1h
		mustContain(t, out, "astro-ci: verified sha256", "rotated=true", "was built from commit "+releaseSHA)
		assertNoSecrets(t, out, sb.secrets()...)
	})

	t.Run("quickstart-preview.yml on create and delete", func(t *testing.T) {
		t.Parallel()
		sb := s.startSandbox(t)
		srv := newReleaseServer(t, release(releaseTag, platform(), s.archive, nil))
		repo := s.newRepo(t, false, map[string]string{".github/workflows/preview.yml": s.quickstart(t, "quickstart-preview.yml", releaseSHA),
			"dags/orders.py": "from airflow import DAG\n"})
		secrets, env := sb.forge()
		env["ASTRO_CI_RELEASE_BASE_URL"] = srv.URL
		r := run{dir: repo, payload: branchEvent("feature/orders-dag"), workflow: ".github/workflows/preview.yml", secrets: secrets, env: env,
			localDirs: map[string]string{releaseSHA: s.releaseSrc}, path: jobPath(t), cache: t.TempDir()}
		deploys := func() (types []string) {
			if d, ok := deploymentNamed(sb.state(t), "preview-feature-orders-dag-72991e"); ok {
				for _, dp := range d.Deploys {
					types = append(types, dp.Type)
				}
			}
			return types
		}
		preview := func() (n int) {
			for _, d := range sb.state(t).Deployments {
				if strings.Contains(d.Description, "[astro-ci preview") {
					n++
				}
			}
			return n
		}
		r.event = "create"
		out, err := s.act(t, r)
		mustSucceed(t, out, err)
		if preview() != 1 {
			t.Errorf("after create: %d previews, want 1", preview())
		}
		mustContain(t, out, "preview-action=created")
		assertNoSecrets(t, out, sb.secrets()...)
		if got := deploys(); !slices.Equal(got, []string{"IMAGE_AND_DAG"}) {
			t.Errorf("after create: deploys %v, want production's image and the DAGs", got)
		}

		// A push: the DAGs again, to the same preview.
		push := pushEvent()
		push["ref"] = "refs/heads/feature/orders-dag"
		r.event, r.payload = "push", push
		out, err = s.act(t, r)
		mustSucceed(t, out, err)
		if got := deploys(); preview() != 1 || !slices.Equal(got, []string{"IMAGE_AND_DAG", "DAG_ONLY"}) {
			t.Errorf("after push: %d previews, deploys %v", preview(), got)
		}
		assertNoSecrets(t, out, sb.secrets()...)

		r.event, r.payload = "delete", branchEvent("feature/orders-dag")
		out, err = s.act(t, r)
		mustSucceed(t, out, err)
		if preview() != 0 {
			t.Errorf("after delete: %d previews, want 0", preview())
		}
		mustContain(t, out, "preview-action=deleted")
		assertNoSecrets(t, out, sb.secrets()...)

		// A tag is not a branch: the job's `if:` skips it.
		tag := branchEvent("v1.0.0")
		tag["ref_type"] = "tag"
		r.event, r.payload = "create", tag
		out, err = s.act(t, r)
		if err != nil || strings.Contains(out, "astro-ci/astro-ci@") {
			t.Errorf("tag create: want the job skipped: %v\n%s", err, out)
		}
	})
}

// This repository's own CI workflow (.github/workflows/action.yml), job
// smoke on ubuntu-latest: `uses: ./` against astro-sandbox with the
// credentials passed through the environment instead of inputs. The pinned
// actions/setup-go resolves to a stand-in (Go is on the host already).
func TestRepositoryWorkflow(t *testing.T) {
	s := setup(t)
	t.Parallel()
	wf, err := os.ReadFile(filepath.Join(s.root, ".github", "workflows", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`uses: actions/setup-go@([0-9a-f]{40})`).FindSubmatch(wf)
	if m == nil {
		t.Fatal("no pinned actions/setup-go in .github/workflows/action.yml")
	}
	setupGo := t.TempDir()
	if err := os.WriteFile(filepath.Join(setupGo, "action.yml"), []byte(`name: setup-go stand-in
inputs:
  go-version-file: {required: false}
runs:
  using: composite
  steps:
    - shell: bash
      run: go version
`), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := s.newRepo(t, true, nil)
	tmp := t.TempDir()
	eventFile := filepath.Join(tmp, "event.json")
	if err := os.WriteFile(eventFile, []byte(`{"ref":"refs/heads/main"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.actBin, "push", "-e", eventFile, "-W", ".github/workflows/action.yml", "-j", "smoke", "--matrix", "os:ubuntu-latest",
		"-P", "ubuntu-latest=-self-hosted", "--action-cache-path", filepath.Join(tmp, "cache"), "--action-offline-mode", "--no-cache-server",
		"--secret-file", filepath.Join(tmp, "none"), "--env-file", filepath.Join(tmp, "none.env"), "--var-file", filepath.Join(tmp, "none.vars"),
		"--local-repository", "actions/setup-go@"+string(m[1])+"="+setupGo)
	cmd.Dir = repo
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "XDG_CONFIG_HOME=" + tmp, "XDG_CACHE_HOME=" + tmp, "TMPDIR=" + tmp,
		"ACT_DISABLE_VERSION_CHECK=1", "GOCACHE=" + s.goEnv["GOCACHE"], "GOMODCACHE=" + s.goEnv["GOMODCACHE"], "GOPATH=" + s.goEnv["GOPATH"],
		"GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS="}
	start := time.Now()
	b, err := cmd.CombinedOutput()
	out := string(b)
	t.Logf("act push -W .github/workflows/action.yml -j smoke: %s, %v", time.Since(start).Round(time.Millisecond), err)
	mustSucceed(t, out, err)
	mustContain(t, out, "check status=warn; rotated=true token-id=c", "valid as astro-ci admin", "Success - Main Stop astro-sandbox")
	if m := jwtRE.FindString(out); m != "" {
		t.Errorf("a JWT-like string (%.10s…) appears in act's output", m)
	}
}
