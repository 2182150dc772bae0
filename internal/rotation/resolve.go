package rotation

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// ErrNoTokenID says that the request names no token, and the credential's claims do
// not say which token it is, so "rotate myself" cannot be resolved. The CLI
// turns it into a usage error that asks for --token-id.
var ErrNoTokenID = errors.New("ASTRO_API_TOKEN's claims do not name its token id (no apiTokenId claim), so astro-ci cannot tell which token to rotate: pass --token-id (or --token-name)")

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

// listLineage lists t's lineage: t's own id or lineage, and every token of
// the same scope and entity whose marker names that lineage.
func (e *Engine) listLineage(ctx context.Context, t *astro.Token) (lineage, error) {
	all, err := e.Astro.ListTokens(ctx, scopeFilter(t))
	if err != nil {
		return lineage{}, fmt.Errorf("listing the tokens of %s to find other rotations of it: %w", t.Name, err)
	}
	return buildLineage(lineageID(t), t, all, e.serverNow()), nil
}

func buildLineage(id string, t *astro.Token, all []astro.Token, at time.Time) lineage {
	l := lineage{id: id, at: at}
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
	l.sort()
	return l
}

// resolve finds the token the request names and, when needLineage, its
// lineage as Astro lists it now.
func (e *Engine) resolve(ctx context.Context, req Request, needLineage bool) (*astro.Token, lineage, error) {
	switch {
	case req.TokenID != "":
		return e.resolveID(ctx, req.TokenID, needLineage, false)
	case req.TokenName != "":
		return e.resolveName(ctx, req.TokenName)
	}
	id := e.SelfID
	if id == "" {
		return nil, lineage{}, ErrNoTokenID
	}
	return e.resolveID(ctx, id, needLineage, true)
}

func (e *Engine) resolveID(ctx context.Context, id string, needLineage, own bool) (*astro.Token, lineage, error) {
	what := "token " + id
	if own {
		what = "the token in ASTRO_API_TOKEN (" + id + ")"
	}
	// The credential's claims say its scope, so a self-rotation lists its
	// scope's tokens while it reads itself: one round trip instead of two.
	var (
		all  []astro.Token
		lerr error
		done chan struct{}
	)
	if needLineage && id == e.SelfID && e.SelfList != nil {
		done = make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil {
					lerr = fmt.Errorf("internal error listing tokens: %v", p)
				}
			}()
			all, lerr = e.Astro.ListTokens(ctx, *e.SelfList)
		}()
	}
	t, err := e.Astro.GetToken(ctx, id)
	if done != nil {
		<-done
	}
	if astro.IsNotFound(err) && !own {
		// An overlap rotation replaced it: its successors name it as lineage.
		all, lerr := e.Astro.ListTokens(ctx, astro.ListTokensOptions{})
		if lerr != nil {
			return nil, lineage{}, fmt.Errorf("token %s not found, and listing tokens to follow its rotations failed: %w", id, lerr)
		}
		l := buildLineage(id, nil, all, e.serverNow())
		if live := l.live(); live != nil {
			e.Log.Infof("token %s was replaced by an earlier rotation; its current generation is %s", id, live.tok.ID)
			tok := live.tok
			return &tok, l, nil
		}
		return nil, lineage{}, fmt.Errorf("token %s not found in the organization (and no token astro-ci rotated from it): check --token-id: %w", id, err)
	}
	if err != nil {
		return nil, lineage{}, fmt.Errorf("reading %s: %w", what, err)
	}
	if !needLineage {
		l := lineage{id: lineageID(t), members: []member{{tok: *t}}, at: e.serverNow()}
		l.members[0].marker, l.members[0].marked = ParseMarker(t.Description)
		return t, l, nil
	}
	if done != nil && lerr == nil && scopeFilter(t) == *e.SelfList {
		return t, buildLineage(lineageID(t), t, all, e.serverNow()), nil
	}
	// No guess from the claims, or it was wrong (or the list failed): list.
	l, err := e.listLineage(ctx, t)
	return t, l, err
}

func (e *Engine) resolveName(ctx context.Context, name string) (*astro.Token, lineage, error) {
	all, err := e.Astro.ListTokens(ctx, astro.ListTokensOptions{})
	if err != nil {
		return nil, lineage{}, fmt.Errorf("listing tokens to find %s: %w", echo.Quote(name), err)
	}
	at := e.serverNow()
	lineages := map[string]lineage{}
	for i := range all {
		if all[i].Name == name {
			id := lineageID(&all[i])
			if _, ok := lineages[id]; !ok {
				lineages[id] = buildLineage(id, nil, all, at)
			}
		}
	}
	switch len(lineages) {
	case 0:
		return nil, lineage{}, fmt.Errorf("no token named %s is visible to this API token: check --token-name, or use --token-id", echo.Quote(name))
	case 1:
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
	return nil, lineage{}, fmt.Errorf("%d unrelated tokens are named %s (%s): name one with --token-id", len(ids), echo.Quote(name), strings.Join(ids, ", "))
}

// Resolve finds the token an id or a name means (neither: the engine's own),
// following rotations: an id an overlap rotation replaced, or a name several
// generations share, resolve to the current generation.
func (e *Engine) Resolve(ctx context.Context, id, name string) (*astro.Token, error) {
	t, _, err := e.resolve(ctx, Request{TokenID: id, TokenName: name}, false)
	return t, err
}
