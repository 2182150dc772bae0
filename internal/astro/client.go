// Package astro is a typed client of the Astro API v1: API tokens and
// Deployments, with retries that never repeat a create or rotate blindly.
package astro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/version"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// DefaultBaseURL is the Astro API v1.
const DefaultBaseURL = "https://api.astronomer.io/v1"

// DefaultPageSize is the largest page Astro serves, so a list costs the fewest round trips.
const DefaultPageSize = 1000

// RetryPolicy bounds retries of transient failures: 429, 502, 503, 504 and
// connection errors. The context deadline bounds them too.
type RetryPolicy struct {
	MaxAttempts int           // including the first; default 5
	BaseDelay   time.Duration // first backoff; default 500ms
	MaxDelay    time.Duration // cap of one wait, also of Retry-After; default 30s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	return p
}

// Config configures a Client. Token is required; the rest has defaults.
type Config struct {
	BaseURL        string
	Token          secret.Value
	OrganizationID string // from the token's claims when empty
	HTTPClient     *http.Client
	Retry          RetryPolicy
	PageSize       int
	// Sleep waits between attempts; tests replace it. It must return ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0,1); tests make it deterministic.
	Jitter func() float64
	// Trace, when set, is told about every HTTP exchange (no headers, no bodies).
	Trace func(method, path string, status int, d time.Duration, err error)
}

// Client talks to one Astro organization with one API token.
type Client struct {
	cfg    Config
	base   *url.URL
	claims Claims
	server *serverClock // shared by every client WithToken derives
}

// serverClock is the newest Date header Astro sent. Rotation compares the
// server's own timestamps (createdAt, and deadlines derived from them) with
// the server's time, so runners whose clocks disagree still agree on order.
type serverClock struct{ unix atomic.Int64 }

func (s *serverClock) observe(h http.Header) {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return
	}
	for {
		old := s.unix.Load()
		if t.Unix() <= old || s.unix.CompareAndSwap(old, t.Unix()) {
			return
		}
	}
}

// ServerTime is the newest time Astro reported in a Date header, and false
// when no answer carried one yet. It is a lower bound of Astro's clock now
// (the header has whole seconds and time has passed since): what a caller
// that must not act too early needs.
func (c *Client) ServerTime() (time.Time, bool) {
	u := c.server.unix.Load()
	if u == 0 {
		return time.Time{}, false
	}
	return time.Unix(u, 0).UTC(), true
}

// New checks the configuration and the token's claims; it makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("ASTRO_API_URL %q is not an absolute URL such as %s", cfg.BaseURL, DefaultBaseURL)
	}
	if cfg.Token.IsZero() {
		return nil, errors.New("ASTRO_API_TOKEN is not set: give astro-ci an Astro API token through the environment (a CI secret)")
	}
	claims, err := ParseClaims(cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("ASTRO_API_TOKEN: %w", err)
	}
	if cfg.OrganizationID == "" {
		cfg.OrganizationID = claims.OrganizationID
	}
	if cfg.OrganizationID == "" {
		return nil, errors.New("ASTRO_API_TOKEN names no organization (no organizationId permission claim): set ASTRO_ORGANIZATION_ID")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	cfg.Retry = cfg.Retry.withDefaults()
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Sleep == nil {
		cfg.Sleep = wait.Sleep
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}
	return &Client{cfg: cfg, base: base, claims: claims, server: &serverClock{}}, nil
}

// WithToken returns a client for the same organization that authenticates
// with v instead: used to prove a new value works and to go on with it after
// a self-rotation invalidated the old one.
func (c *Client) WithToken(v secret.Value) (*Client, error) {
	cfg := c.cfg
	cfg.Token = v
	claims, err := ParseClaims(v)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, base: c.base, claims: claims, server: c.server}, nil
}

// OrganizationID is the organization every call addresses.
func (c *Client) OrganizationID() string { return c.cfg.OrganizationID }

// Claims of the token the client authenticates with.
func (c *Client) Claims() Claims { return c.claims }

// idempotency says what may be repeated after a failure.
type idempotency int

