package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// actFigures are the action's wall under act on the download path: test/act's
// TestReleaseDownload ("tag downloads, verifies, caches") runs a consumer
// workflow (uses: astro-ci/astro-ci@<release tag>, command: version) twice
// with act's host executor against a local release server: first it
// downloads the release archive and verifies its checksum, then it runs
// from the runner's tool cache. Its log line "act push …: <duration>" is
// each act run's wall.
type actFigures struct {
	Download, Cached time.Duration
	Skipped          string // why there are no figures
}

var actRun = regexp.MustCompile(`act push -W \.github/workflows/use\.yml: ([0-9.]+m?s), <nil>`)

func measureAct(ctx context.Context, cfg config) actFigures {
	if _, err := os.Stat(filepath.Join(cfg.root, ".cache", "bin", "act")); err != nil {
		return actFigures{Skipped: "not measured: nektos/act is not installed (.cache/bin/act; scripts/tools.sh runners installs it)"}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestReleaseDownload$/^tag_downloads", "-v", "./test/act")
	cmd.Dir = cfg.root
	cmd.Env = append(os.Environ(), "ASTRO_CI_RUNNER_TESTS=1")
	out, err := cmd.CombinedOutput()
	ms := actRun.FindAllStringSubmatch(string(out), -1)
	if err != nil || len(ms) != 2 {
		tail := string(out)
		if len(tail) > 600 {
			tail = tail[len(tail)-600:]
		}
		return actFigures{Skipped: "not measured: test/act's download-path run failed: " + strings.TrimSpace(tail)}
	}
	var f actFigures
	f.Download, _ = time.ParseDuration(ms[0][1])
	f.Cached, _ = time.ParseDuration(ms[1][1])
	return f
}
