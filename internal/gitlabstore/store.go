// Package gitlabstore writes token values into GitLab CI/CD variables of a
// project or a group. It implements target.Store on top of the official
// client gitlab.com/gitlab-org/api/client-go; no client-go type appears in
// its API.
package gitlabstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/astro-ci/astro-ci/internal/pace"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
	"github.com/astro-ci/astro-ci/internal/version"
)

// Config says where GitLab is and how to authenticate.
type Config struct {
	// BaseURL is the REST API root (CI_API_V4_URL), e.g.
	// https://gitlab.com/api/v4 or https://gitlab.example.com/api/v4; ""
	// means https://gitlab.com/api/v4. A URL without /api/v4 gets it.
	BaseURL string
	// Token is a personal, project or group access token with the api
	// scope, sent as PRIVATE-TOKEN.
	Token secret.Value
	// JobToken is true when the only credential is CI_JOB_TOKEN: New then
	// explains why that cannot work and which token to create.
	JobToken bool
	// HTTPClient sends every request; default a client with a 30 s
	// timeout. It is copied, never modified.
	HTTPClient *http.Client
	// Rand feeds canary names and values; default crypto/rand.
	Rand io.Reader
	// RequestsPerMinute is the per-user budget requests are paced to
	// (pacing.go); 0 means DefaultRequestsPerMinute (GitLab.com's).
	RequestsPerMinute int
	// Concurrency bounds the requests in flight; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Now and Sleep are the pacer's clock; default time.Now and a real
	// sleep (tests inject a simulated clock).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Description is written on every variable the store creates.
const Description = "managed by astro-ci"

// ErrJobToken is returned by New for Config.JobToken.
var ErrJobToken = errors.New("CI_JOB_TOKEN cannot manage CI/CD variables: GitLab does not accept job tokens on the variables API. " +
	"Create a project access token (Settings > Access tokens) with the Maintainer role and the api scope, " +
	"store it as a masked CI/CD variable ASTRO_CI_GITLAB_TOKEN, and run again")

// Store writes GitLab CI/CD variables. It is safe for concurrent use.
type Store struct {
	c       *gitlab.Client
	token   secret.Value
	baseURL string // for messages; without user info
	now     func() time.Time

	randMu sync.Mutex
	rand   io.Reader

	mu sync.Mutex
	// leftover holds canaries whose deletion failed or whose creation may
	// have happened unseen, by target; the next Preflight of the target
	// removes them first, so retries do not pile canaries up.
	leftover map[string][]string
	// absent marks targets whose last preflight saw no variable: the next
	// Put goes straight to POST instead of repeating a PUT that would
	// answer 404. Put consumes the mark, so a retry starts afresh.
	absent map[string]bool
	// scoped records, by group, what a canary showed: whether GitLab keeps
	// environment_scope on the group's variables (a Premium feature).
	scoped map[string]bool
	// groupFilter: whether this GitLab honours filter[environment_scope]
	// on group variables (16.9 and later), once a probe has shown it.
	groupFilter filterSupport

	tok tokenCheck

	// pacer keeps requests inside GitLab's per-user budget (pacing.go).
	pacer     *pace.Pacer
	perMinute int
}

var _ target.Store = (*Store)(nil)

// New checks cfg and returns a Store. It makes no request.
func New(cfg Config) (*Store, error) {
	if cfg.JobToken || strings.HasPrefix(cfg.Token.Reveal(), "glcbt-") {
		return nil, ErrJobToken
	}
	if strings.TrimSpace(cfg.Token.Reveal()) == "" {
		return nil, errors.New("no GitLab token: set ASTRO_CI_GITLAB_TOKEN to a project access token with the Maintainer role and the api scope (store it as a masked CI/CD variable)")
	}
	base := strings.TrimSpace(cfg.BaseURL)
	if base == "" {
		base = "https://gitlab.com/api/v4"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("the GitLab API URL (CI_API_V4_URL) is not an http(s) URL like https://gitlab.example.com/api/v4")
	}
	// client-go appends api/v4 when the path does not already end in it.
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	perMinute, concurrency := cfg.RequestsPerMinute, cfg.Concurrency
	if perMinute == 0 {
		perMinute = DefaultRequestsPerMinute
	}
	if concurrency == 0 {
		concurrency = DefaultConcurrency
	}
	if perMinute < MinRequestsPerMinute || concurrency < 1 {
		return nil, fmt.Errorf("GitLab pacing: %d requests a minute, %d at a time: need at least %d and 1", perMinute, concurrency, MinRequestsPerMinute)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	pacer, err := pace.New(pace.Config{Concurrency: concurrency, Now: now, Sleep: cfg.Sleep})
	if err != nil {
		return nil, err
	}
	st := &Store{perMinute: perMinute, pacer: pacer}
	own := *hc
	// Every request waits for the pacer; the capture sees the answer.
	own.Transport = captureTransport{next: &pace.RoundTripper{Pacer: pacer, Next: next, Spend: st.spend, Feedback: feedback}}
	// Go strips Authorization, not PRIVATE-TOKEN, when a redirect leaves
	// the host, so a followed redirect could hand the token to another
	// server. GitLab's API does not redirect; a 3xx means a wrong URL.
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	c, err := gitlab.NewClient(cfg.Token.Reveal(),
		gitlab.WithBaseURL(u.String()),
		gitlab.WithHTTPClient(&own),
		// client-go wraps every request in hashicorp/go-retryablehttp with
		// up to 5 retries of its own. The fan-out (target.Fanout) owns
		// retries and backoff and shrinks its concurrency on 429; two
		// retry layers would multiply attempts (6 × 6) and hide the 429s
		// it needs to see. So: no retries here, no client-side limiter.
		gitlab.WithoutRetries(),
		gitlab.WithCustomRetryMax(0),
		gitlab.WithCustomLimiter(noLimit{}),
		gitlab.WithUserAgent(version.UserAgent()),
		// The URL is validated above; client-go's own warnings would go
		// to the default logger.
		gitlab.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return nil, fmt.Errorf("GitLab client: %v", scrub(err.Error(), cfg.Token.Reveal()))
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	st.c, st.token, st.baseURL, st.now, st.rand = c, cfg.Token, u.Redacted(), now, r
	st.leftover, st.absent, st.scoped = map[string][]string{}, map[string]bool{}, map[string]bool{}
	return st, nil
}

// ---------------------------------------------------------------------------
// target.Store

// Put creates or updates the variable at t. Use PutReport to learn whether
// it was created and to get the note about hidden variables.
func (s *Store) Put(ctx context.Context, t target.Target, v secret.Value) error {
	_, _, err := s.PutReport(ctx, t, v)
	return err
}

// PutReport writes v to the variable at t, creating it when absent.
//
// The variable is always masked (a token is never stored unmasked), so v
// must be maskable; that is checked before any request. A new variable is
// an env_var with the description "managed by astro-ci", protected, raw
// and hidden as t says. An existing one gets the value and masked=true,
// plus protected=true / raw=true when t asks for them; nothing else is
// sent, so GitLab keeps its protection, raw flag, type and description
// (see update). GitLab allows hidden only at creation: when t asks for
// hidden and the variable exists unhidden, the write still happens and
// note says so.
//
// Every answer's environment_scope is checked against t's: a variable
// GitLab created in another scope (a group without scoped group
// variables) is deleted again at once, and the write is refused with an
// explanation. Group variables are looked up first (see lookup), because
// a group PUT whose filter matches nothing updates another scope's
// variable.
func (s *Store) PutReport(ctx context.Context, t target.Target, v secret.Value) (created bool, note string, err error) {
	t = normalise(t)
	if err := checkTarget(opWrite, t); err != nil {
		return false, "", err
	}
	if why := maskable(v.Reveal()); why != "" {
		return false, "", &target.Error{Op: opWrite, Target: t.String(),
			Err: fmt.Errorf("GitLab cannot mask this value (%s); astro-ci never stores a token unmasked", why)}
	}
	val := v.Reveal()
	fail := func(err error, x *exchange) error {
		return s.classify(ctx, failure{op: opWrite, t: t, err: err, x: x, secrets: []string{val}})
	}
	rv, done, err := s.updateExisting(ctx, t, val, s.takeAbsent(t))
	if err != nil {
		return false, "", err
	}
	if !done {
		if ok, learnt := s.scopedKnown(t); t.Kind == target.KindGroupVar && t.EnvironmentScope != "*" && learnt && !ok {
			// A canary showed the group keeps no scopes: do not create a
			// variable in "*" only to delete it again.
			return false, "", s.scopeDropped(ctx, opWrite, t, "", "*")
		}
		var x *exchange
		rv, x, err = s.create(ctx, t, t.Name, val, t.Hidden, Description)
		switch {
		case err == nil:
			if rv.scope != t.EnvironmentScope {
				return false, "", s.scopeDropped(ctx, opWrite, t, t.Name, rv.scope)
			}
			created = true
		case !taken(x):
			return false, "", fail(err, x)
		default:
			// Created by someone else since we looked, or by our own
			// earlier attempt whose answer was lost: update it.
			rv, done, err = s.updateExisting(ctx, t, val, false)
			if err != nil {
				return false, "", err
			}
			switch {
			case done:
			case t.Kind == target.KindGroupVar:
				// Taken, yet not in t's scope: the group dropped the scope
				// and the key exists in "*".
				return false, "", s.scopeTaken(ctx, t, val)
			default:
				return false, "", &target.Error{Op: opWrite, Target: t.String(), Retryable: true,
					Err:  fmt.Errorf("variable %s appeared and disappeared while astro-ci wrote it", t.Name),
					Hint: "something else writes this variable at the same time"}
			}
		}
	}
	if t.Hidden && !rv.hidden {
		if created {
			note = fmt.Sprintf("variable %s was created masked but not hidden: this GitLab does not support hidden variables (17.4 or later needed)", t.Name)
		} else {
			note = fmt.Sprintf("variable %s already exists, so it cannot be made hidden (GitLab allows hidden only at creation); delete it and rerun to make it hidden", t.Name)
		}
	}
	return created, note, nil
}

// updateExisting PUTs val to t's variable when it exists (done true), or
// reports that it does not (done false) so the caller creates it. absent
// skips the attempt: a preflight just saw no variable. A project PUT is
// update-only and honours the filter, so it goes first (one request for a
// rotation, two for a first write); a group variable is looked up first.
func (s *Store) updateExisting(ctx context.Context, t target.Target, val string, absent bool) (rv remoteVar, done bool, err error) {
	if absent {
		return remoteVar{}, false, nil
	}
	if t.Kind == target.KindGroupVar {
		f, err := s.lookup(ctx, opWrite, t)
		if err != nil || !f.exists {
			return remoteVar{}, false, err
		}
	}
	rv, x, err := s.update(ctx, t, val, true)
	switch {
	case err == nil:
		return rv, true, s.checkUpdated(opWrite, t, rv)
	case x.whatNotFound() == notFoundVariable:
		// Absent (project), or deleted since the lookup (group).
		return remoteVar{}, false, nil
	}
	return remoteVar{}, false, s.classify(ctx, failure{op: opWrite, t: t, err: err, x: x, secrets: []string{val}})
}

// Delete removes the variable at t in its environment scope; an absent
// variable is not an error, an absent project or group is. A group
// variable is deleted only once the server is known to address it by
// scope (see lookup): before 16.9 a DELETE with a filter removes the
// key's first variable in any scope.
func (s *Store) Delete(ctx context.Context, t target.Target) error {
	t = normalise(t)
	if err := checkTarget(opDelete, t); err != nil {
		return err
	}
	if t.Kind == target.KindGroupVar && s.groupFilterState() != filterHonoured {
		f, err := s.lookup(ctx, opDelete, t)
		if err != nil {
			return err
		}
		if !f.exists {
			return nil
		}
	}
	x, err := s.remove(ctx, t, t.Name, t.EnvironmentScope)
	if err == nil || x.whatNotFound() == notFoundVariable {
		return nil
	}
	return s.classify(ctx, failure{op: opDelete, t: t, err: err, x: x})
}

// Preflight proves t writable, as strongly as p asks, without leaving a
// change behind: the project or group exists, the token is valid, has the
// api scope and the role, and t's environment scope can be addressed.
//
// By read (p.ByRead, overlap rotation): GitLab authorizes every route of
// the variables API, GET included, with admin_cicd_variables (Maintainer
// on a project, Owner on a group; lib/api/ci/variables.rb,
// lib/api/group_variables.rb "before { authorize! :admin_cicd_variables }"),
// so a GET of the variable, found or "404 Variable Not Found", proves the
// role and the scope's addressability; GET /personal_access_tokens/self,
// which any token may call (allow_access_with_scope all scopes), shows
// whether it has the api scope that writes need (read_api passes GETs).
// Nothing is written, except where no read can tell: an absent group
// variable in a scope other than "*" gets a canary, because only a write
// shows whether the group's tier keeps environment scopes.
//
// By write (in-place rotation, create): when p.Current is given and the
// variable exists, the current value is written back (only the value:
// flags stay as they are); otherwise a masked canary variable
// ASTRO_CI_PREFLIGHT_<8 hex> is created in t's scope and deleted.
//
// A variable found absent is remembered, so the next Put creates it
// without first trying to update it.
func (s *Store) Preflight(ctx context.Context, t target.Target, p target.Proof) error {
	t = normalise(t)
	if err := checkTarget(opPreflight, t); err != nil {
		return err
	}
	if err := s.removeLeftovers(ctx, t); err != nil {
		return err
	}
	group := t.Kind == target.KindGroupVar
	var tokenErr chan error
	if p.ByRead {
		tokenErr = make(chan error, 1)
		var checked sync.WaitGroup
		checked.Add(1)
		go func() { defer checked.Done(); tokenErr <- s.checkTokenScope(ctx, t) }()
		defer checked.Wait() // only its end matters on paths that did not read it
	}

	known, exists := false, false
	switch {
	case group:
		f, err := s.lookup(ctx, opPreflight, t)
		if err != nil {
			return err
		}
		known, exists = true, f.exists
	case p.ByRead:
		rv, x, err := s.get(ctx, t, t.EnvironmentScope)
		switch {
		case err == nil:
			if rv.scope != t.EnvironmentScope {
				return s.wrongScope(opPreflight, t, rv.scope)
			}
			exists = true
		case x.whatNotFound() != notFoundVariable:
			return s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: x})
		}
		known = true
	}
	if known && !exists {
		s.noteAbsent(t)
	}

	if p.ByRead {
		err := <-tokenErr
		tokenErr = nil
		if err != nil {
			return err
		}
		if exists || !group || t.EnvironmentScope == "*" {
			return nil
		}
		if ok, learnt := s.scopedKnown(t); learnt && ok {
			return nil
		}
		return s.canary(ctx, t, t.EnvironmentScope)
	}

	if cur := p.Current; cur != nil && !cur.IsZero() && (!known || exists) {
		val := cur.Reveal()
		rv, x, err := s.update(ctx, t, val, false)
		switch {
		case err == nil:
			return s.checkUpdated(opPreflight, t, rv)
		case x.whatNotFound() != notFoundVariable:
			return s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: x, secrets: []string{val}})
		}
		s.noteAbsent(t)
		exists = false
	}
	if group && exists {
		// The lookup proved the scope addressable; what is left to prove
		// is that the token may write the group's variables, which a
		// canary in "*" does on every tier.
		return s.canary(ctx, t, "*")
	}
	return s.canary(ctx, t, t.EnvironmentScope)
}

