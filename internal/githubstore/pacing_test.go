package githubstore

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/pace"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

var _ target.Paced = (*Store)(nil)

// fanoutFigures are what one paced overlap fan-out did.
type fanoutFigures struct {
	requests, limited, puts int
	span, floor             time.Duration
	log                     []string
}

func (ff fanoutFigures) ratio() float64 { return ff.span.Seconds() / ff.floor.Seconds() }

// simSecrets is n repository secrets acme/svc-NNN (existing: already set)
// and a store for them, against a fake enforcing GitHub's documented
// secondary limits, on one simulated clock.
func simSecrets(t *testing.T, n int, existing bool) (*fixture, *Store, *pace.Sim, []target.Target) {
	t.Helper()
	sim := pace.NewSim(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	f := newFixtureWith(t, func(o *githubfake.Options) {
		o.Now = sim.Now
		o.Limits = githubfake.DocumentedLimits()
	})
	var ts []target.Target
	for i := range n {
		repo := fmt.Sprintf("svc-%03d", i)
		f.fake.AddRepo("acme", repo, true)
		if existing {
			f.fake.AddSecret("repo:acme/"+repo, "ASTRO_API_TOKEN", "old")
		}
		ts = append(ts, mustParse(t, "github://acme/"+repo+"/secrets/ASTRO_API_TOKEN"))
	}
	s := f.store(t, func(c *Config) {
		c.Now, c.Sleep = sim.Now, sim.Sleep
		c.HTTPClient = NewHTTPClient(MaxConcurrency)
	})
	sim.Attach(s.pacer)
	return f, s, sim, ts
}

// pacedOverlap writes one value to n repository secrets that already
// exist, as an overlap rotation does (preflight by read, then the write),
// through the fan-out, against the fake enforcing GitHub's documented
// secondary limits, all on one simulated clock: the fake sees each request
// at the virtual time the pacer let it go.
func pacedOverlap(t *testing.T, n int, existing bool) fanoutFigures {
	t.Helper()
	f, s, sim, ts := simSecrets(t, n, existing)
	var mu sync.Mutex
	var ff fanoutFigures
	fo := &target.Fanout{
		Stores: map[target.Scheme]target.Store{target.GitHub: s},
		Sleep:  sim.Sleep, Now: sim.Now, Jitter: func() float64 { return 0 },
		Infof: func(format string, args ...any) {
			mu.Lock()
			ff.log = append(ff.log, fmt.Sprintf(format, args...))
			mu.Unlock()
		},
	}
	if err := target.Err(fo.Preflight(t.Context(), ts, target.Proof{ByRead: true})); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if err := target.Err(fo.Put(t.Context(), ts, secret.New(secretValue))); err != nil {
		t.Fatalf("write: %v", err)
	}
	reqs := f.fake.Requests()
	ff.requests = len(reqs)
	first, last := reqs[0].At, reqs[0].At
	for _, r := range reqs {
		if r.Limited != "" || r.Status == 403 || r.Status == 429 {
			ff.limited++
		}
		if r.Method == "PUT" {
			ff.puts++
		}
		first, last = minTime(first, r.At), maxTime(last, r.At)
	}
	ff.span = last.Sub(first)
	// The floor: one public-key GET (1 point) and one PUT (5 points) per
	// repository at 900 points a minute.
	ff.floor = time.Duration(float64(6*n) / DefaultPointsPerMinute * float64(time.Minute))
	for i := range n {
		if v, _ := f.fake.RepoSecret("acme", fmt.Sprintf("svc-%03d", i), "ASTRO_API_TOKEN"); v != secretValue {
			t.Fatalf("svc-%03d holds %q", i, v)
		}
	}
	return ff
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// An overlap rotation's fan-out to existing repository secrets gets no
// limit answer from a fake that enforces GitHub's documented budgets, and
// its schedule stays within 1.3 × the floor the points budget imposes.
func TestPacedFanoutStaysInBudget(t *testing.T) {
	t.Parallel()
	for _, n := range []int{10, 100, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			if n > 100 && testing.Short() {
				t.Skip("-short")
			}
			ff := pacedOverlap(t, n, true)
			t.Logf("N=%d: %d requests, %d PUTs, %d limit answers; schedule %v, floor %v, ratio %.2f; log: %q",
				n, ff.requests, ff.puts, ff.limited, ff.span.Round(time.Millisecond), ff.floor.Round(time.Millisecond), ff.ratio(), ff.log)
			if ff.limited != 0 {
				t.Errorf("%d limit answers", ff.limited)
			}
			if ff.puts != n {
				t.Errorf("%d PUTs for %d existing secrets, want one each", ff.puts, n)
			}
			if ff.ratio() > 1.3 {
				t.Errorf("schedule %v is %.2f × the floor %v", ff.span, ff.ratio(), ff.floor)
			}
			if n >= 100 && !strings.Contains(strings.Join(ff.log, "\n"), "github: pacing to the forge's rate budgets held requests back for") {
				t.Errorf("no word in the log of what pacing cost: %q", ff.log)
			}
		})
	}
}

