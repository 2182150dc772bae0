// Command bench measures astro-ci as issue 13 asks and writes
// docs/BENCHMARKS.md: every operation of the table behind a fixed
// latency (requests, chain, wall against minimum × L), the paced fan-out to
// 10, 100 and 500 repository secrets against GitHub's documented budgets
// (simulated time), start-up of the release binary (size, version and
// token check wall, peak RSS, no process left behind) and the action's
// overhead under act on the download path. make bench runs it after make
// build; every figure in the document comes from this command.
//
// Usage:
//
//	bench [-bin bin/astro-ci] [-out docs/BENCHMARKS.md] [-root .] [-runs 11] [-starts 30]
//	      [-latency 20ms] [-fanout-latency 50ms] [-act=true] [-quick]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type config struct {
	bin, out, root string
	runs, starts   int
	latency        time.Duration
	fanLatency     time.Duration
	fanN           []int
	act            bool
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	fs.StringVar(&cfg.bin, "bin", "bin/astro-ci", "the release build of astro-ci to measure start-up with (make build)")
	fs.StringVar(&cfg.out, "out", "docs/BENCHMARKS.md", "where to write the report")
	fs.StringVar(&cfg.root, "root", ".", "the repository root (for test/act)")
	fs.IntVar(&cfg.runs, "runs", 11, "runs per operation (the median is reported)")
	fs.IntVar(&cfg.starts, "starts", 30, "runs per start-up measure")
	fs.DurationVar(&cfg.latency, "latency", 20*time.Millisecond, "latency added to every request of the operations")
	fs.DurationVar(&cfg.fanLatency, "fanout-latency", 50*time.Millisecond, "latency added to every request of the fan-out")
	fs.BoolVar(&cfg.act, "act", true, "measure the action under act (needs .cache/bin/act: scripts/tools.sh runners)")
	quick := fs.Bool("quick", false, "fewer runs and no 500-secret fan-out (a smoke run; the report says so)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.fanN = []int{10, 100, 500}
	if *quick {
		cfg.runs, cfg.starts, cfg.fanN = 3, 5, []int{10, 100}
	}
	ctx := context.Background()
	start := time.Now()
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	rep, err := measure(ctx, cfg, logf)
	if err != nil {
		logf("%v", err)
		return 1
	}
	rep.Quick = *quick
	rep.Took = time.Since(start)
	if err := os.WriteFile(cfg.out, []byte(rep.markdown()), 0o644); err != nil {
		logf("%v", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s in %s\n", cfg.out, rep.Took.Round(time.Second))
	for _, m := range rep.misses() {
		fmt.Fprintf(stdout, "target missed: %s\n", m)
	}
	return 0
}

// measure takes every figure of the report.
func measure(ctx context.Context, cfg config, logf func(string, ...any)) (*report, error) {
	rep := &report{Machine: machine(), Latency: cfg.latency, FanLatency: cfg.fanLatency, Runs: cfg.runs}
	var err error
	logf("operations at L = %s, %d runs each", cfg.latency, cfg.runs)
	if rep.Ops, err = measureOps(ctx, cfg); err != nil {
		return nil, err
	}
	logf("fan-out at L = %s (simulated time)", cfg.fanLatency)
	if rep.Fanout, err = measureFanout(ctx, cfg, logf); err != nil {
		return nil, err
	}
	logf("start-up of %s, %d runs each", cfg.bin, cfg.starts)
	if rep.Startup, err = measureStartup(ctx, cfg); err != nil {
		return nil, err
	}
	if cfg.act {
		logf("the action under act on the download path")
		rep.Act = measureAct(ctx, cfg)
	} else {
		rep.Act = actFigures{Skipped: "not measured in this run (-act=false)"}
	}
	return rep, nil
}
