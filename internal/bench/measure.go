package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakegate"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Figures are what measuring a scenario found.
type Figures struct {
	Scenario Scenario
	Latency  time.Duration
	// Requests and Chain are the operation's (the same in every run, else
	// Measure fails).
	Requests, Chain int
	// Wall is the median wall time of a run of cli.Main.Run.
	Wall time.Duration
	// Paused is the part of Wall the CLI spent in its own pauses (Sleep),
	// not waiting for a request: a protocol's deliberate wait.
	Paused time.Duration
}

// Ratio is wall / (minimum × L).
func (f Figures) Ratio() float64 {
	return f.Wall.Seconds() / (float64(f.Scenario.Min) * f.Latency.Seconds())
}

// RatioActive is (wall − deliberate pauses) / (minimum × L).
func (f Figures) RatioActive() float64 {
	return (f.Wall - f.Paused).Seconds() / (float64(f.Scenario.Min) * f.Latency.Seconds())
}

// Measure runs sc runs times, each in a new world whose every request
// takes l, and returns the median figures.
func Measure(ctx context.Context, sc Scenario, l time.Duration, runs int) (Figures, error) {
	fig := Figures{Scenario: sc, Latency: l}
	var walls, pauses []time.Duration
	for i := range runs {
		var (
			mu      sync.Mutex
			paused  time.Duration
			pausing bool
		)
		sleep := func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			if pausing {
				paused += d
			}
			mu.Unlock()
			return wait.Sleep(ctx, d)
		}
		w := NewWorld(Options{Latency: l, Sleep: sleep})
		err := sc.Setup(ctx, w)
		if err != nil {
			w.Close()
			return fig, fmt.Errorf("%s: %w", sc.Name, err)
		}
		mu.Lock()
		pausing = true
		mu.Unlock()
		r := w.Run(ctx, sc.Args...)
		mu.Lock()
		pausing = false
		mu.Unlock()
		w.Close()
		if r.Code != 0 {
			return fig, fmt.Errorf("%s: exit %d: %s", sc.Name, r.Code, r.Stderr)
		}
		n, c := len(r.Entries), fakegate.Chain(r.Entries)
		if i > 0 && (n != fig.Requests || c != fig.Chain) {
			return fig, fmt.Errorf("%s: run %d made %d requests in a chain of %d, run 1 %d in %d", sc.Name, i+1, n, c, fig.Requests, fig.Chain)
		}
		fig.Requests, fig.Chain = n, c
		walls = append(walls, r.Wall)
		mu.Lock()
		pauses = append(pauses, paused)
		mu.Unlock()
	}
	fig.Wall, fig.Paused = Median(walls), Median(pauses)
	return fig, nil
}

// Median is the middle of ds once sorted (the upper one of an even count);
// 0 for none. ds is left as it is.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
