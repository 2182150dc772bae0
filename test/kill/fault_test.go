package kill

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bounds of a faulted run: it runs with --deadline faultDeadline and must
// end within it plus faultSlack.
const (
	faultDeadline = 15 * time.Second
	faultSlack    = 5 * time.Second
)

// faultCase is one cell of the matrix: a fault kind at one call of a route
// of a scenario.
type faultCase struct {
	sc   scenario
	at   Step
	kind string
}

func (c faultCase) String() string { return c.kind + ":" + c.at.name() }

// faultSites: every route of the unharmed run, at its 1st and 2nd call
// (where it has one).
func faultSites(steps []Step) []Step {
	var out []Step
	for _, s := range steps {
		if s.N <= 2 {
			out = append(out, s)
		}
	}
	return out
}

// faultMatrix says which cells run: FAULT_MATRIX=full runs them all;
// otherwise each scenario gets every kind once, at a route drawn with a
// fixed seed (FAULT_SEED, default 9).
func faultMatrix() (full bool, seed uint64) {
	seed = 9
	if s, err := strconv.ParseUint(os.Getenv("FAULT_SEED"), 10, 64); err == nil {
		seed = s
	}
	return os.Getenv("FAULT_MATRIX") == "full", seed
}

func faultCases(sc scenario, steps []Step, full bool, seed uint64) []faultCase {
	sites := faultSites(steps)
	var out []faultCase
	if full {
		for _, s := range sites {
			for _, k := range faultKinds {
				out = append(out, faultCase{sc, s, k})
			}
		}
		return out
	}
	var h uint64
	for _, c := range sc.name {
		h = h*31 + uint64(c)
	}
	rng := rand.New(rand.NewPCG(seed, h))
	for _, k := range faultKinds {
		out = append(out, faultCase{sc, sites[rng.IntN(len(sites))], k})
	}
	return out
}

// matrix counts what ran, for the figures.
type matrix struct {
	mu       sync.Mutex
	cases    int
	reached  int
	kinds    map[string]bool
	routes   map[string]bool
	sites    map[string]bool // (command, route, call)
	commands map[string]bool
	outcomes map[string]int
}

func (m *matrix) add(c faultCase, reached bool, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cases++
	if reached {
		m.reached++
	}
	m.kinds[c.kind] = true
	m.routes[c.at.Route] = true
	m.sites[c.sc.name+" "+c.at.String()] = true
	m.commands[c.sc.name] = true
	m.outcomes[outcome]++
}

// TestFaultMatrix injects each fault kind at each call of each route the
// commands make (a sample unless FAULT_MATRIX=full) and asserts: the run
// reaches its fault; it ends within its --deadline (plus faultSlack); it
// exits 0, or 1 with a clear message that names the request or the step;
// it leaves every target live (in place: recoverable, see
// inPlaceAfterKill); an exit 0 is converged; and after the faults are
// cleared and the clock moved an hour, a rerun converges.
func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	full, seed := faultMatrix()
	m := &matrix{kinds: map[string]bool{}, routes: map[string]bool{}, sites: map[string]bool{}, commands: map[string]bool{}, outcomes: map[string]int{}}
	t.Run("matrix", func(t *testing.T) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				steps := enumerate(t, sc)
				for _, c := range faultCases(sc, steps, full, seed) {
					t.Run(c.String(), func(t *testing.T) {
						t.Parallel()
						reached, outcome := faultAt(t, c)
						m.add(c, reached, outcome)
					})
				}
			})
		}
	})
	var kinds, routes, commands []string
	for k := range m.kinds {
		kinds = append(kinds, k)
	}
	for r := range m.routes {
		routes = append(routes, r)
	}
	for c := range m.commands {
		commands = append(commands, c)
	}
	sort.Strings(kinds)
	sort.Strings(commands)
	var outs []string
	for o, n := range m.outcomes {
		outs = append(outs, fmt.Sprintf("%s: %d", o, n))
	}
	sort.Strings(outs)
	mode := fmt.Sprintf("sample, seed %d", seed)
	if full {
		mode = "full"
	}
	t.Logf("fault cases: %d (%d reached their fault; %d kinds at %d (route, call) sites of %d commands, %d distinct routes, %s); outcomes: %s",
		m.cases, m.reached, len(kinds), len(m.sites), len(commands), len(routes), mode, strings.Join(outs, ", "))
	figures.mu.Lock()
	figures.FaultSites = len(m.sites)
	figures.FaultCases, figures.FaultReached, figures.FaultKinds, figures.FaultRoutes, figures.FaultCommands, figures.FaultMatrix = m.cases, m.reached, kinds, routes, commands, mode
	figures.mu.Unlock()
}

// clearError: an error line that says what failed: the request (method
// and path), the target, or the step ("while …").
var clearError = regexp.MustCompile(`(?m)^(error: |::error::)(.*)$`)

func faultAt(t *testing.T, c faultCase) (reached bool, outcome string) {
	w := newWorld(t)
	j := c.sc.setup(w)
	args := append(slices.Clone(j.args), "--deadline", faultDeadline.String())
	limit := faultDeadline + faultSlack
	w.px.inject(c.at, Fault{c.kind})
	p := w.run(args, j.env)
	inTime, stopped := p.waitFor(limit, termGrace)
	reached = w.px.wasFaulted()
	w.px.clear()
	if err := w.px.quiesce(); err != nil {
		t.Fatal(err)
	}
	outcome = fmt.Sprintf("exit %d", p.code)
	if !inTime {
		outcome += " after SIGTERM"
	}
	if !reached {
		t.Errorf("the run never reached %s: the case tests nothing", c.at)
	}
	switch {
	case !stopped:
		t.Errorf("still running %s after the SIGTERM (sent after %s): SIGKILLed", termGrace, limit)
	case !inTime:
		t.Errorf("did not end within %s (%s)", limit, p.signalled)
	case p.code != 0 && p.code != 1:
		t.Errorf("exit %d: a fault is no usage error", p.code)
	}
	if p.code != 0 {
		msg := failureMessage(p.stderr.String())
		if msg == "" {
			t.Errorf("exit %d without an error line naming the request or the step", p.code)
		}
		t.Logf("%s in %s: %.300s", outcome, p.elapsed.Round(time.Millisecond), msg)
	}
	report(t, "after the faulted run", j.afterKill(w, p.output()))
	if p.code == 0 {
		report(t, "the faulted run exited 0, but", j.converged(w))
	}
	if t.Failed() {
		t.Logf("faulted run (%s, fault reached: %v, %s):\n%s", outcome, reached, p.elapsed.Round(time.Millisecond), p.output())
		t.Logf("targets: %s", j.state(w))
	}

	rerun(t, w, j, time.Hour, runLimit, false)
	report(t, "after the rerun", j.converged(w))
	return reached, outcome
}

// failureMessage is the error line of a failed run if it names what failed:
// a request (an HTTP method and a path), a target, or the step the run was
// at; "" otherwise.
func failureMessage(stderr string) string {
	for _, m := range clearError.FindAllStringSubmatch(stderr, -1) {
		msg := m[2]
		if strings.TrimSpace(msg) == "" {
			continue
		}
		if namesWhat.MatchString(msg) {
			return msg
		}
	}
	return ""
}

var namesWhat = regexp.MustCompile(`\b(GET|PUT|POST|PATCH|DELETE) /|(file|github|gitlab)://|\bwhile [a-z]|\btoken [a-z0-9]{10,}`)
