package target

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/pace"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// memStore is an in-memory Store whose failures are scripted per target.
type memStore struct {
	mu       sync.Mutex
	values   map[string]string
	fail     map[string][]error // per target, consumed in order
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	calls    atomic.Int32
	hold     time.Duration
}

var _ Store = (*memStore)(nil)

func newMem() *memStore { return &memStore{values: map[string]string{}, fail: map[string][]error{}} }

func (m *memStore) next(t Target) error {
	m.calls.Add(1)
	n := m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	for {
		old := m.maxSeen.Load()
		if n <= old || m.maxSeen.CompareAndSwap(old, n) {
			break
		}
	}
	if m.hold > 0 {
		time.Sleep(m.hold)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if q := m.fail[t.String()]; len(q) > 0 {
		m.fail[t.String()] = q[1:]
		return q[0]
	}
	return nil
}

func (m *memStore) Preflight(_ context.Context, t Target, _ Proof) error { return m.next(t) }
func (m *memStore) Put(_ context.Context, t Target, v secret.Value) error {
	if err := m.next(t); err != nil {
		return err
	}
	m.mu.Lock()
	m.values[t.String()] = v.Reveal()
	m.mu.Unlock()
	return nil
}
func (m *memStore) Delete(_ context.Context, t Target) error {
	if err := m.next(t); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.values, t.String())
	m.mu.Unlock()
	return nil
}

func ghTargets(n int) []Target {
	var ts []Target
	for i := range n {
		t, err := Parse(fmt.Sprintf("github://acme/repo%d/secrets/ASTRO_API_TOKEN", i), Defaults{})
		if err != nil {
			panic(err)
		}
		ts = append(ts, t)
	}
	return ts
}

type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	time.Sleep(time.Millisecond)
	return nil
}

func TestFanoutRetriesTransientAndPushBack(t *testing.T) {
	t.Parallel()
	m := newMem()
	ts := ghTargets(50)
	for i, tg := range ts {
		switch i % 5 {
		case 0:
			m.fail[tg.String()] = []error{&Error{Retryable: true, Status: 502, Err: errors.New("bad gateway")}}
		case 1:
			m.fail[tg.String()] = []error{&Error{Retryable: true, PushBack: true, Status: 429, RetryAfter: 3 * time.Second, Err: errors.New("slow down")}}
		case 2:
			m.fail[tg.String()] = []error{&Error{Retryable: true, PushBack: true, Status: 403, Err: errors.New("secondary rate limit")}, &Error{Retryable: true, Status: 503, Err: errors.New("unavailable")}}
		}
	}
	w := &waits{}
	f := &Fanout{Stores: map[Scheme]Store{GitHub: m}, Sleep: w.sleep, Jitter: func() float64 { return 0 }}
	res := f.Put(context.Background(), ts, secret.New("the-new-value-123"))
	if err := Err(res); err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		if m.values[tg.String()] != "the-new-value-123" {
			t.Fatalf("%s not written", tg)
		}
	}
	if got := m.maxSeen.Load(); got > 8 {
		t.Fatalf("concurrency %d exceeded the bound 8", got)
	}
	saw3s := false
	for _, d := range w.d {
		saw3s = saw3s || d == 3*time.Second
	}
	if !saw3s {
		t.Fatalf("Retry-After not honoured: waits %v", w.d)
	}
}

func TestFanoutShrinksUnderPushBack(t *testing.T) {
	t.Parallel()
	m := newMem()
	m.hold = 5 * time.Millisecond
	ts := ghTargets(40)
	// Every target is pushed back three times: the bound must fall to 1.
	for _, tg := range ts {
		for range 3 {
			m.fail[tg.String()] = append(m.fail[tg.String()], &Error{Retryable: true, PushBack: true, Status: 429, Err: errors.New("429")})
		}
	}
	f := &Fanout{Stores: map[Scheme]Store{GitHub: m}, Sleep: (&waits{}).sleep, MaxAttempts: 5}
	lim := newLimiter(8)
	var mu sync.Mutex
	var caps []int
	// Drive attempts through one limiter to observe its capacity.
	f.defaults()
	var wg sync.WaitGroup
	for _, tg := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.attempt(context.Background(), lim, m, tg, func(ctx context.Context, s Store, t Target) error { return s.Put(ctx, t, secret.New("v-value-123")) })
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			caps = append(caps, lim.Capacity())
			mu.Unlock()
		}()
	}
	wg.Wait()
	minCap := 8
	for _, c := range caps {
		minCap = min(minCap, c)
	}
	if minCap != 1 {
		t.Fatalf("capacity never fell to 1 under push-back: %v", caps)
	}
}

