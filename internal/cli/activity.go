package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/pace"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// requestTimeout bounds each HTTP request (headers and body) the CLI's
// clients send to Astro, GitHub and GitLab; the run's context (--deadline,
// signals) bounds it further.
const requestTimeout = 60 * time.Second

// defaultDeadline is --deadline's default.
const defaultDeadline = 15 * time.Minute

// activity is what the run is waiting for right now: the requests in flight
// and the pause in progress, so that an error at the deadline, or after a
// signal, can name it.
type activity struct {
	mu       sync.Mutex
	next     int
	inflight map[int]string // "GET https://host/path"
	pause    string
	last     string // the last request sent
	// cut is what the run's end interrupted: the request or pause that
	// failed because the context was done, recorded as it failed (it is
	// no longer in flight when the error reaches the CLI).
	cut, cutRequest string
}

// interrupted records what the context's end cut short (the first one).
func (a *activity) interrupted(what, request string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cut == "" {
		a.cut, a.cutRequest = what, request
	}
}

func (a *activity) begin(what string) (end func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight == nil {
		a.inflight = map[int]string{}
	}
	id := a.next
	a.next++
	a.inflight[id] = what
	a.last = what
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.inflight, id)
			a.mu.Unlock()
		})
	}
}

func (a *activity) pausing(what string) (end func()) {
	a.mu.Lock()
	a.pause = what
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		a.pause = ""
		a.mu.Unlock()
	}
}

// waitingFor describes what the run waits for, and the request in flight
// if there is one (the oldest, when several are).
func (a *activity) waitingFor() (what, request string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cut != "" {
		return a.cut, a.cutRequest
	}
	if len(a.inflight) > 0 {
		ids := make([]int, 0, len(a.inflight))
		for id := range a.inflight {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		request = a.inflight[ids[0]]
		what = "the answer to " + request
		if n := len(ids) - 1; n > 0 {
			what += fmt.Sprintf(" (and %d more requests)", n)
		}
		return what, request
	}
	if a.pause != "" {
		return a.pause, ""
	}
	if a.last != "" {
		return "the next step after " + a.last, ""
	}
	return "", ""
}

// trackingTransport records each request in the activity from the moment it
// is sent until its body is closed.
type trackingTransport struct {
	next http.RoundTripper
	act  *activity
}

func (t *trackingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	what := req.Method + " " + stripQuery(req.URL.String())
	end := t.act.begin(what)
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil || resp.Body == nil {
		if err != nil && req.Context().Err() != nil {
			t.act.interrupted("the answer to "+what, what)
		}
		end()
		return resp, err
	}
	resp.Body = &endOnClose{ReadCloser: resp.Body, end: end, ctx: req.Context(), what: what, act: t.act}
	return resp, nil
}

// endOnClose ends a request's tracking when its body is closed; a body
// still being read when the context ended was what the run waited for.
type endOnClose struct {
	io.ReadCloser
	end  func()
	ctx  context.Context
	what string
	act  *activity
}

func (b *endOnClose) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		b.act.interrupted("the rest of the answer to "+b.what, b.what)
	}
	return n, err
}

func (b *endOnClose) Close() error {
	defer b.end()
	return b.ReadCloser.Close()
}

// httpClient is the client of Astro's API: the injected one or a fresh one
// on a keep-alive transport, with a per-request timeout and the activity
// tracking.
func (r *runner) httpClient() *http.Client {
	if r.hc == nil {
		r.hc = r.newClient(astroConns)
	}
	return r.hc
}

// astroConns bounds the connections to Astro: more than any operation
// keeps in flight (a preview delete's token and Deployment deletes, a
// prune's groups), so none waits for a connection.
const astroConns = 100

// forgeClient is the client of a forge whose store keeps at most n
// requests in flight: the injected one, or one whose transport holds at
// most n connections per host. Sized to the store's own bound, a request
// let go by the store's pacer waits for a connection coming back rather
// than dialling one more: without it, a connection handed to a request
// that was still waiting for its own dial left that dial's connection
// idle and the next request dialling again (13 connections for 8 slots
// over TLS on a slow machine). The forges' hosts are not Astro's, so
// nothing is lost by not sharing Astro's pool.
func (r *runner) forgeClient(n int) *http.Client {
	if r.m.HTTPClient != nil {
		return r.httpClient()
	}
	return r.newClient(n)
}

func (r *runner) newClient(n int) *http.Client {
	c := http.Client{}
	if r.m.HTTPClient != nil {
		c = *r.m.HTTPClient
	}
	if c.Timeout <= 0 || c.Timeout > requestTimeout {
		c.Timeout = requestTimeout
	}
	next := c.Transport
	if next == nil {
		// Keep-alive connections for every request in flight, HTTP/2 where
		// the server offers it.
		next = pace.NewHTTPTransport(n)
	}
	c.Transport = &trackingTransport{next: next, act: &r.act}
	return &c
}

// sleep is the pause between retries and polls every engine gets: the
// injected one (tests) or a real one, both ending with the context.
func (r *runner) sleep(ctx context.Context, d time.Duration) error {
	what := fmt.Sprintf("the end of a %s pause before the next attempt (after %s)", d.Round(time.Millisecond), r.lastRequest())
	defer r.act.pausing(what)()
	sleep := wait.Sleep
	if r.m.Sleep != nil {
		sleep = r.m.Sleep
	}
	err := sleep(ctx, d)
	if err != nil && ctx.Err() != nil {
		r.act.interrupted(what, "")
	}
	return err
}

func (r *runner) lastRequest() string {
	r.act.mu.Lock()
	defer r.act.mu.Unlock()
	if r.act.last == "" {
		return "the start"
	}
	return r.act.last
}

// deadlineCause is the cause of the run's context when --deadline passes.
type deadlineCause struct{ d time.Duration }

func (c deadlineCause) Error() string {
	return fmt.Sprintf("--deadline %s passed", (&durationFlag{c.d}).String())
}

// stopped wraps an error the run ended with after its context was done
// (deadline or signal) with what the run was waiting for, unless the error
// is unrelated to the context.
func (r *runner) stopped(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !errors.Is(err, cause) {
		// The engine's own failure, which happened to come last.
		return err
	}
	what, req := r.act.waitingFor()
	if what == "" {
		what = "astro-ci " + r.path + " to finish"
	}
	var dc deadlineCause
	if errors.As(cause, &dc) {
		return &stopError{kind: kindDeadline, request: req, err: err,
			msg: fmt.Sprintf("%v while waiting for %s; raise --deadline (ASTRO_CI_DEADLINE) if the service is slow but working", dc, what)}
	}
	return &stopError{kind: kindInterrupted, request: req, err: err,
		msg: fmt.Sprintf("interrupted (%v) while waiting for %s; run the same command again to continue", cause, what)}
}
