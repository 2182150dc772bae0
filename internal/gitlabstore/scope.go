package gitlabstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/astro-ci/astro-ci/internal/target"
)

// Environment scopes of group variables: what a GitLab may get wrong, and
// how the store notices before it changes anything (see docs/gitlab-limits.md).
//
//   - A group whose tier lacks scoped group variables (Premium) has
//     environment_scope dropped from its writes: a POST lands in "*" and
//     says so in its answer. The store checks the scope of every answer;
//     a preflight learns it from its canary, before any token exists.
//   - GitLab before 16.9 ignores filter[environment_scope] on group
//     variables: GET, PUT and DELETE act on the key's first variable in
//     any scope. The store GETs the variable in t's scope and, while it
//     does not know the server, also a scope no variable can have
//     (probeScope): a server that answers that one with a variable ignores
//     the filter. Such a server can still update or delete a key that
//     exists in exactly one scope (the one asked for); several variables
//     sharing the key cannot be told apart, so that is refused.

// probeScope cannot be an environment scope: GitLab allows only letters,
// digits, '-', '_', '/', '$', '{', '}', '.', '*' and spaces
// (Gitlab::Regex.environment_scope_regex), so no variable matches it.
const probeScope = "astro-ci:no-such-scope"

// maxListPages bounds the scan for a key's variables: GitLab allows 30,000
// variables in a group, 100 a page.
const maxListPages = 300

type filterSupport int

const (
	filterUnknown filterSupport = iota
	filterHonoured
	filterIgnored
)

func (s *Store) groupFilterState() filterSupport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groupFilter
}

func (s *Store) setGroupFilter(f filterSupport) {
	s.mu.Lock()
	s.groupFilter = f
	s.mu.Unlock()
}

func groupKey(t target.Target) string { return strings.ToLower(t.Group) }

// scopedKnown says what a canary showed about t's group: ok whether
// environment scopes stick, learnt whether a canary showed anything yet.
func (s *Store) scopedKnown(t target.Target) (ok, learnt bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, learnt = s.scoped[groupKey(t)]
	return ok, learnt
}

func (s *Store) setScoped(t target.Target, ok bool) {
	s.mu.Lock()
	s.scoped[groupKey(t)] = ok
	s.mu.Unlock()
}

// found is what a lookup of a group variable showed.
type found struct {
	exists bool
	rv     remoteVar
}

// lookup GETs t's group variable in t's scope and proves that a PUT or a
// DELETE by key and filter would address exactly it. It refuses, before
// anything changes, when the server answers another scope's variable or
// when it ignores the filter and several variables share the key.
func (s *Store) lookup(ctx context.Context, op string, t target.Target) (found, error) {
	state := s.groupFilterState()
	type answer struct {
		x   *exchange
		err error
	}
	var probe chan answer
	if state == filterUnknown {
		// Concurrently: it costs a request, not a round trip.
		probe = make(chan answer, 1)
		go func() {
			_, x, err := s.get(ctx, t, probeScope)
			probe <- answer{x, err}
		}()
	}
	rv, x, err := s.get(ctx, t, t.EnvironmentScope)
	var pr answer
	if probe != nil {
		pr = <-probe
	}
	switch {
	case err == nil:
	case x.whatNotFound() == notFoundVariable:
		// Absent in t's scope or, if the filter is ignored, in every
		// scope: either way a POST creates exactly t's variable.
		return found{}, nil
	default:
		return found{}, s.classify(ctx, failure{op: op, t: t, err: err, x: x})
	}
	if rv.scope != t.EnvironmentScope {
		s.setGroupFilter(filterIgnored)
		return found{}, unaddressable(op, t, fmt.Sprintf("asked for scope %q, GitLab answered the variable of scope %q", t.EnvironmentScope, rv.scope))
	}
	if state == filterUnknown {
		switch {
		case pr.err == nil:
			state = filterIgnored
		case pr.x.whatNotFound() == notFoundVariable:
			state = filterHonoured
		default:
			// The same token just read the variable, so whatever stopped
			// the probe (a garbled or lost answer) is not a lasting
			// refusal: try again.
			err := s.classify(ctx, failure{op: op, t: t, err: pr.err, x: pr.x})
			var te *target.Error
			if errors.As(err, &te) && ctx.Err() == nil {
				te.Retryable = true
			}
			return found{}, err
		}
		s.setGroupFilter(state)
	}
	if state == filterIgnored {
		n, err := s.countKey(ctx, op, t)
		if err != nil {
			return found{}, err
		}
		if n > 1 {
			return found{}, unaddressable(op, t, fmt.Sprintf("%d variables share the key %s", n, t.Name))
		}
	}
	return found{exists: true, rv: rv}, nil
}

