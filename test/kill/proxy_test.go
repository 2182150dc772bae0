package kill

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Step is one request of a run: the N-th call (from 1) of Route. Concurrent
// calls of a run (a proof and a list, the fan-out to targets) arrive in
// either order, so a step is named by its route and call number, never by
// its position in the arrival order.
type Step struct {
	Route string
	N     int
}

func (s Step) String() string { return fmt.Sprintf("%s#%d", s.Route, s.N) }

// name is s as part of a subtest name: no slash, so -run can name one.
func (s Step) name() string {
	return strings.ReplaceAll(strings.Replace(s.String(), " /", " ", 1), "/", ".")
}

// When a hold or fault acts: before the fake sees the request, or after it
// applied it and before the answer leaves.
type When int

// Whens.
const (
	Before When = iota
	After
)

func (w When) String() string {
	if w == After {
		return "after"
	}
	return "before"
}

// Seen is one request as the proxy passed it on.
type Seen struct {
	Step
	Status int // what the fake answered; 0 when it never saw the request
	// Answered: the fake's answer went out unchanged, neither faulted nor
	// held (a held answer is released only once its client is gone).
	Answered bool
}

// action is what the proxy does at one step: hold it (kill harness) or
// answer with a fault.
type action struct {
	at    Step
	when  When  // holds
	fault Fault // faults (zero: a hold)

	held    chan struct{} // closed once the request is held
	release chan struct{} // closed by the test
	once    sync.Once
}

// proxy wraps the sandbox: it numbers requests, records them and every token
// value in an answer, and holds or faults the step it is told to.
type proxy struct {
	next http.Handler
	done chan struct{} // closed when the world shuts down: every hold ends

	mu      sync.Mutex
	calls   map[string]int
	seen    []Seen
	act     *action
	values  map[string]string // token value → where the proxy saw it
	faulted bool              // the fault was applied
	active  int               // requests in the proxy now
}

func newProxy(next http.Handler) *proxy {
	return &proxy{next: next, done: make(chan struct{}), calls: map[string]int{}, values: map[string]string{}}
}

// hold makes the proxy hold step at when; the returned action's held
// channel closes once it is held.
func (p *proxy) hold(at Step, when When) *action {
	a := &action{at: at, when: when, held: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	p.act = a
	p.mu.Unlock()
	return a
}

// inject makes the proxy answer step at with fault f (once).
func (p *proxy) inject(at Step, f Fault) {
	p.mu.Lock()
	p.act = &action{at: at, fault: f, release: make(chan struct{})}
	p.faulted = false
	p.mu.Unlock()
}

// clear removes the hold or fault (after releasing a hold) and restarts the
// call numbering, so a rerun's steps count from 1 again.
func (p *proxy) clear() {
	p.mu.Lock()
	a := p.act
	p.act = nil
	p.calls = map[string]int{}
	p.mu.Unlock()
	if a != nil {
		a.free()
	}
}

func (a *action) free() { a.once.Do(func() { close(a.release) }) }

// quiesce waits until no request is in the proxy (after a kill, the fakes
// finish what they were doing before the test looks at their state).
func (p *proxy) quiesce() error {
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		n := p.active
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
	}
	return errors.New("a request is still in the proxy 30 s after its client ended")
}

func (p *proxy) steps() []Seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Seen(nil), p.seen...)
}

func (p *proxy) wasFaulted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faulted
}

// secrets returns every token value seen in an answer.
func (p *proxy) secrets() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.values))
	for k, v := range p.values {
		out[k] = v
	}
	return out
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := routeOf(r)
	p.mu.Lock()
	p.active++
	defer func() {
		p.mu.Lock()
		p.active--
		p.mu.Unlock()
	}()
	p.calls[route]++
	st := Step{route, p.calls[route]}
	var a *action
	if p.act != nil && p.act.at == st {
		a = p.act
		if a.fault.Kind != "" {
			p.faulted = true
		}
	}
	idx := len(p.seen)
	p.seen = append(p.seen, Seen{Step: st})
	p.mu.Unlock()

	if a != nil && (a.fault.Kind == FHang || a.fault.Kind == "" && a.when == Before) {
		// net/http notices a client that went away only once the request
		// body is read; the fake never reads this one.
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if a != nil && a.fault.Kind == "" && a.when == Before {
		a.wait(p, r)
		// The client is gone (killed) or the test ended: the fake never sees it.
		panic(http.ErrAbortHandler)
	}
	if a != nil && a.fault.Kind != "" && !a.fault.applies() {
		a.fault.answer(w, r, p, nil)
		return
	}

	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, r)
	p.mu.Lock()
	p.seen[idx].Status = rec.Code
	p.mu.Unlock()
	p.collect(st, rec.Body.Bytes())

	if a != nil && a.fault.Kind == "" && a.when == After {
		a.wait(p, r)
	}
	if a != nil && a.fault.Kind != "" {
		a.fault.answer(w, r, p, rec)
		return
	}
	copyOut(w, rec)
	if a == nil {
		p.mu.Lock()
		p.seen[idx].Answered = true
		p.mu.Unlock()
	}
}

// wait signals that the request is held and waits for the test, or until
// the client is gone (a SIGTERM made it cancel the request).
func (a *action) wait(p *proxy, r *http.Request) {
	close(a.held)
	select {
	case <-a.release:
	case <-p.done:
	case <-r.Context().Done():
	}
}

func copyOut(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// collect records token values in an answer: the token field of Astro's
// create and rotate answers, and the value field of a GitLab variable.
func (p *proxy) collect(st Step, body []byte) {
	var v struct {
		Token string `json:"token"`
		Value string `json:"value"`
	}
	if json.Unmarshal(body, &v) != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range []string{v.Token, v.Value} {
		if len(s) >= 16 {
			if _, ok := p.values[s]; !ok {
				p.values[s] = "the answer to " + st.String()
			}
		}
	}
}

// routeOf names a request by service, method and path template: segments
// that are names of resources stay, ids and names become {}.
func routeOf(r *http.Request) string {
	path := r.URL.EscapedPath()
	service := "astro"
	switch {
	case strings.HasPrefix(path, "/github/"):
		service, path = "github", strings.TrimPrefix(path, "/github/api/v3")
	case strings.HasPrefix(path, "/gitlab/"):
		service, path = "gitlab", strings.TrimPrefix(path, "/gitlab/api/v4")
	case strings.HasPrefix(path, "/v1/"):
		path = strings.TrimPrefix(path, "/v1")
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if !vocabulary[s] {
			segs[i] = "{}"
		}
	}
	return service + " " + r.Method + " /" + strings.Join(segs, "/")
}

var vocabulary = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`organizations workspaces deployments tokens rotate roles clusters
		repos repositories orgs actions secrets public-key environments dependabot user installation app
		projects groups variables personal_access_tokens self`) {
		m[w] = true
	}
	return m
}()
