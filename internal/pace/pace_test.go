package pace

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var start = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

var points = Budget{Limit: 900, Window: time.Minute}

// run acquires n requests of cost units from one budget with c workers on
// a simulated clock and returns the grant times.
func run(t *testing.T, n, c int, units float64, b Budget) []time.Time {
	t.Helper()
	sim := NewSim(start)
	p, err := New(Config{Concurrency: c, Now: sim.Now, Sleep: sim.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	sim.Attach(p)
	var mu sync.Mutex
	var at []time.Time
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for range jobs {
				g, err := p.Acquire(t.Context(), Spend{Key: "PUT /x", Units: units, Budget: b})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				at = append(at, sim.Now())
				mu.Unlock()
				g.Done(Feedback{})
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	slices.SortFunc(at, time.Time.Compare)
	return at
}

// maxInWindow is the most units granted in any window of length w that
// starts at a grant (the worst rolling window), and in any fixed window
// aligned to the clock's minutes.
func maxInWindow(at []time.Time, units float64, w time.Duration) (rolling, fixed float64) {
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < w; j++ {
			n++
		}
		rolling = max(rolling, float64(n)*units)
	}
	counts := map[int64]int{}
	for _, a := range at {
		counts[a.Truncate(w).UnixNano()]++
	}
	for _, n := range counts {
		fixed = max(fixed, float64(n)*units)
	}
	return rolling, fixed
}

func TestBudgetHoldsInEveryWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		n, c  int
		units float64
	}{
		{"writes", 500, 100, 5},
		{"reads", 3000, 100, 1},
		{"one at a time", 300, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := run(t, tc.n, tc.c, tc.units, points)
			rolling, fixed := maxInWindow(at, tc.units, time.Minute)
			if rolling > 900 || fixed > 900 {
				t.Errorf("most points in a minute: rolling %v, fixed %v; budget 900", rolling, fixed)
			}
			// The schedule stays near the floor the budget imposes.
			floor := time.Duration(float64(tc.n) * tc.units / 900 * float64(time.Minute))
			span := at[len(at)-1].Sub(start)
			if ratio := span.Seconds() / floor.Seconds(); ratio > 1.06 {
				t.Errorf("schedule %v for a floor of %v: ratio %.3f", span, floor, ratio)
			}
		})
	}
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	var in, most atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			g, err := p.Acquire(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			n := in.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			in.Add(-1)
			g.Done(Feedback{})
		})
	}
	wg.Wait()
	if m := most.Load(); m > 3 || m < 2 {
		t.Errorf("at most %d in flight, want 3", m)
	}
	if st := p.Stats(); st.Waited != 0 || st.HeldAny() != 0 {
		t.Errorf("stats %+v: waiting for a slot is not pacing", st)
	}
}

func TestLimitAnswerPausesAndHalvesTheRate(t *testing.T) {
	t.Parallel()
	sim := NewSim(start)
	p, _ := New(Config{Concurrency: 10, Now: sim.Now, Sleep: sim.Sleep})
	sim.Attach(p)
	spend := Spend{Key: "PUT /x", Units: 5, Budget: points}
	g, err := p.Acquire(t.Context(), spend)
	if err != nil {
		t.Fatal(err)
	}
	g.Done(Feedback{Limited: true, Wait: 30 * time.Second, Why: "secondary rate limit"})
	g.Done(Feedback{}) // twice is harmless
	g, err = p.Acquire(t.Context(), spend)
	if err != nil {
		t.Fatal(err)
	}
	if got := sim.Now().Sub(start); got < 30*time.Second {
		t.Errorf("next request after %v, want the 30 s the forge asked for", got)
	}
	g.Done(Feedback{})
	b := p.buckets["PUT /x"]
	if b.factor < 0.5 || b.factor > 0.51 {
		t.Errorf("rate factor %v after a limit answer and one success, want about 0.5", b.factor)
	}
	st := p.Stats()
	if st.Limited != 1 || st.Paused != 30*time.Second || st.Held["pause:secondary rate limit"] < 30*time.Second {
		t.Errorf("stats %+v", st)
	}
	// A limit answer without a wait pauses a minute; successes bring the
	// rate back.
	g, _ = p.Acquire(t.Context(), spend)
	g.Done(Feedback{Limited: true})
	before := sim.Now()
	for range 400 {
		g, err := p.Acquire(t.Context(), spend)
		if err != nil {
			t.Fatal(err)
		}
		g.Done(Feedback{})
	}
	if sim.Now().Sub(before) < DefaultLimitWait {
		t.Error("no minute's pause after a limit answer without a wait")
	}
	if b.factor != 1 {
		t.Errorf("rate factor %v after 400 successes, want 1", b.factor)
	}
}

