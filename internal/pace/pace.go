// Package pace keeps a client's requests to an API inside the API's
// documented budgets, ahead of time rather than after the API pushes back.
//
// A Pacer bounds the requests in flight and holds any number of rate
// budgets ("900 points a minute per endpoint", "80 creations a minute").
// Each request says what it spends from which budgets; the Pacer lets it go
// when a slot is free and every budget it spends from has the units. A
// budget is a token bucket that holds a small burst and refills a little
// below the budget's rate, so that for every window of the budget's length,
// rolling or fixed, burst + rate × window stays under the limit: a budget
// is never exceeded on purpose, whatever the forge's window looks like.
//
// The Pacer starts at the full configured rate and adapts: a limit answer
// that still happens (another job sharing the credential, a smaller limit
// than configured) halves the rate of the budgets the refused request spent
// from and pauses every request for the wait the forge asked for; the rate
// recovers as requests succeed again.
//
// Nothing here knows a forge: the GitHub store says what its requests
// spend (githubstore), and a GitLab store can do the same with its own
// budgets.
package pace

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/wait"
)

// Budget is one documented rate limit: Limit units per Window.
type Budget struct {
	Limit  float64
	Window time.Duration
	// Burst is how many units may go at once after a quiet spell; 0 means
	// two seconds' worth of the budget, and never less than one request's
	// spend.
	Burst float64
}

// Spend is what one request takes from one budget.
type Spend struct {
	// Key names the budget: requests with the same key share it.
	Key   string
	Units float64
	// Budget describes the budget; it is read when Key is first seen.
	Budget Budget
}

// Config configures a Pacer.
type Config struct {
	// Concurrency bounds the requests in flight; at least 1.
	Concurrency int
	// Margin is the fraction of every budget left unused, for the distance
	// between this clock and the forge's (a request is counted when it
	// arrives, not when it leaves). Default 0.03: at a per-minute budget,
	// 1.8 s of latency jitter fit in it.
	Margin float64
	// Now and Sleep are the clock; default time.Now and wait.Sleep. The
	// Pacer also counts the time it slept, so that a Sleep that returns at
	// once with a clock that stands still (tests) still moves it forward.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Pacer schedules requests. It is safe for concurrent use.
type Pacer struct {
	concurrency int
	margin      float64
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	floor    time.Time // the latest time the Pacer knows has passed
	inFlight int
	changed  chan struct{} // closed and replaced when a slot frees or a pause ends
	idle     *sync.Cond    // signalled when inFlight drops to 0
	buckets  map[string]*bucket
	paused   time.Time // no request starts before this
	pauseWhy string

	stats   Stats
	holding map[string]int       // requests held, by what holds them
	since   map[string]time.Time // when the current hold of a key began
}

// New returns a Pacer.
func New(cfg Config) (*Pacer, error) {
	if cfg.Concurrency < 1 {
		return nil, fmt.Errorf("pace: concurrency %d is not at least 1", cfg.Concurrency)
	}
	if cfg.Margin < 0 || cfg.Margin >= 0.5 {
		return nil, fmt.Errorf("pace: margin %v is not in [0, 0.5)", cfg.Margin)
	}
	p := &Pacer{
		concurrency: cfg.Concurrency,
		margin:      cfg.Margin,
		now:         cfg.Now,
		sleep:       cfg.Sleep,
		changed:     make(chan struct{}),
		buckets:     map[string]*bucket{},
		holding:     map[string]int{},
		since:       map[string]time.Time{},
	}
	if p.margin == 0 {
		p.margin = 0.03
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.sleep == nil {
		p.sleep = wait.Sleep
	}
	p.idle = sync.NewCond(&p.mu)
	p.stats.Held = map[string]time.Duration{}
	return p, nil
}

// Concurrency is the bound on requests in flight.
func (p *Pacer) Concurrency() int { return p.concurrency }

// clockLocked is the Pacer's time: the clock, or what the Pacer has slept
// through when the clock lags behind.
func (p *Pacer) clockLocked() time.Time {
	now := p.now()
	if now.Before(p.floor) {
		return p.floor
	}
	p.floor = now
	return now
}

// bucket is a token bucket for one budget.
type bucket struct {
	key    string
	budget Budget
	burst  float64
	rate   float64 // units per second at full speed
	factor float64 // 1 = full speed; lowered by limit answers
	tokens float64
	at     time.Time
}

func (p *Pacer) bucketLocked(s Spend, now time.Time) (*bucket, error) {
	if b := p.buckets[s.Key]; b != nil {
		if s.Units > b.burst {
			return nil, fmt.Errorf("pace: a request spends %v units from %s, more than its burst %v", s.Units, s.Key, b.burst)
		}
		return b, nil
	}
	bg := s.Budget
	if bg.Limit <= 0 || bg.Window <= 0 {
		return nil, fmt.Errorf("pace: budget %s has no limit or window", s.Key)
	}
	usable := bg.Limit * (1 - p.margin)
	burst := bg.Burst
	if burst <= 0 {
		burst = usable * float64(2*time.Second) / float64(bg.Window)
	}
	burst = max(burst, s.Units)
	if burst >= usable {
		return nil, fmt.Errorf("pace: budget %s: burst %v leaves no rate under the limit %v", s.Key, burst, bg.Limit)
	}
	b := &bucket{
		key: s.Key, budget: bg, burst: burst,
		// burst + rate × window ≤ limit × (1 − margin) for every window.
		rate:   (usable - burst) / bg.Window.Seconds(),
		factor: 1,
		tokens: burst,
		at:     now,
	}
	p.buckets[s.Key] = b
	return b, nil
}

func (b *bucket) fill(now time.Time) {
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate*b.factor)
	}
	if now.After(b.at) {
		b.at = now
	}
}

