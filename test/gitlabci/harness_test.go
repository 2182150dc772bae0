// Package gitlabci runs the GitLab CI/CD components in gitlab/templates for
// real, with gitlab-ci-local (scripts/tools.sh runners), against the local
// sandbox (fake Astro and GitLab APIs on loopback).
//
// The tests are skipped unless ASTRO_CI_RUNNER_TESTS=1; then a missing
// gitlab-ci-local, git or rsync is a failure that says how to install it.
//
// How GitLab is emulated:
//
//   - The pipeline is one of the documented example files, unchanged except
//     for the component reference: "$CI_SERVER_FQDN/astro-ci/astro-ci/NAME@1.0.0"
//     becomes "…@<HEAD sha>" of a temporary repository whose remote is
//     astro-ci/astro-ci and whose templates/ holds gitlab/templates, which
//     gitlab-ci-local resolves locally as the component itself.
//   - Jobs have image: — --force-shell-executor runs them on the host, with
//     the freshly built astro-ci first on PATH.
//   - Project CI/CD variables are what the fake GitLab holds, environment
//     scopes included, handed to gitlab-ci-local as
//     .gitlab-ci-local-variables.yml before every run — so a job of the
//     review/x environment receives the review/x-scoped ASTRO_API_TOKEN over
//     the "*" one, as on GitLab, and a rotated value reaches the next run.
//   - Predefined variables of the event (CI_PIPELINE_SOURCE, CI_COMMIT_*,
//     CI_PROJECT_ID, CI_API_V4_URL) and GITLAB_CI=true — gitlab-ci-local sets
//     GITLAB_CI=false by design — are passed with --variable.
//
// gitlab-ci-local masks nothing, so every output is also scanned for every
// secret value the test knows of and for anything that looks like a JWT.
package gitlabci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/sandbox"
)

const (
	// componentProject is where the components are published; the examples
	// include them from here.
	componentProject = "astro-ci/astro-ci"
	exampleRef       = "1.0.0"
	zeroSHA          = "0000000000000000000000000000000000000000"
)

