// Package rotation rotates an Astro API token and writes the new value to its
// targets as a chain of resumable steps, so that a run killed at any instant
// leaves every target with a value Astro accepts (see
// ../shared/reference/rotation-design.md for the reasoning).
package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
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
	return "", fmt.Errorf("--strategy must be overlap or rotate, not %q", s)
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
	// Self is the token the engine authenticates with (ASTRO_API_TOKEN).
	SelfID    string
	SelfValue secret.Value
	// SelfList, when set, is the list filter of the engine's own token's
	// scope as its claims tell it, so self-rotation can list while it reads.
	SelfList *astro.ListTokensOptions
	// PendingWindow: a pending token younger than this may belong to a run
	// still in progress, so a new rotation of the same lineage stops.
	PendingWindow time.Duration
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
}

// KeptToken is a superseded token left valid until its grace ends.
type KeptToken struct {
	ID    string     `json:"id"`
	Until *time.Time `json:"until,omitempty"`
}

// member is one token of a lineage with its marker.
type member struct {
	tok    astro.Token
	marker Marker
	marked bool
}

func (m member) gen() int { return m.marker.Gen }

func (m member) current() bool { return !m.marked || m.marker.State == Current }

// lineage is every generation of one logical credential, oldest first.
type lineage struct {
	id      string
	members []member
}

// live is the newest current member: the one whose value every target holds.
func (l lineage) live() *member {
	for i := len(l.members) - 1; i >= 0; i-- {
		if l.members[i].current() {
			return &l.members[i]
		}
	}
	return nil
}

func (l lineage) has(id string) bool {
	return slices.ContainsFunc(l.members, func(m member) bool { return m.tok.ID == id })
}

