package main

import (
	"context"

	"github.com/astro-ci/astro-ci/internal/bench"
	"github.com/astro-ci/astro-ci/internal/githubstore"
)

func measureOps(ctx context.Context, cfg config) ([]bench.Figures, error) {
	var out []bench.Figures
	for _, sc := range bench.Scenarios() {
		f, err := bench.Measure(ctx, sc, cfg.latency, cfg.runs)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// fanoutRow is one N: astro-ci's paced fan-out beside a one-at-a-time loop.
type fanoutRow struct {
	N           int
	Paced, Loop bench.FanoutFigures
}

func measureFanout(ctx context.Context, cfg config, logf func(string, ...any)) ([]fanoutRow, error) {
	var out []fanoutRow
	for _, n := range cfg.fanN {
		row := fanoutRow{N: n}
		var err error
		if row.Paced, err = bench.Fanout(ctx, n, githubstore.MaxConcurrency, cfg.fanLatency); err != nil {
			return nil, err
		}
		if row.Loop, err = bench.Fanout(ctx, n, 1, cfg.fanLatency); err != nil {
			return nil, err
		}
		logf("  N=%d: paced %s, one at a time %s (floor %s)", n, row.Paced.Wall.Round(10e6), row.Loop.Wall.Round(10e6), row.Paced.Floor)
		out = append(out, row)
	}
	return out, nil
}