// Secrets that do not exist yet: each write creates content, and the
// content budget (80 a minute) paces them without a limit answer either.
func TestPacedFanoutCreatesWithinContentBudget(t *testing.T) {
	t.Parallel()
	ff := pacedOverlap(t, 100, false)
	t.Logf("%d requests, %d limit answers; schedule %v; log %q", ff.requests, ff.limited, ff.span.Round(time.Millisecond), ff.log)
	if ff.limited != 0 {
		t.Errorf("%d limit answers", ff.limited)
	}
	if ff.span < time.Minute {
		t.Errorf("100 creations in %v: faster than 80 a minute", ff.span)
	}
}

// countingListener counts the connections a server accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// A fan-out of n targets at concurrency c opens at most c connections to
// GitHub (keep-alive connections are reused), over HTTP/2 where the server
// offers it.
func TestFanoutReusesConnections(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			t.Parallel()
			const n, c = 60, 8
			fake := githubfake.New(githubfake.Options{Limits: githubfake.SecondaryLimits{Concurrency: c}})
			fake.AddToken(patAll, githubfake.TokenPerms{Perms: map[string]string{"secrets": "write"}})
			var ts []target.Target
			for i := range n {
				fake.AddRepo("acme", fmt.Sprintf("r%d", i), true)
				// Existing secrets: their writes create no content, whose
				// budget (80 a minute) would bind first.
				fake.AddSecret(fmt.Sprintf("repo:acme/r%d", i), "T", "old")
				ts = append(ts, mustParse(t, fmt.Sprintf("github://acme/r%d/secrets/T", i)))
			}
			var wrongProto atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if (r.ProtoMajor == 2) != h2 {
					wrongProto.Add(1)
				}
				fake.ServeHTTP(w, r)
			}))
			ln := &countingListener{Listener: srv.Listener}
			srv.Listener = ln
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			t.Cleanup(srv.Close)

			hc := NewHTTPClient(c)
			hc.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			// Points enough that pacing does not bind: this test is about
			// connections.
			s, err := New(Config{BaseURL: srv.URL, Token: secret.New(patAll), HTTPClient: hc, Concurrency: c, PointsPerMinute: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			fo := &target.Fanout{Stores: map[target.Scheme]target.Store{target.GitHub: s}}
			if err := target.Err(fo.Preflight(t.Context(), ts, target.Proof{ByRead: true})); err != nil {
				t.Fatal(err)
			}
			if err := target.Err(fo.Put(t.Context(), ts, secret.New(secretValue))); err != nil {
				t.Fatal(err)
			}
			reqs := len(fake.Requests())
			if got := ln.n.Load(); got > c {
				t.Errorf("%d connections for %d requests at concurrency %d", got, reqs, c)
			}
			if wrongProto.Load() != 0 {
				t.Errorf("%d requests not over HTTP/2=%v", wrongProto.Load(), h2)
			}
			t.Logf("%d requests over %d connections", reqs, ln.n.Load())
		})
	}
}

