// Command astro-ci manages Astro API tokens and preview Deployments from CI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/astro-ci/astro-ci/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.EnvMap(os.Environ()), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
