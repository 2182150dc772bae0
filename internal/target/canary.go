package target

import (
	"context"
	"time"

	"github.com/astro-ci/astro-ci/internal/wait"
)

// CanaryPrefix starts the name of every preflight canary: a throwaway
// secret or variable (CanaryPrefix and 8 upper-case hex digits, a random
// value, no credential) that a store writes and deletes to prove a scope
// writable where no read can.
const CanaryPrefix = "ASTRO_CI_PREFLIGHT_"

// CanaryCleanup bounds the deletes of canaries after a run was stopped.
const CanaryCleanup = 5 * time.Second

// CanarySettle is how long a canary write whose fate is unknown is given
// to land before a delete that found nothing is repeated.
const CanarySettle = 500 * time.Millisecond

// RemoveCanary deletes a canary with del, which says whether it was there
// (absent is success). It runs even when ctx was just cancelled (a
// signal): a canary must not outlive the preflight that made it. Two
// tries, each with half of CanaryCleanup: a request that hangs (the
// connection a signal caught mid-way) does not keep the canary. When the
// canary's write had no readable answer (uncertain), a first delete that
// finds nothing is repeated once after CanarySettle: the write, sent on a
// connection the stop closed, may still be applied after a delete sent on
// a new one.
func RemoveCanary(ctx context.Context, uncertain bool, del func(context.Context) (found bool, err error)) error {
	var err error
	for try := 0; try < 2; try++ {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CanaryCleanup/2)
		var found bool
		found, err = del(dctx)
		if err == nil && !found && uncertain && try == 0 {
			if err = wait.Sleep(dctx, CanarySettle); err == nil { // real time: it waits for a server
				_, err = del(dctx)
			}
		}
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}
