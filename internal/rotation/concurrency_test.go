package rotation

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
)

// crossWrites makes two runs' writes interleave the worst way: on target a
// the first value written is overwritten by the second run's, on target b
// the other way round, so that without coordination the targets end with
// different tokens. A held write waits for the other run's write to the same
// target, or for a short time when the protocol makes the other run wait
// (then there is nothing to interleave with).
func crossWrites(m *memStore) {
	var mu sync.Mutex
	first := map[string]string{} // path → the value whose write came first
	landed := map[string]chan struct{}{}
	m.before = func(path, value string) {
		mu.Lock()
		f, seen := first[path]
		if !seen {
			first[path] = value
			landed[path] = make(chan struct{})
		}
		ch := landed[path]
		mu.Unlock()
		switch {
		case !seen && strings.HasSuffix(path, "/b"):
			// On b the first writer waits until the second has written.
			select {
			case <-ch:
			case <-time.After(300 * time.Millisecond):
			}
		case seen && f != value:
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	}
}

// TestConcurrentOverlapRotationsLeaveNoTargetDead is issue 9 defect 1: two
// rotations of one token, started together with no CI serialisation, both
// plan before either creates; their writes interleave. Afterwards, and after
// every later run (due or not, by the same or another credential), every
// target holds a value Astro accepts, and the lineage converges to one live
// token.
func TestConcurrentOverlapRotationsLeaveNoTargetDead(t *testing.T) {
	t.Parallel()
	for _, self := range []bool{true, false} {
		name := map[bool]string{true: "self-rotation", false: "rotated by an admin token"}[self]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ts := w.targets("a", "b", "c")
			w.seed(w.ciValue, ts)
			crossWrites(w.store)
			creates := newGate(2)
			w.fake.InjectFault(astrofake.Fault{Route: "CreateApiToken", Hold: creates.hold, Times: 2})
			cred := w.ciValue
			req := Request{Strategy: Overlap, Targets: ts}
			if !self {
				cred = w.botValue
				req.TokenID = w.ciID
			}
			a, b := w.engine("A", cred), w.engine("B", cred)
			errs := runAll(
				func() error { _, err := a.Run(t.Context(), req); return err },
				func() error { _, err := b.Run(t.Context(), req); return err },
			)
			for i, err := range errs {
				if err != nil {
					t.Logf("run %c: %v", 'A'+i, err)
				}
			}
			w.assertTargetsLive("after the concurrent runs", ts)

			// Later runs: not due (by the token in a target, and by another
			// admin credential naming the token), then one that rotates.
			later := func(label, value string, r Request) {
				t.Helper()
				if _, err := w.engine(label, value).Run(t.Context(), r); err != nil {
					t.Logf("%s: %v", label, err)
				}
				w.assertTargetsLive("after "+label, ts)
			}
			held, _ := w.store.get(ts[1].Path)
			later("a not-due run with the value in a target", held, Request{Strategy: Overlap, IfExpiresWithin: time.Hour, Targets: ts})
			later("a not-due run by astro-ci-bot", w.botValue, Request{Strategy: Overlap, TokenName: "ci", IfExpiresWithin: time.Hour, Targets: ts})
			w.store.before = nil
			held, _ = w.store.get(ts[0].Path)
			later("a due run", held, Request{Strategy: Overlap, Targets: ts})
			later("a not-due run after it", w.botValue, Request{Strategy: Overlap, TokenName: "ci", IfExpiresWithin: time.Hour, Targets: ts})
			if n := len(w.tokensNamed("ci")); n != 1 {
				t.Errorf("%d tokens named ci are live after the runs, want 1 (converged)\nlog:\n%s", n, w.log())
			}
			if t.Failed() {
				return
			}
			v0, _ := w.store.get(ts[0].Path)
			for _, tg := range ts[1:] {
				if v, _ := w.store.get(tg.Path); v != v0 {
					t.Errorf("targets hold different tokens after convergence")
				}
			}
		})
	}
}

// TestConcurrentRotationsNaturalRace runs several rotations of one token at
// once, many times, with the race detector: every target stays live and the
// lineage converges.
func TestConcurrentRotationsNaturalRace(t *testing.T) {
	t.Parallel()
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	for round := range rounds {
		w := newWorld(t)
		ts := w.targets("a", "b", "c")
		w.seed(w.ciValue, ts)
		n := 2 + round%3
		var fns []func() error
		for i := range n {
			e := w.engine(string(rune('A'+i)), w.ciValue)
			fns = append(fns, func() error {
				_, err := e.Run(context.Background(), Request{Strategy: Overlap, Targets: ts})
				return err
			})
		}
		runAll(fns...)
		w.assertTargetsLive("after the race", ts)
		held, _ := w.store.get(ts[0].Path)
		if _, err := w.engine("Z", held).Run(context.Background(), Request{Strategy: Overlap, Targets: ts}); err != nil {
			t.Errorf("round %d: the follow-up rotation failed: %v\n%s", round, err, w.log())
		}
		w.assertTargetsLive("after the follow-up", ts)
		if got := len(w.tokensNamed("ci")); got != 1 {
			t.Errorf("round %d (%d runs): %d live tokens named ci, want 1\n%s", round, n, got, w.log())
		}
		if t.Failed() {
			return
		}
	}
}
