// Package githubstore writes token values into GitHub Actions secrets
// (repository, environment, organization) and Dependabot repository
// secrets. It implements target.Store on top of go-github; no go-github type
// appears in its API.
package githubstore

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/astro-ci/astro-ci/internal/pace"
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

	// Concurrency bounds the GitHub requests in flight at once (the CLI's
	// --github-concurrency). GitHub allows "no more than 100 concurrent
	// requests", shared by the REST and GraphQL APIs and by every job that
	// uses the same credential; default and maximum 100.
	Concurrency int
	// PointsPerMinute is the secondary-limit budget of every REST endpoint
	// (the CLI's --github-points-per-minute): GitHub allows 900 points a
	// minute per endpoint, a GET costing 1 and a write 5; GitHub Enterprise
	// Server administrators set their own. Default 900. Requests are paced
	// a little below it (see package pace).
	PointsPerMinute int
	// Sleep is the pacer's wait; default wait.Sleep. Tests inject their
	// own together with Now.
	Sleep func(ctx context.Context, d time.Duration) error
	// Debugf, when set, receives a trace of decisions worth knowing when a
	// run surprises: which environment-secret route form the server
	// serves. It never carries a value.
	Debugf func(format string, args ...any)
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

	pacer           *pace.Pacer
	rt              http.RoundTripper // the paced path every request takes
	pointsPerMinute int
	debugf          func(format string, args ...any)

	keys       flight[publicKey]         // by scope, see scopeKey
	repos      flight[repoInfo]          // by lower-case "owner/repo"
	envs       flight[envInfo]           // by envKey
	instIDs    flight[int64]             // by lower-case owner
	instTokens flight[installationToken] // by installation id
	// envForm is the environment-secret route form this server serves
	// (formUnknown until a public key answers), see envSecretsPath.
	envForm atomic.Int32
	// exists records secrets known to exist (by secretKey): a write to
	// one updates, and creates no content.
	exists sync.Map
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
	concurrency := cfg.Concurrency
	switch {
	case concurrency == 0:
		concurrency = MaxConcurrency
	case concurrency < 0 || concurrency > MaxConcurrency:
		return nil, fmt.Errorf("GitHub concurrency %d is not between 1 and %d: GitHub allows no more than %d concurrent requests (--github-concurrency)", concurrency, MaxConcurrency, MaxConcurrency)
	}
	s.pointsPerMinute = cfg.PointsPerMinute
	switch {
	case s.pointsPerMinute == 0:
		s.pointsPerMinute = DefaultPointsPerMinute
	case s.pointsPerMinute < MinPointsPerMinute:
		// A write costs 5 points; below 30 a minute there is no room for a
		// burst of one write under the pacer's margin.
		return nil, fmt.Errorf("GitHub points per minute %d is below %d, too few for one write at a time (--github-points-per-minute; GitHub's default is %d)", s.pointsPerMinute, MinPointsPerMinute, DefaultPointsPerMinute)
	}
	if s.hc == nil {
		s.hc = NewHTTPClient(concurrency)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.debugf = cfg.Debugf
	if s.debugf == nil {
		s.debugf = func(string, ...any) {}
	}
	p, err := pace.New(pace.Config{Concurrency: concurrency, Now: s.now, Sleep: cfg.Sleep})
	if err != nil {
		return nil, err
	}
	s.pacer = p
	s.rt = &pace.RoundTripper{Pacer: p, Next: doer{s.hc}, Spend: s.spend, Feedback: feedback}
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
		Transport: authTransport{next: s.rt, userAgent: s.userAgent},
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
// request on its paced way to the injected client.
type authTransport struct {
	next      http.RoundTripper
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
	return t.next.RoundTrip(r)
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