func TestFanoutPermanentFailure(t *testing.T) {
	t.Parallel()
	m := newMem()
	ts := ghTargets(3)
	m.fail[ts[1].String()] = []error{&Error{Op: "write", Target: ts[1].String(), Status: 403, Err: errors.New("forbidden"), Hint: "needs Secrets: write"}}
	f := &Fanout{Stores: map[Scheme]Store{GitHub: m}, Sleep: (&waits{}).sleep}
	res := f.Put(context.Background(), ts, secret.New("value-12345678"))
	err := Err(res)
	if err == nil || !strings.Contains(err.Error(), "needs Secrets: write") || res[1].Attempts != 1 {
		t.Fatalf("err %v attempts %d", err, res[1].Attempts)
	}
	if res[0].Err != nil || res[2].Err != nil {
		t.Fatal("other targets must still be written")
	}
}

func TestFanoutGivesUp(t *testing.T) {
	t.Parallel()
	m := newMem()
	ts := ghTargets(1)
	for range 10 {
		m.fail[ts[0].String()] = append(m.fail[ts[0].String()], &Error{Retryable: true, Status: 503, Err: errors.New("unavailable")})
	}
	f := &Fanout{Stores: map[Scheme]Store{GitHub: m}, Sleep: (&waits{}).sleep, MaxAttempts: 4}
	res := f.Put(context.Background(), ts, secret.New("value-12345678"))
	if res[0].Err == nil || res[0].Attempts != 4 || !strings.Contains(res[0].Err.Error(), "after 4 attempts") {
		t.Fatalf("%+v", res[0])
	}
}

func TestFanoutMissingStore(t *testing.T) {
	t.Parallel()
	f := &Fanout{Stores: map[Scheme]Store{}}
	ts, _ := ParseAll([]string{"github://a/b/secrets/X", "gitlab://g/p/variables/X"}, Defaults{})
	err := Err(f.Preflight(context.Background(), ts, Proof{}))
	if err == nil || !strings.Contains(err.Error(), "ASTRO_CI_GITHUB_TOKEN") || !strings.Contains(err.Error(), "ASTRO_CI_GITLAB_TOKEN") {
		t.Fatalf("err = %v", err)
	}
}

type panicStore struct{ memStore }

func (p *panicStore) Put(context.Context, Target, secret.Value) error { panic("boom in store") }

func TestFanoutTurnsPanicsIntoErrors(t *testing.T) {
	t.Parallel()
	f := &Fanout{Stores: map[Scheme]Store{GitHub: &panicStore{}}}
	res := f.Put(context.Background(), ghTargets(2), secret.New("value-1234567890"))
	for _, r := range res {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "internal error writing") {
			t.Fatalf("%+v", r)
		}
	}
}

// pacedMem is a memStore that says it paces itself.
type pacedMem struct {
	*memStore
	conc int
}

func (p *pacedMem) Concurrency() int { return p.conc }

func (p *pacedMem) PaceStats() pace.Stats {
	st := pace.Stats{Held: map[string]time.Duration{}}
	if n := p.calls.Load(); n > 0 {
		// Pretend each call was held a second by one budget.
		st.Held["*"] = time.Duration(n) * time.Second
		st.Held["points PUT /x"] = time.Duration(n) * time.Second
	}
	return st
}

var _ Paced = (*pacedMem)(nil)

// A Paced store gets its own concurrency (not Limit), and the fan-out
// reports what pacing cost; a store that is not Paced keeps Limit.
func TestFanoutPacedStoreConcurrencyAndReport(t *testing.T) {
	t.Parallel()
	pm := &pacedMem{memStore: newMem(), conc: 20}
	pm.hold = 5 * time.Millisecond
	plain := newMem()
	plain.hold = 5 * time.Millisecond
	var lines []string
	f := &Fanout{Stores: map[Scheme]Store{GitHub: pm, File: plain}, Limit: 3,
		Infof: func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }}
	ts := ghTargets(40)
	for i := range 10 {
		ft, err := Parse(fmt.Sprintf("file://%s/f%d", t.TempDir(), i), Defaults{})
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, ft)
	}
	if err := Err(f.Put(t.Context(), ts, secret.New("v"))); err != nil {
		t.Fatal(err)
	}
	if m := pm.maxSeen.Load(); m <= 3 || m > 20 {
		t.Errorf("paced store saw %d at once, want its own 20 (not Limit 3)", m)
	}
	if m := plain.maxSeen.Load(); m > 3 {
		t.Errorf("plain store saw %d at once, want at most Limit 3", m)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "github: pacing to the forge's rate budgets held requests back for 40s of this") ||
		!strings.Contains(lines[0], "write of 40 targets (longest: points PUT /x, 40s)") {
		t.Errorf("report %q", lines)
	}
}
