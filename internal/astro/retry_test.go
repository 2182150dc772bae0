package astro

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sleeper records waits instead of sleeping.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func testClient(t *testing.T, h http.Handler) (*Client, *sleeper) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	sl := &sleeper{}
	c, err := New(Config{
		BaseURL: srv.URL + "/v1", Token: mint(t, map[string]any{"apiTokenId": "cltok", "permissions": []string{"organizationId:clorg"}}),
		HTTPClient: srv.Client(), Sleep: sl.sleep, Jitter: func() float64 { return 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

// script answers each request with the next status of seq; afterwards 200 with body.
func script(calls *atomic.Int32, body string, seq ...func(w http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if n < len(seq) {
			seq[n](w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

func status(code int, hdr ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"message":"busy","requestId":"req-1","statusCode":` + http.StatusText(code)[:0] + `0}`))
	}
}

// garbage answers 200 with a body that is not the JSON the client expects.
func garbage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("<html>upstream said ok</html>"))
}

// truncated promises more body than it sends, then closes the connection.
func truncated(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "4096")
	_, _ = w.Write([]byte(`{"id":"cltok","na`))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

func drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

const tokenBody = `{"id":"cltok","name":"n","description":"","scope":"ORGANIZATION","kind":"STANDARD","shortToken":"s","startAt":"2026-01-01T00:00:00Z","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","token":"new-value-xyz"}`

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		seq       []func(http.ResponseWriter)
		call      func(*Client) error
		wantCalls int32
		wantWaits []time.Duration
		wantErr   string
		uncertain bool
	}{
		{
			name:      "GET retries 502 503 504 with backoff",
			seq:       []func(http.ResponseWriter){status(502), status(503), status(504)},
			call:      func(c *Client) error { _, err := c.GetToken(context.Background(), "cltok"); return err },
			wantCalls: 4, wantWaits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second},
		},
		{
			name:      "429 honours Retry-After seconds",
			seq:       []func(http.ResponseWriter){status(429, "Retry-After", "7")},
			call:      func(c *Client) error { _, err := c.GetToken(context.Background(), "cltok"); return err },
			wantCalls: 2, wantWaits: []time.Duration{7 * time.Second},
		},
		{
			name:      "Retry-After is capped",
			seq:       []func(http.ResponseWriter){status(429, "Retry-After", "3600")},
			call:      func(c *Client) error { _, err := c.GetToken(context.Background(), "cltok"); return err },
			wantCalls: 2, wantWaits: []time.Duration{30 * time.Second},
		},
		{
			name:      "connection dropped on GET is retried",
			seq:       []func(http.ResponseWriter){drop},
			call:      func(c *Client) error { _, err := c.GetToken(context.Background(), "cltok"); return err },
			wantCalls: 2, wantWaits: []time.Duration{250 * time.Millisecond},
		},
		{
			name:      "gives up after max attempts",
			seq:       []func(http.ResponseWriter){status(503), status(503), status(503), status(503), status(503)},
			call:      func(c *Client) error { _, err := c.GetToken(context.Background(), "cltok"); return err },
			wantCalls: 5, wantWaits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second},
			wantErr: "gave up after 5 attempts",
		},
		{
			name:      "400 is not retried",
			seq:       []func(http.ResponseWriter){status(400)},
			call:      func(c *Client) error { _, err := c.GetToken(context.Background(), "cltok"); return err },
			wantCalls: 1, wantErr: "Astro API returned 400",
		},
		{
			name:      "rotate: 429 is retried (not applied)",
			seq:       []func(http.ResponseWriter){status(429, "Retry-After", "1")},
			call:      func(c *Client) error { _, err := c.RotateToken(context.Background(), "cltok"); return err },
			wantCalls: 2, wantWaits: []time.Duration{time.Second},
		},
		{
			name:      "rotate: 502 is uncertain, not retried",
			seq:       []func(http.ResponseWriter){status(502)},
			call:      func(c *Client) error { _, err := c.RotateToken(context.Background(), "cltok"); return err },
			wantCalls: 1, uncertain: true, wantErr: "may or may not have been applied",
		},
		{
			name: "create: dropped connection after sending is uncertain",
			seq:  []func(http.ResponseWriter){drop},
			call: func(c *Client) error {
				_, err := c.CreateToken(context.Background(), CreateTokenRequest{Name: "n", Role: "r", Scope: ScopeOrganization})
				return err
			},
			wantCalls: 1, uncertain: true,
		},
		{
			name: "create: a garbage 200 is uncertain (Astro may have created the token)",
			seq:  []func(http.ResponseWriter){garbage},
			call: func(c *Client) error {
				_, err := c.CreateToken(context.Background(), CreateTokenRequest{Name: "n", Role: "r", Scope: ScopeOrganization})
				return err
			},
			wantCalls: 1, uncertain: true, wantErr: "may or may not have been applied",
		},
		{
			name:      "rotate: a truncated 200 is uncertain",
			seq:       []func(http.ResponseWriter){truncated},
			call:      func(c *Client) error { _, err := c.RotateToken(context.Background(), "cltok"); return err },
			wantCalls: 1, uncertain: true,
		},
		{
			name:      "GET: a garbage 200 is retried (idempotent)",
			seq:       []func(http.ResponseWriter){garbage},
			call:      func(c *Client) error { _, err := c.GetToken(context.Background(), "cltok"); return err },
			wantCalls: 2, wantWaits: []time.Duration{250 * time.Millisecond},
		},
		{
			name:      "GET: a truncated 200 is retried (idempotent)",
			seq:       []func(http.ResponseWriter){truncated},
			call:      func(c *Client) error { _, err := c.GetToken(context.Background(), "cltok"); return err },
			wantCalls: 2, wantWaits: []time.Duration{250 * time.Millisecond},
		},
		{
			name:      "DELETE: a garbage 204-or-200 answer is retried",
			seq:       []func(http.ResponseWriter){truncated},
			call:      func(c *Client) error { return c.DeleteToken(context.Background(), "cltok") },
			wantCalls: 2, wantWaits: []time.Duration{250 * time.Millisecond},
		},
		{
			name: "create: 403 is a plain error",
			seq:  []func(http.ResponseWriter){status(403)},
			call: func(c *Client) error {
				_, err := c.CreateToken(context.Background(), CreateTokenRequest{Name: "n", Role: "r", Scope: ScopeOrganization})
				return err
			},
			wantCalls: 1, wantErr: "lacks the permission",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			c, sl := testClient(t, script(&calls, tokenBody, tt.seq...))
			err := tt.call(c)
			if tt.wantErr == "" && !tt.uncertain && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.uncertain != IsUncertain(err) {
				t.Fatalf("IsUncertain(%v) = %v, want %v", err, IsUncertain(err), tt.uncertain)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Fatalf("calls = %d, want %d", got, tt.wantCalls)
			}
			if len(sl.waits) != len(tt.wantWaits) {
				t.Fatalf("waits = %v, want %v", sl.waits, tt.wantWaits)
			}
			for i := range sl.waits {
				if sl.waits[i] != tt.wantWaits[i] {
					t.Fatalf("waits = %v, want %v", sl.waits, tt.wantWaits)
				}
			}
		})
	}
}

func TestCreateRetriedWhenNotSent(t *testing.T) {
	t.Parallel()
	// A listener that is closed: the dial fails, nothing reached a server, so
	// even a create may be sent again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	sl := &sleeper{}
	c, err := New(Config{BaseURL: "http://" + addr + "/v1", Token: mint(t, map[string]any{"apiTokenId": "t", "permissions": []string{"organizationId:o"}}),
		Sleep: sl.sleep, Jitter: func() float64 { return 0 }, Retry: RetryPolicy{MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateToken(context.Background(), CreateTokenRequest{Name: "n", Role: "r", Scope: ScopeOrganization})
	if err == nil || IsUncertain(err) || len(sl.waits) != 2 {
		t.Fatalf("err = %v (uncertain %v), waits %v: a create that never left must be retried", err, IsUncertain(err), sl.waits)
	}
}

func TestRetryStopsAtDeadline(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c, sl := testClient(t, script(&calls, tokenBody, status(503, "Retry-After", "20")))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.GetToken(ctx, "cltok")
	if err == nil || !strings.Contains(err.Error(), "deadline") || calls.Load() != 1 || len(sl.waits) != 0 {
		t.Fatalf("err = %v, calls %d, waits %v: must not wait past the deadline", err, calls.Load(), sl.waits)
	}
}

func TestAPIErrorFields(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"message":"Invalid request","requestId":"rq-9","statusCode":400,"fieldErrors":[{"code":"max","field":"name","message":"too long"}]}`))
	}))
	_, err := c.UpdateToken(context.Background(), "cltok", UpdateTokenRequest{Name: "x"})
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if ae.StatusCode != 400 || ae.RequestID != "rq-9" || len(ae.FieldErrors) != 1 || ae.FieldErrors[0].Field != "name" || ae.Method != "POST" || ae.Path != "/organizations/clorg/tokens/cltok" {
		t.Fatalf("APIError = %+v", ae)
	}
	for _, want := range []string{"400", "Invalid request", "name: too long", "rq-9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %q", want, err)
		}
	}
}

func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	var got http.Header
	var path string
	c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, path = r.Header.Clone(), r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(tokenBody))
	}))
	if _, err := c.GetToken(context.Background(), "cl/../x"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Get("User-Agent"), "astro-ci/") || !strings.HasPrefix(got.Get("Authorization"), "Bearer ey") || got.Get("X-API-Version") != "1.0" {
		t.Fatalf("headers: %v", got)
	}
	if path != "/v1/organizations/clorg/tokens/cl/../x" {
		// The id is escaped as one segment; the server sees it decoded.
		t.Logf("path %q", path)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "5": 5 * time.Second, "-1": 0, "x": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestValueOnlyInReveal(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c, _ := testClient(t, script(&calls, tokenBody))
	tok, err := c.RotateToken(context.Background(), "cltok")
	if err != nil || tok.Value.Reveal() != "new-value-xyz" {
		t.Fatalf("rotate: %v", err)
	}
}
