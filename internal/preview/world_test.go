package preview

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/fakeclock"
	"github.com/astro-ci/astro-ci/internal/fakegate"
	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/githubstore"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

const (
	orgID  = "clorg0000000000000000prev"
	wsID   = "clws00000000000000000prev"
	baseID = "clbase000000000000000prev"
	ghPAT  = "github_pat_11AAAAAAA0previewfakefakefake"
)

// world is one Astro fake and one GitHub fake, both contract-checked, with
// every request on a shared fakegate order. Each run (a CI job) talks to
// Astro through its own labelled server, so a test can hold the requests
// of one run and not the other's.
type world struct {
	t     *testing.T
	clock *fakeclock.Clock
	fake  *astrofake.Server
	gh    *githubfake.Server
	gate  *fakegate.Recorder
	ghURL string
	dir   string
	admin string // ASTRO_API_TOKEN value: an organization owner

	astroV *contract.Validator
}

func newWorld(t *testing.T, base astrofake.SeedDeployment, opts ...func(*astrofake.Options)) *world {
	t.Helper()
	c := fakeclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	o := astrofake.Options{Now: c.Now, DeploymentReadyAfter: time.Minute}
	for _, f := range opts {
		f(&o)
	}
	w := &world{t: t, clock: c, fake: astrofake.New(o), gate: &fakegate.Recorder{}, dir: t.TempDir()}
	w.fake.AddOrganization(orgID, "Acme")
	w.fake.AddWorkspace(orgID, wsID, "data")
	if base.ID == "" {
		base.ID = baseID
	}
	if base.Name == "" {
		base.Name = "production"
	}
	base.WorkspaceID = wsID
	base.CreatedAt = c.Now().AddDate(-1, 0, 0)
	w.fake.AddDeployment(base)
	_, w.admin = w.fake.MintToken(astrofake.TokenSpec{OrgID: orgID, Name: "ci", Role: astrofake.RoleOrganizationOwner, CreatedAt: c.Now().AddDate(0, -1, 0)})
	var err error
	if w.astroV, err = contract.Astro(); err != nil {
		t.Fatal(err)
	}
	w.gh = githubfake.New(githubfake.Options{Now: c.Now})
	w.gh.AddOrg("acme")
	w.gh.AddRepo("acme", "app", true)
	w.gh.AddToken(ghPAT, githubfake.TokenPerms{Label: "pat", Perms: map[string]string{"secrets": "write", "environments": "write"}})
	ghV, err := contract.GitHub()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.gate.Wrap("github", contract.Check(t, ghV, w.gh)))
	t.Cleanup(func() { w.gate.ReleaseAll(); srv.Close() })
	w.ghURL = srv.URL
	return w
}

func stdBase() astrofake.SeedDeployment {
	return astrofake.SeedDeployment{
		Type: "STANDARD", CloudProvider: "AWS", Region: "us-east-1", AstroRuntimeVersion: "12.6.0", Executor: "CELERY", SchedulerSize: "SMALL",
		WorkerQueues: []astrofake.WorkerQueue{{Name: "default", IsDefault: true, AstroMachine: "A10", MinWorkerCount: 1, MaxWorkerCount: 4, WorkerConcurrency: 8}},
		EnvVars:      []astrofake.EnvVar{{Key: "MODE", Value: "prod"}},
	}
}

// run is one CI job's engine, with its own clients and log.
type run struct {
	*Engine
	log *testLog
}

