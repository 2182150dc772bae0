// Package target names the places a token value is written to (a file, a
// GitHub secret, a GitLab variable), parses their addresses, and writes a
// value to many of them at once with retries and a concurrency bound that
// shrinks when a forge pushes back.
package target

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// Store writes values to targets of one scheme. Implementations hold no
// state about a value beyond one call and never include it in errors.
type Store interface {
	// Preflight proves t writable (credentials valid, scope exists, write
	// permission) without leaving a changed value behind; p says how strong
	// the proof must be and what the target holds now, when known.
	Preflight(ctx context.Context, t Target, p Proof) error
	// Put creates or replaces the value at t.
	Put(ctx context.Context, t Target, v secret.Value) error
	// Delete removes t; a target that is already absent is not an error.
	Delete(ctx context.Context, t Target) error
}

// Proof says how a preflight must prove a target writable.
type Proof struct {
	// Current, when known, is the value the target holds now; a store may
	// write it back as its proof.
	Current *secret.Value
	// ByRead: a read showing that the target's scope exists and that the
	// credential may write there is proof enough. Overlap rotation asks for
	// it: the old value stays valid until every target holds the new one, so
	// a write that fails later loses nothing. In-place rotation and create
	// leave it false: a write that fails after the fact would lose a value,
	// so the store proves the write itself where it can.
	ByRead bool
}

// Error is a failed store operation, classified so the fan-out knows what
// to retry and when to slow down.
type Error struct {
	Op     string // "preflight", "write", "delete"
	Target string // Target.String()
	Status int    // HTTP status when there was one
	// Retryable: a transient failure (5xx, 429, rate limit, connection).
	Retryable bool
	// PushBack: the forge asked us to slow down (429, secondary rate limit);
	// the fan-out lowers its concurrency.
	PushBack bool
	// RetryAfter is the forge's requested wait, when it gave one.
	RetryAfter time.Duration
	// Hint says what to do about it, e.g. the permission a token needs.
	Hint string
	Err  error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Op, e.Target, e.Err)
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// classify returns the *Error in err's chain, if any.
func classify(err error) *Error {
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	return nil
}