// readyAt is when the bucket will hold units.
func (b *bucket) readyAt(now time.Time, units float64) time.Time {
	b.fill(now)
	if b.tokens >= units {
		return now
	}
	secs := (units - b.tokens) / (b.rate * b.factor)
	// Round up to the nanosecond so that the wake-up finds the units.
	return now.Add(time.Duration(secs*float64(time.Second)) + 1)
}

// Grant is a request let go; Done must be called when its answer is in.
type Grant struct {
	p      *Pacer
	spends []Spend
	once   sync.Once
}

// Feedback is what an answer says about the budgets.
type Feedback struct {
	// Limited: the forge refused the request for a rate limit.
	Limited bool
	// Wait is how long the forge asked every request to wait (Retry-After,
	// or until a primary window resets); with Limited and no Wait the
	// Pacer waits a minute.
	Wait time.Duration
	// Why names the limit for the log, e.g. "secondary rate limit".
	Why string
}

// DefaultLimitWait is the pause after a limit answer that named no wait:
// "wait for at least one minute" (GitHub's guidance for secondary limits).
const DefaultLimitWait = time.Minute

// Acquire waits until a request spending spends may go, and returns its
// Grant. It fails only when ctx ends or a spend is malformed.
func (p *Pacer) Acquire(ctx context.Context, spends ...Spend) (*Grant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held := ""
	defer func() { p.holdLocked(held, "", p.clockLocked()) }()
	p.stats.Requests++
	waited := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		now := p.clockLocked()
		var until time.Time
		why := ""
		switch {
		case now.Before(p.paused):
			until, why = p.paused, "pause:"+p.pauseWhy
		case p.inFlight >= p.concurrency:
			// Waiting for a slot is not pacing: the concurrency is the
			// budget working as configured.
		default:
			until = now
			for _, s := range spends {
				b, err := p.bucketLocked(s, now)
				if err != nil {
					return nil, err
				}
				if t := b.readyAt(now, s.Units); t.After(until) {
					until, why = t, b.key
				}
			}
			if !until.After(now) {
				for _, s := range spends {
					p.buckets[s.Key].tokens -= s.Units
				}
				p.inFlight++
				if waited {
					p.stats.Waited++
				}
				return &Grant{p: p, spends: spends}, nil
			}
		}
		p.holdLocked(held, why, now)
		held = why
		if why != "" {
			waited = true
		}
		if until.IsZero() {
			ch := p.changed
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
			}
			p.mu.Lock()
			continue
		}
		d := until.Sub(now)
		p.mu.Unlock()
		err := p.sleep(ctx, d)
		p.mu.Lock()
		if err != nil {
			return nil, err
		}
		if until.After(p.floor) {
			p.floor = until
		}
	}
}

