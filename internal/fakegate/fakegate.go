// Package fakegate wraps the fakes' http.Handlers so that tests see when each
// request started and ended relative to every other one, and can hold chosen
// requests, before or after the fake applies them, until the test releases
// them. Tests get deterministic interleavings and pinned request chains with
// no hook in product code and no timing: a held request waits for the test,
// never for a clock.
package fakegate

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Recorder logs the requests of every handler it wraps on one shared order.
type Recorder struct {
	mu      sync.Mutex
	tick    int
	entries []*Entry
	holds   []*Hold
	script  *Script
}

// Entry is one request. Start and End are ticks of the recorder's shared
// order: a request that started after another ended depended (or may have
// depended) on it; two requests whose spans overlap ran at the same time.
type Entry struct {
	Label  string // the wrapped server, e.g. "astro", "github"
	Method string
	Path   string
	Start  int
	End    int // 0 while in flight
}

func (e Entry) String() string { return e.Label + " " + e.Method + " " + e.Path }

// Before reports whether e ended before o started.
func (e Entry) Before(o Entry) bool { return e.End != 0 && e.End < o.Start }

// Overlaps reports whether e and o were in flight at the same time.
func (e Entry) Overlaps(o Entry) bool { return !e.Before(o) && !o.Before(e) }

// Matcher picks requests.
type Matcher struct {
	Label, Method string
	path          *regexp.Regexp
	text          string
}

// Match matches requests to the server labelled label with method (""
// for any) whose path matches the regular expression pathRE (anchored).
func Match(label, method, pathRE string) Matcher {
	return Matcher{Label: label, Method: method, path: regexp.MustCompile("^(?:" + pathRE + ")$"), text: label + " " + method + " " + pathRE}
}

// Matches reports whether m picks a request.
func (m Matcher) Matches(label, method, path string) bool {
	return m.Label == label && (m.Method == "" || m.Method == method) && m.path.MatchString(path)
}

func (m Matcher) String() string { return m.text }

// Hold stops one matching request until Release.
type Hold struct {
	m       Matcher
	after   bool
	round   int // script round, -1 outside a script
	taken   bool
	entry   *Entry
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

// Arrived is closed when the held request reached its hold point.
func (h *Hold) Arrived() <-chan struct{} { return h.arrived }

// Wait waits until the request arrived or ctx ends.
func (h *Hold) Wait(ctx context.Context) error {
	select {
	case <-h.arrived:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s never arrived: %w", h.m, ctx.Err())
	}
}

// Release lets the request go on (idempotent).
func (h *Hold) Release() { h.once.Do(func() { close(h.release) }) }

// Hold holds the next request m matches before the fake sees it.
func (r *Recorder) Hold(m Matcher) *Hold { return r.addHold(m, false, -1) }

// HoldAfter holds the next request m matches after the fake applied it and
// before its answer leaves: the state has changed, the client does not know.
func (r *Recorder) HoldAfter(m Matcher) *Hold { return r.addHold(m, true, -1) }

func (r *Recorder) addHold(m Matcher, after bool, round int) *Hold {
	h := &Hold{m: m, after: after, round: round, arrived: make(chan struct{}), release: make(chan struct{})}
	r.mu.Lock()
	r.holds = append(r.holds, h)
	r.mu.Unlock()
	return h
}

// ReleaseAll releases every hold, taken or not: a test that fails while
// requests are held calls it (t.Cleanup) so servers can shut down.
func (r *Recorder) ReleaseAll() {
	r.mu.Lock()
	hs := slices.Clone(r.holds)
	r.mu.Unlock()
	for _, h := range hs {
		h.Release()
	}
}

// Entries returns a copy of the log in start order.
func (r *Recorder) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, len(r.entries))
	for i, e := range r.entries {
		out[i] = *e
	}
	return out
}