// A limit answer that still comes (another job shares the token) pauses
// every request for the Retry-After GitHub sent, not just the refused
// one, and the log says what it cost.
func TestLimitAnswerPausesEveryRequest(t *testing.T) {
	t.Parallel()
	sim := pace.NewSim(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	f := newFixtureWith(t, func(o *githubfake.Options) { o.Now = sim.Now })
	var ts []target.Target
	for i := range 20 {
		repo := fmt.Sprintf("svc-%02d", i)
		f.fake.AddRepo("acme", repo, true)
		f.fake.AddSecret("repo:acme/"+repo, "T", "old")
		ts = append(ts, mustParse(t, "github://acme/"+repo+"/secrets/T"))
	}
	s := f.store(t, func(c *Config) { c.Now, c.Sleep = sim.Now, sim.Sleep })
	sim.Attach(s.pacer)
	var log []string
	fo := &target.Fanout{Stores: map[target.Scheme]target.Store{target.GitHub: s}, Sleep: sim.Sleep, Now: sim.Now,
		Infof: func(format string, args ...any) { log = append(log, fmt.Sprintf(format, args...)) }}
	f.fake.InjectFault(githubfake.Fault{Method: "PUT", Secondary: true, RetryAfter: "30", Times: 1})
	if err := target.Err(fo.Put(t.Context(), ts, secret.New(secretValue))); err != nil {
		t.Fatal(err)
	}
	var refused time.Time
	for _, r := range f.fake.Requests() {
		switch {
		case r.Fault:
			refused = r.At
		case !refused.IsZero() && r.At.Sub(refused) < 30*time.Second:
			t.Errorf("%s %s at +%v after the refusal, within its Retry-After", r.Method, r.Path, r.At.Sub(refused))
		}
	}
	if refused.IsZero() {
		t.Fatal("the fault did not fire")
	}
	if got := strings.Join(log, "\n"); !strings.Contains(got, "the forge still answered 1 requests with a rate limit, and the waits it asked for came to 30s") {
		t.Errorf("log %q", got)
	}
}

// smallRun proves simSecrets' targets writable by read through a fan-out,
// and returns the store, the fan-out and the targets.
func smallRun(t *testing.T, n int, existing bool) (*Store, *target.Fanout, []target.Target) {
	t.Helper()
	_, s, sim, ts := simSecrets(t, n, existing)
	fo := &target.Fanout{Stores: map[target.Scheme]target.Store{target.GitHub: s}, Sleep: sim.Sleep, Now: sim.Now}
	if err := target.Err(fo.Preflight(t.Context(), ts, target.Proof{ByRead: true})); err != nil {
		t.Fatal(err)
	}
	return s, fo, ts
}

// writeUnpaced writes every target and fails if pacing held a write back.
func writeUnpaced(t *testing.T, s *Store, fo *target.Fanout, ts []target.Target) {
	t.Helper()
	before := s.PaceStats()
	if err := target.Err(fo.Put(t.Context(), ts, secret.New(secretValue))); err != nil {
		t.Fatal(err)
	}
	if d := s.PaceStats().Sub(before); d.Waited != 0 || d.HeldAny() != 0 {
		key, held := d.Binding()
		t.Fatalf("%d of %d writes waited, for %v (%s)", d.Waited, len(ts), held, key)
	}
}

// A rotation that creates a job's handful of secrets is not held back: the
// content budget's burst lets eight creations go at once (80 a minute
// allows that in any window), so five new secrets cost no wait, where a
// burst of two seconds' worth (2.6 creations) held the third for a third
// of a second.
func TestFewCreationsGoAtOnce(t *testing.T) {
	t.Parallel()
	s, fo, ts := smallRun(t, 5, false)
	writeUnpaced(t, s, fo, ts)
}

// A fan-out to a dozen existing secrets (a job's usual targets) starts high
// and waits for nothing: an endpoint's burst is a tenth of its points (90,
// eighteen writes), where two seconds' worth (29, five writes) held ten
// writes back for 1.5 s.
func TestSmallFanoutIsNotPaced(t *testing.T) {
	t.Parallel()
	s, fo, ts := smallRun(t, 15, true)
	writeUnpaced(t, s, fo, ts)
}
