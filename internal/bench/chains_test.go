package bench

import (
	"context"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakegate"
)

// instant is the CLI's pauses in the chain tests: they pin orders, not
// times, and run no latency.
func instant(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// Issue 13: every operation of the table makes exactly its scenario's
// requests, in its rounds: each request of a round in flight with the
// others of the round, each waiting for the round before (fakegate.Script
// holds every request until its round is complete, so a request that waits
// for one of its own round, or one that is not in any round, fails the
// test). The number of rounds is the chain, which must not exceed the
// scenario's minimum.
func TestChains(t *testing.T) {
	t.Parallel()
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			if len(sc.Rounds) > sc.Min {
				t.Fatalf("the scenario's rounds (%d) exceed its minimum %d", len(sc.Rounds), sc.Min)
			}
			w := NewWorld(Options{Sleep: instant, Check: contractCheck(t)})
			t.Cleanup(w.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := sc.Setup(ctx, w); err != nil {
				t.Fatal(err)
			}
			rounds := make([][]fakegate.Matcher, len(sc.Rounds))
			for i, r := range sc.Rounds {
				rounds[i] = r
			}
			s := w.Gate.Script(rounds...)
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			defer scancel()
			ran := make(chan error, 1)
			go func() { ran <- s.Run(sctx) }()
			r := w.Run(ctx, sc.Args...)
			if err := <-ran; err != nil {
				t.Errorf("%v\nrequests: %v", err, r.Entries)
			}
			if err := s.Done(); err != nil {
				t.Error(err)
			}
			if r.Code != 0 {
				t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
			}
			if n := fakegate.Chain(r.Entries); n != len(sc.Rounds) {
				t.Errorf("chain %d, want %d: %v", n, len(sc.Rounds), r.Entries)
			}
		})
	}
}
