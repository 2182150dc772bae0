package pace

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// NewHTTPTransport returns a transport for a fan-out of concurrency
// requests at a time. It keeps up to concurrency idle keep-alive
// connections per host (net/http keeps two by default, so a wider fan-out
// would close and reopen connections, a TCP and TLS handshake each time),
// and opens no more than concurrency per host: a request that finds every
// connection busy waits for one to come back rather than dialling a new one
// that the pool would then have to drop. It speaks HTTP/2 where the server
// offers it (ForceAttemptHTTP2 keeps HTTP/2 on for a transport with its own
// settings), multiplexing requests over fewer connections. Everything else
// is http.DefaultTransport's: proxy from the environment, dial and TLS
// timeouts.
func NewHTTPTransport(concurrency int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	concurrency = max(concurrency, 1)
	t.MaxIdleConnsPerHost = concurrency
	t.MaxConnsPerHost = concurrency
	t.MaxIdleConns = max(t.MaxIdleConns, 4*concurrency)
	t.ForceAttemptHTTP2 = true
	return t
}

// RoundTripper sends every request through a Pacer: it waits for the
// Pacer's grant, sends, and hands the Pacer what the answer says once the
// answer's body is read or closed.
type RoundTripper struct {
	Pacer *Pacer
	Next  http.RoundTripper
	// Spend says what a request spends; nil spends only a slot.
	Spend func(*http.Request) []Spend
	// Feedback reads an answer's status and headers (and may replace its
	// body after reading it); nil reads nothing.
	Feedback func(*http.Response, time.Time) Feedback
}

// RoundTrip implements http.RoundTripper.
func (rt *RoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var spends []Spend
	if rt.Spend != nil {
		spends = rt.Spend(req)
	}
	g, err := rt.Pacer.Acquire(req.Context(), spends...)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	resp, err := rt.Next.RoundTrip(req)
	if err != nil {
		g.Done(Feedback{})
		return nil, err
	}
	var fb Feedback
	if rt.Feedback != nil {
		rt.Pacer.mu.Lock()
		now := rt.Pacer.clockLocked()
		rt.Pacer.mu.Unlock()
		fb = rt.Feedback(resp, now)
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		g.Done(fb)
		return resp, nil
	}
	resp.Body = &doneBody{rc: resp.Body, done: func() { g.Done(fb) }}
	return resp, nil
}

// drainLimit bounds what Close reads of an unread rest, so that the
// connection can go back to the pool.
const drainLimit = 64 << 10

// doneBody calls done once the body is read to its end or closed; Close
// first drains a short unread rest so that the connection is reused.
type doneBody struct {
	rc   io.ReadCloser
	once sync.Once
	done func()
}

func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *doneBody) Close() error {
	_, _ = io.CopyN(io.Discard, b.rc, drainLimit)
	err := b.rc.Close()
	b.once.Do(b.done)
	return err
}
