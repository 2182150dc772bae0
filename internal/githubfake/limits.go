package githubfake

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// SecondaryLimits are GitHub's secondary rate limits ("Rate limits for the
// REST API", docs.github.com, § About secondary rate limits):
//
//   - "No more than 100 concurrent requests are allowed."
//   - "No more than 900 points per minute are allowed for REST API
//     endpoints" — per endpoint ("too many requests to a single endpoint
//     per minute"); most GET, HEAD and OPTIONS requests cost 1 point, most
//     POST, PATCH, PUT and DELETE requests 5.
//   - "no more than 80 content-generating requests per minute and no more
//     than 500 content-generating requests per hour".
//
// DocumentedLimits has these numbers. A field of 0 leaves that limit off:
// the zero value enforces none, because tests that stop the fake's clock
// would otherwise see every request of a run inside one minute.
type SecondaryLimits struct {
	Concurrency      int
	PointsPerMinute  int
	ContentPerMinute int
	ContentPerHour   int
}

// DocumentedLimits are GitHub's documented secondary limits.
func DocumentedLimits() SecondaryLimits {
	return SecondaryLimits{Concurrency: 100, PointsPerMinute: 900, ContentPerMinute: 80, ContentPerHour: 500}
}

// window is a rolling window of spends: what arrived in the last span.
type window struct {
	at    []time.Time
	units []int
}

// add records a spend at now.
func (w *window) add(now time.Time, units int) {
	w.at = append(w.at, now)
	w.units = append(w.units, units)
}

// check says whether units more fit under limit in the span before now,
// and else how long until they do.
func (w *window) check(now time.Time, span time.Duration, limit, units int) (bool, time.Duration) {
	// Drop what is out of the window for good.
	i := 0
	for i < len(w.at) && !w.at[i].After(now.Add(-span)) {
		i++
	}
	w.at, w.units = w.at[i:], w.units[i:]
	sum := 0
	for _, u := range w.units {
		sum += u
	}
	if sum+units <= limit {
		return true, 0
	}
	// The oldest spends leave first; wait until enough of them have.
	for j, u := range w.units {
		sum -= u
		if sum+units <= limit {
			return false, w.at[j].Add(span).Sub(now)
		}
	}
	return false, span
}

// points is what a request costs under the per-endpoint budget.
func points(method string) int {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return 1
	}
	return 5
}

// retryAfter is a wait as GitHub sends it: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// limitedLocked answers a request over a secondary limit: 403 with GitHub's
// message, and Retry-After when the fake knows when the budget frees.
func (c *call) limitedLocked(name string, wait time.Duration) (int, any) {
	c.limited = name
	if wait > 0 {
		c.header.Set("Retry-After", retryAfter(wait))
	}
	return secondaryBody(http.StatusForbidden)
}

// secondaryLocked enforces the concurrency and points limits on an
// authenticated request (GET /rate_limit is exempt, as it is from the
// primary limit). Refused requests are not counted.
func (s *Server) secondaryLocked(c *call, inFlight int) (int, any, bool) {
	if c.rt.opID == "rate-limit/get" {
		return 0, nil, true
	}
	if l := s.limits.Concurrency; l > 0 && inFlight > l {
		// GitHub cannot know when a slot frees: no Retry-After.
		code, body := c.limitedLocked("concurrency", 0)
		return code, body, false
	}
	if l := s.limits.PointsPerMinute; l > 0 {
		ep := c.rt.endpoint()
		w := s.points[ep]
		if w == nil {
			w = &window{}
			s.points[ep] = w
		}
		now, cost := s.now(), points(c.r.Method)
		if ok, wait := w.check(now, time.Minute, l, cost); !ok {
			code, body := c.limitedLocked("points", wait)
			return code, body, false
		}
		w.add(now, cost)
	}
	return 0, nil, true
}

// createsLocked enforces the content-creation limits on a request that
// creates something (a secret that did not exist, an environment): GitHub
// does not say which requests count as content-generating; the fake counts
// those that create a resource, not those that update one.
func (s *Server) createsLocked(c *call) (int, any, bool) {
	now := s.now()
	for i, lim := range []struct {
		limit int
		span  time.Duration
	}{{s.limits.ContentPerMinute, time.Minute}, {s.limits.ContentPerHour, time.Hour}} {
		if lim.limit <= 0 {
			continue
		}
		if ok, wait := s.content[i].check(now, lim.span, lim.limit, 1); !ok {
			code, body := c.limitedLocked("content", wait)
			return code, body, false
		}
	}
	for i := range s.content {
		s.content[i].add(now, 1)
	}
	return 0, nil, true
}

// InFlight is how many requests the fake is answering now.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }
