package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakeclock"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/target"
)

const (
	orgID = "clorg0000000000000000test"
	wsID  = "clws00000000000000000test"
	depID = "cldep0000000000000000test"
)

type clock = fakeclock.Clock

// harness runs astro-ci against a contract-checked fake Astro API and keeps
// every token value Astro ever issued, to prove none reaches any output.
type harness struct {
	t      testing.TB
	clock  *clock
	fake   *astrofake.Server
	srv    *httptest.Server
	dir    string
	env    map[string]string
	stores map[target.Scheme]target.Store

	mu      sync.Mutex
	values  []string // every token value seen on the wire or minted
	outputs []string // every stdout and stderr captured
	waits   []time.Duration
	// advanceOnSleep makes waits move the shared clock.
	advanceOnSleep bool
	// scanned: files astro-ci writes for others to read (GitHub outputs
	// and step summary, dotenv reports), scanned for leaks like stdout.
	scanned []string
	sigs    int // upload URLs the fake handed out
}

// catch records every credential an Astro answer hands out: the token
// value of every create and rotate, and every upload URL of a deploy with
// its SAS query and signature (raw and escaped), wherever they sit in the
// answer.
func (h *harness) catch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &teeWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		var body any
		if json.Unmarshal(rec.buf.Bytes(), &body) == nil {
			h.collect(body)
		}
	})
}

func (h *harness) collect(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			s, _ := e.(string)
			switch {
			case k == "token" && s != "":
				h.addValue(s)
			case k == "dagsUploadUrl" && s != "":
				h.addValue(s)
				if u, err := url.Parse(s); err == nil {
					h.addValue(u.RawQuery)
					h.addValue(u.Query().Get("sig"))
					h.addValue(url.QueryEscape(u.Query().Get("sig")))
					h.mu.Lock()
					h.sigs++
					h.mu.Unlock()
				}
			default:
				h.collect(e)
			}
		}
	case []any:
		for _, e := range x {
			h.collect(e)
		}
	}
}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (t *teeWriter) Write(b []byte) (int, error) {
	t.buf.Write(b)
	return t.ResponseWriter.Write(b)
}

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (h *harness) addValue(v string) {
	h.mu.Lock()
	h.values = append(h.values, v)
	h.mu.Unlock()
}

func newHarness(t testing.TB, opts ...func(*astrofake.Options)) *harness {
	t.Helper()
	c := fakeclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	srv := httptest.NewUnstartedServer(nil)
	// The fake serves its registry (and its blob endpoint) beside the API,
	// on the same listener: imageRepository names it.
	o := astrofake.Options{Now: c.Now, DeploymentReadyAfter: time.Minute, RegistryHost: srv.Listener.Addr().String()}
	for _, f := range opts {
		f(&o)
	}
	fake := astrofake.New(o)
	fake.AddOrganization(orgID, "Test Org")
	fake.AddWorkspace(orgID, wsID, "data")
	fake.AddDeployment(astrofake.SeedDeployment{ID: depID, Name: "production", WorkspaceID: wsID})
	v, err := contract.Astro()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: c, fake: fake, dir: t.TempDir(), env: map[string]string{}, stores: map[target.Scheme]target.Store{}}
	mux := http.NewServeMux()
	mux.Handle("/v1/", h.catch(contract.Check(t, v, fake)))
	mux.Handle("/", fake) // the registry and the blob endpoint: not the API
	srv.Config.Handler = mux
	srv.Start()
	h.srv = srv
	t.Cleanup(h.srv.Close)
	h.env["ASTRO_API_URL"] = h.srv.URL + "/v1"
	t.Cleanup(h.scanForLeaks)
	return h
}

// mint seeds a token and makes it ASTRO_API_TOKEN when self is true.
func (h *harness) mint(spec astrofake.TokenSpec, self bool) (id, value string) {
	if spec.OrgID == "" {
		spec.OrgID = orgID
	}
	if spec.CreatedAt.IsZero() {
		spec.CreatedAt = h.clock.Now().AddDate(0, 0, -20)
	}
	id, value = h.fake.MintToken(spec)
	h.addValue(value)
	if self {
		h.env["ASTRO_API_TOKEN"] = value
	}
	return id, value
}

func (h *harness) admin() (string, string) {
	return h.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 30}, true)
}

func (h *harness) sleep(ctx context.Context, d time.Duration) error {
	h.mu.Lock()
	h.waits = append(h.waits, d)
	advance := h.advanceOnSleep
	h.mu.Unlock()
	if advance {
		h.clock.Advance(d)
	}
	return ctx.Err()
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs astro-ci with the harness environment plus extra KEY=VALUE pairs.
func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	env := map[string]string{}
	for k, v := range h.env {
		env[k] = v
	}
	var stdout, stderr bytes.Buffer
	m := Main{HTTPClient: h.srv.Client(), Now: h.clock.Now, Sleep: h.sleep, Stdin: strings.NewReader(stdin), Stores: h.stores}
	code := m.Run(context.Background(), args, env, &stdout, &stderr)
	h.mu.Lock()
	h.outputs = append(h.outputs, stdout.String(), stderr.String())
	h.mu.Unlock()
	return result{code, stdout.String(), stderr.String()}
}

// file reads a target file and records its value as a secret.
func (h *harness) file(name string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, name))
	if err != nil {
		h.t.Fatalf("reading target %s: %v", name, err)
	}
	h.addValue(string(b))
	return string(b)
}

func (h *harness) target(name string) string { return "file://" + filepath.Join(h.dir, name) }

// scanForLeaks fails the test if any captured output holds any token value
// (or a long piece of one).
func (h *harness) scanForLeaks() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.scanned {
		if b, err := os.ReadFile(f); err == nil {
			h.outputs = append(h.outputs, string(b))
		}
	}
	for _, v := range h.values {
		if v == "" {
			continue
		}
		probes := []string{v}
		if parts := strings.Split(v, "."); len(parts) == 3 {
			probes = append(probes, parts[1], parts[2]) // payload and signature alone are as bad
		}
		for _, out := range h.outputs {
			out = dropMaskCommands(out)
			for _, p := range probes {
				if len(p) >= 16 && strings.Contains(out, p) {
					h.t.Errorf("a token value leaked into output:\n%s", out)
					return
				}
			}
		}
	}
}

// dropMaskCommands removes ::add-mask:: lines: they carry the value on
// purpose, to the GitHub runner, which hides it everywhere else.
func dropMaskCommands(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// scan adds files astro-ci writes (outputs, summaries, dotenv reports) to
// what scanForLeaks reads.
func (h *harness) scan(paths ...string) {
	h.mu.Lock()
	h.scanned = append(h.scanned, paths...)
	h.mu.Unlock()
}

func tokenSpecWS(name string) astrofake.TokenSpec {
	return astrofake.TokenSpec{Name: name, Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 30}
}
