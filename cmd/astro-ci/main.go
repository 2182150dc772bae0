// Command astro-ci manages Astro API tokens and preview Deployments from CI.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/astro-ci/astro-ci/internal/cli"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, stop := onSignals(context.Background(), sigs, os.Exit, os.Stderr)
	code := cli.Run(ctx, os.Args[1:], cli.EnvMap(os.Environ()), os.Stdout, os.Stderr)
	stop()
	signal.Stop(sigs)
	os.Exit(code)
}

// onSignals returns a context cancelled at the first signal (GitHub and
// GitLab cancel a job with SIGINT or SIGTERM), its cause naming the signal,
// so the run stops what it waits for and its engines clean up briefly. A
// second signal exits at once (128 + its number, as a shell would).
func onSignals(parent context.Context, sigs <-chan os.Signal, exit func(int), stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	done, gone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(gone)
		var first os.Signal
		for {
			select {
			case s := <-sigs:
				if first == nil {
					first = s
					fmt.Fprintf(stderr, "astro-ci: received %v: stopping (a second signal exits at once)\n", s)
					cancel(fmt.Errorf("received %v", s))
					continue
				}
				fmt.Fprintf(stderr, "astro-ci: received %v again: exiting now\n", s)
				exit(exitCode(s))
				return
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		close(done)
		<-gone
		cancel(context.Canceled)
	}
}

func exitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 130
}
