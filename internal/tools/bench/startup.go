package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/astro-ci/astro-ci/internal/bench"
)

// startupFigures are the release binary's.
type startupFigures struct {
	Binary  string
	Size    int64
	Version startRuns
	Check   startRuns
	// Hello is a Go program that prints one line, built the same way: the
	// machine's floor for starting a Go binary.
	Hello startRuns
	// Leftover counts runs after which a process of the run's process
	// group was still alive.
	Leftover int
}

type startRuns struct {
	Runs    int
	Median  time.Duration
	Min     time.Duration
	PeakRSS int64 // bytes, the largest of the runs
}

func measureStartup(ctx context.Context, cfg config) (startupFigures, error) {
	f := startupFigures{Binary: cfg.bin}
	st, err := os.Stat(cfg.bin)
	if err != nil {
		return f, fmt.Errorf("%v: build it first (make build)", err)
	}
	f.Size = st.Size()
	w := bench.NewWorld(bench.Options{})
	defer w.Close()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	if f.Version, err = startMany(ctx, cfg, env, &f.Leftover, "version"); err != nil {
		return f, err
	}
	if f.Hello, err = helloRuns(ctx, cfg, env, &f.Leftover); err != nil {
		return f, err
	}
	checkEnv := append(slices.Clone(env), "ASTRO_API_URL="+w.Env["ASTRO_API_URL"], "ASTRO_API_TOKEN="+w.Env["ASTRO_API_TOKEN"])
	if f.Check, err = startMany(ctx, cfg, checkEnv, &f.Leftover, "token", "check"); err != nil {
		return f, err
	}
	return f, nil
}

// startMany runs the binary cfg.starts times (after one warm-up run that
// is not counted: the page cache), each in a process group of its own, and
// after each checks that nothing of that group is left.
func startMany(ctx context.Context, cfg config, env []string, leftover *int, args ...string) (startRuns, error) {
	r := startRuns{Runs: cfg.starts}
	var walls []time.Duration
	for i := -1; i < cfg.starts; i++ {
		cmd := exec.CommandContext(ctx, cfg.bin, args...)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		if err != nil {
			return r, fmt.Errorf("%s %s: %v\n%s", cfg.bin, strings.Join(args, " "), err, out.String())
		}
		pgid := cmd.Process.Pid
		if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
			*leftover++
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if i < 0 {
			continue
		}
		walls = append(walls, wall)
	}
	r.Median, r.Min = bench.Median(walls), slices.Min(walls)
	var err error
	r.PeakRSS, err = peakRSS(ctx, cfg, env, args...)
	return r, err
}

// timeBin reports a child's peak RSS. getrusage of a child started from
// this process cannot: Go starts children with vfork semantics (the child
// shares this process's memory until it execs), and Linux counts that
// memory into the child's ru_maxrss. /usr/bin/time forks from a small
// process, so its figure is the binary's own.
const timeBin = "/usr/bin/time"

// peakRSS is the largest RSS of five runs under /usr/bin/time.
func peakRSS(ctx context.Context, cfg config, env []string, args ...string) (int64, error) {
	if _, err := os.Stat(timeBin); err != nil {
		return 0, fmt.Errorf("%s is needed for the peak RSS (Debian package time): %v", timeBin, err)
	}
	out := filepath.Join(os.TempDir(), fmt.Sprintf("astro-ci-bench-rss-%d", os.Getpid()))
	defer os.Remove(out)
	var peak int64
	for range 5 {
		cmd := exec.CommandContext(ctx, timeBin, append([]string{"-f", "%M", "-o", out, cfg.bin}, args...)...)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s %s: %v\n%s", timeBin, cfg.bin, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return 0, err
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s wrote %q: %v", timeBin, b, err)
		}
		peak = max(peak, kib*1024)
	}
	return peak, nil
}

// helloRuns builds a one-line Go program like make build builds astro-ci
// and times it like astro-ci.
func helloRuns(ctx context.Context, cfg config, env []string, leftover *int) (startRuns, error) {
	dir, err := os.MkdirTemp("", "astro-ci-bench-hello-")
	if err != nil {
		return startRuns{}, err
	}
	defer os.RemoveAll(dir)
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		return startRuns{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.21\n"), 0o644); err != nil {
		return startRuns{}, err
	}
	bin := filepath.Join(dir, "hello")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		return startRuns{}, fmt.Errorf("building the hello program: %v\n%s", err, out)
	}
	hc := cfg
	hc.bin = bin
	return startMany(ctx, hc, env, leftover)
}
