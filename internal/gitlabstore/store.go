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
}

// Description is written on every variable the store creates.
const Description = "managed by astro-ci"

// CanaryPrefix starts the key of every preflight canary variable.
const CanaryPrefix = "ASTRO_CI_PREFLIGHT_"

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

	// leftover holds canaries whose deletion failed or whose creation may
	// have happened unseen, by target; the next Preflight of the target
	// removes them first, so retries do not pile canaries up.
	mu       sync.Mutex
	leftover map[string][]string
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
	own := *hc
	own.Transport = captureTransport{next: next}
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
	return &Store{
		c:        c,
		token:    cfg.Token,
		baseURL:  u.Redacted(),
		now:      time.Now,
		rand:     r,
		leftover: map[string][]string{},
	}, nil
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

	var rv remoteVar
	exists := true
	if t.Kind == target.KindGroupVar {
		// Group PUT is not safe to try blind: with a filter that matches
		// nothing GitLab falls back to the first variable with the key in
		// any scope (lib/api/group_variables.rb), so a PUT for scope
		// "production" would overwrite the "*" variable. GET (which does
		// honour the filter) decides between PUT and POST.
		_, x, err := s.get(ctx, t)
		switch {
		case err == nil:
		case x.whatNotFound() == notFoundVariable:
			exists = false
		default:
			return false, "", s.classify(ctx, failure{op: opWrite, t: t, err: err, x: x, secrets: []string{val}})
		}
	}
	if exists {
		// Project PUT honours the filter and is update-only, so it goes
		// first: one request for the common case (rotation), two for the
		// first write. A GET first would cost a request every time.
		var x *exchange
		rv, x, err = s.update(ctx, t, val, true)
		switch {
		case err == nil:
		case x.whatNotFound() == notFoundVariable:
			exists = false
		default:
			return false, "", s.classify(ctx, failure{op: opWrite, t: t, err: err, x: x, secrets: []string{val}})
		}
	}
	if !exists {
		var x *exchange
		rv, x, err = s.create(ctx, t, t.Name, val, t.Hidden, Description)
		if err != nil && x.status == http.StatusBadRequest && strings.Contains(gitlabMessage(x.body), "has already been taken") {
			// Created by someone else between our two requests.
			rv, x, err = s.update(ctx, t, val, true)
		} else if err == nil {
			created = true
		}
		if err != nil {
			return false, "", s.classify(ctx, failure{op: opWrite, t: t, err: err, x: x, secrets: []string{val}})
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

// Delete removes the variable at t in its environment scope; an absent
// variable is not an error, an absent project or group is.
func (s *Store) Delete(ctx context.Context, t target.Target) error {
	t = normalise(t)
	if err := checkTarget(opDelete, t); err != nil {
		return err
	}
	x, err := s.remove(ctx, t, t.Name)
	if err == nil || x.whatNotFound() == notFoundVariable {
		return nil
	}
	return s.classify(ctx, failure{op: opDelete, t: t, err: err, x: x})
}

// Preflight proves t writable without leaving a change behind: the project
// or group exists, the token is valid, has the api scope and the role.
// When current is given and the variable exists, it writes current back
// (only the value: flags stay as they are); otherwise it creates a masked
// canary variable ASTRO_CI_PREFLIGHT_<8 hex> in t's environment scope and
// deletes it.
func (s *Store) Preflight(ctx context.Context, t target.Target, p target.Proof) error {
	current := p.Current
	t = normalise(t)
	if err := checkTarget(opPreflight, t); err != nil {
		return err
	}
	if err := s.removeLeftovers(ctx, t); err != nil {
		return err
	}
	if current != nil && !current.IsZero() {
		val := current.Reveal()
		exists := true
		if t.Kind == target.KindGroupVar {
			_, x, err := s.get(ctx, t)
			switch {
			case err == nil:
			case x.whatNotFound() == notFoundVariable:
				exists = false
			default:
				return s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: x, secrets: []string{val}})
			}
		}
		if exists {
			_, x, err := s.update(ctx, t, val, false)
			switch {
			case err == nil:
				return nil
			case x.whatNotFound() != notFoundVariable:
				return s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: x, secrets: []string{val}})
			}
		}
	}
	return s.canary(ctx, t)
}

// canary creates and deletes a throwaway variable.
func (s *Store) canary(ctx context.Context, t target.Target) error {
	name, err := s.randHex(4)
	if err != nil {
		return &target.Error{Op: opPreflight, Target: t.String(), Err: fmt.Errorf("random canary name: %w", err)}
	}
	key := CanaryPrefix + strings.ToUpper(name)
	val, err := s.randHex(16)
	if err != nil {
		return &target.Error{Op: opPreflight, Target: t.String(), Err: fmt.Errorf("random canary value: %w", err)}
	}
	_, x, err := s.create(ctx, t, key, val, false, "astro-ci preflight canary; safe to delete")
	if err != nil {
		if x.status == 0 || x.status >= 500 {
			// The variable may exist even though no answer came back.
			s.remember(t, key)
		}
		return s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: x, secrets: []string{val}})
	}
	x, err = s.remove(ctx, t, key)
	if err == nil || x.whatNotFound() == notFoundVariable {
		return nil
	}
	s.remember(t, key)
	ce := s.classify(ctx, failure{op: opPreflight, t: t, err: err, x: x})
	var te *target.Error
	if errors.As(ce, &te) {
		left := fmt.Sprintf("the canary variable %s (environment scope %s) was created but not deleted; the next preflight deletes it, or delete it by hand", key, t.EnvironmentScope)
		if te.Hint != "" {
			te.Hint += "; " + left
		} else {
			te.Hint = left
		}
	}
	return ce
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
		x, err := s.remove(ctx, t, key)
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

