package kill

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/fakeclock"
	"github.com/astro-ci/astro-ci/internal/gitlabfake"
	"github.com/astro-ci/astro-ci/internal/sandbox"
	astrotarget "github.com/astro-ci/astro-ci/internal/target"
)

// world is one fresh sandbox behind the proxy, with the runs made in it.
type world struct {
	t     *testing.T
	clock *fakeclock.Clock
	sb    *sandbox.Sandbox
	px    *proxy
	srv   *httptest.Server
	dir   string // targets live here; runs get subdirectories

	mu    sync.Mutex
	procs []*proc
	extra map[string]string // more secret values the test learned (value → what)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	// The binary checks a token's expiry on the machine's clock: the fakes'
	// clock starts at the machine's time and only moves forward.
	clock := fakeclock.New(time.Now().UTC().Truncate(time.Second))
	// The sandbox needs its URL before it is served.
	srv := httptest.NewUnstartedServer(nil)
	sb := sandbox.New("http://"+srv.Listener.Addr().String(), sandbox.Options{Now: clock.Now, DeploymentReadyAfter: time.Minute})
	px := newProxy(sb)
	srv.Config.Handler = px
	srv.Start()
	w := &world{t: t, clock: clock, sb: sb, px: px, srv: srv, dir: t.TempDir(), extra: map[string]string{}}
	t.Cleanup(func() {
		close(px.done) // ends every hold and hang, so Close does not wait on them
		srv.Close()
	})
	t.Cleanup(w.scanLeaks)
	return w
}

// Seeded names.
const (
	ghRepo    = sandbox.GitHubOwner + "/" + sandbox.GitHubRepo
	ghScope   = "repo:" + ghRepo
	glProject = sandbox.GitLabProject
)

func (w *world) adminValue() string       { return w.sb.Env["ASTRO_API_TOKEN"] }
func (w *world) deployValue() string      { return w.sb.Env["ASTRO_SANDBOX_DEPLOY_TOKEN"] }
func (w *world) deployID() string         { return w.sb.Env["ASTRO_SANDBOX_DEPLOY_TOKEN_ID"] }
func (w *world) astro() *astrofake.Server { return w.sb.Astro }

// githubFiles are the runner's file commands; the runner creates them empty.
var githubFiles = []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV"}

// env is what every run gets: the sandbox's URLs and forge credentials, and
// the CI the run pretends to be in, with its files in dir ("{rundir}": the
// directory of each run).
func (w *world) env(ci ciMode, dir string) map[string]string {
	env := map[string]string{
		"ASTRO_API_URL":         w.sb.Env["ASTRO_API_URL"],
		"GITHUB_API_URL":        w.sb.Env["GITHUB_API_URL"],
		"ASTRO_CI_GITHUB_TOKEN": w.sb.Env["ASTRO_CI_GITHUB_TOKEN"],
		"CI_API_V4_URL":         w.sb.Env["CI_API_V4_URL"],
		"ASTRO_CI_GITLAB_TOKEN": w.sb.Env["ASTRO_CI_GITLAB_TOKEN"],
	}
	switch ci {
	case github:
		env["GITHUB_ACTIONS"] = "true"
		env["GITHUB_REPOSITORY"] = ghRepo
		for _, f := range githubFiles {
			env[f] = filepath.Join(dir, f)
		}
	case gitlab:
		env["GITLAB_CI"] = "true"
		env["CI_PROJECT_ID"] = w.sb.Env["ASTRO_SANDBOX_GITLAB_PROJECT_ID"]
		env["CI_PROJECT_PATH"] = glProject
		env["CI_SERVER_URL"] = w.srv.URL + "/gitlab"
		env["CI_PIPELINE_SOURCE"] = "push"
		env["CI_DEFAULT_BRANCH"] = "main"
		env["CI_COMMIT_BRANCH"] = previewBranch
		env["CI_COMMIT_REF_NAME"] = previewBranch
		env["CI_COMMIT_SHA"] = "0123456789abcdef0123456789abcdef01234567"
	}
	return env
}

// ciMode is the CI a run pretends to be in.
type ciMode int

const (
	local ciMode = iota
	github
	gitlab
)

// run starts the binary in a fresh directory of its own.
func (w *world) run(args []string, env map[string]string) *proc {
	w.t.Helper()
	w.mu.Lock()
	n := len(w.procs) + 1
	w.mu.Unlock()
	dir := filepath.Join(w.dir, fmt.Sprintf("run-%d", n))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		w.t.Fatal(err)
	}
	full := map[string]string{}
	for k, v := range env {
		full[k] = strings.ReplaceAll(v, "{rundir}", dir)
	}
	for _, f := range githubFiles {
		if path, ok := full[f]; ok {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				w.t.Fatal(err)
			}
		}
	}
	p, err := startProc(dir, args, full)
	if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.procs = append(w.procs, p)
	w.mu.Unlock()
	return p
}