// anyKey counts the requests held by anything, for the time during which
// pacing held the run back at all.
const anyKey = "*"

// holdLocked moves one request from being held by from to being held by to
// ("" = not held), keeping for each holder the time during which it held at
// least one request.
func (p *Pacer) holdLocked(from, to string, now time.Time) {
	if from == to {
		return
	}
	for _, k := range []string{from, anyKey} {
		if from == "" {
			break
		}
		p.holding[k]--
		if p.holding[k] == 0 {
			p.stats.Held[k] += now.Sub(p.since[k])
		}
	}
	for _, k := range []string{to, anyKey} {
		if to == "" {
			break
		}
		if p.holding[k] == 0 {
			p.since[k] = now
		}
		p.holding[k]++
	}
}

// Done releases g's slot and takes in what its answer said. Calling it more
// than once is harmless.
func (g *Grant) Done(fb Feedback) {
	g.once.Do(func() { g.p.done(g, fb) })
}

func (p *Pacer) done(g *Grant, fb Feedback) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clockLocked()
	p.inFlight--
	close(p.changed)
	p.changed = make(chan struct{})
	if p.inFlight == 0 {
		p.idle.Broadcast()
	}
	if fb.Limited {
		p.stats.Limited++
		for _, s := range g.spends {
			if b := p.buckets[s.Key]; b != nil {
				b.fill(now)
				b.factor = max(b.factor/2, 1.0/8)
			}
		}
		if fb.Wait <= 0 {
			fb.Wait = DefaultLimitWait
		}
	} else {
		// Recover: a window's worth of budget spent without a refusal
		// brings half the full rate back.
		for _, s := range g.spends {
			if b := p.buckets[s.Key]; b != nil && b.factor < 1 {
				b.fill(now)
				b.factor = min(1, b.factor+s.Units/b.budget.Limit/2)
			}
		}
	}
	if fb.Wait > 0 {
		if until := now.Add(fb.Wait); until.After(p.paused) {
			p.paused, p.pauseWhy = until, fb.Why
			p.stats.Paused += fb.Wait
		}
	}
}

// Stats are what the Pacer did so far.
type Stats struct {
	Requests int // requests acquired
	Waited   int // requests that waited for a budget or a pause
	Limited  int // limit answers
	// Held is, per budget key (and "pause:<why>" for pauses after limit
	// answers), the time during which it held at least one request back;
	// "*" is the time during which anything did.
	Held map[string]time.Duration
	// Paused sums the waits that limit answers asked for.
	Paused time.Duration
}

// Stats returns a copy of the statistics; a hold still going on counts up
// to now.
func (p *Pacer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clockLocked()
	st := p.stats
	st.Held = make(map[string]time.Duration, len(p.stats.Held))
	for k, v := range p.stats.Held {
		st.Held[k] = v
	}
	for k, n := range p.holding {
		if n > 0 {
			st.Held[k] += now.Sub(p.since[k])
		}
	}
	return st
}

// Sub is what happened between an earlier snapshot and s.
func (s Stats) Sub(earlier Stats) Stats {
	d := Stats{
		Requests: s.Requests - earlier.Requests,
		Waited:   s.Waited - earlier.Waited,
		Limited:  s.Limited - earlier.Limited,
		Paused:   s.Paused - earlier.Paused,
		Held:     map[string]time.Duration{},
	}
	for k, v := range s.Held {
		if v -= earlier.Held[k]; v > 0 {
			d.Held[k] = v
		}
	}
	return d
}

// Binding is the budget (or pause) that held requests back longest, and
// for how long; "" when nothing did.
func (s Stats) Binding() (string, time.Duration) {
	keys := make([]string, 0, len(s.Held))
	for k := range s.Held {
		if k != anyKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	best, d := "", time.Duration(0)
	for _, k := range keys {
		if s.Held[k] > d {
			best, d = k, s.Held[k]
		}
	}
	return best, d
}

// HeldAny is the time during which pacing held anything back.
func (s Stats) HeldAny() time.Duration { return s.Held[anyKey] }

// whenIdle runs f under the Pacer's lock once no granted request is in
// flight, so that no request is let go while f runs.
func (p *Pacer) whenIdle(ctx context.Context, f func()) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.idle.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inFlight > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.idle.Wait()
	}
	f()
	return nil
}
