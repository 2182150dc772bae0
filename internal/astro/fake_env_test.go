package astro

// Shared set-up of the tests that drive the client against internal/astrofake
// served through the contract validator (fake_*_test.go).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakeclock"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// Fixture ids, CUID-shaped (25 characters starting with "c").
const (
	fxOrg    = "clfxorg000000000000000001"
	fxOrg2   = "clfxorg000000000000000002"
	fxWS1    = "clfxws1000000000000000001"
	fxWS2    = "clfxws2000000000000000002"
	fxWSOrg2 = "clfxws3000000000000000003"
	fxDep1   = "clfxdep100000000000000001"
	fxDep2   = "clfxdep200000000000000002"
)

// fxT0 is where every fake clock starts.
var fxT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fxReadyAfter is the fake's CREATING→HEALTHY delay.
const fxReadyAfter = 5 * time.Minute

// fxSecretEnvValue is the stored value of dep1's secret variable: it must
// never come back from the API.
const fxSecretEnvValue = "s3cr3t-seeded-env-value"

type fxClock = fakeclock.Clock

// waitLog is a Config.Sleep that records the waits and never sleeps.
type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitLog) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waitLog) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.waits)
}

// fxEnv is one astrofake.Server behind an httptest server wrapped by the
// contract validator, seeded with one organization (plus a foreign one), two
// workspaces, two deployments and an ORGANIZATION_OWNER token.
type fxEnv struct {
	t     *testing.T
	fake  *astrofake.Server
	srv   *httptest.Server
	clock *fxClock
	waits *waitLog

	owner, ownerID string // ORGANIZATION_OWNER of fxOrg

	targetID, targetValue string // a token some tests act on

	mu      sync.Mutex
	secrets []string // every token value and secret env value the test saw
	errs    []error  // every error the client returned, checked for secrets at cleanup
	traces  []string // Config.Trace output, checked for secrets at cleanup
	bodies  []string // every response body the fake wrote
}

type fxOptions struct {
	// lenient tolerates request-contract violations that the fake rejected
	// with a 4xx: negative tests send such requests on purpose. Response
	// violations, and invalid requests the fake accepted, still fail.
	lenient bool
}

func newFxEnv(t *testing.T, opts ...fxOptions) *fxEnv {
	t.Helper()
	var o fxOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	clock := fakeclock.New(fxT0)
	fake := astrofake.New(astrofake.Options{Now: clock.Now, DeploymentReadyAfter: fxReadyAfter})
	v, err := contract.Astro()
	if err != nil {
		t.Fatalf("contract.Astro: %v", err)
	}
	e := &fxEnv{t: t, fake: fake, clock: clock, waits: &waitLog{}}
	var h http.Handler
	if o.lenient {
		h = v.Middleware(e.recordBodies(fake), func(err error) {
			var viol *contract.Violation
			if errors.As(err, &viol) && !viol.Response && viol.Status >= 400 && viol.Status < 500 {
				t.Logf("tolerated (rejected by the fake): %v", err)
				return
			}
			t.Errorf("%v", err)
		})
	} else {
		h = contract.Check(t, v, e.recordBodies(fake))
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)

	fake.AddOrganization(fxOrg, "Acme")
	fake.AddOrganization(fxOrg2, "Other Corp")
	fake.AddWorkspace(fxOrg, fxWS1, "Data Platform")
	fake.AddWorkspace(fxOrg, fxWS2, "Analytics")
	fake.AddWorkspace(fxOrg2, fxWSOrg2, "Elsewhere")
	fake.AddDeployment(astrofake.SeedDeployment{
		ID: fxDep1, Name: "prod", Description: "production", WorkspaceID: fxWS1, Type: "STANDARD",
		CloudProvider: "AWS", Region: "us-east-1", AstroRuntimeVersion: "12.6.0", Executor: "CELERY",
		SchedulerSize: "MEDIUM", IsDagDeployEnabled: true,
		WorkerQueues: []astrofake.WorkerQueue{{Name: "default", IsDefault: true, AstroMachine: "A10", MinWorkerCount: 1, MaxWorkerCount: 5, WorkerConcurrency: 10}},
		EnvVars:      []astrofake.EnvVar{{Key: "PLAIN", Value: "visible"}, {Key: "SECRET", Value: fxSecretEnvValue, IsSecret: true}},
	})
	fake.AddDeployment(astrofake.SeedDeployment{ID: fxDep2, Name: "analytics", WorkspaceID: fxWS2})
	e.addSecret(fxSecretEnvValue)
	e.ownerID, e.owner = e.mint(astrofake.TokenSpec{Name: "owner", Role: "ORGANIZATION_OWNER"})

	t.Cleanup(e.checkNoLeaks)
	return e
}