// canary creates a throwaway variable in scope of t's project or group
// and deletes it. Its key is unique, so it is deleted without a filter:
// exact on every GitLab, and wherever GitLab put it.
func (s *Store) canary(ctx context.Context, t target.Target, scope string) error {
	scoped := t.Kind == target.KindGroupVar && scope != "*"
	if ok, learnt := s.scopedKnown(t); scoped && learnt && !ok {
		return s.scopeDropped(ctx, opPreflight, t, "", "*")
	}
	name, err := s.randHex(4)
	if err != nil {
		return &target.Error{Op: opPreflight, Target: t.String(), Err: fmt.Errorf("random canary name: %w", err)}
	}
	key := target.CanaryPrefix + strings.ToUpper(name)
	val, err := s.randHex(16)
	if err != nil {
		return &target.Error{Op: opPreflight, Target: t.String(), Err: fmt.Errorf("random canary value: %w", err)}
	}
	in := t
	in.EnvironmentScope = scope
	// Canaries a killed run left behind go while this one is proven: the
	// list runs beside the create, and deleting another run's canary is
	// harmless (its own delete then finds it gone).
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		s.sweepCanaries(ctx, t, key)
	}()
	defer func() { <-swept }()
	// See target.RemoveCanary; a canary it could not delete is tried
	// again by the next preflight of t.
	var last *exchange
	deleteCanary := func(uncertain bool) error {
		err := target.RemoveCanary(ctx, uncertain, func(dctx context.Context) (bool, error) {
			x, err := s.remove(dctx, t, key, "")
			last = x
			if x.whatNotFound() == notFoundVariable {
				return false, nil
			}
			return err == nil, err
		})
		if err != nil {
			s.remember(t, key)
		}
		return err
	}
	rv, x, err := s.create(ctx, in, key, val, false, canaryDescription)
	if err != nil {
		if ctx.Err() != nil || x.status == 0 || x.status >= 500 || x.status < 300 {
			// The variable may exist even though no (readable) answer
			// came back, or the run was stopped while the create was in
			// flight: remove it all the same.
			_ = deleteCanary(true)
		}
		return s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: x, secrets: []string{val}})
	}
	if scoped {
		s.setScoped(t, rv.scope == t.EnvironmentScope)
		if rv.scope != t.EnvironmentScope {
			return s.scopeDropped(ctx, opPreflight, t, key, rv.scope)
		}
	}
	if err = deleteCanary(false); err == nil {
		return nil
	}
	ce := s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: last})
	var te *target.Error
	if errors.As(ce, &te) {
		left := fmt.Sprintf("the canary variable %s (environment scope %s) was created but not deleted; the next preflight that proves a write there deletes it, or delete it by hand", key, rv.scope)
		if te.Hint != "" {
			te.Hint += "; " + left
		} else {
			te.Hint = left
		}
	}
	return ce
}

