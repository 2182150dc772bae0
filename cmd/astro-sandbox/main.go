// Command astro-sandbox serves fakes of the Astro, GitHub and GitLab APIs on
// 127.0.0.1, seeded with an organization, for trying astro-ci offline.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/astro-ci/astro-ci/internal/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sandbox.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
