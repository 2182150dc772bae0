package rotation

// The rotation tests' world: the Astro fake behind the contract validator,
// an in-memory store whose targets remember every value written (and can
// hold a write to force an interleaving), and engines wired like the CLI
// wires them.

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/fakeclock"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

const (
	hxOrg = "clhxorg000000000000000001"
	hxWS  = "clhxws0000000000000000001"
)

var hxT0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

type world struct {
	t     *testing.T
	fake  *astrofake.Server
	srv   *httptest.Server
	clock *fakeclock.Clock
	store *memStore

	// ci is the token the runs rotate (an Organization Owner token, so it may
	// also rotate itself); bot is a second admin credential.
	ciID, ciValue   string
	botID, botValue string

	mu   sync.Mutex
	logs []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clock := fakeclock.New(hxT0)
	fake := astrofake.New(astrofake.Options{Now: clock.Now})
	v, err := contract.Astro()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, fake: fake, clock: clock, store: newMemStore(fake)}
	w.srv = httptest.NewServer(contract.Check(t, v, fake))
	t.Cleanup(w.srv.Close)
	fake.AddOrganization(hxOrg, "Acme")
	fake.AddWorkspace(hxOrg, hxWS, "Data")
	w.ciID, w.ciValue = fake.MintToken(astrofake.TokenSpec{OrgID: hxOrg, Name: "ci", Role: "ORGANIZATION_OWNER", ExpiryDays: 90})
	w.botID, w.botValue = fake.MintToken(astrofake.TokenSpec{OrgID: hxOrg, Name: "astro-ci-bot", Role: "ORGANIZATION_OWNER"})
	return w
}

func (w *world) client(value string) *astro.Client {
	w.t.Helper()
	c, err := astro.New(astro.Config{
		BaseURL: w.srv.URL + "/v1", Token: secret.New(value), HTTPClient: w.srv.Client(),
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		Retry: astro.RetryPolicy{MaxAttempts: 3},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// engine is a run authenticating with value, as the CLI builds it.
func (w *world) engine(name, value string) *Engine {
	c := w.client(value)
	return &Engine{
		Astro:     c,
		Reauth:    func(v secret.Value) (Astro, error) { return c.WithToken(v) },
		Targets:   &target.Fanout{Stores: map[target.Scheme]target.Store{target.File: w.store}, Sleep: shortSleep, BaseDelay: time.Millisecond},
		Log:       &logObserver{w: w, name: name},
		Now:       w.clock.Now,
		Sleep:     shortSleep,
		SelfID:    c.Claims().TokenID,
		SelfValue: secret.New(value),
	}
}

// shortSleep lets other goroutines run without waiting for real.
func shortSleep(ctx context.Context, _ time.Duration) error {
	t := time.NewTimer(2 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (w *world) targets(names ...string) []target.Target {
	var ts []target.Target
	for _, n := range names {
		ts = append(ts, target.Target{Scheme: target.File, Kind: target.KindFile, Name: n, Path: "/mem/" + n})
	}
	return ts
}

// seed puts the credential's current value into every target, as a user
// does before the first rotation.
func (w *world) seed(value string, ts []target.Target) {
	for _, t := range ts {
		w.store.set(t.Path, value)
	}
}

// assertTargetsLive fails unless every target holds a value Astro accepts.
func (w *world) assertTargetsLive(when string, ts []target.Target) {
	w.t.Helper()
	for _, t := range ts {
		v, ok := w.store.get(t.Path)
		if !ok || !w.fake.Authenticates(v) {
			w.t.Errorf("%s: target %s holds a value Astro does not accept (present %v)\nlog:\n%s", when, t.Path, ok, w.log())
		}
	}
}

// liveManaged lists the tokens named name that still exist.
func (w *world) tokensNamed(name string) []astrofake.TokenInfo {
	var out []astrofake.TokenInfo
	for _, ti := range w.fake.Tokens() {
		if ti.Name == name {
			out = append(out, ti)
		}
	}
	return out
}

func (w *world) logf(format string, args ...any) {
	w.mu.Lock()
	w.logs = append(w.logs, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

func (w *world) log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.logs, "\n")
}

type logObserver struct {
	w    *world
	name string
}

func (o *logObserver) Secret(secret.Value)              {}
func (o *logObserver) Infof(format string, args ...any) { o.w.logf(o.name+": "+format, args...) }
func (o *logObserver) Warnf(format string, args ...any) { o.w.logf(o.name+": WARN "+format, args...) }

// memStore is a target store in memory. Every target keeps the values written
// to it in order. before, when set, is called before each write applies, so
// a test can hold one run's write until another's has landed.
type memStore struct {
	fake   *astrofake.Server
	mu     sync.Mutex
	values map[string][]string
	before func(path, value string)
	fail   map[string]error // path → error for every write
}

var _ target.Store = (*memStore)(nil)

func newMemStore(fake *astrofake.Server) *memStore {
	return &memStore{fake: fake, values: map[string][]string{}, fail: map[string]error{}}
}

func (m *memStore) set(path, v string) {
	m.mu.Lock()
	m.values[path] = append(m.values[path], v)
	m.mu.Unlock()
}

func (m *memStore) get(path string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.values[path]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

func (m *memStore) history(path string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.values[path])
}

func (m *memStore) Preflight(_ context.Context, t target.Target, _ target.Proof) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fail[t.Path]
}

func (m *memStore) Put(ctx context.Context, t target.Target, v secret.Value) error {
	m.mu.Lock()
	before, err := m.before, m.fail[t.Path]
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if before != nil {
		before(t.Path, v.Reveal())
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	m.set(t.Path, v.Reveal())
	return nil
}

func (m *memStore) Delete(_ context.Context, t target.Target) error {
	m.mu.Lock()
	delete(m.values, t.Path)
	m.mu.Unlock()
	return nil
}

// gate holds requests of one route until n of them have arrived, then lets
// them all go: "both runs plan before either creates".
type gate struct {
	mu      sync.Mutex
	n       int
	arrived int
	open    chan struct{}
}

func newGate(n int) *gate { return &gate{n: n, open: make(chan struct{})} }

func (g *gate) hold(astrofake.Request) {
	g.mu.Lock()
	g.arrived++
	if g.arrived == g.n {
		close(g.open)
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(10 * time.Second):
	}
}

// runAll runs fn for each engine at once and returns their errors.
func runAll(fns ...func() error) []error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errs
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