// learn records a value the test read (from a target or a recovery blob).
func (w *world) learn(v, what string) {
	if len(v) < 16 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.extra[v]; !ok {
		w.extra[v] = what
	}
}

// secrets is every value the world handed out or holds.
func (w *world) secrets() map[string]string {
	out := w.px.secrets()
	for k, v := range w.sb.Env {
		if strings.HasSuffix(k, "_TOKEN") {
			out[v] = "the seeded " + k
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for v, what := range w.extra {
		out[v] = what
	}
	return out
}

// target is one place a value goes, and how the test reads it.
type target struct {
	addr string
	read func() (string, bool)
}

func (w *world) fileTarget(name string) target {
	path := filepath.Join(w.dir, name)
	return target{addr: "file://" + path, read: func() (string, bool) {
		b, err := os.ReadFile(path)
		return string(b), err == nil
	}}
}

// ghTarget: a repository secret, read back decrypted by the fake.
func (w *world) ghTarget(name string) target {
	return target{addr: "github://" + ghRepo + "/secrets/" + name, read: func() (string, bool) {
		return w.sb.GitHub.RepoSecret(sandbox.GitHubOwner, sandbox.GitHubRepo, name)
	}}
}

func (w *world) ghEnvTarget(env, name string) target {
	return target{addr: "github://" + ghRepo + "/environments/" + env + "/secrets/" + name + "?create_environment=true", read: func() (string, bool) {
		return w.sb.GitHub.EnvSecret(sandbox.GitHubOwner, sandbox.GitHubRepo, env, name)
	}}
}

// glTarget: a project variable in environment scope (""/"*": all).
func (w *world) glTarget(key, scope string) target {
	addr := "gitlab://" + glProject + "/variables/" + key
	if scope != "" && scope != "*" {
		addr += "?environment_scope=" + scope
	}
	return target{addr: addr, read: func() (string, bool) {
		v, ok := w.sb.GitLab.ProjectVariable(glProject, key, scope)
		return v.Value, ok
	}}
}

// seed puts v in t as if an earlier run (or a person) had.
func (w *world) seed(t target, v string) {
	w.t.Helper()
	switch {
	case strings.HasPrefix(t.addr, "file://"):
		if err := os.WriteFile(strings.TrimPrefix(t.addr, "file://"), []byte(v), 0o600); err != nil {
			w.t.Fatal(err)
		}
	case strings.HasPrefix(t.addr, "github://"+ghRepo+"/secrets/"):
		w.sb.GitHub.AddSecret(ghScope, strings.TrimPrefix(t.addr, "github://"+ghRepo+"/secrets/"), v)
	case strings.HasPrefix(t.addr, "gitlab://"+glProject+"/variables/"):
		w.sb.GitLab.SetProjectVariable(glProject, gitlabfake.Variable{Key: strings.TrimPrefix(t.addr, "gitlab://"+glProject+"/variables/"), Value: v, Masked: true})
	default:
		w.t.Fatalf("cannot seed %s", t.addr)
	}
	if got, ok := t.read(); !ok || got != v {
		w.t.Fatalf("seeding %s did not stick", t.addr)
	}
}

// holdings reads every target: value per address ("" and false: empty).
type holding struct {
	addr  string
	value string
	ok    bool
}

func (w *world) holdings(ts []target) []holding {
	var out []holding
	for _, t := range ts {
		v, ok := t.read()
		if ok {
			w.learn(v, "the value in "+t.addr)
		}
		out = append(out, holding{t.addr, v, ok})
	}
	return out
}

// describe is a holding without its value: the token it authenticates as.
func (w *world) describe(h holding) string {
	if !h.ok {
		return h.addr + ": empty"
	}
	id, known := w.astro().TokenIDForValue(h.value)
	switch {
	case !known:
		return h.addr + ": a value that is no token's current value (" + sandbox.Fingerprint(h.value) + ")"
	case !w.astro().Authenticates(h.value):
		return h.addr + ": the dead value of token " + id
	}
	return h.addr + ": token " + id
}

// liveTokens lists live tokens with name (any scope).
func (w *world) liveTokens(name string) []astrofake.TokenInfo {
	var out []astrofake.TokenInfo
	for _, t := range w.astro().Tokens() {
		if t.Name == name {
			out = append(out, t)
		}
	}
	return out
}

// canaries lists the preflight canaries left in the forges, in every scope
// the sandbox has: GitHub repository, Dependabot, organization and
// environment secrets, GitLab project and group variables.
func (w *world) canaries() []string {
	var out []string
	st := w.sb.Snapshot()
	for _, s := range st.GitHubSecrets {
		if strings.HasPrefix(s.Name, astrotarget.CanaryPrefix) {
			out = append(out, "GitHub "+s.Scope+" "+s.Name)
		}
	}
	for _, v := range st.GitLabVariables {
		if strings.HasPrefix(v.Name, astrotarget.CanaryPrefix) {
			out = append(out, "GitLab "+v.Scope+" "+v.Name)
		}
	}
	return out
}
