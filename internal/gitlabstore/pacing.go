package gitlabstore

import (
	"net/http"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/pace"
	"github.com/astro-ci/astro-ci/internal/target"
)

// GitLab's budgets (gitlab-variables.md §1.4, from docs.gitlab.com's
// rate-limit pages): GitLab.com allows "authenticated API traffic 2,000
// requests/min per user", answering 429 with Retry-After and RateLimit-*
// headers beyond it; self-managed and Dedicated instances set their own
// (Dedicated 1,200 a minute at 1k users and up), often none. No limit on
// concurrent requests is documented.
//
// The store paces its requests to the per-user budget ahead of time, a
// little below it with a burst of a tenth, like the GitHub store (package
// pace), so that a fan-out to hundreds of variables gets no 429 from
// GitLab.com; a 429 that still comes (another job with the same token, a
// smaller limit) halves the rate and pauses every request for the wait
// GitLab asked for. Eight in flight, the fan-out's old fixed bound, is as
// many as GitLab's own clients run (glab sends one request at a time);
// sixteen keeps a fan-out's round trips overlapping at any latency under
// 0.5 s while the budget binds.
const (
	// DefaultRequestsPerMinute is GitLab.com's authenticated API limit per
	// user.
	DefaultRequestsPerMinute = 2000
	// DefaultConcurrency bounds the requests in flight.
	DefaultConcurrency = 16
	// MinRequestsPerMinute leaves room for a burst under the pacer's margin.
	MinRequestsPerMinute = 10
)

const budgetKey = "GitLab API requests per minute per user"

// spend is what a request takes: one request of the per-user budget.
func (s *Store) spend(*http.Request) []pace.Spend {
	return []pace.Spend{{Key: budgetKey, Units: 1, Budget: pace.Budget{
		Limit: float64(s.perMinute), Window: time.Minute, Burst: max(1, float64(s.perMinute)/10),
	}}}
}

// feedback tells the pacer what an answer says about GitLab's limit: a 429
// waits for its Retry-After (or RateLimit-Reset); an answer that leaves
// RateLimit-Remaining at 0 pauses until RateLimit-Reset, since the next
// request would be refused.
func feedback(resp *http.Response, now time.Time) pace.Feedback {
	h := resp.Header
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return pace.Feedback{Limited: true, Wait: waitOf(h, now), Why: "GitLab rate limit"}
	case strings.TrimSpace(h.Get("RateLimit-Remaining")) == "0":
		if d := waitOf(http.Header{"Ratelimit-Reset": h.Values("RateLimit-Reset")}, now); d > 0 {
			return pace.Feedback{Wait: d, Why: "GitLab rate limit (none remaining)"}
		}
	}
	return pace.Feedback{}
}

// Concurrency is how many targets a fan-out should work on at once.
func (s *Store) Concurrency() int { return s.pacer.Concurrency() }

// PaceStats says what pacing did so far (for the fan-out's log).
func (s *Store) PaceStats() pace.Stats { return s.pacer.Stats() }

var _ target.Paced = (*Store)(nil)
