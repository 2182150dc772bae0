package bench

import (
	"context"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/githubstore"
)

// Issue 13, "Done when": an overlap rotation into 100 existing repository
// secrets through the CLI, against a GitHub fake that enforces the
// documented secondary limits, gets zero limit answers and makes four
// requests per target (the repository, the key and the secret read by the
// preflight, one PUT). Simulated time (VClock); the figures against the
// floor are make bench's, not asserted here.
func TestFanoutWithinBudget(t *testing.T) {
	t.Parallel()
	const n = 100
	f, err := Fanout(context.Background(), n, githubstore.MaxConcurrency, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d GitHub requests, %d limit answers, %v simulated (floor %v) in %v real, %d clock jumps", f.GitHubRequests, f.Limited, f.Wall, f.Floor, f.Real, f.Jumps)
	if f.Limited != 0 {
		t.Errorf("%d limit answers", f.Limited)
	}
	if f.GitHubRequests != 4*n {
		t.Errorf("%d GitHub requests for %d targets, want %d", f.GitHubRequests, n, 4*n)
	}
	if len(f.PacingLog) == 0 {
		t.Error("the log does not say what pacing cost")
	}
}
