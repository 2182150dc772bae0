package fakegate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func server(t *testing.T) (*Recorder, *httptest.Server) {
	t.Helper()
	r := &Recorder{}
	srv := httptest.NewServer(r.Wrap("x", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })))
	t.Cleanup(srv.Close)
	return r, srv
}

func get(t *testing.T, srv *httptest.Server, path string) {
	t.Helper()
	res, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Error(err)
		return
	}
	res.Body.Close()
}

// run runs s for at most d.
func run(s *Script, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		done <- s.Run(ctx)
	}()
	return done
}

// A product that sends /a and /b together, then /c: two rounds.
func parallelThenC(t *testing.T, srv *httptest.Server) {
	var wg sync.WaitGroup
	for _, p := range []string{"/a", "/b"} {
		wg.Add(1)
		go func() { defer wg.Done(); get(t, srv, p) }()
	}
	wg.Wait()
	get(t, srv, "/c")
}

func TestScriptPinsRounds(t *testing.T) {
	t.Parallel()
	r, srv := server(t)
	s := r.Script([]Matcher{Match("x", "GET", "/a"), Match("x", "GET", "/b")}, []Matcher{Match("x", "GET", "/c")})
	done := run(s, 10*time.Second)
	parallelThenC(t, srv)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	es := r.Entries()
	if Chain(es) != 2 || len(es) != 3 || !es[0].Overlaps(es[1]) {
		t.Fatalf("chain %d entries %v", Chain(es), es)
	}
}

func TestScriptReportsSerialisedRound(t *testing.T) {
	t.Parallel()
	r, srv := server(t)
	s := r.Script([]Matcher{Match("x", "GET", "/a"), Match("x", "GET", "/b")})
	done := run(s, 300*time.Millisecond)
	get(t, srv, "/a") // held until the round fills: /b never comes while it is
	get(t, srv, "/b")
	if err := <-done; err == nil || !strings.Contains(err.Error(), "round 1") {
		t.Fatalf("serialised round not reported: %v", err)
	}
}

func TestScriptReportsEarlyAndUnscripted(t *testing.T) {
	t.Parallel()
	r, srv := server(t)
	// /c does not wait for /a and /b, yet the script puts it in round 2.
	s := r.Script([]Matcher{Match("x", "GET", "/a"), Match("x", "GET", "/b")}, []Matcher{Match("x", "GET", "/c")})
	done := run(s, 10*time.Second)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); get(t, srv, "/c") }() // held for round 2, reported early: it arrived while round 1 was filling
	for len(r.Entries()) == 0 {
		time.Sleep(time.Millisecond) // until /c is in
	}
	for _, p := range []string{"/a", "/b"} {
		wg.Add(1)
		go func() { defer wg.Done(); get(t, srv, p) }()
	}
	wg.Wait()
	get(t, srv, "/d")
	<-done
	if err := s.Done(); err == nil || !strings.Contains(err.Error(), "/c (round 2) arrived while round 1") || !strings.Contains(err.Error(), "unscripted request x GET /d") {
		t.Fatalf("violations not reported: %v", err)
	}
}

func TestHoldAfterApplies(t *testing.T) {
	t.Parallel()
	r := &Recorder{}
	var applied sync.WaitGroup
	applied.Add(1)
	srv := httptest.NewServer(r.Wrap("x", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { applied.Done(); w.WriteHeader(201) })))
	defer srv.Close()
	h := r.HoldAfter(Match("x", "POST", "/p"))
	got := make(chan int)
	go func() {
		res, err := srv.Client().Post(srv.URL+"/p", "text/plain", nil)
		if err != nil {
			t.Error(err)
			got <- 0
			return
		}
		res.Body.Close()
		got <- res.StatusCode
	}()
	<-h.Arrived()
	applied.Wait() // applied while the client still waits
	select {
	case <-got:
		t.Fatal("the answer left before Release")
	default:
	}
	h.Release()
	if code := <-got; code != 201 {
		t.Fatalf("status %d", code)
	}
}
