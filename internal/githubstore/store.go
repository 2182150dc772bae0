// Package githubstore writes token values into GitHub Actions secrets
// (repository, environment, organization) and Dependabot repository
// secrets. It implements target.Store on top of go-github; no go-github type
// appears in its API.
package githubstore

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Config says where GitHub is and how to authenticate. Set Token, or AppID
// and AppPrivateKey.
type Config struct {
	// BaseURL is the REST API root (GITHUB_API_URL): "" means
	// https://api.github.com/; GitHub Enterprise Server is
	// https://HOST/api/v3 (with or without the trailing slash).
	BaseURL string
	// Token is a personal access token (fine-grained or classic) or an
	// installation token.
	Token secret.Value
	// AppID and AppPrivateKey (PEM, PKCS#1 or PKCS#8 RSA) authenticate as a
	// GitHub App instead of Token.
	AppID         string
	AppPrivateKey secret.Value
	// InstallationID is the app's installation to use for every target;
	// 0 means look it up per owner (GET /repos/{o}/{r}/installation or
	// GET /orgs/{org}/installation).
	InstallationID int64
	// HTTPClient sends every request; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// Rand feeds sealed boxes and canary names; default crypto/rand.
	Rand io.Reader
	// Now is the clock for app JWTs, token expiry and rate-limit waits;
	// default time.Now.
	Now func() time.Time
	// UserAgent is sent on every request (GitHub requires one); default
	// "astro-ci".
	UserAgent string
}

// Store writes GitHub secrets. It is safe for concurrent use: public keys,
// repository ids and installation tokens are fetched once and shared.
type Store struct {
	base      *url.URL
	hc        *http.Client
	rand      io.Reader
	now       func() time.Time
	userAgent string

	token          secret.Value
	appID          string
	appKey         *rsa.PrivateKey
	installationID int64

	keys       flight[publicKey]         // by scope, see scopeKey
	repoIDs    flight[int64]             // by lower-case "owner/repo"
	envs       flight[struct{}]          // environments known to exist (create_environment), see envKey
	instIDs    flight[int64]             // by lower-case owner
	instTokens flight[installationToken] // by installation id
}

var _ target.Store = (*Store)(nil)

// apiVersion is the REST API version the Store is written against.
const apiVersion = "2022-11-28"