// canaryDescription marks a canary variable, so that a sweep never takes a
// variable of the user's for one.
const canaryDescription = "astro-ci preflight canary; safe to delete"

// sweepCanaries deletes the canaries left in t's project or group, except
// own (this preflight's). Failures are ignored: a leftover canary holds a
// random value, no credential, and a later sweep takes it.
func (s *Store) sweepCanaries(ctx context.Context, t target.Target, own string) {
	keys, err := s.canaryKeys(ctx, t)
	if err != nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), target.CanaryCleanup)
	defer cancel()
	for _, k := range keys {
		if k != own {
			_, _ = s.remove(dctx, t, k, "")
		}
	}
}

func (s *Store) remember(t target.Target, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leftover[t.String()] = append(s.leftover[t.String()], key)
}

// removeLeftovers deletes the canaries an earlier Preflight of t could not.
func (s *Store) removeLeftovers(ctx context.Context, t target.Target) error {
	s.mu.Lock()
	keys := s.leftover[t.String()]
	delete(s.leftover, t.String())
	s.mu.Unlock()
	for i, key := range keys {
		x, err := s.remove(ctx, t, key, "")
		if err == nil || x.whatNotFound() == notFoundVariable {
			continue
		}
		s.mu.Lock()
		s.leftover[t.String()] = append(s.leftover[t.String()], keys[i:]...)
		s.mu.Unlock()
		return s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: x})
	}
	return nil
}

