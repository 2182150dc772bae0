package kill

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Limits of one run; none is a promise of the product, only how long the
// harness waits before it calls a run stuck.
const (
	runLimit = 60 * time.Second
	// termGrace: after a SIGTERM the product stops within its cleanup
	// reserve (cleanupReserve in internal/rotation, 10 s), plus faultSlack
	// for a loaded machine.
	termGrace = 10*time.Second + faultSlack
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
	// The leak scan reads these files: they must be where it looks.
	for _, f := range append(slices.Clone(githubFiles[:2]), "preview.env") {
		if _, ok := j.env[f]; !ok && (f != "preview.env" || j.args[0] != "preview") {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(p.dir, f)); err != nil || len(b) == 0 {
			t.Errorf("the unharmed run wrote no %s in its directory (%v)", f, err)
		}
	}
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

func (k killPoint) String() string { return k.when.String() + ":" + k.step.name() }

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
// kill, every target must hold a value Astro accepts (in place: the
// recovery blob instead, see inPlaceAfterKill); after an hour on the fakes'
// clock (a dead run's ttl has passed) the same command, rerun, must
// converge. -short runs every kill point of overlap rotation and every
// third of the others.
func TestKillAtEveryStep(t *testing.T) {
	t.Parallel()
	everyStep(t, "kill", func(t *testing.T, sc scenario, kp killPoint) { interrupt(t, sc, kp, false) })
	t.Cleanup(func() { t.Logf("kill points survived: %d", figures.points("kill")) })
}

// TestTermAtEveryStep sends SIGTERM, as GitHub and GitLab do to cancel a
// job, at every step boundary, with the request in flight (held until the
// binary gives it up). The binary must stop within 10 s (termGrace allows
// faultSlack more), say what it was doing, leave every target live, and
// leave nothing that makes an immediate rerun (5 s later on the fakes'
// clock) wait: that rerun must converge. -short: every third point.
func TestTermAtEveryStep(t *testing.T) {
	t.Parallel()
	everyStep(t, "term", func(t *testing.T, sc scenario, kp killPoint) { interrupt(t, sc, kp, true) })
}

// everyStep runs at once, for each scenario, its every kill point (a
// sample under -short).
func everyStep(t *testing.T, family string, at func(t *testing.T, sc scenario, kp killPoint)) {
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
			key := family + " " + sc.name
			figures.mu.Lock()
			figures.KillTotal[key] = len(points)
			figures.mu.Unlock()
			ran := 0
			for i, kp := range points {
				if testing.Short() && !(family == "kill" && sc.everyPoint) && i%3 != 0 {
					continue
				}
				ran++
				t.Run(kp.String(), func(t *testing.T) {
					t.Parallel()
					at(t, sc, kp)
					if !t.Failed() {
						figures.survived(key)
					}
				})
			}
			t.Cleanup(func() {
				figures.mu.Lock()
				n := figures.Kill[key]
				figures.mu.Unlock()
				t.Logf("%s points survived: %d of %d run (%d enumerated)", family, n, ran, len(points))
			})
		})
	}
}

// blocked: what a run says when another run's pending token makes it wait.
var blocked = regexp.MustCompile(`another run is (rotating|creating)`)

// interrupt runs the scenario up to kp, then SIGKILLs it (term false) or
// SIGTERMs it, checks the invariant and reruns.
func interrupt(t *testing.T, sc scenario, kp killPoint, term bool) {
	w := newWorld(t)
	j := sc.setup(w)
	p, stopped := stopAt(t, w, j, kp, term)
	if term {
		switch msg := failureMessage(p.stderr.String()); {
		case !stopped:
			t.Errorf("still running %s after SIGTERM: SIGKILLed", termGrace)
		case p.code != 0 && msg == "":
			t.Errorf("exit %d after SIGTERM, without an error line that names the step", p.code)
		case p.code != 0:
			t.Logf("exit %d after SIGTERM: %.300s", p.code, msg)
		default:
			// Stopped just before the end: the run finished its work.
			t.Logf("exit 0 after SIGTERM")
		}
	}
	report(t, "after the "+p.signalled, j.afterKill(w, p.output()))
	if term && p.code == 0 {
		report(t, "exit 0 after SIGTERM, but", j.converged(w))
	}
	t.Logf("after the %s: %s", p.signalled, j.state(w))

	// SIGKILL: the rerun comes an hour later, when the dead run's ttl has
	// passed. SIGTERM: an immediate rerun, as a CI retry: a few seconds
	// later, long before the cancelled run's ttl. It must find nothing to
	// wait for.
	wait, limit := time.Hour, runLimit
	if term {
		wait, limit = 5*time.Second, 30*time.Second
	}
	r, _ := rerun(t, w, j, wait, limit, term)
	report(t, "after the rerun", j.converged(w))
	if c := w.canaries(); len(c) > 0 {
		figures.littered(c)
		t.Logf("LITTER after the rerun: %s", strings.Join(c, ", "))
	}
	if t.Failed() {
		t.Logf("output of the interrupted run:\n%s\noutput of the rerun:\n%s", p.output(), r.output())
	}
}

// stopAt runs j until kp is held, then SIGKILLs it, or SIGTERMs it (the
// held request ends when the binary gives it up) and waits termGrace for
// it; then it releases the hold and waits until the fakes are done.
// stopped: the run ended within termGrace of the SIGTERM.
func stopAt(t *testing.T, w *world, j *job, kp killPoint, term bool) (p *proc, stopped bool) {
	t.Helper()
	a := w.px.hold(kp.step, kp.when)
	p = w.run(j.args, j.env)
	select {
	case <-a.held:
	case <-p.exited:
		t.Fatalf("the run ended (exit %d) before %s:\n%s", p.code, kp, p.output())
	case <-time.After(runLimit):
		p.kill()
		t.Fatalf("%s was not reached in %s:\n%s", kp, runLimit, p.output())
	}
	stopped = true
	if term {
		_, stopped = p.waitFor(0, termGrace)
	} else {
		p.kill()
	}
	w.px.clear()
	if err := w.px.quiesce(); err != nil {
		t.Fatal(err)
	}
	return p, stopped
}

// rerun moves the fakes' clock by wait and runs j's command again, as the
// next CI job would (with j.rerunEnv). It fails t when the rerun does not
// end within limit, or exits other than 0 (or 1 with j.exists when the
// interrupted run had finished its work); immediate (a rerun right after a
// SIGTERM): also when it waits for the cancelled run. ok: none of these.
// Convergence is the caller's to check.
func rerun(t *testing.T, w *world, j *job, wait, limit time.Duration, immediate bool) (r *proc, ok bool) {
	t.Helper()
	w.clock.Advance(wait)
	done := j.done()
	r = w.run(j.args, j.rerunEnv())
	in, _ := r.waitFor(limit, termGrace)
	switch {
	case immediate && blocked.MatchString(r.stderr.String()):
		t.Errorf("the immediate rerun after SIGTERM waits for the cancelled run (exit %d after %s, %s):\n%s", r.code, r.elapsed.Round(time.Millisecond), r.signalled, r.output())
	case !in:
		t.Errorf("the rerun did not end in %s (%s):\n%s", limit, r.signalled, r.output())
	case r.code != 0 && !(done && r.code == 1 && j.exists.MatchString(r.stderr.String())):
		t.Errorf("the rerun failed (exit %d):\n%s", r.code, r.output())
	default:
		return r, true
	}
	return r, false
}

// report fails t with every problem found.
func report(t *testing.T, when string, ps problems) {
	t.Helper()
	for _, p := range ps {
		t.Errorf("%s: %s", when, p)
	}
}
