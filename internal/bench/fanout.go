package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/githubstore"
)

// FanoutFigures are what an overlap self-rotation to N repository secrets
// did, in simulated time.
type FanoutFigures struct {
	// GitHubRequests and Limited count GitHub's requests and its limit
	// answers (403/429 for a secondary limit).
	GitHubRequests, Limited int
	// Wall is the run's virtual wall time (cli.Main.Run's whole run: Astro
	// round trips too); Floor the least the points budget allows (Floor).
	Wall, Floor time.Duration
	// Real is the real time the simulation took; Jumps how often the
	// virtual clock moved.
	Real  time.Duration
	Jumps int
	// PacingLog is what the run said about pacing: its lines that hold
	// pacingPhrase.
	PacingLog []string
}

// pacingPhrase opens the line in which the fan-out says what pacing cost
// GitHub (target.Fanout's reportPacing).
const pacingPhrase = "github: pacing to the forge's rate budgets held requests back for"

// Ratio is Wall / Floor.
func (f FanoutFigures) Ratio() float64 { return f.Wall.Seconds() / f.Floor.Seconds() }

// PointsFloor is the floor for n existing repository secrets: one
// public-key GET (1 point) and one PUT (5 points) per repository at the
// default budget, githubstore.DefaultPointsPerMinute points a minute.
func PointsFloor(n int) time.Duration {
	return time.Duration(float64(6*n) / githubstore.DefaultPointsPerMinute * float64(time.Minute))
}

// Fanout rotates the world's credential (overlap) into n existing
// repository secrets acme/svc-NNN with GitHub concurrency c, every request
// taking l, against a GitHub fake that enforces the documented secondary
// limits, all on a virtual clock (VClock): the fake's limit windows, the
// pacer and the latency read the same simulated time.
func Fanout(ctx context.Context, n, c int, l time.Duration) (FanoutFigures, error) {
	var fig FanoutFigures
	vc := NewVClock(time.Now().UTC().Truncate(time.Second))
	defer vc.Stop()
	w := NewWorld(Options{Latency: l, Now: vc.Now, Sleep: vc.Sleep, DelaySleep: vc.Sleep, Touch: vc.Touch, GitHubLimits: githubfake.DocumentedLimits()})
	defer w.Close()
	args := []string{"token", "rotate", "--github-concurrency", strconv.Itoa(c)}
	for i := range n {
		repo := fmt.Sprintf("svc-%03d", i)
		w.GitHub.AddRepo("acme", repo, true)
		w.GitHub.AddSecret("repo:acme/"+repo, "ASTRO_API_TOKEN", "old")
		args = append(args, "--target", "github://acme/"+repo+"/secrets/ASTRO_API_TOKEN")
	}
	start, real0 := vc.Now(), time.Now()
	r := w.Run(ctx, args...)
	fig.Wall, fig.Real, fig.Jumps = vc.Now().Sub(start), time.Since(real0), vc.Jumps()
	if r.Code != 0 {
		return fig, fmt.Errorf("fan-out to %d secrets: exit %d: %s", n, r.Code, r.Stderr)
	}
	for _, q := range w.GitHub.Requests() {
		fig.GitHubRequests++
		if q.Limited != "" || q.Status == 403 || q.Status == 429 {
			fig.Limited++
		}
	}
	for i := range n {
		if v, _ := w.GitHub.RepoSecret("acme", fmt.Sprintf("svc-%03d", i), "ASTRO_API_TOKEN"); v == "old" {
			return fig, fmt.Errorf("fan-out to %d secrets: svc-%03d still holds the old value", n, i)
		}
	}
	fig.Floor = max(PointsFloor(n), time.Duration(6)*l)
	for line := range strings.Lines(r.Stderr) {
		if strings.Contains(line, pacingPhrase) {
			fig.PacingLog = append(fig.PacingLog, strings.TrimSuffix(line, "\n"))
		}
	}
	return fig, nil
}
