package target

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/pace"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Result of one operation on one target.
type Result struct {
	Target   Target
	Attempts int
	Err      error
}

// Fanout runs an operation on many targets at once, each store's targets
// with their own concurrency: a Paced store's own (it paces its requests
// to the forge's documented budgets), else Limit. Concurrency halves (down
// to 1) each time a forge still pushes back, then grows again by one for
// every ten successes: a last resort behind the pacing, so that a burst of
// secondary rate limits slows the whole fan-out instead of hammering the
// forge.
type Fanout struct {
	Stores      map[Scheme]Store
	Limit       int           // initial concurrency of a store that is not Paced; default 8
	MaxAttempts int           // per target, including the first; default 6
	BaseDelay   time.Duration // default 1s
	MaxDelay    time.Duration // default 60s
	Sleep       func(ctx context.Context, d time.Duration) error
	Jitter      func() float64
	// Infof, when set, is told after an operation that pacing held back
	// (or a forge's limit answers slowed), and by how much.
	Infof func(format string, args ...any)
	// Now measures an operation for that report; default time.Now.
	Now func() time.Time
}

// Paced is a Store that paces its own requests to its forge's budgets
// (package pace): the fan-out gives it Concurrency targets at a time and
// reports what the pacing cost.
type Paced interface {
	Store
	Concurrency() int
	PaceStats() pace.Stats
}

func (f *Fanout) defaults() {
	if f.Limit <= 0 {
		f.Limit = 8
	}
	if f.MaxAttempts <= 0 {
		f.MaxAttempts = 6
	}
	if f.BaseDelay <= 0 {
		f.BaseDelay = time.Second
	}
	if f.MaxDelay <= 0 {
		f.MaxDelay = 60 * time.Second
	}
	if f.Sleep == nil {
		f.Sleep = wait.Sleep
	}
	if f.Jitter == nil {
		f.Jitter = rand.Float64
	}
	if f.Now == nil {
		f.Now = time.Now
	}
}

// Store returns the store for t's scheme, or an error naming what is missing.
func (f *Fanout) Store(t Target) (Store, error) {
	if s, ok := f.Stores[t.Scheme]; ok && s != nil {
		return s, nil
	}
	switch t.Scheme {
	case GitHub:
		return nil, fmt.Errorf("target %s needs GitHub credentials: set ASTRO_CI_GITHUB_TOKEN (a fine-grained PAT with Secrets: write) or a GitHub App (ASTRO_CI_GITHUB_APP_ID and ASTRO_CI_GITHUB_APP_PRIVATE_KEY)", t)
	case GitLab:
		return nil, fmt.Errorf("target %s needs GitLab credentials: set ASTRO_CI_GITLAB_TOKEN (a project or group access token with the api scope and the Maintainer role)", t)
	}
	return nil, fmt.Errorf("target %s: no store for scheme %q", t, t.Scheme)
}

// Preflight proves every target writable, as strongly as p asks.
func (f *Fanout) Preflight(ctx context.Context, ts []Target, p Proof) []Result {
	return f.run(ctx, ts, "preflight", func(ctx context.Context, s Store, t Target) error { return s.Preflight(ctx, t, p) })
}

// Put writes v to every target.
func (f *Fanout) Put(ctx context.Context, ts []Target, v secret.Value) []Result {
	return f.run(ctx, ts, "write", func(ctx context.Context, s Store, t Target) error { return s.Put(ctx, t, v) })
}

// Delete removes every target.
func (f *Fanout) Delete(ctx context.Context, ts []Target) []Result {
	return f.run(ctx, ts, "delete", func(ctx context.Context, s Store, t Target) error { return s.Delete(ctx, t) })
}

// Err joins the failures of results, nil when all succeeded.
func Err(results []Result) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

