// Package bench measures astro-ci's operations the way the issue that asked
// for it (issue 13) defines them: every request to the fakes of Astro,
// GitHub and GitLab goes through a latency proxy that adds a fixed delay L,
// and a recorder (fakegate) logs when each request started and ended on one
// shared order. From the log come each operation's request set and its
// chain: the longest sequence of requests each of which started after the
// previous one ended, i.e. the number of sequential round trips. Wall time
// divided by chain × L says how much the rest (CPU, scheduling) costs.
//
// The scenarios (scenarios.go) are the operations of the table,
// each with the minimum chain the safety orderings allow and why; the tests
// pin their request sets and dependency structure, and cmd
// internal/tools/bench writes docs/BENCHMARKS.md from the same scenarios.
package bench

import (
	"context"
	"crypto/rand"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/cli"
	"github.com/astro-ci/astro-ci/internal/fakegate"
	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/gitlabfake"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Fixed identities of the world.
const (
	OrgID     = "clorg00000000000000bench"
	WSID      = "clws000000000000000bench"
	BaseID    = "clbase00000000000000bench"
	GitHubPAT = "github_pat_11AAAAAAA0benchfakefakefakefake"
	GitLabPAT = "glpat-benchfakefakefake0"
)

// Labels of the servers in the recorder's log.
const (
	LabelAstro  = "astro"
	LabelGitHub = "github"
	LabelGitLab = "gitlab"
)

// Options shape a World.
type Options struct {
	// Latency is added to every request, before the fake sees it.
	Latency time.Duration
	// Now is the fakes' clock and the CLI's; default time.Now.
	Now func() time.Time
	// Sleep is the CLI's pauses; default a real sleep (wait.Sleep).
	Sleep func(ctx context.Context, d time.Duration) error
	// DelaySleep is the latency proxy's; default a real sleep (wait.Sleep).
	DelaySleep func(ctx context.Context, d time.Duration) error
	// Check wraps each fake's handler (e.g. contract validation); nil
	// passes it through.
	Check func(label string, h http.Handler) http.Handler
	// GitHubLimits are the secondary limits the GitHub fake enforces.
	GitHubLimits githubfake.SecondaryLimits
	// TLS serves every fake over HTTPS (httptest's certificate); the CLI
	// must then trust that certificate. HTTP2 offers HTTP/2 there too.
	TLS, HTTP2 bool
	// Accepted, when set, is told of every connection a server accepts.
	Accepted func(label string)
	// Touch, when set, is called as each request arrives and as its
	// answer leaves (a virtual clock's events).
	Touch func()
}

// World is the three fakes behind the latency proxy and one recorder.
type World struct {
	Astro  *astrofake.Server
	GitHub *githubfake.Server
	GitLab *gitlabfake.Server
	Gate   *fakegate.Recorder
	// Env is the environment every Run starts from: API URLs, forge
	// credentials and ASTRO_API_TOKEN (an organization owner's).
	Env map[string]string

	opts    Options
	servers []*httptest.Server
}

// NewWorld starts the fakes: an organization with a workspace and a base
// Deployment; GitHub org acme with repositories app and web (app has an
// environment production); GitLab group acme/data with project
// airflow-dags; credentials that may write everywhere.
func NewWorld(o Options) *World {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = wait.Sleep
	}
	if o.DelaySleep == nil {
		o.DelaySleep = wait.Sleep
	}
	w := &World{Gate: &fakegate.Recorder{}, Env: map[string]string{}, opts: o}
	w.Astro = astrofake.New(astrofake.Options{Now: o.Now, DeploymentReadyAfter: time.Minute})
	w.Astro.AddOrganization(OrgID, "Bench Org")
	w.Astro.AddWorkspace(OrgID, WSID, "data")
	w.Astro.AddDeployment(astrofake.SeedDeployment{
		ID: BaseID, Name: "production", WorkspaceID: WSID, Type: "STANDARD", CloudProvider: "AWS", Region: "us-east-1",
		AstroRuntimeVersion: "12.6.0", Executor: "CELERY", SchedulerSize: "SMALL", CreatedAt: o.Now().AddDate(-1, 0, 0),
		WorkerQueues: []astrofake.WorkerQueue{{Name: "default", IsDefault: true, AstroMachine: "A10", MinWorkerCount: 1, MaxWorkerCount: 4, WorkerConcurrency: 8}},
		EnvVars:      []astrofake.EnvVar{{Key: "MODE", Value: "prod"}},
	})
	_, admin := w.Astro.MintToken(astrofake.TokenSpec{
		OrgID: OrgID, Name: "ci admin", Role: astrofake.RoleOrganizationOwner, ExpiryDays: 30, CreatedAt: o.Now().AddDate(0, 0, -20),
	})
	w.Env["ASTRO_API_TOKEN"] = admin

	w.GitHub = githubfake.New(githubfake.Options{Now: o.Now, Limits: o.GitHubLimits})
	w.GitHub.AddOrg("acme")
	w.GitHub.AddRepo("acme", "app", true)
	w.GitHub.AddRepo("acme", "web", true)
	w.GitHub.AddEnvironment("acme", "app", "production")
	w.GitHub.AddToken(GitHubPAT, githubfake.TokenPerms{Label: "pat", Perms: map[string]string{"secrets": "write", "environments": "write"}})
	w.Env["ASTRO_CI_GITHUB_TOKEN"] = GitHubPAT

	w.GitLab = gitlabfake.New(gitlabfake.Options{Now: o.Now})
	w.GitLab.AddGroup("acme/data")
	w.GitLab.AddProject("acme/data/airflow-dags")
	w.GitLab.AddToken(GitLabPAT, gitlabfake.TokenPerms{Name: "astro-ci", Scopes: []string{"api"}, Roles: map[string]int{"acme/data": 50}})
	w.Env["ASTRO_CI_GITLAB_TOKEN"] = GitLabPAT

	w.Env["ASTRO_API_URL"] = w.serve(LabelAstro, w.Astro) + "/v1"
	w.Env["GITHUB_API_URL"] = w.serve(LabelGitHub, w.GitHub)
	w.Env["CI_API_V4_URL"] = w.serve(LabelGitLab, w.GitLab) + "/api/v4"
	return w
}

