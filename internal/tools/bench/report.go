package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/bench"
	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/githubstore"
	"github.com/astro-ci/astro-ci/internal/preview"
)

// Targets of issue 13.
const (
	maxOpRatio     = 1.15
	maxFanoutRatio = 1.3
	maxBinary      = 12 << 20
	maxRSS         = 20 << 20
)

type report struct {
	Machine    machineInfo
	Latency    time.Duration
	FanLatency time.Duration
	Runs       int
	Ops        []bench.Figures
	Fanout     []fanoutRow
	Startup    startupFigures
	Act        actFigures
	Quick      bool
	Took       time.Duration
}

// ratioOf is the figure held against the target: wall / (minimum × L),
// without the protocol's deliberate pauses when there are any.
func ratioOf(f bench.Figures) float64 {
	if f.Paused > 0 {
		return f.RatioActive()
	}
	return f.Ratio()
}

func (r *report) misses() []string {
	var m []string
	for _, f := range r.Ops {
		if f.Chain > f.Scenario.Min {
			m = append(m, fmt.Sprintf("%s: chain %d above its minimum %d", f.Scenario.Name, f.Chain, f.Scenario.Min))
		}
		if x := ratioOf(f); x > maxOpRatio {
			m = append(m, fmt.Sprintf("%s: wall/(min × L) %.2f above %.2f", f.Scenario.Name, x, maxOpRatio))
		}
	}
	for _, row := range r.Fanout {
		if x := row.Paced.Ratio(); x > maxFanoutRatio {
			m = append(m, fmt.Sprintf("fan-out N=%d: %.2f × the floor, above %.1f", row.N, x, maxFanoutRatio))
		}
		if row.Paced.Limited+row.Loop.Limited > 0 {
			m = append(m, fmt.Sprintf("fan-out N=%d: %d limit answers", row.N, row.Paced.Limited+row.Loop.Limited))
		}
	}
	s := r.Startup
	if s.Size > maxBinary {
		m = append(m, fmt.Sprintf("binary %s above %s", mib(s.Size), mib(maxBinary)))
	}
	if rss := max(s.Version.PeakRSS, s.Check.PeakRSS); rss > maxRSS {
		m = append(m, fmt.Sprintf("peak RSS %s above %s", mib(rss), mib(maxRSS)))
	}
	if s.Leftover > 0 {
		m = append(m, fmt.Sprintf("%d runs left a process behind", s.Leftover))
	}
	return m
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Benchmarks\n\n")
	p("Written by `make bench` (`go run ./internal/tools/bench`), which took %s; do not edit by hand. ", r.Took.Round(time.Second))
	p("Every figure below comes from that command. Timings are noisy (the machine is shared): compare within one run, and read the request counts and chains, which are exact, as the result.\n\n")
	if r.Quick {
		p("**This is a quick run (`-quick`): fewer repetitions, no 500-secret fan-out.**\n\n")
	}
	p("## Machine\n\n")
	p("| | |\n|---|---|\n| CPU | %s |\n| cores | %d |\n| Go | %s (%s) |\n| kernel | %s |\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.Go, r.Machine.OSArch, r.Machine.Kernel)

	p("## Operations at L = %s\n\n", ms(r.Latency))
	p("Each operation runs in-process (`cli.Main.Run`, the production HTTP transport) against the fakes of Astro, GitHub and GitLab, each behind a proxy that delays every request by L (`internal/bench`, `Delay`). ")
	p("A recorder (`internal/fakegate`) logs when each request started and ended on one shared order; the **chain** is the longest sequence of requests each of which started after the previous one ended — the sequential round trips. ")
	p("The **minimum** is the least chain the safety orderings allow (preflight before create or rotate, the new value proven before it is written where the proof decides, writes before commit, commit before deleting the old token, the relist after the create before any write); its reasoning is below. ")
	p("Wall is the median of %d runs; the ratio is wall / (minimum × L), target ≤ %.2f. `TestChains` (`internal/bench/chains_test.go`) pins each operation's request set and rounds.\n\n", r.Runs, maxOpRatio)
	p("| operation | requests | chain | issue: chain then → minimum | minimum | wall | wall / (min × L) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range r.Ops {
		sc := f.Scenario
		ok := mark(ratioOf(f) <= maxOpRatio)
		ratio := fmt.Sprintf("%.2f %s", f.Ratio(), ok)
		if f.Paused > 0 {
			ratio = fmt.Sprintf("%.2f; %.2f without its %s pause %s", f.Ratio(), ratioOf(f), ms(f.Paused), ok)
		}
		p("| %s | %d | %d %s | %d → %d | %d | %s | %s |\n", sc.Name, f.Requests, f.Chain, mark(f.Chain <= sc.Min), sc.IssueNow, sc.IssueMin, sc.Min, ms(f.Wall), ratio)
	}
	p("\n")
	for _, f := range r.Ops {
		if f.Paused > 0 {
			p("*%s* pauses %s on purpose: after creating the Deployment it waits `preview.Settle` (%g s) before listing the branch's previews again, so that a preview created in the same second by a concurrent run shows (Astro's createdAt has whole seconds; `internal/preview/converge.go`). The pause is no round trip; the ratio without it is the one held against the target.\n\n", f.Scenario.Name, ms(f.Paused), preview.Settle.Seconds())
		}
	}
	p("### The minimum of each operation, and its rounds\n\n")
	p("Rounds are the dependency structure `TestChains` holds the operation to: the requests of a round are in flight together, each waits for the round before.\n\n")
	for _, f := range r.Ops {
		sc := f.Scenario
		p("**%s** — minimum %d: %s.\n\n", sc.Name, sc.Min, sc.Why)
		for i, rd := range sc.Rounds {
			p("%d. %s\n", i+1, strings.ReplaceAll(rd.String(), "|", "\\|"))
		}
		p("\n")
	}

	p("## Fan-out at L = %s\n\n", ms(r.FanLatency))
	lim := githubfake.DocumentedLimits()
	p("An overlap self-rotation into N repository secrets that already exist (`token rotate --target github://acme/svc-NNN/secrets/ASTRO_API_TOKEN` × N), against a GitHub fake that enforces GitHub's documented secondary limits (`githubfake.DocumentedLimits()`: %d concurrent requests, %d points a minute per endpoint, %d and %d content-creating requests a minute and an hour), every request delayed by L. ",
		lim.Concurrency, lim.PointsPerMinute, lim.ContentPerMinute, lim.ContentPerHour)
	p("**Simulated time:** a 500-secret fan-out paced to the budget takes minutes of real time, so the fakes, the CLI's pacer and pauses, and the latency proxy all read one virtual clock (`internal/bench`, `VClock`), which jumps to the next wake-up once nothing has happened for %g ms of real time (no sleep on it began or ended, no request arrived or was answered). Real work between events takes microseconds; a jump that comes early can only make a figure slower. ",
		float64(bench.VClockQuiet)/float64(time.Millisecond))
	p("**Paced** is astro-ci's default (`--github-concurrency %d`); **one at a time** is the same run with `--github-concurrency 1`, a loop over the targets. Wall is the whole run (its Astro round trips too). ", githubstore.MaxConcurrency)
	p("The **floor** is what the points budget imposes for one public-key GET (1 point) and one PUT (5 points) per repository at %d points a minute, 6·N/%d minutes (at least 6 × L); target: paced wall ≤ %.1f × floor, zero limit answers.\n\n",
		githubstore.DefaultPointsPerMinute, githubstore.DefaultPointsPerMinute, maxFanoutRatio)
	p("| N | paced wall | wall / floor | one at a time | floor | GitHub requests | limit answers (paced, one at a time) | simulation's real time |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.Fanout {
		p("| %d | %s | %.2f %s | %s | %s | %d | %d, %d %s | %s |\n", row.N, ms(row.Paced.Wall), row.Paced.Ratio(), mark(row.Paced.Ratio() <= maxFanoutRatio),
			ms(row.Loop.Wall), ms(row.Paced.Floor), row.Paced.GitHubRequests, row.Paced.Limited, row.Loop.Limited, mark(row.Paced.Limited+row.Loop.Limited == 0),
			ms(row.Paced.Real+row.Loop.Real))
	}
	p("\nA ratio below 1 means the budget does not bind at that N: the run is at its chain (6 round trips, 6 × L).\n")
	p("\nWhat the paced runs said about pacing:\n\n")
	for _, row := range r.Fanout {
		for _, l := range row.Paced.PacingLog {
			p("- N=%d: %s\n", row.N, strings.TrimSpace(l))
		}
		if len(row.Paced.PacingLog) == 0 {
			p("- N=%d: nothing (no request waited)\n", row.N)
		}
	}
	p("\n")

	s := r.Startup
	p("## Start-up\n\n")
	p("`%s` as `make build` makes it (the Makefile's LDFLAGS: `-s -w`, version stamps; `-trimpath`, `CGO_ENABLED=0`), run as a child process %d times per command after one warm-up, each in a process group of its own; `token check` against the Astro fake on loopback (no added latency). ", s.Binary, s.Version.Runs)
	p("Peak RSS is the largest maximum resident set size of five more runs under `/usr/bin/time -f %%M` (getrusage of a child of this Go process would count this process's memory: Go starts children with vfork semantics).\n\n")
	p("| measure | figure | target |\n|---|---:|---|\n")
	p("| binary size | %s | ≤ %s %s |\n", mib(s.Size), mib(maxBinary), mark(s.Size <= maxBinary))
	p("| `astro-ci version`, median wall (min) | %s (%s) | |\n", ms(s.Version.Median), ms(s.Version.Min))
	p("| a Go program that prints one line, built the same way: this machine's floor | %s (%s) | |\n", ms(s.Hello.Median), ms(s.Hello.Min))
	p("| `astro-ci token check`, median wall (min) | %s (%s) | |\n", ms(s.Check.Median), ms(s.Check.Min))
	p("| peak RSS, `version` / `token check` | %s / %s | ≤ %s %s |\n", mib(s.Version.PeakRSS), mib(s.Check.PeakRSS), mib(maxRSS), mark(max(s.Version.PeakRSS, s.Check.PeakRSS) <= maxRSS))
	p("| runs that left a process behind | %d of %d | 0 %s |\n\n", s.Leftover, 3*s.Version.Runs+3, mark(s.Leftover == 0))

	p("## The action under act, download path\n\n")
	if r.Act.Skipped != "" {
		p("%s.\n\n", r.Act.Skipped)
	} else {
		p("test/act's download-path scenario (`TestReleaseDownload`, \"tag downloads, verifies, caches\"): a consumer workflow `uses: astro-ci/astro-ci@<release tag>` with `command: version`, run by nektos/act's host executor against a local release server. ")
		p("Its first run downloads the release archive and verifies it against checksums.txt; the second runs from the runner's tool cache. astro-ci itself takes milliseconds of it (above), so these walls are the action's overhead (act's own start-up included; on a hosted runner the download's network time adds to the first).\n\n")
		p("| run | wall |\n|---|---:|\n| download, verify, run | %s |\n| from the tool cache | %s |\n\n", ms(r.Act.Download), ms(r.Act.Cached))
	}

	if m := r.misses(); len(m) > 0 {
		p("## Targets missed\n\n")
		for _, x := range m {
			p("- %s\n", x)
		}
		p("\n")
	}
	p("## Reproduce\n\n`make bench` (build, then `go run ./internal/tools/bench -bin bin/astro-ci -out docs/BENCHMARKS.md`). The act figures need `scripts/tools.sh runners` (nektos/act in .cache/bin).\n")
	return b.String()
}
