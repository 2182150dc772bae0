package target

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Result of one operation on one target.
type Result struct {
	Target   Target
	Attempts int
	Err      error
}

// Fanout runs an operation on many targets at once. Concurrency starts at
// Limit and halves (down to 1) each time a forge pushes back, then grows
// again by one for every ten successes, so a burst of secondary rate limits
// slows the whole fan-out instead of hammering the forge.
type Fanout struct {
	Stores      map[Scheme]Store
	Limit       int           // initial concurrency; default 8
	MaxAttempts int           // per target, including the first; default 6
	BaseDelay   time.Duration // default 1s
	MaxDelay    time.Duration // default 60s
	Sleep       func(ctx context.Context, d time.Duration) error
	Jitter      func() float64
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
	return f.run(ctx, ts, func(ctx context.Context, s Store, t Target) error { return s.Preflight(ctx, t, p) })
}

// Put writes v to every target.
func (f *Fanout) Put(ctx context.Context, ts []Target, v secret.Value) []Result {
	return f.run(ctx, ts, func(ctx context.Context, s Store, t Target) error { return s.Put(ctx, t, v) })
}

// Delete removes every target.
func (f *Fanout) Delete(ctx context.Context, ts []Target) []Result {
	return f.run(ctx, ts, func(ctx context.Context, s Store, t Target) error { return s.Delete(ctx, t) })
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

func (f *Fanout) run(ctx context.Context, ts []Target, op func(context.Context, Store, Target) error) []Result {
	f.defaults()
	results := make([]Result, len(ts))
	lim := newLimiter(min(f.Limit, max(len(ts), 1)))
	var wg sync.WaitGroup
	for i, t := range ts {
		results[i].Target = t
		s, err := f.Store(t)
		if err != nil {
			results[i].Err = err
			continue
		}
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
	return results
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