func (f *Fanout) run(ctx context.Context, ts []Target, opName string, op func(context.Context, Store, Target) error) []Result {
	f.defaults()
	results := make([]Result, len(ts))
	stores := map[Scheme]Store{}
	counts := map[Scheme]int{}
	for i, t := range ts {
		results[i].Target = t
		s, err := f.Store(t)
		if err != nil {
			results[i].Err = err
			continue
		}
		stores[t.Scheme] = s
		counts[t.Scheme]++
	}
	limiters := map[Scheme]*limiter{}
	before := map[Scheme]pace.Stats{}
	for sc, s := range stores {
		n := f.Limit
		if p, ok := s.(Paced); ok {
			n = p.Concurrency()
			before[sc] = p.PaceStats()
		}
		limiters[sc] = newLimiter(max(min(n, counts[sc]), 1))
	}
	start := f.Now()
	var wg sync.WaitGroup
	for i, t := range ts {
		s := stores[t.Scheme]
		if results[i].Err != nil || s == nil {
			continue
		}
		lim := limiters[t.Scheme]
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A panic here would bypass the run's redactor on its way to
			// stderr: turn it into this target's error instead.
			defer func() {
				if p := recover(); p != nil {
					results[i].Err = fmt.Errorf("internal error writing %s: %v", t, p)
				}
			}()
			results[i].Attempts, results[i].Err = f.attempt(ctx, lim, s, t, op)
		}()
	}
	wg.Wait()
	f.reportPacing(opName, start, stores, counts, before)
	return results
}

// reportPacing tells Infof what pacing cost each Paced store in this
// operation, when it cost anything.
func (f *Fanout) reportPacing(opName string, start time.Time, stores map[Scheme]Store, counts map[Scheme]int, before map[Scheme]pace.Stats) {
	if f.Infof == nil {
		return
	}
	elapsed := f.Now().Sub(start)
	schemes := make([]Scheme, 0, len(before))
	for sc := range before {
		schemes = append(schemes, sc)
	}
	slices.Sort(schemes)
	for _, sc := range schemes {
		d := stores[sc].(Paced).PaceStats().Sub(before[sc])
		held := d.HeldAny()
		if held <= 0 && d.Limited == 0 {
			continue
		}
		msg := fmt.Sprintf("%s: pacing to the forge's rate budgets held requests back for %s of this %s %s of %d targets",
			sc, held.Round(100*time.Millisecond), elapsed.Round(100*time.Millisecond), opName, counts[sc])
		if key, dur := d.Binding(); key != "" {
			msg += fmt.Sprintf(" (longest: %s, %s)", key, dur.Round(100*time.Millisecond))
		}
		if d.Limited > 0 {
			msg += fmt.Sprintf("; the forge still answered %d requests with a rate limit, and the waits it asked for came to %s", d.Limited, d.Paused.Round(time.Second))
		}
		f.Infof("%s", msg)
	}
}

func (f *Fanout) attempt(ctx context.Context, lim *limiter, s Store, t Target, op func(context.Context, Store, Target) error) (int, error) {
	for n := 1; ; n++ {
		if err := lim.acquire(ctx); err != nil {
			return n - 1, err
		}
		err := op(ctx, s, t)
		lim.release()
		if err == nil {
			lim.success()
			return n, nil
		}
		te := classify(err)
		if te == nil || !te.Retryable || n >= f.MaxAttempts || ctx.Err() != nil {
			if te != nil && te.Retryable && n > 1 {
				return n, fmt.Errorf("after %d attempts: %w", n, err)
			}
			return n, err
		}
		wait := f.BaseDelay << (n - 1)
		if wait <= 0 || wait > f.MaxDelay {
			wait = f.MaxDelay
		}
		wait = wait/2 + time.Duration(f.Jitter()*float64(wait/2))
		if te.PushBack {
			lim.pushBack()
		}
		if te.RetryAfter > 0 {
			wait = min(te.RetryAfter, f.MaxDelay)
		}
		if err := f.Sleep(ctx, wait); err != nil {
			return n, fmt.Errorf("%w (stopped waiting to retry: %w)", err, ctx.Err())
		}
	}
}

// limiter is a semaphore whose capacity moves between 1 and its start value.
type limiter struct {
	mu        sync.Mutex
	cond      *sync.Cond
	cap, max  int
	inUse     int
	successes int
}

func newLimiter(n int) *limiter {
	l := &limiter{cap: n, max: n}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *limiter) acquire(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.inUse >= l.cap {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.cond.Wait()
	}
	l.inUse++
	return nil
}

func (l *limiter) release() {
	l.mu.Lock()
	l.inUse--
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *limiter) pushBack() {
	l.mu.Lock()
	l.cap = max(1, l.cap/2)
	l.successes = 0
	l.mu.Unlock()
}

func (l *limiter) success() {
	l.mu.Lock()
	l.successes++
	if l.successes >= 10 && l.cap < l.max {
		l.cap++
		l.successes = 0
		l.cond.Broadcast()
	}
	l.mu.Unlock()
}

// Capacity is the current concurrency bound (for tests and reports).
func (l *limiter) Capacity() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cap
}
