package preview

import (
	"context"
	"fmt"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// firstPoll is the shortest wait between two polls.
const firstPoll = time.Second

// nextPoll is the wait before the next poll after waiting elapsed: a second
// at first, then a quarter of the time waited so far, never more than the
// poll interval. A Deployment ready after t is reported by about
// t + max(1s, t/4): within a second in the first seconds, within 25% later,
// for about as many requests as a fixed interval of the cap would make.
func nextPoll(elapsed, interval time.Duration) time.Duration {
	return min(max(firstPoll, elapsed/4), interval)
}

// wait polls until the preview is HEALTHY (or HIBERNATING, which a
// development Deployment may be at once), printing progress, until Timeout.
// d is the preview as last read: already healthy needs no request.
func (e *Engine) wait(ctx context.Context, d *astro.Deployment, req Request, res *Result) error {
	timeout, poll := req.Timeout, req.PollInterval
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if poll <= 0 {
		poll = defaultPoll
	}
	start := e.now()
	deadline := start.Add(timeout)
	for {
		res.Status, res.URL = d.Status, airflowURL(d)
		elapsed := e.now().Sub(start)
		if d.Status == healthy || d.Status == hibernat {
			e.Log.Infof("preview %s is %s after %s", d.Name, d.Status, elapsed.Round(time.Second))
			return nil
		}
		if !e.now().Before(deadline) {
			return fmt.Errorf("preview %s is still %s after %s (--timeout): it may become healthy later; check it in the Astro UI", d.Name, d.Status, timeout)
		}
		reason := ""
		if d.StatusReason != "" {
			reason = ": " + d.StatusReason
		}
		e.Log.Infof("waiting for preview %s: %s%s (%s of at most %s)", d.Name, d.Status, reason, elapsed.Round(time.Second), timeout)
		if err := e.sleep(ctx, min(nextPoll(elapsed, poll), deadline.Sub(e.now()))); err != nil {
			return fmt.Errorf("waiting for preview %s: %w", d.ID, err)
		}
		id := d.ID
		var err error
		if d, err = e.Astro.GetDeployment(ctx, id); err != nil {
			return fmt.Errorf("waiting for preview %s: %w", id, err)
		}
	}
}
