package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
)

// When --deadline passes, the run stops and says what it was waiting for.
func TestDeadlineNamesTheRequestItWaitedFor(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id, _ := h.admin()
	h.fake.InjectFault(astrofake.Fault{Route: "GetApiToken", Latency: time.Hour})
	r := h.run("", "token", "check", "--deadline", "200ms", "--format", "json")
	want := "--deadline 200ms passed while waiting for the answer to GET " + h.srv.URL + "/v1/organizations/" + orgID + "/tokens/" + id
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("want %q: %v", want, r)
	}
	var doc struct {
		Error struct{ Kind, Request, Message string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Error.Kind != "deadline" || doc.Error.Request != "GET "+h.srv.URL+"/v1/organizations/"+orgID+"/tokens/"+id {
		t.Fatalf("%v: %+v", err, doc)
	}
}

// blockingTransport holds requests to paths containing block until their
// context ends, telling the test each time one arrives.
type blockingTransport struct {
	next    http.RoundTripper
	block   string
	arrived chan string
}

func (b blockingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, b.block) {
		select {
		case b.arrived <- req.Method + " " + req.URL.Path:
		default:
		}
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return b.next.RoundTrip(req)
}

// A signal (the cancelled context main passes) makes Run return at once,
// naming the request it interrupted; engines get the cancelled context.
func TestInterruptReturnsPromptlyNamingTheRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	bt := blockingTransport{next: h.srv.Client().Transport, block: "/tokens", arrived: make(chan string, 1)}
	m := Main{HTTPClient: &http.Client{Transport: bt}, Now: h.clock.Now, Sleep: h.sleep, Stores: h.stores}
	ctx, cancel := context.WithCancelCause(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- m.Run(ctx, []string{"token", "rotate", "--target", h.target("tok")}, h.env, &stdout, &stderr)
	}()
	<-bt.arrived
	cancel(errors.New("received terminated"))
	code := <-done
	h.mu.Lock()
	h.outputs = append(h.outputs, stdout.String(), stderr.String())
	h.mu.Unlock()
	want := "interrupted (received terminated) while waiting for the answer to GET " + h.srv.URL + "/v1/organizations/" + orgID + "/tokens"
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("exit %d, want %q:\n%s", code, want, stderr.String())
	}
}

func TestEveryClientHasARequestTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		given *http.Client
		want  time.Duration
	}{
		{nil, requestTimeout},
		{&http.Client{}, requestTimeout},
		{&http.Client{Timeout: time.Hour}, requestTimeout},
		{&http.Client{Timeout: 5 * time.Second}, 5 * time.Second},
	} {
		r := &runner{m: Main{HTTPClient: tt.given}}
		c := r.httpClient()
		if c.Timeout != tt.want || r.httpClient() != c {
			t.Errorf("%v: timeout %v, want %v (one shared client)", tt.given, c.Timeout, tt.want)
		}
		if _, ok := c.Transport.(*trackingTransport); !ok {
			t.Errorf("%v: requests are not tracked", tt.given)
		}
		if tt.given != nil && tt.given.Timeout == time.Hour && tt.given.Timeout != time.Hour {
			t.Error("the injected client was changed")
		}
	}
}