// run returns the engine of a run whose Astro requests are labelled label.
// Its sleeps move the shared clock, so time passes for every run.
func (w *world) run(label string) *run {
	w.t.Helper()
	srv := httptest.NewServer(w.gate.Wrap(label, contract.Check(w.t, w.astroV, w.fake)))
	w.t.Cleanup(func() { w.gate.ReleaseAll(); srv.Close() })
	sleep := func(ctx context.Context, d time.Duration) error {
		w.clock.Advance(d)
		return ctx.Err()
	}
	c, err := astro.New(astro.Config{BaseURL: srv.URL + "/v1", Token: secret.New(w.admin), HTTPClient: srv.Client(), Sleep: sleep})
	if err != nil {
		w.t.Fatal(err)
	}
	gs, err := githubstore.New(githubstore.Config{BaseURL: w.ghURL, Token: secret.New(ghPAT), HTTPClient: srv.Client(), Now: w.clock.Now})
	if err != nil {
		w.t.Fatal(err)
	}
	fan := &target.Fanout{Stores: map[target.Scheme]target.Store{target.File: target.FileStore{}, target.GitHub: gs}, Sleep: sleep}
	log := &testLog{}
	// The token step waits on real time: its runs bound their writes by
	// real deadlines, so a wait that moved the shared clock past another
	// run's bound would make that run look dead while it is still writing.
	realSleep := func(ctx context.Context, d time.Duration) error {
		t := time.NewTimer(min(d, 5*time.Millisecond))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	tokens := &rotation.Engine{
		Astro:   c,
		Reauth:  func(v secret.Value) (rotation.Astro, error) { return c.WithToken(v) },
		Targets: fan, Log: log, Now: w.clock.Now, Sleep: realSleep,
	}
	return &run{Engine: &Engine{Astro: c, Tokens: tokens, Targets: fan, Log: log, Now: w.clock.Now, Sleep: sleep}, log: log}
}

func (w *world) fileTarget() string { return "file://" + filepath.Join(w.dir, "{slug}.token") }

func (w *world) request(branch string, targets ...string) Request {
	return Request{Base: baseID, Branch: branch, TokenTargets: targets, TokenExpiryDays: 30}
}

// previews are the live previews of branch, oldest first.
func (w *world) previews(branch string) []astrofake.DeploymentInfo {
	var out []astrofake.DeploymentInfo
	for _, d := range w.fake.Deployments() {
		if d.ID != baseID && strings.Contains(d.Description, "ref="+refHash(branch)) {
			out = append(out, d)
		}
	}
	return out
}

// tokensOf are the live tokens scoped to Deployment id.
func (w *world) tokensOf(id string) []astrofake.TokenInfo {
	var out []astrofake.TokenInfo
	for _, t := range w.fake.Tokens() {
		if !t.Deleted && t.Scope == astrofake.ScopeDeployment && t.EntityID == id {
			out = append(out, t)
		}
	}
	return out
}

// fileHolds checks that the token file of slug holds a live token of
// preview id.
func (w *world) fileHolds(slug, id string) {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, slug+".token"))
	if err != nil {
		w.t.Fatalf("token file: %v", err)
	}
	tid, ok := w.fake.TokenIDForValue(string(b))
	if !ok || !w.fake.Authenticates(string(b)) {
		w.t.Fatal("the token file holds no live token")
	}
	if ti, _ := w.fake.Token(tid); ti.EntityID != id {
		w.t.Fatalf("the token file holds a token of %s, not of the preview %s", ti.EntityID, id)
	}
}

func (w *world) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	w.t.Cleanup(cancel)
	return ctx
}

// testLog is an Observer for both engines.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) Secret(secret.Value) {}
func (l *testLog) Infof(f string, a ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
	l.mu.Unlock()
}
func (l *testLog) Warnf(f string, a ...any) { l.Infof("warning: "+f, a...) }
func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

var astroOps = map[string][2]string{
	"ListDeployments":  {"GET", `/v1/organizations/[^/]+/deployments`},
	"GetDeployment":    {"GET", `/v1/organizations/[^/]+/deployments/[^/]+`},
	"CreateDeployment": {"POST", `/v1/organizations/[^/]+/deployments`},
	"UpdateDeployment": {"POST", `/v1/organizations/[^/]+/deployments/[^/]+`},
	"DeleteDeployment": {"DELETE", `/v1/organizations/[^/]+/deployments/[^/]+`},
	"ListApiTokens":    {"GET", `/v1/organizations/[^/]+/tokens`},
	"CreateApiToken":   {"POST", `/v1/organizations/[^/]+/tokens`},
	"GetApiToken":      {"GET", `/v1/organizations/[^/]+/tokens/[^/]+`},
	"UpdateApiToken":   {"POST", `/v1/organizations/[^/]+/tokens/[^/]+`},
	"DeleteApiToken":   {"DELETE", `/v1/organizations/[^/]+/tokens/[^/]+`},
}

// op matches Astro operation opID in the requests of run label.
func op(label, opID string) fakegate.Matcher {
	o, ok := astroOps[opID]
	if !ok {
		panic("unknown operation " + opID)
	}
	return fakegate.Match(label, o[0], o[1])
}

// gh matches a GitHub request.
func gh(method, path string) fakegate.Matcher { return fakegate.Match("github", method, path) }

// ops are the Astro operation ids of the entries labelled label, in start order.
func ops(es []fakegate.Entry, label string) []string {
	var out []string
	for _, e := range es {
		if e.Label != label {
			continue
		}
		for id, o := range astroOps {
			if m := fakegate.Match(label, o[0], o[1]); m.Label == e.Label && matchEntry(m, e) {
				out = append(out, id)
			}
		}
	}
	return out
}

func matchEntry(m fakegate.Matcher, e fakegate.Entry) bool {
	return m.Matches(e.Label, e.Method, e.Path)
}

func chainOf(w *world) int { return fakegate.Chain(w.gate.Entries()) }
