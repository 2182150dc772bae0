package kill

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Limits of one run; none is a promise of the product, only how long the
// harness waits before it calls a run stuck.
const (
	runLimit  = 60 * time.Second
	termGrace = 12 * time.Second // SIGTERM: the product stops within 10 s
)

// enumerate runs the scenario once, unharmed, and returns its steps in
// arrival order: each request is a step boundary. The unharmed run must
// succeed and converge (the baseline every kill point is measured from).
func enumerate(t *testing.T, sc scenario) []Step {
	t.Helper()
	w := newWorld(t)
	j := sc.setup(w)
	p := w.run(j.args, j.env)
	if in, _ := p.waitFor(runLimit, termGrace); !in || p.code != 0 {
		t.Fatalf("the unharmed run failed (exit %d, %s):\n%s", p.code, p.signalled, p.output())
	}
	report(t, "the unharmed run", j.converged(w))
	var steps []Step
	for _, s := range w.px.steps() {
		steps = append(steps, s.Step)
	}
	return steps
}

// killPoint is one place to kill a run: holding step at when.
type killPoint struct {
	step Step
	when When
}

// String is the subtest's name: no slash, so -run can name one point.
func (k killPoint) String() string {
	return fmt.Sprintf("%s:%s", k.when, strings.ReplaceAll(strings.Replace(k.step.String(), " /", " ", 1), "/", "."))
}

func killPoints(steps []Step) []killPoint {
	var out []killPoint
	for _, s := range steps {
		out = append(out, killPoint{s, Before}, killPoint{s, After})
	}
	return out
}

// TestKillAtEveryStep SIGKILLs the binary at every step boundary of every
// scenario: with the request of that step held before the fake saw it, or
// after the fake applied it and before its answer left. Right after the
// kill, every target must hold a value Astro accepts (in-place: the
// recovery blob instead, see checkInPlace); after an hour on the fakes'
// clock (a dead run's ttl has passed) the same command, rerun, must
// converge. -short runs every kill point of overlap rotation and every
// third of the others.
func TestKillAtEveryStep(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			steps := enumerate(t, sc)
			points := killPoints(steps)
			var names []string
			for _, s := range steps {
				names = append(names, s.String())
			}
			t.Logf("%d requests: %s", len(steps), strings.Join(names, ", "))
			figures.mu.Lock()
			figures.KillTotal[sc.name] = len(points)
			figures.Short = testing.Short()
			figures.mu.Unlock()
			ran := 0
			for i, kp := range points {
				if testing.Short() && !sc.everyPoint && i%3 != 0 {
					continue
				}
				ran++
				t.Run(kp.String(), func(t *testing.T) {
					t.Parallel()
					killAt(t, sc, kp)
				})
			}
			t.Cleanup(func() {
				figures.mu.Lock()
				n := figures.Kill[sc.name]
				figures.mu.Unlock()
				t.Logf("kill points survived: %d of %d run (%d enumerated)", n, ran, len(points))
			})
		})
	}
	t.Cleanup(func() { t.Logf("kill points survived: %d", figures.killPoints()) })
}

func killAt(t *testing.T, sc scenario, kp killPoint) {
	w := newWorld(t)
	j := sc.setup(w)
	a := w.px.hold(kp.step, kp.when)
	p := w.run(j.args, j.env)
	select {
	case <-a.held:
	case <-p.exited:
		t.Fatalf("the run ended (exit %d) before %s:\n%s", p.code, kp, p.output())
	case <-time.After(runLimit):
		p.kill()
		t.Fatalf("%s was not reached in %s:\n%s", kp, runLimit, p.output())
	}
	p.kill()
	w.px.clear()
	w.px.quiesce()
	report(t, "after the kill", j.afterKill(w, p.output()))
	t.Logf("after the kill: %s", j.state(w))

	w.clock.Advance(time.Hour)
	r := w.run(j.args, j.rerunEnv())
	in, _ := r.waitFor(runLimit, termGrace)
	switch {
	case !in:
		t.Fatalf("the rerun did not end in %s (%s):\n%s", runLimit, r.signalled, r.output())
	case r.code != 0 && !(j.exists != nil && r.code == 1 && j.exists.MatchString(r.stderr.String())):
		t.Errorf("the rerun failed (exit %d):\n%s", r.code, r.output())
	}
	report(t, "after the rerun", j.converged(w))
	if t.Failed() {
		t.Logf("output of the killed run:\n%s\noutput of the rerun:\n%s", p.output(), r.output())
		return
	}
	figures.survived(sc.name)
}

// report fails t with every problem found.
func report(t *testing.T, when string, ps problems) {
	t.Helper()
	for _, p := range ps {
		t.Errorf("%s: %s", when, p)
	}
}