// countKey counts t's group variables with t's key (stopping at 2).
func (s *Store) countKey(ctx context.Context, op string, t target.Target) (int, error) {
	n := 0
	page := int64(1)
	for range maxListPages {
		vs, next, x, err := s.listGroup(ctx, t, page)
		if err != nil {
			return 0, s.classify(ctx, failure{op: op, t: t, err: err, x: x})
		}
		for _, v := range vs {
			if v.Key == t.Name {
				n++
			}
		}
		if n > 1 || next == 0 {
			return n, nil
		}
		page = next
	}
	return 0, unaddressable(op, t, fmt.Sprintf("the group has more than %d variables to check", maxListPages*100))
}

// unaddressableHint says why and what to do; the version and the
// parameter are named so a user can search for them.
const unaddressableHint = "GitLab before 16.9 ignores filter[environment_scope] on group variables, so an update or a delete by key can hit the variable of another scope; " +
	"nothing was changed. Upgrade GitLab to 16.9 or later, or use a project variable (gitlab://GROUP/PROJECT/variables/KEY?environment_scope=...), " +
	"or give each scope its own key (KEY_PRODUCTION, ...)"

func unaddressable(op string, t target.Target, what string) error {
	return &target.Error{Op: op, Target: t.String(),
		Err:  fmt.Errorf("GitLab cannot address variable %s in environment scope %q of group %s: %s", t.Name, t.EnvironmentScope, t.Group, what),
		Hint: unaddressableHint}
}

// wrongScope: a GET answered another scope's variable where the filter
// should have prevented it.
func (s *Store) wrongScope(op string, t target.Target, got string) error {
	if t.Kind == target.KindGroupVar {
		return unaddressable(op, t, fmt.Sprintf("asked for scope %q, GitLab answered the variable of scope %q", t.EnvironmentScope, got))
	}
	return &target.Error{Op: op, Target: t.String(),
		Err:  fmt.Errorf("asked for variable %s in environment scope %q, GitLab answered the one of scope %q", t.Name, t.EnvironmentScope, got),
		Hint: "this GitLab does not address variables by filter[environment_scope]; nothing was changed: give each scope its own key"}
}

// checkUpdated verifies the scope of a PUT's answer. A mismatch means the
// value went to another scope's variable; it cannot be undone (its old
// value is unknown), so the error says which variable to check.
func (s *Store) checkUpdated(op string, t target.Target, rv remoteVar) error {
	if rv.scope == t.EnvironmentScope {
		return nil
	}
	return &target.Error{Op: op, Target: t.String(),
		Err: fmt.Errorf("GitLab updated variable %s in environment scope %q although astro-ci asked for %q", t.Name, rv.scope, t.EnvironmentScope),
		Hint: fmt.Sprintf("the variable of scope %q was changed: check it. %s", rv.scope,
			strings.Replace(unaddressableHint, "nothing was changed. ", "", 1))}
}

// scopeDroppedHint says what to do about a group without scoped group
// variables.
const scopeDroppedHint = "GitLab puts a group variable in \"*\" when the group's tier has no scoped group variables (a Premium and Ultimate feature); " +
	"use a project variable (gitlab://GROUP/PROJECT/variables/KEY?environment_scope=...), which is scoped on every tier, or a key without a scope (one key per environment, e.g. KEY_REVIEW_X)"

// scopeDropped refuses t because its group keeps no environment scopes.
// key, when set, was just created in scope landed (a POST is create-only,
// so nothing was there before): it is deleted again, so nothing is left
// in "*".
func (s *Store) scopeDropped(ctx context.Context, op string, t target.Target, key, landed string) error {
	s.setScoped(t, false)
	te := &target.Error{Op: op, Target: t.String(),
		Err:  fmt.Errorf("group %s has no scoped group variables: GitLab ignores environment_scope %q there and stores variables in %q", t.Group, t.EnvironmentScope, landed),
		Hint: scopeDroppedHint + "; nothing was changed"}
	if key == "" {
		return te
	}
	filter := landed
	if key != t.Name {
		filter = "" // a canary: unique, deleted without a filter
	}
	x, err := s.remove(ctx, t, key, filter)
	if err != nil && x.whatNotFound() != notFoundVariable {
		if key != t.Name {
			s.remember(t, key)
		}
		te.Hint = scopeDroppedHint + fmt.Sprintf("; astro-ci could not delete the variable %s it had just created in scope %q: delete it by hand", key, landed)
	}
	return te
}