// New checks cfg and returns a Store. It makes no request.
func New(cfg Config) (*Store, error) {
	s := &Store{
		hc:             cfg.HTTPClient,
		now:            cfg.Now,
		userAgent:      cfg.UserAgent,
		token:          cfg.Token,
		appID:          strings.TrimSpace(cfg.AppID),
		installationID: cfg.InstallationID,
	}
	base := strings.TrimSpace(cfg.BaseURL)
	if base == "" {
		base = "https://api.github.com/"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q is not an http(s) URL (GITHUB_API_URL, e.g. https://api.github.com or https://HOST/api/v3)", cfg.BaseURL)
	}
	// go-github resolves paths against BaseURL: without the trailing slash
	// "/api/v3" would be replaced instead of extended.
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	s.base = u
	switch {
	case !cfg.Token.IsZero() && s.appID != "":
		return nil, errors.New("GitHub credentials: set either a token (ASTRO_CI_GITHUB_TOKEN) or a GitHub App (ASTRO_CI_GITHUB_APP_ID and ASTRO_CI_GITHUB_APP_PRIVATE_KEY), not both")
	case s.appID != "":
		if cfg.AppPrivateKey.IsZero() {
			return nil, errors.New("GitHub App credentials: ASTRO_CI_GITHUB_APP_ID is set but the private key (ASTRO_CI_GITHUB_APP_PRIVATE_KEY) is empty")
		}
		key, err := parsePrivateKey(cfg.AppPrivateKey)
		if err != nil {
			return nil, fmt.Errorf("GitHub App private key (ASTRO_CI_GITHUB_APP_PRIVATE_KEY): %w", err)
		}
		s.appKey = key
	case cfg.Token.IsZero():
		return nil, errors.New("no GitHub credentials: set ASTRO_CI_GITHUB_TOKEN (a fine-grained PAT with Secrets: write) or a GitHub App (ASTRO_CI_GITHUB_APP_ID and ASTRO_CI_GITHUB_APP_PRIVATE_KEY)")
	}
	if s.hc == nil {
		// GitHub ends requests that take longer than 10 s itself.
		s.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.userAgent == "" {
		s.userAgent = "astro-ci"
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	s.rand = &lockedReader{r: r}
	return s, nil
}

// gh returns a go-github client for one operation. A fresh client per
// operation keeps go-github's own rate-limit memory out of the way: after a
// secondary limit it would refuse every request of a shared client until a
// deadline read from the wall clock, while the fan-out already decides
// when to retry from the errors this package returns.
func (s *Store) gh() *github.Client {
	c := github.NewClient(&http.Client{
		Transport: authTransport{next: s.hc, userAgent: s.userAgent},
		// The injected client follows redirects (and drops credentials
		// across hosts); the outer one hands back what it got.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	base := *s.base
	c.BaseURL = &base
	c.UserAgent = s.userAgent
	return c
}

// credKey carries the credential of a request in its context, so that one
// HTTP stack serves the token, the app JWT and every installation token.
type credKey struct{}

func withCred(ctx context.Context, v secret.Value) context.Context {
	return context.WithValue(ctx, credKey{}, v)
}

// authTransport adds the Authorization and version headers, then sends the
// request through the injected client.
type authTransport struct {
	next      *http.Client
	userAgent string
}

func (t authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if v, ok := req.Context().Value(credKey{}).(secret.Value); ok && !v.IsZero() {
		r.Header.Set("Authorization", "Bearer "+v.Reveal())
	}
	r.Header.Set("X-GitHub-Api-Version", apiVersion)
	r.Header.Set("Accept", "application/vnd.github+json")
	if r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", t.userAgent)
	}
	return t.next.Do(r)
}

// ---------------------------------------------------------------------------
// target.Store

// Put creates or replaces the secret at t.
func (s *Store) Put(ctx context.Context, t target.Target, v secret.Value) error {
	_, err := s.PutReport(ctx, t, v)
	return err
}

// PutReport is Put that also says whether the secret was created (GitHub
// answered 201) rather than updated (204).
func (s *Store) PutReport(ctx context.Context, t target.Target, v secret.Value) (created bool, err error) {
	if err := checkTarget(t); err != nil {
		return false, s.wrap(ctx, "write", t, err)
	}
	ctx, err = s.authorize(ctx, t)
	if err == nil && t.CreateEnvironment {
		err = s.ensureEnvironment(ctx, t)
	}
	if err == nil {
		created, err = s.put(ctx, t, v)
	}
	if err != nil {
		return false, s.wrap(ctx, "write", t, err)
	}
	return created, nil
}

// Delete removes the secret at t; one that is already gone is success.
//
// With create_environment=true it then deletes the environment itself: the
// option says the environment was made for this target (one environment per
// preview), so it goes with the preview, together with whatever else was
// stored in it. An environment that is already gone is success too.
func (s *Store) Delete(ctx context.Context, t target.Target) error {
	if err := checkTarget(t); err != nil {
		return s.wrap(ctx, "delete", t, err)
	}
	ctx, err := s.authorize(ctx, t)
	if err == nil {
		// The secret first: should the environment's deletion be refused
		// (it needs Administration: write), the value is gone all the same.
		err = s.delete(ctx, t)
	}
	if err == nil && t.CreateEnvironment {
		err = s.deleteEnvironment(ctx, t)
	}
	if err != nil {
		return s.wrap(ctx, "delete", t, err)
	}
	return nil
}

// Preflight proves t writable without leaving a changed value behind: it
// fetches the scope's public key (the scope exists and the credential can
// read it), then writes current back when it is known (the secret already
// holds it), else writes and deletes a canary secret in the same scope.
// For an environment it first checks that the environment exists, and
// with create_environment=true creates it when it does not.
func (s *Store) Preflight(ctx context.Context, t target.Target, p target.Proof) error {
	current := p.Current
	if err := checkTarget(t); err != nil {
		return s.wrap(ctx, "preflight", t, err)
	}
	ctx, err := s.authorize(ctx, t)
	if err == nil {
		err = s.preflight(ctx, t, current)
	}
	if err != nil {
		return s.wrap(ctx, "preflight", t, err)
	}
	return nil
}

func (s *Store) preflight(ctx context.Context, t target.Target, current *secret.Value) error {
	if t.Kind == target.KindEnvSecret {
		// Tell "no such repository" from "no such environment": GitHub
		// answers 404 for both on the secrets endpoints.
		if _, err := s.repoID(ctx, stepRepo, t.Owner, t.Repo); err != nil {
			return err
		}
		if t.CreateEnvironment {
			// A missing environment is created here already, and is left
			// in place even though preflight otherwise changes nothing: the
			// Put that follows needs it anyway (it would create it
			// itself), the write permission on its secrets can only be
			// proven inside it, and a token that may not create
			// environments fails now, before any value exists. A later
			// Delete of the target removes it.
			if err := s.ensureEnvironment(ctx, t); err != nil {
				return err
			}
			return s.preflightSecret(ctx, t, current)
		}
		gh := s.gh()
		req, err := gh.NewRequest(http.MethodGet, envPath(t), nil)
		if err != nil {
			return &stepError{step: stepLocal, err: err}
		}
		if _, err := gh.Do(ctx, req, nil); err != nil {
			return &stepError{step: stepEnv, err: err}
		}
	}
	return s.preflightSecret(ctx, t, current)
}

// preflightSecret is preflight once the scope of t is known to exist.
func (s *Store) preflightSecret(ctx context.Context, t target.Target, current *secret.Value) error {
	if _, err := s.publicKey(ctx, t); err != nil {
		return err
	}
	if t.Kind == target.KindOrgSecret && t.Visibility == "selected" {
		// The canary is private; check the repos= names Put will need.
		if _, err := s.selectedIDs(ctx, t); err != nil {
			return err
		}
	}
	if current != nil {
		created, err := s.put(ctx, t, *current)
		if err != nil {
			return err
		}
		if created {
			// The secret did not exist after all: leave it absent, as found.
			return s.delete(ctx, t)
		}
		return nil
	}
	b := make([]byte, 4)
	if _, err := s.rand.Read(b); err != nil {
		return &stepError{step: stepLocal, err: fmt.Errorf("reading randomness: %w", err)}
	}
	canary := t
	canary.Name = "ASTRO_CI_PREFLIGHT_" + strings.ToUpper(hex.EncodeToString(b))
	if canary.Kind == target.KindOrgSecret {
		canary.Visibility, canary.SelectedRepos = "private", nil
	}
	val := make([]byte, 16)
	if _, err := s.rand.Read(val); err != nil {
		return &stepError{step: stepLocal, err: fmt.Errorf("reading randomness: %w", err)}
	}
	if _, err := s.put(ctx, canary, secret.New(hex.EncodeToString(val))); err != nil {
		return err
	}
	if err := s.delete(ctx, canary); err != nil {
		var se *stepError
		if errors.As(err, &se) {
			se.note = "the preflight canary secret " + canary.Name + " was left behind; delete it by hand"
		}
		return err
	}
	return nil
}

func checkTarget(t target.Target) error {
	if t.Scheme != target.GitHub {
		return &stepError{step: stepLocal, err: fmt.Errorf("not a GitHub target (scheme %q)", t.Scheme)}
	}
	switch t.Kind {
	case target.KindRepoSecret, target.KindEnvSecret, target.KindDependabot, target.KindOrgSecret:
		return nil
	}
	return &stepError{step: stepLocal, err: fmt.Errorf("unsupported GitHub target kind %q", t.Kind)}
}

// ---------------------------------------------------------------------------
// Requests

type publicKey struct{ id, key string }

// scopeKey names the secret store of t: each has its own key pair.
func scopeKey(t target.Target) string {
	switch t.Kind {
	case target.KindEnvSecret:
		return "env:" + strings.ToLower(t.Owner+"/"+t.Repo) + "/" + t.Environment
	case target.KindDependabot:
		return "dependabot:" + strings.ToLower(t.Owner+"/"+t.Repo)
	case target.KindOrgSecret:
		return "org:" + strings.ToLower(t.Org)
	}
	return "repo:" + strings.ToLower(t.Owner+"/"+t.Repo)
}

// envPath is the environment's API path. go-github v60 only has the older
// /repositories/{id}/environments/... secret routes and does not escape the
// environment name; the official description uses
// /repos/{owner}/{repo}/environments/{environment_name}, with the name as
// one escaped segment ("preview/x" → "preview%2Fx").
func envPath(t target.Target) string {
	return fmt.Sprintf("repos/%s/%s/environments/%s", url.PathEscape(t.Owner), url.PathEscape(t.Repo), url.PathEscape(t.Environment))
}

// envKey names t's environment in the existence cache. GitHub's
// environment names are case-insensitive.
func envKey(t target.Target) string {
	return strings.ToLower(t.Owner + "/" + t.Repo + "/" + t.Environment)
}

// ensureEnvironment makes sure t's environment exists, creating it when it
// is missing (create_environment=true). That an environment exists is
// cached for the Store's life, so 50 writes to one environment ask once.
//
// It reads before it writes: PUT /repos/{o}/{r}/environments/{env}
// creates or updates, and an update with an empty body could reset the
// protection rules of an environment someone configured; the read also
// needs no more than read access, so a token without Administration: write
// still serves environments that exist.
func (s *Store) ensureEnvironment(ctx context.Context, t target.Target) error {
	_, err := s.envs.get(ctx, envKey(t), nil, func(ctx context.Context) (struct{}, error) {
		gh := s.gh()
		req, err := gh.NewRequest(http.MethodGet, envPath(t), nil)
		if err != nil {
			return struct{}{}, &stepError{step: stepLocal, err: err}
		}
		_, err = gh.Do(ctx, req, nil)
		if err == nil {
			return struct{}{}, nil
		}
		if statusOf(err) != http.StatusNotFound {
			return struct{}{}, &stepError{step: stepEnv, err: err}
		}
		// Missing (or the repository is invisible, which the PUT's 404
		// tells). The body is an empty object: no protection rules.
		req, err = gh.NewRequest(http.MethodPut, envPath(t), struct{}{})
		if err != nil {
			return struct{}{}, &stepError{step: stepLocal, err: err}
		}
		if _, err := gh.Do(ctx, req, nil); err != nil {
			return struct{}{}, &stepError{step: stepEnvPut, err: err}
		}
		return struct{}{}, nil
	})
	return err
}

// deleteEnvironment deletes t's environment with everything in it; 404
// means it is already gone. The caches of the environment (existence,
// public key) are dropped: one created again later has a new key pair.
func (s *Store) deleteEnvironment(ctx context.Context, t target.Target) error {
	gh := s.gh()
	req, err := gh.NewRequest(http.MethodDelete, envPath(t), nil)
	if err != nil {
		return &stepError{step: stepLocal, err: err}
	}
	_, err = gh.Do(ctx, req, nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return &stepError{step: stepEnvDel, err: err, note: "the secret itself was deleted"}
	}
	s.envs.drop(ctx, envKey(t), func(struct{}) bool { return true })
	s.keys.drop(ctx, scopeKey(t), func(publicKey) bool { return true })
	return nil
}

func (s *Store) publicKey(ctx context.Context, t target.Target) (publicKey, error) {
	return s.keys.get(ctx, scopeKey(t), nil, func(ctx context.Context) (publicKey, error) {
		gh := s.gh()
		var pk *github.PublicKey
		var err error
		switch t.Kind {
		case target.KindRepoSecret:
			pk, _, err = gh.Actions.GetRepoPublicKey(ctx, t.Owner, t.Repo)
		case target.KindDependabot:
			pk, _, err = gh.Dependabot.GetRepoPublicKey(ctx, t.Owner, t.Repo)
		case target.KindOrgSecret:
			pk, _, err = gh.Actions.GetOrgPublicKey(ctx, t.Org)
		case target.KindEnvSecret:
			var req *http.Request
			req, err = gh.NewRequest(http.MethodGet, envPath(t)+"/secrets/public-key", nil)
			if err == nil {
				pk = new(github.PublicKey)
				_, err = gh.Do(ctx, req, pk)
			}
		}
		if err != nil {
			return publicKey{}, &stepError{step: stepSecret, err: err}
		}
		if pk.GetKeyID() == "" || pk.GetKey() == "" {
			return publicKey{}, &stepError{step: stepSecret, err: errors.New("GitHub returned a public key without key_id or key")}
		}
		return publicKey{id: pk.GetKeyID(), key: pk.GetKey()}, nil
	})
}

// repoID resolves a repository's numeric id (cached).
func (s *Store) repoID(ctx context.Context, st step, owner, name string) (int64, error) {
	return s.repoIDs.get(ctx, strings.ToLower(owner+"/"+name), nil, func(ctx context.Context) (int64, error) {
		r, _, err := s.gh().Repositories.Get(ctx, owner, name)
		if err != nil {
			return 0, &stepError{step: st, subject: owner + "/" + name, err: err}
		}
		if r.GetID() == 0 {
			return 0, &stepError{step: st, subject: owner + "/" + name, err: errors.New("GitHub returned a repository without an id")}
		}
		return r.GetID(), nil
	})
}

// selectedIDs maps an organization secret's repos= names to ids.
func (s *Store) selectedIDs(ctx context.Context, t target.Target) ([]int64, error) {
	ids := make([]int64, 0, len(t.SelectedRepos))
	for _, name := range t.SelectedRepos {
		id, err := s.repoID(ctx, stepSelected, t.Org, name)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// put seals v for t's store and writes it. A 422 about the key (GitHub
// rotated the store's key since it was cached) drops the cached key and
// tries once more with a fresh one.
func (s *Store) put(ctx context.Context, t target.Target, v secret.Value) (created bool, err error) {
	var ids []int64
	if t.Kind == target.KindOrgSecret && t.Visibility == "selected" {
		var err error
		if ids, err = s.selectedIDs(ctx, t); err != nil {
			return false, err
		}
	}
	for attempt := 0; ; attempt++ {
		key, err := s.publicKey(ctx, t)
		if err != nil {
			return false, err
		}
		enc, err := seal(key.key, v, s.rand)
		if err != nil {
			return false, &stepError{step: stepLocal, err: err}
		}
		status, err := s.putSealed(ctx, t, key.id, enc, ids)
		if err != nil && attempt == 0 && staleKey(err) {
			s.keys.drop(ctx, scopeKey(t), func(k publicKey) bool { return k.id == key.id })
			continue
		}
		if err != nil {
			return false, &stepError{step: stepSecret, err: err}
		}
		return status == http.StatusCreated, nil
	}
}

func (s *Store) putSealed(ctx context.Context, t target.Target, keyID, enc string, ids []int64) (int, error) {
	gh := s.gh()
	es := &github.EncryptedSecret{Name: t.Name, KeyID: keyID, EncryptedValue: enc}
	var resp *github.Response
	var err error
	switch t.Kind {
	case target.KindRepoSecret:
		resp, err = gh.Actions.CreateOrUpdateRepoSecret(ctx, t.Owner, t.Repo, es)
	case target.KindDependabot:
		resp, err = gh.Dependabot.CreateOrUpdateRepoSecret(ctx, t.Owner, t.Repo,
			&github.DependabotEncryptedSecret{Name: t.Name, KeyID: keyID, EncryptedValue: enc})
	case target.KindOrgSecret:
		es.Visibility = t.Visibility
		if es.Visibility == "" {
			es.Visibility = "private"
		}
		if es.Visibility == "selected" {
			es.SelectedRepositoryIDs = github.SelectedRepoIDs(ids)
		}
		resp, err = gh.Actions.CreateOrUpdateOrgSecret(ctx, t.Org, es)
	case target.KindEnvSecret:
		var req *http.Request
		req, err = gh.NewRequest(http.MethodPut, envPath(t)+"/secrets/"+url.PathEscape(t.Name), es)
		if err == nil {
			resp, err = gh.Do(ctx, req, nil)
		}
	}
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// delete removes t's secret; 404 means it is already gone.
func (s *Store) delete(ctx context.Context, t target.Target) error {
	gh := s.gh()
	var err error
	switch t.Kind {
	case target.KindRepoSecret:
		_, err = gh.Actions.DeleteRepoSecret(ctx, t.Owner, t.Repo, t.Name)
	case target.KindDependabot:
		_, err = gh.Dependabot.DeleteRepoSecret(ctx, t.Owner, t.Repo, t.Name)
	case target.KindOrgSecret:
		_, err = gh.Actions.DeleteOrgSecret(ctx, t.Org, t.Name)
	case target.KindEnvSecret:
		var req *http.Request
		req, err = gh.NewRequest(http.MethodDelete, envPath(t)+"/secrets/"+url.PathEscape(t.Name), nil)
		if err == nil {
			_, err = gh.Do(ctx, req, nil)
		}
	}
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil
		}
		return &stepError{step: stepSecret, err: err}
	}
	return nil
}

// staleKey tells a 422 caused by the key: a key_id GitHub no longer
// accepts, or a value it could not open with the current key.
func staleKey(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	for _, e := range er.Errors {
		if e.Field == "key_id" {
			return true
		}
	}
	m := strings.ToLower(er.Message)
	return strings.Contains(m, "key_id") || strings.Contains(m, "decrypt")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