// recordBodies keeps a copy of every response body; Unwrap lets the fake
// hijack the connection through it (Drop faults).
func (e *fxEnv) recordBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &bodyRecorder{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		e.mu.Lock()
		e.bodies = append(e.bodies, rw.buf.String())
		e.mu.Unlock()
	})
}

type bodyRecorder struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (b *bodyRecorder) Write(p []byte) (int, error) {
	b.buf.Write(p)
	return b.ResponseWriter.Write(p)
}

func (b *bodyRecorder) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// mint seeds a token in fxOrg (unless spec says otherwise) and remembers its value.
func (e *fxEnv) mint(spec astrofake.TokenSpec) (id, value string) {
	if spec.OrgID == "" {
		spec.OrgID = fxOrg
	}
	id, value = e.fake.MintToken(spec)
	e.addSecret(value)
	return id, value
}

func (e *fxEnv) addSecret(v string) {
	if v == "" {
		return
	}
	e.mu.Lock()
	e.secrets = append(e.secrets, v)
	e.mu.Unlock()
}

// keep remembers a value the API returned (create, rotate).
func (e *fxEnv) keep(t *Token) {
	if t != nil {
		e.addSecret(t.Value.Reveal())
	}
}

// seen records an error the client returned and passes it on.
func (e *fxEnv) seen(err error) error {
	if err != nil {
		e.mu.Lock()
		e.errs = append(e.errs, err)
		e.mu.Unlock()
	}
	return err
}

// client returns a client of fxOrg authenticating with value.
func (e *fxEnv) client(value string, mods ...func(*Config)) *Client {
	e.t.Helper()
	cfg := Config{
		BaseURL:    e.srv.URL + "/v1",
		Token:      secret.New(value),
		HTTPClient: e.srv.Client(),
		Sleep:      e.waits.sleep,
		Jitter:     func() float64 { return 0 },
		Trace: func(method, path string, status int, d time.Duration, err error) {
			e.mu.Lock()
			e.traces = append(e.traces, fmt.Sprint(method, " ", path, " ", status, " ", err))
			e.mu.Unlock()
		},
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return c
}

// pageSize is a Config modifier.
func pageSize(n int) func(*Config) { return func(c *Config) { c.PageSize = n } }

// noKeepAlive gives the client its own transport without connection reuse,
// so that net/http never replays a request on its own (it does so for a
// GET whose reused connection dies) and every retry is the client's.
func noKeepAlive(c *Config) {
	c.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
}

// requests returns the fake's log entries for route.
func (e *fxEnv) requests(route string) []astrofake.Request {
	var out []astrofake.Request
	for _, r := range e.fake.Requests() {
		if r.Route == route {
			out = append(out, r)
		}
	}
	return out
}

// tokensNamed returns the live tokens named name.
func (e *fxEnv) tokensNamed(name string) []astrofake.TokenInfo {
	var out []astrofake.TokenInfo
	for _, ti := range e.fake.Tokens() {
		if ti.Name == name {
			out = append(out, ti)
		}
	}
	return out
}

// leaks returns the secrets that s contains.
func (e *fxEnv) leaks(s string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, v := range e.secrets {
		if strings.Contains(s, v) {
			out = append(out, v)
		}
	}
	return out
}

// checkNoLeaks fails the test when an error the client returned, or the
// trace, quotes a token value or a secret env value, or when a response
// body carried a secret env value.
func (e *fxEnv) checkNoLeaks() {
	e.mu.Lock()
	errs, traces, bodies := slices.Clone(e.errs), slices.Clone(e.traces), slices.Clone(e.bodies)
	e.mu.Unlock()
	for _, err := range errs {
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if l := e.leaks(s); len(l) > 0 {
				e.t.Errorf("an error returned by the client quotes a secret (%d of them): %T", len(l), err)
			}
		}
	}
	for _, s := range traces {
		if l := e.leaks(s); len(l) > 0 {
			e.t.Errorf("a Config.Trace line quotes a secret")
		}
	}
	for _, b := range bodies {
		if strings.Contains(b, fxSecretEnvValue) {
			e.t.Errorf("a response body carries the value of a secret environment variable")
		}
	}
}

// apiErr asserts err is an *APIError with the given status and returns it.
func apiErr(t *testing.T, err error, status int) *APIError {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want an *APIError %d", err, err, status)
	}
	if ae.StatusCode != status {
		t.Fatalf("status = %d, want %d (%v)", ae.StatusCode, status, err)
	}
	if ae.Message == "" || ae.RequestID == "" || ae.Method == "" || ae.Path == "" {
		t.Fatalf("APIError lacks message, request id, method or path: %+v", ae)
	}
	return ae
}

func ids(ts []Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	slices.Sort(out)
	return out
}

func depIDs(ds []Deployment) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func ptr[T any](v T) *T { return &v }

func ceilDiv(a, b int) int { return (a + b - 1) / b }