// memKey names a variable: kind, project or group, key, scope.
func memKey(t target.Target) string {
	return strings.Join([]string{string(t.Kind), t.Project, t.Group, t.Name, t.EnvironmentScope}, "\x00")
}

func (s *Store) noteAbsent(t target.Target) {
	s.mu.Lock()
	s.absent[memKey(t)] = true
	s.mu.Unlock()
}

func (s *Store) takeAbsent(t target.Target) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.absent[memKey(t)]
	delete(s.absent, memKey(t))
	return a
}

func (s *Store) randHex(n int) (string, error) {
	b := make([]byte, n)
	s.randMu.Lock()
	defer s.randMu.Unlock()
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// normalise fills the default scope of hand-built targets.
func normalise(t target.Target) target.Target {
	if t.EnvironmentScope == "" {
		t.EnvironmentScope = "*"
	}
	return t
}

func checkTarget(op string, t target.Target) error {
	switch {
	case t.Kind == target.KindProjectVar && t.Project != "",
		t.Kind == target.KindGroupVar && t.Group != "":
		if t.Name == "" {
			return &target.Error{Op: op, Target: t.String(), Err: errors.New("no variable key")}
		}
		return nil
	}
	return &target.Error{Op: op, Target: t.String(), Err: fmt.Errorf("not a GitLab project or group variable (%s)", t.Kind)}
}

// taken: a POST answered 400 "has already been taken".
func taken(x *exchange) bool {
	return x != nil && x.status == http.StatusBadRequest && strings.Contains(gitlabMessage(x.body), "has already been taken")
}