// scopeTaken: a POST in t's scope answered "has already been taken" but
// t's scope holds no such variable, so GitLab dropped the scope and the
// key exists in "*". That the lookup found nothing in t's scope while the
// key exists also shows the server honours the filter (one that ignores it
// answers the "*" variable to any filter), so "*" can be addressed
// exactly: if its variable holds exactly val with astro-ci's description,
// an earlier attempt of this write created it (its answer lost), and it is
// deleted.
func (s *Store) scopeTaken(ctx context.Context, t target.Target, val string) error {
	s.setScoped(t, false)
	te := &target.Error{Op: opWrite, Target: t.String(),
		Err:  fmt.Errorf("group %s has no scoped group variables: GitLab ignores environment_scope %q there, and variable %s already exists in \"*\"", t.Group, t.EnvironmentScope, t.Name),
		Hint: scopeDroppedHint + "; the variable in \"*\" was not changed"}
	star := t
	star.EnvironmentScope = "*"
	rv, _, err := s.get(ctx, star, "*")
	if err != nil || rv.scope != "*" || rv.hidden || rv.value != val || rv.desc != Description {
		return te
	}
	if _, err := s.remove(ctx, star, t.Name, "*"); err == nil {
		te.Hint = scopeDroppedHint + "; astro-ci deleted the variable it had created in \"*\" on an earlier attempt whose answer was lost"
	} else {
		te.Hint = scopeDroppedHint + fmt.Sprintf("; an earlier attempt whose answer was lost created %s in \"*\" and astro-ci could not delete it: delete it by hand", t.Name)
	}
	return te
}

// tokenCheck remembers what GET /personal_access_tokens/self showed.
type tokenCheck struct {
	mu     sync.Mutex
	done   bool
	scopes []string // when the token lacks api, what it has instead
}

// nonAPIScopes are scopes known not to allow writes through the REST API;
// a token with only these cannot write a variable. Any other scope
// (granular tokens, scopes added later) teaches nothing.
var nonAPIScopes = []string{
	"read_api", "read_user", "read_repository", "write_repository", "read_registry", "write_registry",
	"read_virtual_registry", "write_virtual_registry", "create_runner", "manage_runner", "k8s_proxy",
	"ai_features", "self_rotate", "read_service_ping", "read_observability", "write_observability", "admin_mode",
}

// checkTokenScope refuses a token that cannot write variables because it
// lacks the api scope: GitLab would let its GETs through (read_api) and
// fail the first write. Any token may read itself; a definite answer is
// asked once per Store. A token that is not a personal, project or group
// access token (400), an older GitLab (404) or a transient failure teach
// nothing: the write will tell, and overlap keeps the old value valid.
func (s *Store) checkTokenScope(ctx context.Context, t target.Target) error {
	s.tok.mu.Lock()
	defer s.tok.mu.Unlock()
	if !s.tok.done {
		scopes, x, err := s.tokenSelf(ctx)
		switch {
		case err == nil:
			s.tok.done = true
			lacks := len(scopes) > 0 && !slices.Contains(scopes, "api")
			for _, sc := range scopes {
				lacks = lacks && slices.Contains(nonAPIScopes, sc)
			}
			if lacks {
				s.tok.scopes = scopes
			}
		case x.status == 400 || x.status == 404:
			s.tok.done = true
		}
	}
	if s.tok.scopes == nil {
		return nil
	}
	where, role := "project "+t.Project, "Maintainer"
	if t.Kind == target.KindGroupVar {
		where, role = "group "+t.Group, "Owner"
	}
	return &target.Error{Op: opPreflight, Target: t.String(),
		Err:  fmt.Errorf("the GitLab token has the scopes %s, not api", strings.Join(s.tok.scopes, ", ")),
		Hint: fmt.Sprintf("the token lacks the api scope (read_api is not enough): use a token with the api scope and the %s role on %s", role, where)}
}