func TestStandingClockStillMoves(t *testing.T) {
	t.Parallel()
	// A test clock that never moves and a sleep that returns at once: the
	// Pacer counts what it slept and goes on instead of spinning forever.
	frozen := func() time.Time { return start }
	var slept atomic.Int64
	p, _ := New(Config{Concurrency: 5, Now: frozen, Sleep: func(ctx context.Context, d time.Duration) error {
		slept.Add(int64(d))
		return ctx.Err()
	}})
	for range 300 {
		g, err := p.Acquire(t.Context(), Spend{Key: "k", Units: 5, Budget: points})
		if err != nil {
			t.Fatal(err)
		}
		g.Done(Feedback{})
	}
	if d := time.Duration(slept.Load()); d < 90*time.Second || d > 110*time.Second {
		t.Errorf("slept %v for 1,500 points at 900 a minute", d)
	}
	st := p.Stats()
	if key, d := st.Binding(); key != "k" || d < 90*time.Second {
		t.Errorf("binding %q for %v", key, d)
	}
}

func TestAcquireEndsWithContext(t *testing.T) {
	t.Parallel()
	p, _ := New(Config{Concurrency: 1})
	g, _ := p.Acquire(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { _, err := p.Acquire(ctx); done <- err }()
	cancel()
	if err := <-done; err == nil {
		t.Error("Acquire without a slot returned nil after cancel")
	}
	g.Done(Feedback{})
}

func TestRejectsBadConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Error("concurrency 0 accepted")
	}
	p, _ := New(Config{Concurrency: 1})
	if _, err := p.Acquire(t.Context(), Spend{Key: "k", Units: 1}); err == nil {
		t.Error("a budget without a limit accepted")
	}
	if _, err := p.Acquire(t.Context(), Spend{Key: "tiny", Units: 5, Budget: Budget{Limit: 5, Window: time.Minute}}); err == nil {
		t.Error("a spend as large as the whole budget accepted")
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

func TestHTTPTransportReusesConnections(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		name := "HTTP/1.1"
		if h2 {
			name = "HTTP/2"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const n, c = 200, 16
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if h2 != (r.ProtoMajor == 2) {
					t.Errorf("request over %s", r.Proto)
				}
				time.Sleep(time.Millisecond)
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			ln := &countingListener{Listener: srv.Listener}
			srv.Listener = ln
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			defer srv.Close()

			tr := NewHTTPTransport(c)
			tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			p, _ := New(Config{Concurrency: c})
			client := &http.Client{Transport: &RoundTripper{Pacer: p, Next: tr}}
			var wg sync.WaitGroup
			jobs := make(chan int)
			for range c * 2 { // more workers than slots: the pacer bounds them
				wg.Go(func() {
					for range jobs {
						resp, err := client.Get(srv.URL)
						if err != nil {
							t.Error(err)
							return
						}
						_ = resp.Body.Close() // unread: Close drains it
					}
				})
			}
			for i := range n {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			if got := ln.n.Load(); got > c {
				t.Errorf("%d connections for %d requests at concurrency %d, want at most %d", got, n, c, c)
			}
		})
	}
}
