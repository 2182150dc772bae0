package githubstore

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/pace"
)

// GitHub's secondary rate limits, as github-secrets.md §3 summarises the
// REST documentation ("Rate limits for the REST API", § About secondary
// rate limits):
//
//	"Secondary: ≤ 100 concurrent requests; ≤ 900 points/min per REST
//	endpoint (GET = 1, PUT/POST/PATCH/DELETE = 5 ⇒ ~180 writes/min); ≤ 90 s
//	CPU per 60 s; ≤ 80 content-creating requests/min and ≤ 500/h."
//
// Which apply to secrets: every request counts against the concurrency
// limit (shared with GraphQL and every job using the credential) and
// against its endpoint's points ("too many requests to a single endpoint
// per minute": the budget is per endpoint, so a public-key GET does not
// take from the secret PUT's). GitHub does not list which requests are
// "content-creating"; a write that creates a secret or an environment
// plausibly is one, an update of an existing secret creates nothing, so the
// pacer charges the content budgets to a write unless the secret is known
// to exist (the metadata GET of preflight tells). The CPU-time limit cannot
// be measured from here; the requests astro-ci makes are cheap ones.
//
// github-secrets.md also quotes the advice to "serialize writes, ≥ 1 s
// between mutating requests": a rule of thumb for clients that do not pace.
// astro-ci paces to the budgets themselves instead, so 100 writes take the
// 34 s the points budget allows, not 100 s.
const (
	// MaxConcurrency is GitHub's "No more than 100 concurrent requests".
	MaxConcurrency = 100
	// DefaultPointsPerMinute is GitHub's "No more than 900 points per
	// minute are allowed for REST API endpoints".
	DefaultPointsPerMinute = 900
	// MinPointsPerMinute leaves room for one write (5 points) under the
	// pacer's margin.
	MinPointsPerMinute = 30
	// MaxPointsPerMinute bounds the setting: far above any configured
	// limit, low enough that the pacer's arithmetic stays exact.
	MaxPointsPerMinute = 1_000_000
	contentPerMinute   = 80
	contentPerHour     = 500
	// contentBurst is how many creations may go at once: a job's handful of
	// new targets (five secrets, two environments) without a wait. Two
	// seconds' worth, the pacer's default, is 2.6, which held the third
	// creation of a five-target rotation for a third of a second. Eight is
	// 10% of the minute's budget: the sustained rate drops by as much
	// (burst + rate × window stays under the limit), 1.16 instead of 1.25
	// creations a second, which only a fan-out of hundreds of new secrets
	// notices.
	contentBurst = 8
	// pointsBurst is the share of an endpoint's points that may go at once:
	// at 900, 90 points, i.e. eighteen writes, so that a job's fan-out to a
	// dozen repositories starts high and waits for nothing. Two seconds'
	// worth (29 points, five writes) held a ten-repository rotation back
	// for 1.5 s. The sustained rate drops by the same 10% (13 instead of 14
	// points a second), which a fan-out of hundreds still finishes within
	// the budget's floor.
	pointsBurst = 0.1
)

// NewHTTPClient is the client New uses when Config.HTTPClient is nil: a
// 30 s timeout (GitHub ends requests that take longer than 10 s itself)
// over pace.NewHTTPTransport(concurrency), which keeps a keep-alive
// connection per concurrency slot and speaks HTTP/2 where offered.
func NewHTTPClient(concurrency int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: pace.NewHTTPTransport(concurrency)}
}

// endpointTemplates are the REST routes the Store uses, so that requests
// to the same endpoint share its points budget whatever the owner,
// repository or name in the path.
var endpointTemplates = func() [][]string {
	var out [][]string
	for _, p := range []string{
		"/repos/{owner}/{repo}",
		"/repos/{owner}/{repo}/installation",
		"/repos/{owner}/{repo}/actions/secrets/public-key",
		"/repos/{owner}/{repo}/actions/secrets/{secret_name}",
		"/repos/{owner}/{repo}/dependabot/secrets/public-key",
		"/repos/{owner}/{repo}/dependabot/secrets/{secret_name}",
		"/repos/{owner}/{repo}/environments/{environment_name}",
		"/repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key",
		"/repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
		"/repositories/{repository_id}/environments/{environment_name}/secrets/public-key",
		"/repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}",
		"/orgs/{org}/installation",
		"/orgs/{org}/actions/secrets/public-key",
		"/orgs/{org}/actions/secrets/{secret_name}",
		"/app/installations/{installation_id}/access_tokens",
	} {
		out = append(out, strings.Split(strings.Trim(p, "/"), "/"))
	}
	return out
}()

