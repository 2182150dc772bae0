package gitlabstore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/gitlabfake"
	"github.com/astro-ci/astro-ci/internal/pace"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// budgetServer is the GitLab fake behind a per-user limit as GitLab.com
// enforces it: more than limit requests in any rolling minute of the
// clock are answered 429 with Retry-After. It logs each request's time.
type budgetServer struct {
	fake  *gitlabfake.Server
	now   func() time.Time
	limit int

	mu      sync.Mutex
	at      []time.Time
	refused int
}

func (b *budgetServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	now := b.now()
	n := 0
	for _, t := range b.at {
		if now.Sub(t) < time.Minute {
			n++
		}
	}
	b.at = append(b.at, now)
	over := n >= b.limit
	if over {
		b.refused++
	}
	b.mu.Unlock()
	if over {
		w.Header().Set("Retry-After", "60")
		http.Error(w, `{"message":"429 Too Many Requests"}`, http.StatusTooManyRequests)
		return
	}
	b.fake.ServeHTTP(w, r)
}

// pacedFanout writes n existing project variables through the fan-out, as
// an overlap rotation does (read preflight, then the write), with the
// store paced to perMinute, all on a simulated clock.
func pacedFanout(t *testing.T, n, perMinute, concurrency int, faults ...gitlabfake.Fault) (*budgetServer, []string) {
	t.Helper()
	sim := pace.NewSim(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	e := newEnv(t)
	b := &budgetServer{fake: e.fake, now: sim.Now, limit: perMinute}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	var ts []target.Target
	for i := range n {
		key := fmt.Sprintf("K%03d", i)
		e.fake.SetProjectVariable("acme/web", gitlabfake.Variable{Key: key, Value: val2, Masked: true, EnvironmentScope: "*"})
		ts = append(ts, mustParse(t, "gitlab://acme/web/variables/"+key))
	}
	for _, f := range faults {
		e.fake.InjectFault(f)
	}
	s, err := New(Config{BaseURL: srv.URL + "/api/v4", Token: secret.New(tokMaint), HTTPClient: srv.Client(),
		RequestsPerMinute: perMinute, Concurrency: concurrency, Now: sim.Now, Sleep: sim.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	sim.Attach(s.pacer)
	var log []string
	// The fan-out's own retry waits do not move the clock: only the
	// store's pacer may hold a request back.
	noWait := func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	fo := &target.Fanout{Stores: map[target.Scheme]target.Store{target.GitLab: s}, Sleep: noWait, Now: sim.Now, Jitter: func() float64 { return 0 },
		Infof: func(format string, args ...any) { log = append(log, fmt.Sprintf(format, args...)) }}
	if err := target.Err(fo.Preflight(t.Context(), ts, target.Proof{ByRead: true})); err != nil {
		t.Fatal(err)
	}
	if err := target.Err(fo.Put(t.Context(), ts, secret.New(val1))); err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		if v, _ := e.fake.ProjectVariable("acme/web", tg.Name, "*"); v.Value != val1 {
			t.Fatalf("%s not written", tg.Name)
		}
	}
	return b, log
}

// Issue 13 item 3: GitLab requests are paced to the per-user budget ahead
// of time: a fan-out that needs more than a minute's budget gets no 429
// from a GitLab that enforces it, takes about the time the budget allows,
// and the log says what pacing cost.
func TestGitLabFanoutStaysInBudget(t *testing.T) {
	t.Parallel()
	const n, perMinute = 100, 120
	b, log := pacedFanout(t, n, perMinute, 0)
	if b.refused != 0 {
		t.Errorf("%d requests answered 429", b.refused)
	}
	span := b.at[len(b.at)-1].Sub(b.at[0])
	// 2n+1 requests (a GET and a PUT per variable, one token check); a
	// tenth of the budget goes at once, the rest 3% below the rate.
	floor := time.Duration(float64(len(b.at)-perMinute/10) / perMinute * float64(time.Minute))
	if span < floor*9/10 || span > floor*13/10 {
		t.Errorf("%d requests over %v, want about %v", len(b.at), span, floor)
	}
	if !strings.Contains(strings.Join(log, "\n"), "gitlab: pacing to the forge's rate budgets held requests back for") {
		t.Errorf("no word of pacing in the log: %q", log)
	}
}

// A 429 that still comes (another job shares the token) pauses every
// request for the Retry-After GitLab sent, not only the refused one: with
// one request at a time, the next target's write would go at once.
func TestGitLabLimitAnswerPausesEveryRequest(t *testing.T) {
	t.Parallel()
	b, _ := pacedFanout(t, 20, DefaultRequestsPerMinute, 1, gitlabfake.Fault{Method: "PUT", Status: http.StatusTooManyRequests, RetryAfter: "30", Times: 1})
	reqs := b.fake.Requests()
	if len(reqs) != len(b.at) {
		t.Fatalf("%d requests logged, %d timed", len(reqs), len(b.at))
	}
	var refused time.Time
	for i, r := range reqs {
		switch {
		case r.Fault:
			refused = b.at[i]
		case !refused.IsZero() && b.at[i].Sub(refused) < 30*time.Second:
			t.Errorf("%s %s %v after the 429, within its Retry-After", r.Method, r.Path, b.at[i].Sub(refused))
		}
	}
	if refused.IsZero() {
		t.Fatal("the fault did not fire")
	}
}