const (
	// safe: GET, DELETE, and full-replacement POSTs (update, roles): repeating
	// them gives the same end state.
	safe idempotency = iota
	// once: create and rotate. Repeating one that Astro applied would create a
	// second object or kill the value the first returned, so they are repeated
	// only when the request certainly did not take effect (429, or the request
	// never left this process). Any other failure comes back as an
	// *UncertainError and the caller reconciles against Astro's state: the
	// rotation engine finds a possibly-created token by the unique nonce it put
	// in the description, and a possibly-applied rotate by lastRotatedAt (see
	// package rotation).
	once
)

func (c *Client) orgPath(format string, args ...any) string {
	escaped := make([]any, len(args))
	for i, a := range args {
		escaped[i] = url.PathEscape(fmt.Sprint(a))
	}
	return "/organizations/" + url.PathEscape(c.cfg.OrganizationID) + fmt.Sprintf(format, escaped...)
}

// do sends one logical request with retries and decodes a 2xx JSON body into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any, mode idempotency) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
	}
	p := c.cfg.Retry
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := c.once(ctx, method, path, query, payload, out)
		if err == nil {
			return nil
		}
		sent := !errors.Is(err, errNotSent)
		// An answer that cannot be read (a garbage or cut-off body) says
		// nothing about whether Astro applied the request: like a lost answer.
		unreadable := errors.Is(err, errUnreadable)
		transient := status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
			status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout ||
			((status == 0 || unreadable) && ctx.Err() == nil)
		if mode == once && sent && status != http.StatusTooManyRequests {
			if status == 0 || status >= 500 || unreadable {
				return &UncertainError{Method: method, Path: path, Err: err}
			}
			return err
		}
		if !transient || attempt >= p.MaxAttempts {
			if attempt > 1 && transient {
				return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
			}
			return err
		}
		wait := backoff(p, attempt, c.cfg.Jitter())
		if retryAfter > 0 {
			wait = min(retryAfter, p.MaxDelay)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("not retrying: the deadline comes before the next attempt: %w", err)
		}
		if serr := c.cfg.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (stopped waiting to retry: %w)", err, serr)
		}
	}
}

// backoff is capped exponential backoff with full jitter.
func backoff(p RetryPolicy, attempt int, jitter float64) time.Duration {
	d := p.BaseDelay << (attempt - 1)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	// Half fixed, half random: never zero, still spreads concurrent clients.
	return d/2 + time.Duration(jitter*float64(d/2))
}

var (
	errNotSent    = errors.New("request not sent")
	errUnreadable = errors.New("answer not readable")
)

// once performs a single HTTP exchange. status is 0 when no response arrived.
func (c *Client) once(ctx context.Context, method, path string, query url.Values, payload []byte, out any) (status int, retryAfter time.Duration, err error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	if c.base.RawPath != "" || strings.Contains(path, "%") {
		u.RawPath = c.base.EscapedPath() + path
	}
	u.RawQuery = query.Encode()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	// Whether any byte of the request left decides if a create or rotate
	// may have reached Astro; the transport calls this from its own goroutine.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, 0, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token.Reveal())
	req.Header.Set("User-Agent", version.UserAgent())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-API-Version", "1.0")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.cfg.HTTPClient.Do(req)
	if c.cfg.Trace != nil {
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		c.cfg.Trace(method, path, st, time.Since(start), err)
	}
	if err != nil {
		// *url.Error repeats the URL, which holds no secret; the token is only in a header.
		err = fmt.Errorf("%s %s: %w", method, path, unwrapURLError(err))
		if !wrote.Load() {
			err = fmt.Errorf("%w: %w", errNotSent, err)
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	c.server.observe(resp.Header)
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: reading the response: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return resp.StatusCode, 0, nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return resp.StatusCode, 0, fmt.Errorf("%s %s: Astro answered %d with a body astro-ci cannot read (%w): %w", method, path, resp.StatusCode, errUnreadable, err)
		}
		return resp.StatusCode, 0, nil
	}
	apiErr := &APIError{Method: method, Path: path}
	if json.Unmarshal(body, apiErr) != nil || apiErr.Message == "" {
		apiErr.Message = strings.TrimSpace(http.StatusText(resp.StatusCode))
	}
	apiErr.StatusCode = resp.StatusCode
	if apiErr.RequestID == "" {
		apiErr.RequestID = resp.Header.Get("X-Request-Id")
	}
	apiErr.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return resp.StatusCode, apiErr.RetryAfter, apiErr
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