// ---------------------------------------------------------------------------
// client-go calls, project or group. Each returns what the transport saw.

// remoteVar is what the store needs of a variable GitLab returned.
type remoteVar struct{ hidden bool }

func (s *Store) get(ctx context.Context, t target.Target) (remoteVar, *exchange, error) {
	ctx, x := withExchange(ctx)
	filter := &gitlab.VariableFilter{EnvironmentScope: t.EnvironmentScope}
	if t.Kind == target.KindGroupVar {
		v, _, err := s.c.GroupVariables.GetVariable(t.Group, t.Name, &gitlab.GetGroupVariableOptions{Filter: filter}, gitlab.WithContext(ctx))
		if err != nil {
			return remoteVar{}, x, err
		}
		return remoteVar{hidden: v.Hidden}, x, nil
	}
	v, _, err := s.c.ProjectVariables.GetVariable(t.Project, t.Name, &gitlab.GetProjectVariableOptions{Filter: filter}, gitlab.WithContext(ctx))
	if err != nil {
		return remoteVar{}, x, err
	}
	return remoteVar{hidden: v.Hidden}, x, nil
}

// update PUTs value to the variable in t's scope. With flags it also sends
// masked=true and protected/raw=true when t asks for them. It never sends
// false for protected or raw: GitLab keeps omitted fields
// (declared_params(include_missing: false)), and a target that does not
// say protected=true should not unprotect a variable someone protected on
// purpose (glab's update does exactly that by sending its flag defaults).
// It never sends variable_type, description or environment_scope either:
// the last would move the variable to another scope. Without flags only
// the value goes (preflight write-back).
func (s *Store) update(ctx context.Context, t target.Target, value string, flags bool) (remoteVar, *exchange, error) {
	ctx, x := withExchange(ctx)
	filter := &gitlab.VariableFilter{EnvironmentScope: t.EnvironmentScope}
	var masked, protected, raw *bool
	if flags {
		masked = gitlab.Ptr(true)
		if t.Protected {
			protected = gitlab.Ptr(true)
		}
		if t.Raw {
			raw = gitlab.Ptr(true)
		}
	}
	if t.Kind == target.KindGroupVar {
		v, _, err := s.c.GroupVariables.UpdateVariable(t.Group, t.Name, &gitlab.UpdateGroupVariableOptions{
			Value: gitlab.Ptr(value), Filter: filter, Masked: masked, Protected: protected, Raw: raw,
		}, gitlab.WithContext(ctx))
		if err != nil {
			return remoteVar{}, x, err
		}
		return remoteVar{hidden: v.Hidden}, x, nil
	}
	v, _, err := s.c.ProjectVariables.UpdateVariable(t.Project, t.Name, &gitlab.UpdateProjectVariableOptions{
		Value: gitlab.Ptr(value), Filter: filter, Masked: masked, Protected: protected, Raw: raw,
	}, gitlab.WithContext(ctx))
	if err != nil {
		return remoteVar{}, x, err
	}
	return remoteVar{hidden: v.Hidden}, x, nil
}

// create POSTs a new masked env_var variable key in t's scope.
func (s *Store) create(ctx context.Context, t target.Target, key, value string, hidden bool, description string) (remoteVar, *exchange, error) {
	ctx, x := withExchange(ctx)
	var mh *bool
	if hidden {
		mh = gitlab.Ptr(true)
	}
	if t.Kind == target.KindGroupVar {
		v, _, err := s.c.GroupVariables.CreateVariable(t.Group, &gitlab.CreateGroupVariableOptions{
			Key: gitlab.Ptr(key), Value: gitlab.Ptr(value), Description: gitlab.Ptr(description),
			EnvironmentScope: gitlab.Ptr(t.EnvironmentScope), Masked: gitlab.Ptr(true), MaskedAndHidden: mh,
			Protected: gitlab.Ptr(t.Protected), Raw: gitlab.Ptr(t.Raw), VariableType: gitlab.Ptr(gitlab.EnvVariableType),
		}, gitlab.WithContext(ctx))
		if err != nil {
			return remoteVar{}, x, err
		}
		return remoteVar{hidden: v.Hidden}, x, nil
	}
	v, _, err := s.c.ProjectVariables.CreateVariable(t.Project, &gitlab.CreateProjectVariableOptions{
		Key: gitlab.Ptr(key), Value: gitlab.Ptr(value), Description: gitlab.Ptr(description),
		EnvironmentScope: gitlab.Ptr(t.EnvironmentScope), Masked: gitlab.Ptr(true), MaskedAndHidden: mh,
		Protected: gitlab.Ptr(t.Protected), Raw: gitlab.Ptr(t.Raw), VariableType: gitlab.Ptr(gitlab.EnvVariableType),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return remoteVar{}, x, err
	}
	return remoteVar{hidden: v.Hidden}, x, nil
}

// remove DELETEs variable key in t's scope.
func (s *Store) remove(ctx context.Context, t target.Target, key string) (*exchange, error) {
	ctx, x := withExchange(ctx)
	filter := &gitlab.VariableFilter{EnvironmentScope: t.EnvironmentScope}
	var err error
	if t.Kind == target.KindGroupVar {
		_, err = s.c.GroupVariables.RemoveVariable(t.Group, key, &gitlab.RemoveGroupVariableOptions{Filter: filter}, gitlab.WithContext(ctx))
	} else {
		_, err = s.c.ProjectVariables.RemoveVariable(t.Project, key, &gitlab.RemoveProjectVariableOptions{Filter: filter}, gitlab.WithContext(ctx))
	}
	return x, err
}