// Chain is the length of the longest sequence of logged requests each of
// which started after the previous one ended.
func Chain(es []Entry) int {
	best := make([]int, len(es))
	longest := 0
	for i := range es {
		best[i] = 1
		for j := range es[:i] {
			if es[j].Before(es[i]) && best[j]+1 > best[i] {
				best[i] = best[j] + 1
			}
		}
		longest = max(longest, best[i])
	}
	return longest
}

// Wrap returns h with every request logged under label and subject to holds.
func (r *Recorder) Wrap(label string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		e, hold := r.arrive(label, req)
		defer r.leave(e)
		if hold != nil && !hold.after {
			close(hold.arrived)
			<-hold.release
		}
		if hold == nil || !hold.after {
			h.ServeHTTP(w, req)
			return
		}
		buf := &bufferWriter{header: http.Header{}}
		h.ServeHTTP(buf, req)
		close(hold.arrived)
		<-hold.release
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body.Bytes())
	})
}

func (r *Recorder) arrive(label string, req *http.Request) (*Entry, *Hold) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tick++
	e := &Entry{Label: label, Method: req.Method, Path: req.URL.Path, Start: r.tick}
	r.entries = append(r.entries, e)
	var hold *Hold
	for _, h := range r.holds {
		if !h.taken && h.m.Matches(label, req.Method, req.URL.Path) {
			h.taken, h.entry, hold = true, e, h
			break
		}
	}
	if s := r.script; s != nil {
		switch {
		case hold == nil || hold.round < 0:
			s.errs = append(s.errs, fmt.Sprintf("unscripted request %s", e))
		case hold.round > s.open:
			s.errs = append(s.errs, fmt.Sprintf("%s (round %d) arrived while round %d was still filling: it does not wait for round %d, so the script places it too late",
				e, hold.round+1, s.open+1, s.open+1))
		}
	}
	return e, hold
}

func (r *Recorder) leave(e *Entry) {
	r.mu.Lock()
	r.tick++
	e.End = r.tick
	r.mu.Unlock()
}

type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// Script pins a request chain as rounds: every request of a round must be
// in flight at the same time (each is held until all of its round have
// arrived, so one that waits for another of its round never comes and Run
// says so), and each must wait for something of the round before (one that
// arrives while an earlier round is still filling is reported). With both,
// the number of rounds is exactly the length of the chain. Requests no
// round names are reported too.
type Script struct {
	r      *Recorder
	rounds [][]*Hold
	open   int // the round being filled; later ones arrive early
	errs   []string
}

// Script arms rounds on r. Only one script per recorder.
func (r *Recorder) Script(rounds ...[]Matcher) *Script {
	s := &Script{r: r}
	for i, ms := range rounds {
		var hs []*Hold
		for _, m := range ms {
			hs = append(hs, r.addHold(m, false, i))
		}
		s.rounds = append(s.rounds, hs)
	}
	r.mu.Lock()
	r.script = s
	r.mu.Unlock()
	return s
}

// Run fills and releases the rounds in order. It returns every violation,
// or the round that could not fill before ctx ended.
func (s *Script) Run(ctx context.Context) error {
	defer func() {
		for _, hs := range s.rounds {
			for _, h := range hs {
				h.Release()
			}
		}
	}()
	for i, hs := range s.rounds {
		for _, h := range hs {
			if err := h.Wait(ctx); err != nil {
				var held []string
				for _, o := range hs {
					select {
					case <-o.arrived:
						held = append(held, o.entry.String())
					default:
					}
				}
				return s.fail(fmt.Errorf("round %d: %w while %s were held: it waits for one of them, or was never sent", i+1, err, strings.Join(held, ", ")))
			}
		}
		s.r.mu.Lock()
		s.open = i + 1
		s.r.mu.Unlock()
		for _, h := range hs {
			h.Release()
		}
	}
	return s.fail(nil)
}

// Done reports the violations seen so far (call after the product ended).
func (s *Script) Done() error { return s.fail(nil) }

func (s *Script) fail(err error) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	msgs := slices.Clone(s.errs)
	if err != nil {
		msgs = append(msgs, err.Error())
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("request script: %s", strings.Join(msgs, "; "))
}