// endpointOf names the endpoint of a request: its method and route
// template ("PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}").
// Literal segments win over parameters ("public-key" is not a secret
// name). An unknown path shares one budget with all other unknown paths.
func endpointOf(method, apiPath string) string {
	segs := strings.Split(strings.Trim(apiPath, "/"), "/")
	var best []string
	bestLiterals := -1
	for _, tpl := range endpointTemplates {
		if len(tpl) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, p := range tpl {
			if strings.HasPrefix(p, "{") {
				continue
			}
			if p != segs[i] {
				ok = false
				break
			}
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = tpl, literals
		}
	}
	if best == nil {
		return method + " (other)"
	}
	return method + " /" + strings.Join(best, "/")
}

// createsKey marks a request that may create content (see the constants).
type createsKey struct{}

func withCreates(ctx context.Context) context.Context {
	return context.WithValue(ctx, createsKey{}, true)
}

// spend is what a request takes from GitHub's budgets.
func (s *Store) spend(req *http.Request) []pace.Spend {
	apiPath := strings.TrimPrefix(req.URL.EscapedPath(), strings.TrimSuffix(s.base.EscapedPath(), "/"))
	ep := endpointOf(req.Method, apiPath)
	cost := 5.0
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		cost = 1
	}
	spends := []pace.Spend{{
		Key:    "points " + ep,
		Units:  cost,
		Budget: pace.Budget{Limit: float64(s.pointsPerMinute), Window: time.Minute, Burst: float64(s.pointsPerMinute) * pointsBurst},
	}}
	if req.Context().Value(createsKey{}) != nil {
		spends = append(spends,
			pace.Spend{Key: "content-creating requests per minute", Units: 1, Budget: pace.Budget{Limit: contentPerMinute, Window: time.Minute, Burst: contentBurst}},
			// Half the hour's budget may go in the first minutes (at the
			// per-minute rate); the rest is spread over the hour.
			pace.Spend{Key: "content-creating requests per hour", Units: 1, Budget: pace.Budget{Limit: contentPerHour, Window: time.Hour, Burst: contentPerHour / 2}})
	}
	return spends
}

// feedback tells the pacer what an answer says about GitHub's limits,
// following GitHub's rules (github-secrets.md §3): obey retry-after; else,
// when x-ratelimit-remaining is 0, wait until x-ratelimit-reset; else, for
// a secondary limit, wait a minute (the pacer's default). A successful
// answer that leaves x-ratelimit-remaining at 0 pauses too: the next
// request would be refused.
func feedback(resp *http.Response, now time.Time) pace.Feedback {
	h := resp.Header
	status := resp.StatusCode
	var fb pace.Feedback
	if status == http.StatusTooManyRequests || status == http.StatusForbidden {
		msg := ""
		if status == http.StatusForbidden && h.Get("Retry-After") == "" && h.Get("X-RateLimit-Remaining") != "0" {
			msg = peekBody(resp)
		}
		switch {
		case status == http.StatusTooManyRequests, h.Get("Retry-After") != "", strings.Contains(strings.ToLower(msg), "secondary rate limit"):
			fb.Limited, fb.Why = true, "secondary rate limit"
		case h.Get("X-RateLimit-Remaining") == "0":
			fb.Limited, fb.Why = true, "primary rate limit"
		}
	}
	if d, ok := retryAfter(h.Get("Retry-After"), now); ok && fb.Limited {
		fb.Wait = d
	} else if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			fb.Wait = max(time.Unix(reset, 0).Sub(now), 0)
			if fb.Why == "" {
				fb.Why = "primary rate limit"
			}
		}
	}
	return fb
}

// peekBody reads a short error body and puts it back.
func peekBody(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	return string(b)
}

// doer sends a request with an *http.Client (which follows redirects the
// way the injected client is set up to).
type doer struct{ c *http.Client }

func (d doer) RoundTrip(req *http.Request) (*http.Response, error) { return d.c.Do(req) }

// Concurrency is how many targets a fan-out should work on at once with
// this Store: its pacer's bound on requests in flight.
func (s *Store) Concurrency() int { return s.pacer.Concurrency() }

// PaceStats says what pacing did so far (for the fan-out's log).
func (s *Store) PaceStats() pace.Stats { return s.pacer.Stats() }