// deletable lists members superseded by a current member whose grace has
// passed: every target held that member's value, so nothing reads theirs.
func (l lineage) deletable(now time.Time) []member {
	var out []member
	for i, m := range l.members {
		for _, c := range l.members[i+1:] {
			if c.current() && c.marked && (c.marker.GraceUntil == nil || !now.Before(*c.marker.GraceUntil)) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// kept lists superseded members still inside a grace period.
func (l lineage) kept(now time.Time) []KeptToken {
	del := map[string]bool{}
	for _, m := range l.deletable(now) {
		del[m.tok.ID] = true
	}
	live := l.live()
	var out []KeptToken
	for i, m := range l.members {
		if live != nil && m.tok.ID == live.tok.ID {
			break // newer pending tokens are not superseded yet
		}
		if del[m.tok.ID] {
			continue
		}
		var until *time.Time
		for _, c := range l.members[i+1:] {
			if c.current() && c.marker.GraceUntil != nil {
				until = c.marker.GraceUntil
				break
			}
		}
		out = append(out, KeptToken{ID: m.tok.ID, Until: until})
	}
	return out
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
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

// scopeFilter is the narrowest list that still returns every token of t's
// scope and entity: Astro has no filter by scope or name.
func scopeFilter(t *astro.Token) astro.ListTokensOptions {
	switch t.Scope {
	case astro.ScopeWorkspace:
		return astro.ListTokensOptions{WorkspaceID: t.EntityID()}
	case astro.ScopeDeployment:
		return astro.ListTokensOptions{DeploymentID: t.EntityID()}
	}
	return astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true}
}

func lineageID(t *astro.Token) string {
	if m, ok := ParseMarker(t.Description); ok && m.Lineage != "" {
		return m.Lineage
	}
	return t.ID
}

// loadLineage lists t's lineage: t's own id or lineage, and every token of
// the same scope and entity whose marker names that lineage.
func (e *Engine) loadLineage(ctx context.Context, t *astro.Token) (lineage, error) {
	all, err := e.Astro.ListTokens(ctx, scopeFilter(t))
	if err != nil {
		return lineage{}, fmt.Errorf("listing the tokens of %s to find earlier rotations: %w", t.Name, err)
	}
	return buildLineage(lineageID(t), t, all), nil
}

func buildLineage(id string, t *astro.Token, all []astro.Token) lineage {
	l := lineage{id: id}
	seen := map[string]bool{}
	add := func(tok astro.Token) {
		if seen[tok.ID] {
			return
		}
		m, marked := ParseMarker(tok.Description)
		if tok.ID == id || (marked && m.Lineage == id) || (t != nil && tok.ID == t.ID) {
			seen[tok.ID] = true
			l.members = append(l.members, member{tok: tok, marker: m, marked: marked})
		}
	}
	for _, tok := range all {
		if t == nil || tok.Scope == t.Scope {
			add(tok)
		}
	}
	if t != nil {
		add(*t)
	}
	sort.SliceStable(l.members, func(i, j int) bool {
		a, b := l.members[i], l.members[j]
		if a.gen() != b.gen() {
			return a.gen() < b.gen()
		}
		if !a.tok.CreatedAt.Equal(b.tok.CreatedAt) {
			return a.tok.CreatedAt.Before(b.tok.CreatedAt)
		}
		return a.tok.ID < b.tok.ID
	})
	return l
}

// resolve finds the token the request names and its lineage.
func (e *Engine) resolve(ctx context.Context, req Request, needLineage bool) (*astro.Token, lineage, error) {
	switch {
	case req.TokenID != "":
		t, err := e.Astro.GetToken(ctx, req.TokenID)
		if astro.IsNotFound(err) {
			// An overlap rotation replaced it: its successors name it as lineage.
			all, lerr := e.Astro.ListTokens(ctx, astro.ListTokensOptions{})
			if lerr != nil {
				return nil, lineage{}, fmt.Errorf("token %s not found, and listing tokens to follow its rotations failed: %w", req.TokenID, lerr)
			}
			l := buildLineage(req.TokenID, nil, all)
			if live := l.live(); live != nil {
				e.Log.Infof("token %s was replaced by an earlier rotation; its current generation is %s", req.TokenID, live.tok.ID)
				tok := live.tok
				return &tok, l, nil
			}
			return nil, lineage{}, fmt.Errorf("token %s not found in organization (and no token astro-ci rotated from it): check --token-id: %w", req.TokenID, err)
		}
		if err != nil {
			return nil, lineage{}, fmt.Errorf("reading token %s: %w", req.TokenID, err)
		}
		if !needLineage {
			return t, lineage{id: lineageID(t), members: []member{{tok: *t}}}, nil
		}
		l, err := e.loadLineage(ctx, t)
		return t, l, err
	case req.TokenName != "":
		all, err := e.Astro.ListTokens(ctx, astro.ListTokensOptions{})
		if err != nil {
			return nil, lineage{}, fmt.Errorf("listing tokens to find %q: %w", req.TokenName, err)
		}
		lineages := map[string]lineage{}
		for i := range all {
			if all[i].Name == req.TokenName {
				id := lineageID(&all[i])
				if _, ok := lineages[id]; !ok {
					lineages[id] = buildLineage(id, nil, all)
				}
			}
		}
		if len(lineages) == 0 {
			return nil, lineage{}, fmt.Errorf("no token named %q is visible to this API token: check --token-name, or use --token-id", req.TokenName)
		}
		if len(lineages) == 1 {
			for _, l := range lineages {
				live := l.live()
				if live == nil {
					live = &l.members[len(l.members)-1]
				}
				tok := live.tok
				return &tok, l, nil
			}
		}
		var ids []string
		for _, l := range lineages {
			ids = append(ids, l.members[len(l.members)-1].tok.ID)
		}
		sort.Strings(ids)
		return nil, lineage{}, fmt.Errorf("%d unrelated tokens are named %q (%s): name one with --token-id", len(ids), req.TokenName, strings.Join(ids, ", "))
	default:
		if e.SelfID == "" {
			return nil, lineage{}, errors.New("no token given and ASTRO_API_TOKEN names no token id: use --token-id or --token-name")
		}
		if !needLineage || e.SelfList == nil {
			t, err := e.Astro.GetToken(ctx, e.SelfID)
			if err != nil {
				return nil, lineage{}, fmt.Errorf("reading the token in ASTRO_API_TOKEN (%s): %w", e.SelfID, err)
			}
			if !needLineage {
				return t, lineage{id: lineageID(t), members: []member{{tok: *t}}}, nil
			}
			l, err := e.loadLineage(ctx, t)
			return t, l, err
		}
		// The token's claims say its scope, so the list of its scope's tokens
		// does not wait for the token itself: one round trip instead of two.
		var (
			all  []astro.Token
			lerr error
			done = make(chan struct{})
		)
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil {
					lerr = fmt.Errorf("internal error listing tokens: %v", p)
				}
			}()
			all, lerr = e.Astro.ListTokens(ctx, *e.SelfList)
		}()
		t, err := e.Astro.GetToken(ctx, e.SelfID)
		<-done
		if err != nil {
			return nil, lineage{}, fmt.Errorf("reading the token in ASTRO_API_TOKEN (%s): %w", e.SelfID, err)
		}
		if lerr != nil || scopeFilter(t) != *e.SelfList {
			// The claims guessed wrong (or the list failed): list again, properly.
			l, err := e.loadLineage(ctx, t)
			return t, l, err
		}
		return t, buildLineage(lineageID(t), t, all), nil
	}
}

// Resolve finds the token an id or a name means (neither: the engine's own),
// following rotations: an id an overlap rotation replaced, or a name several
// generations share, resolve to the current generation.
func (e *Engine) Resolve(ctx context.Context, id, name string) (*astro.Token, error) {
	t, _, err := e.resolve(ctx, Request{TokenID: id, TokenName: name}, false)
	return t, err
}
