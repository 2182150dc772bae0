package bench

import (
	"context"
	"net/http"
	"time"
)

// Delay returns h behind a fixed latency: every request waits l (with
// sleep, so a virtual clock can stand in for real time) before h sees it.
// It is the latency of a round trip to a distant API, put where the
// recorder sees it as part of the request.
func Delay(h http.Handler, l time.Duration, sleep func(ctx context.Context, d time.Duration) error) http.Handler {
	if l <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sleep(r.Context(), l); err != nil {
			http.Error(w, "client went away", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}
