// Package rotation rotates an Astro API token and writes the new value to its
// targets as a chain of resumable steps, so that a run killed at any instant
// leaves every target with a value Astro accepts (see
// ../shared/reference/rotation-design.md for the reasoning).
package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Strategy of a rotation.
type Strategy string

// Strategies.
const (
	// Overlap creates a new token beside the old one and deletes the old one
	// only after every target holds the new value: zero downtime.
	Overlap Strategy = "overlap"
	// InPlace uses Astro's rotate: same id, but the old value dies at once.
	InPlace Strategy = "rotate"
)

// ParseStrategy accepts overlap or rotate.
func ParseStrategy(s string) (Strategy, error) {
	switch Strategy(s) {
	case "", Overlap:
		return Overlap, nil
	case InPlace:
		return InPlace, nil
	}
	return "", fmt.Errorf("--strategy must be overlap or rotate, not %s", echo.Quote(s))
}

// Astro is what the engine needs of the Astro API; *astro.Client has it.
type Astro interface {
	GetToken(ctx context.Context, id string) (*astro.Token, error)
	ListTokens(ctx context.Context, opts astro.ListTokensOptions) ([]astro.Token, error)
	CreateToken(ctx context.Context, req astro.CreateTokenRequest) (*astro.Token, error)
	UpdateToken(ctx context.Context, id string, req astro.UpdateTokenRequest) (*astro.Token, error)
	RotateToken(ctx context.Context, id string) (*astro.Token, error)
	DeleteToken(ctx context.Context, id string) error
	SetTokenRoles(ctx context.Context, id string, roles []astro.Role) (*astro.SubjectRoles, error)
	// ServerTime is the newest time Astro reported (a lower bound of its
	// clock), false before any answer.
	ServerTime() (time.Time, bool)
}

var _ Astro = (*astro.Client)(nil)

// Targets writes values to many targets; *target.Fanout has it.
type Targets interface {
	Preflight(ctx context.Context, ts []target.Target, p target.Proof) []target.Result
	Put(ctx context.Context, ts []target.Target, v secret.Value) []target.Result
}

var _ Targets = (*target.Fanout)(nil)

// Observer is told what happens as it happens.
type Observer interface {
	// Secret is called the instant a new value exists, before anything else
	// is done with it, so it can be masked and redacted.
	Secret(v secret.Value)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

// Engine runs rotations.
type Engine struct {
	Astro Astro
	// Reauth returns a client that authenticates with v: to prove a new value
	// works, and to carry on after the engine's own token was rotated.
	Reauth  func(v secret.Value) (Astro, error)
	Targets Targets
	Log     Observer
	Now     func() time.Time
	Rand    io.Reader
	Sleep   func(ctx context.Context, d time.Duration) error
	// Self is the token the engine authenticates with; SelfID is "" when its
	// claims do not name it.
	SelfID    string
	SelfValue secret.Value
	// SelfExpiresAt is the credential's expiry from its claims: a
	// self-rotation that is due by it proves its targets while it plans.
	SelfExpiresAt *time.Time
	// SelfList, when set, is the list filter of the engine's own token's
	// scope as its claims tell it, so self-rotation can list while it reads.
	SelfList *astro.ListTokensOptions
}

// Request is one rotation.
type Request struct {
	TokenID   string // or
	TokenName string // or neither: the engine's own token (self-rotation)
	Strategy  Strategy
	// IfExpiresWithin > 0: rotate only when the token expires within it.
	IfExpiresWithin time.Duration
	// Grace keeps superseded tokens valid this long; they are deleted by a
	// later run once it has passed.
	Grace   time.Duration
	DryRun  bool
	Targets []target.Target
	// Recovery, for in-place rotation, encrypts the new value to an age
	// recipient and prints it before any write, so no kill can lose it.
	Recovery Recoverer
	// Rerun is the command line that finishes the job, for messages.
	Rerun string
}

// Recoverer seals a value for the recovery log.
type Recoverer interface {
	Seal(v secret.Value) (string, error)
}

// TokenInfo describes a token in results; it never holds a value.
type TokenInfo struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	EntityID  string     `json:"entityId,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

func infoOf(t *astro.Token) TokenInfo {
	return TokenInfo{ID: t.ID, Name: t.Name, Scope: string(t.Scope), EntityID: t.EntityID(), ExpiresAt: t.EndAt}
}

// TargetResult is what happened at one target.
type TargetResult struct {
	Target string `json:"target"`
	Status string `json:"status"` // written, stale, would-write
	Error  string `json:"error,omitempty"`
}

// Outcome of a rotation run.
type Outcome struct {
	Strategy Strategy       `json:"strategy"`
	Token    TokenInfo      `json:"token"`
	Self     bool           `json:"selfRotation"`
	Due      bool           `json:"due"`
	DueAt    *time.Time     `json:"dueAt,omitempty"`
	DryRun   bool           `json:"dryRun,omitempty"`
	Rotated  bool           `json:"rotated"`
	New      *TokenInfo     `json:"newToken,omitempty"`
	Plan     []string       `json:"plan,omitempty"`
	Targets  []TargetResult `json:"targets,omitempty"`
	Deleted  []string       `json:"deletedTokens,omitempty"`
	Kept     []KeptToken    `json:"supersededTokens,omitempty"`
	Recovery string         `json:"recovery,omitempty"`
	// Yielded: another run was rotating the same token, and this one stepped
	// aside before writing anything.
	Yielded *Yield `json:"yielded,omitempty"`
	// NoGrace: superseded tokens were deleted at once (no --grace), so jobs
	// still running with their value fail from now on.
	NoGrace bool `json:"-"`
}

// Yield says which run a rotation stepped aside for, and why.
type Yield struct {
	To     string `json:"to"` // that run's token
	Reason string `json:"reason"`
}

// KeptToken is a superseded token left valid until its grace ends.
type KeptToken struct {
	ID    string     `json:"id"`
	Until *time.Time `json:"until,omitempty"`
}

func (e *Engine) nonce() string {
	var b [6]byte
	r := e.Rand
	if r == nil {
		r = rand.Reader
	}
	_, _ = io.ReadFull(r, b[:])
	return hex.EncodeToString(b[:])
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	return wait.Sleep(ctx, d)
}
