package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Issue 13 item 2: a rotation's fan-out to many GitHub secrets over the
// CLI's own clients (the production transports: Main.HTTPClient is nil)
// opens at most one connection to GitHub per concurrency slot — keep-alive
// connections are reused, at most one per slot — and speaks HTTP/2 wherever
// the server offers it, Astro's too. Astro's connections are not bounded
// here: the rotation makes fewer Astro requests than there are slots. Run
// it with -race too: a slow machine is where extra dials showed.
func TestConnectionsPerSlot(t *testing.T) {
	t.Parallel()
	const n, slots = 60, 8
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			t.Parallel()
			var (
				mu     sync.Mutex
				conns  = map[string]int{}
				protos = map[string]map[int]int{}
			)
			w := NewWorld(Options{
				TLS: true, HTTP2: h2, Sleep: instant,
				Accepted: func(label string) { mu.Lock(); conns[label]++; mu.Unlock() },
				Check: func(label string, h http.Handler) http.Handler {
					return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
						mu.Lock()
						if protos[label] == nil {
							protos[label] = map[int]int{}
						}
						protos[label][r.ProtoMajor]++
						mu.Unlock()
						h.ServeHTTP(rw, r)
					})
				},
			})
			t.Cleanup(w.Close)
			args := []string{"token", "rotate", "--github-concurrency", strconv.Itoa(slots), "--github-points-per-minute", "1000000"}
			for i := range n {
				repo := fmt.Sprintf("svc-%02d", i)
				w.GitHub.AddRepo("acme", repo, true)
				w.GitHub.AddSecret("repo:acme/"+repo, "ASTRO_API_TOKEN", "old")
				args = append(args, "--target", "github://acme/"+repo+"/secrets/ASTRO_API_TOKEN")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r := w.Run(ctx, args...)
			if r.Code != 0 {
				t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			want := 1
			if h2 {
				want = 2
			}
			if c := conns[LabelGitHub]; c > slots {
				t.Errorf("%s: %d connections for %d slots", LabelGitHub, c, slots)
			}
			for _, label := range []string{LabelAstro, LabelGitHub} {
				for proto, k := range protos[label] {
					if proto != want {
						t.Errorf("%s: %d requests over HTTP/%d, want HTTP/%d", label, k, proto, want)
					}
				}
			}
			gh := 0
			for _, k := range protos[LabelGitHub] {
				gh += k
			}
			if gh < 4*n {
				t.Errorf("%d GitHub requests for %d targets", gh, n)
			}
			t.Logf("connections %v for %d GitHub requests (%v)", conns, gh, protos)
		})
	}
}
