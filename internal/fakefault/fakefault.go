// Package fakefault is the fault registry the API fakes share: faults are
// matched in injection order, each for a number of requests or forever.
package fakefault

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Registry holds faults of one fake's Fault type. The zero value is ready.
type Registry[F any] struct {
	mu      sync.Mutex
	seq     int
	entries []*entry[F]
}

type entry[F any] struct {
	id, times, used int
	f               F
}

// Add registers f for times requests (0: unlimited); remove takes it away.
func (r *Registry[F]) Add(f F, times int) (remove func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e := &entry[F]{id: r.seq, times: times, f: f}
	r.entries = append(r.entries, e)
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i, x := range r.entries {
			if x.id == e.id {
				r.entries = append(r.entries[:i:i], r.entries[i+1:]...)
				return
			}
		}
	}
}

// Clear removes every fault.
func (r *Registry[F]) Clear() {
	r.mu.Lock()
	r.entries = nil
	r.mu.Unlock()
}

// Take returns the first active fault that matches, and counts one use.
func (r *Registry[F]) Take(match func(F) bool) (F, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if e.times > 0 && e.used >= e.times {
			continue
		}
		if match(e.f) {
			e.used++
			return e.f, true
		}
	}
	var zero F
	return zero, false
}

// StatusWriter remembers the status a handler answered with, for a fake's
// request log.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records code and passes it on.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and passes p on.
func (w *StatusWriter) Write(p []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (Hijack, Flush).
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// StopInFlight wraps next for a client that is stopped while a request is
// in flight: the first request match accepts gets no answer; cancel (the
// client's stop) is called while it is held, and next applies it late
// after the client went away (late < 0: before cancel, a lost answer).
// applied is closed once next has applied it. Other requests pass.
func StopInFlight(next http.Handler, match func(*http.Request) bool, cancel func(), late time.Duration) (h http.Handler, applied <-chan struct{}) {
	done := make(chan struct{})
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		taken := false
		if match(r) {
			once.Do(func() { taken = true })
		}
		if !taken {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		apply := func() {
			req := r.Clone(context.WithoutCancel(r.Context()))
			req.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(httptest.NewRecorder(), req) // the answer never leaves
			close(done)
		}
		if late < 0 {
			apply()
		}
		cancel()
		<-r.Context().Done()
		if late >= 0 {
			time.Sleep(late)
			apply()
		}
	}), done
}
