package gitlabstore

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// exchange is what the transport saw of one response. client-go turns every
// 404 into its bare ErrNotFound sentinel and drops the body, but the body is
// the only way to tell "404 Variable Not Found" (create it / already gone)
// from "404 Project Not Found" (a wrong path or no access), so the
// transport keeps the status, headers and the start of every error body.
type exchange struct {
	status int
	header http.Header
	body   []byte
	// cut: the error body ended before its Content-Length (a reset in
	// the middle of the answer), so what it said is unknown.
	cut bool
}

type exchangeKey struct{}

// withExchange returns a context whose requests record into a fresh
// exchange. One per request: each store call issues its requests in
// sequence, so nothing is shared between goroutines.
func withExchange(ctx context.Context) (context.Context, *exchange) {
	x := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, x), x
}

type captureTransport struct{ next http.RoundTripper }

func (t captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp == nil {
		return resp, err
	}
	x, ok := r.Context().Value(exchangeKey{}).(*exchange)
	if !ok {
		return resp, nil
	}
	x.status, x.header = resp.StatusCode, resp.Header.Clone()
	if resp.StatusCode >= 300 && resp.Body != nil {
		// Read a bounded prefix and put it back in front of the rest, so
		// client-go still sees the whole body.
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
		x.body, x.cut = b, err != nil
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	}
	return resp, nil
}

// noLimit replaces client-go's client-side rate limiter, which would start
// pacing requests from the first RateLimit-Limit header it sees. The
// fan-out already bounds concurrency and slows down on 429; a second,
// hidden throttle would make waits unpredictable and untestable.
type noLimit struct{}

func (noLimit) Wait(ctx context.Context) error { return ctx.Err() }