// serve starts label's server: recorder, then latency, then the fake.
func (w *World) serve(label string, fake http.Handler) string {
	h := fake
	if w.opts.Check != nil {
		h = w.opts.Check(label, h)
	}
	h = w.Gate.Wrap(label, Delay(h, w.opts.Latency, w.opts.DelaySleep))
	if touch := w.opts.Touch; touch != nil {
		next := h
		h = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			touch()
			defer touch()
			next.ServeHTTP(rw, r)
		})
	}
	srv := httptest.NewUnstartedServer(h)
	if w.opts.Accepted != nil {
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				w.opts.Accepted(label)
			}
		}
	}
	if w.opts.TLS {
		srv.EnableHTTP2 = w.opts.HTTP2
		srv.StartTLS()
	} else {
		srv.Start()
	}
	w.servers = append(w.servers, srv)
	return srv.URL
}

// Close stops the servers, releasing any request a test still holds.
func (w *World) Close() {
	w.Gate.ReleaseAll()
	for _, s := range w.servers {
		s.Close()
	}
}

// Result is what one CLI run printed to stderr and returned.
type Result struct {
	Code   int
	Stderr string
	// Entries are the requests the run made, in start order.
	Entries []fakegate.Entry
	Wall    time.Duration
}

// Run runs astro-ci in-process (cli.Main.Run, its production transport)
// with the world's environment, and returns the requests it made.
func (w *World) Run(ctx context.Context, args ...string) Result {
	env := maps.Clone(w.Env)
	var stderr strings.Builder
	m := cli.Main{Now: w.opts.Now, Sleep: w.opts.Sleep, Rand: rand.Reader, Stdin: strings.NewReader("")}
	n0 := len(w.Gate.Entries())
	start := time.Now()
	code := m.Run(ctx, args, env, io.Discard, &stderr)
	wall := time.Since(start)
	return Result{Code: code, Stderr: stderr.String(), Entries: w.Gate.Entries()[n0:], Wall: wall}
}