var (
	repoRoot = func() string {
		abs, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			panic(err)
		}
		return abs
	}()
	// jwtRE: anything that looks like a JWT (a base64url JSON header).
	jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{20,}`)
	// componentRE: a component reference of the examples.
	componentRE = regexp.MustCompile(`(component: \$CI_SERVER_FQDN/` + regexp.QuoteMeta(componentProject) + `/[a-z-]+)@` + regexp.QuoteMeta(exampleRef) + `\b`)
)

// tools is what every test needs: the runner, and the binaries built once.
type tools struct {
	gcl string // gitlab-ci-local
	bin string // directory with astro-ci and astro-sandbox
}

var (
	buildDir  string
	buildOnce = sync.OnceValues(func() (string, error) {
		for _, cmd := range []string{"astro-ci", "astro-sandbox"} {
			c := exec.Command("go", "build", "-o", filepath.Join(buildDir, cmd), "./cmd/"+cmd)
			c.Dir = repoRoot
			c.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := c.CombinedOutput(); err != nil {
				return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", cmd, err, out)
			}
		}
		return buildDir, nil
	})
)

// wantGCLVersion is the gitlab-ci-local scripts/tools.sh installs: 4.74 and
// later need Node 22 (ci-runners.md §2.1).
const wantGCLVersion = "4.73.0"

var gclVersions sync.Map // path → func() (string, error)

func gclVersion(path string) (string, error) {
	f, _ := gclVersions.LoadOrStore(path, sync.OnceValues(func() (string, error) {
		out, err := exec.Command(path, "--version").Output()
		return strings.TrimSpace(string(out)), err
	}))
	return f.(func() (string, error))()
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "astro-ci-gitlabci-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needTools skips unless ASTRO_CI_RUNNER_TESTS=1, then fails if anything is
// missing, and builds the binaries (once).
func needTools(t *testing.T) tools {
	t.Helper()
	if os.Getenv("ASTRO_CI_RUNNER_TESTS") != "1" {
		t.Skip("real-runner test: set ASTRO_CI_RUNNER_TESTS=1 (after scripts/tools.sh runners)")
	}
	gcl := os.Getenv("GITLAB_CI_LOCAL")
	if gcl == "" {
		gcl = filepath.Join(repoRoot, ".cache", "node", "node_modules", ".bin", "gitlab-ci-local")
	}
	if _, err := os.Stat(gcl); err != nil {
		t.Fatalf("gitlab-ci-local 4.73.0 is not installed at %s: run scripts/tools.sh runners (npm install gitlab-ci-local@4.73.0 into .cache/node; Node 20), or set GITLAB_CI_LOCAL", gcl)
	}
	version, err := gclVersion(gcl)
	if err != nil {
		t.Fatalf("%s --version: %v", gcl, err)
	}
	if version != wantGCLVersion {
		if os.Getenv("GITLAB_CI_LOCAL") == "" {
			t.Fatalf("gitlab-ci-local %s is installed, the tests pin %s: run scripts/tools.sh runners", version, wantGCLVersion)
		}
		t.Logf("gitlab-ci-local %s (GITLAB_CI_LOCAL), the tests are made for %s", version, wantGCLVersion)
	}
	for _, tool := range []string{"git", "rsync", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: gitlab-ci-local needs it (scripts/tools.sh runners installs rsync; apt-get install -y git rsync nodejs)", tool)
		}
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return tools{gcl: gcl, bin: bin}
}

// leaks collects every secret value seen and every output produced, and
// checks them all at the end of the test.
type leaks struct {
	mu      sync.Mutex
	secrets map[string]string // value → where it came from
	outputs []string
}

func newLeaks(t *testing.T) *leaks {
	l := &leaks{secrets: map[string]string{}}
	t.Cleanup(func() { l.check(t) })
	return l
}

func (l *leaks) secret(what, v string) {
	if len(v) < 8 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets[v] = what
}

func (l *leaks) output(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outputs = append(l.outputs, s)
}

func (l *leaks) check(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, out := range l.outputs {
		for v, what := range l.secrets {
			if strings.Contains(out, v) {
				t.Errorf("output %d of gitlab-ci-local shows the value of %s", i+1, what)
			}
		}
		if m := jwtRE.FindString(out); m != "" {
			t.Errorf("output %d of gitlab-ci-local shows something that looks like a JWT (%.8s…)", i+1, m)
		}
	}
}

// world is one sandbox, one repository and what the test knows.
type world struct {
	t     *testing.T
	tools tools
	sb    map[string]string // the sandbox's environment
	repo  string
	home  string
	leaks *leaks
	// extra project variables that GitLab would hold but the fake does not
	// (the GitLab token itself): name → value, scope "*".
	extraVars map[string]string
}

// newWorld starts a sandbox and makes a repository running example (a path
// under docs/examples/gitlab) as its .gitlab-ci.yml.
func newWorld(t *testing.T, example string) *world {
	t.Helper()
	tl := needTools(t)
	w := &world{t: t, tools: tl, home: t.TempDir(), leaks: newLeaks(t)}
	w.repo = newRepo(t, example)
	// production's image was built from the repository's commit.
	w.sb = startSandbox(t, tl.bin, "-base-image-commit", git(t, w.repo, "rev-parse", "HEAD"))
	for _, k := range []string{"ASTRO_API_TOKEN", "ASTRO_CI_GITLAB_TOKEN", "ASTRO_CI_GITHUB_TOKEN", "ASTRO_SANDBOX_DEPLOY_TOKEN"} {
		w.leaks.secret(k, w.sb[k])
	}
	w.extraVars = map[string]string{"ASTRO_CI_GITLAB_TOKEN": w.sb["ASTRO_CI_GITLAB_TOKEN"]}
	return w
}

func startSandbox(t *testing.T, bin string, extra ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "sandbox.env")
	cmd := exec.Command(filepath.Join(bin, "astro-sandbox"), append([]string{"serve", "-env-file", envFile, "-deployment-ready-after", "1s"}, extra...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(envFile); err == nil && len(b) > 0 {
			env := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					env[k] = v
				}
			}
			return env
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("astro-sandbox wrote no %s:\n%s", envFile, out.String())
	return nil
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=astro-ci test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newRepo makes the component project as gitlab-ci-local sees it: remote
// astro-ci/astro-ci, templates/ and an Astro project's dags/ committed, the
// example (with the component ref rewritten to HEAD) as .gitlab-ci.yml.
func newRepo(t *testing.T, example string) string {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	// gitlab-ci-local reads these (GITLAB_USER_*); HOME is a temporary one.
	git(t, dir, "config", "user.name", "astro-ci test")
	git(t, dir, "config", "user.email", "test@example.com")
	git(t, dir, "remote", "add", "origin", "https://gitlab.example.com/"+componentProject+".git")
	src := filepath.Join(repoRoot, "gitlab", "templates")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "templates", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The Astro project of the pipeline: its DAG folder, which the preview
	// component deploys.
	if err := os.MkdirAll(filepath.Join(dir, "dags"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dags", "orders.py"), []byte("from airflow import DAG\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "templates", "dags")
	git(t, dir, "commit", "-q", "-m", "components")
	sha := git(t, dir, "rev-parse", "HEAD")
	// A default branch, so gitlab-ci-local sets CI_DEFAULT_BRANCH quietly.
	git(t, dir, "update-ref", "refs/remotes/origin/main", sha)
	git(t, dir, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")

	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "examples", "gitlab", example))
	if err != nil {
		t.Fatal(err)
	}
	n := len(componentRE.FindAllIndex(b, -1))
	if n == 0 || n != strings.Count(string(b), "component:") {
		t.Fatalf("%s: %d component references of the form $CI_SERVER_FQDN/%s/NAME@%s, %d includes of components", example, n, componentProject, exampleRef, strings.Count(string(b), "component:"))
	}
	ci := componentRE.ReplaceAll(b, []byte("${1}@"+sha))
	if err := os.WriteFile(filepath.Join(dir, ".gitlab-ci.yml"), ci, 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", ".gitlab-ci.yml")
	return dir
}

// setConfig replaces the pipeline (for input-validation cases).
func (w *world) setConfig(transform func(string) string) {
	p := filepath.Join(w.repo, ".gitlab-ci.yml")
	b, err := os.ReadFile(p)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(transform(string(b))), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// gitlabVar is a CI/CD variable as the GitLab API returns it.
type gitlabVar struct {
	Key              string `json:"key"`
	Value            string `json:"value"`
	EnvironmentScope string `json:"environment_scope"`
	Masked           bool   `json:"masked"`
	Hidden           bool   `json:"hidden"`
}

// gitlabAPI calls the fake GitLab with the sandbox's token.
func (w *world) gitlabAPI(method, path string, form url.Values, out any) {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.sb["CI_API_V4_URL"]+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", w.sb["ASTRO_CI_GITLAB_TOKEN"])
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		w.t.Fatalf("%s %s: %s", method, path, resp.Status) // the body may hold a value: not shown
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (w *world) projectID() string { return w.sb["ASTRO_SANDBOX_GITLAB_PROJECT_ID"] }

// setProjectVariable stores a masked project variable, as a maintainer
// would in Settings → CI/CD → Variables.
func (w *world) setProjectVariable(key, value string) {
	w.leaks.secret(key, value)
	w.gitlabAPI(http.MethodPost, "/projects/"+w.projectID()+"/variables", url.Values{
		"key": {key}, "value": {value}, "masked": {"true"}, "environment_scope": {"*"},
	}, nil)
}

// projectVariables reads every project variable of the fake, values
// included (and remembers them as secrets).
func (w *world) projectVariables() []gitlabVar {
	var vars []gitlabVar
	w.gitlabAPI(http.MethodGet, "/projects/"+w.projectID()+"/variables?per_page=100", nil, &vars)
	for _, v := range vars {
		w.leaks.secret(fmt.Sprintf("project variable %s [%s]", v.Key, v.EnvironmentScope), v.Value)
	}
	return vars
}

// syncVariables hands the project's CI/CD variables to gitlab-ci-local, by
// environment scope, as GitLab hands them to a job.
func (w *world) syncVariables(omit ...string) {
	w.t.Helper()
	type entry struct {
		Type   string            `json:"type"`
		Values map[string]string `json:"values"`
	}
	file := map[string]*entry{}
	add := func(key, scope, value string) {
		for _, o := range omit {
			if o == key {
				return
			}
		}
		if file[key] == nil {
			file[key] = &entry{Type: "variable", Values: map[string]string{}}
		}
		file[key].Values[scope] = value
	}
	for k, v := range w.extraVars {
		add(k, "*", v)
	}
	for _, v := range w.projectVariables() {
		add(v.Key, v.EnvironmentScope, v.Value)
	}
	b, err := json.MarshalIndent(file, "", "  ") // JSON is YAML
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.repo, ".gitlab-ci-local-variables.yml"), b, 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// state is what the sandbox holds (values as fingerprints).
func (w *world) state() sandbox.State {
	w.t.Helper()
	resp, err := http.Get(w.sb["ASTRO_SANDBOX_URL"] + "/_sandbox/state")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st sandbox.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		w.t.Fatal(err)
	}
	return st
}

// run is one gitlab-ci-local invocation.
type run struct {
	out  string
	code int
	dur  time.Duration
}

// gcl runs gitlab-ci-local in the repository with the CI variables of an
// event (vars) and the arguments (job names, --input, …).
func (w *world) gcl(vars map[string]string, args ...string) run {
	w.t.Helper()
	all := map[string]string{
		"GITLAB_CI":       "true",
		"CI_PROJECT_ID":   w.projectID(),
		"CI_PROJECT_PATH": w.sb["ASTRO_SANDBOX_GITLAB_PROJECT"],
		"CI_API_V4_URL":   w.sb["CI_API_V4_URL"],
		"ASTRO_API_URL":   w.sb["ASTRO_API_URL"],
	}
	for k, v := range vars {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var argv, predefined []string
	for _, k := range keys {
		argv = append(argv, "--variable", k+"="+all[k])
		if strings.HasPrefix(k, "CI_") || k == "GITLAB_CI" {
			predefined = append(predefined, k)
		}
	}
	argv = append(argv, "--ignore-predefined-vars", strings.Join(predefined, ","))
	return w.gclRaw(append(argv, args...)...)
}

// gclRaw runs gitlab-ci-local in the repository with exactly these
// arguments (after the common ones).
func (w *world) gclRaw(args ...string) run {
	w.t.Helper()
	argv := append([]string{"--home", w.home, "--force-shell-executor", "--no-color", "--max-job-name-padding", "0"}, ignoreSchemaPaths()...)
	argv = append(argv, args...)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.tools.gcl, argv...)
	cmd.Dir = w.repo
	// A small, explicit environment: nothing of a CI the test itself may run
	// in reaches the jobs.
	cmd.Env = []string{
		"PATH=" + w.tools.bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + w.home,
		"LANG=C.UTF-8",
		"NO_COLOR=1",
		"GIT_CONFIG_NOSYSTEM=1",
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	}
	start := time.Now()
	b, err := cmd.CombinedOutput()
	r := run{out: string(b), dur: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		w.t.Fatalf("gitlab-ci-local: %v\n%s", err, b)
	}
	if ctx.Err() != nil {
		w.t.Fatalf("gitlab-ci-local timed out:\n%s", b)
	}
	w.leaks.output(r.out)
	var shown []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--variable" || args[i] == "--ignore-predefined-vars" {
			i++
			continue
		}
		shown = append(shown, args[i])
	}
	w.t.Logf("gitlab-ci-local %s: exit %d in %v", strings.Join(shown, " "), r.code, r.dur.Round(time.Millisecond))
	return r
}

// jobLog is the lines of one job in an output.
func jobLog(out, job string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, job+" ") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func ran(out, job string) bool { return strings.Contains(out, job+" starting shell") }

// passed reports whether gitlab-ci-local's summary lists job as passed.
func passed(out, job string) bool {
	return regexp.MustCompile(`(?m)^\s*PASS\s+` + regexp.QuoteMeta(job) + `\s*$`).MatchString(out)
}

func failed(out, job string) bool {
	return regexp.MustCompile(`(?m)^\s*(FAIL|WARN)\s+` + regexp.QuoteMeta(job) + `(\s|$)`).MatchString(out)
}

// variable finds a GitLab variable in the sandbox state.
func variable(st sandbox.State, scope, name string) (sandbox.SecretState, bool) {
	for _, v := range st.GitLabVariables {
		if v.Scope == scope && v.Name == name {
			return v, true
		}
	}
	return sandbox.SecretState{}, false
}

func tokenByID(st sandbox.State, id string) (sandbox.TokenState, bool) {
	for _, tk := range st.Tokens {
		if tk.ID == id {
			return tk, true
		}
	}
	return sandbox.TokenState{}, false
}

func dump(st sandbox.State) string {
	b, _ := json.MarshalIndent(st, "", "  ")
	return string(b)
}

// newCatalogRepo makes the catalog project itself: gitlab/ as the root of a
// repository whose remote is astro-ci/astro-ci, committed, so that its
// .gitlab-ci.yml includes the components at $CI_COMMIT_SHA locally. edit may
// change files before the commit.
func newCatalogRepo(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	git(t, dir, "config", "user.name", "astro-ci test")
	git(t, dir, "config", "user.email", "test@example.com")
	git(t, dir, "remote", "add", "origin", "https://gitlab.example.com/"+componentProject+".git")
	src := filepath.Join(repoRoot, "gitlab")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "catalog")
	sha := git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "update-ref", "refs/remotes/origin/main", sha)
	git(t, dir, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
	return dir
}
