package cli

import (
	"context"
	"sync"

	"github.com/astro-ci/astro-ci/internal/githubstore"
	"github.com/astro-ci/astro-ci/internal/gitlabstore"
	"github.com/astro-ci/astro-ci/internal/pace"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
	"github.com/astro-ci/astro-ci/internal/version"
)

// forgeStores builds the GitHub and GitLab stores for the credentials in the
// environment; a scheme without credentials gets no store, and the fan-out
// names the variable to set when a target needs it. Nothing is contacted.
func (r *runner) forgeStores() (map[target.Scheme]target.Store, error) {
	stores := map[target.Scheme]target.Store{}
	c := r.cfg
	ghToken := c.GitHubToken
	if ghToken.IsZero() {
		ghToken = c.GitHubTokenFallback
	}
	if c.GitHubAppID != "" || !ghToken.IsZero() {
		concurrency := githubstore.MaxConcurrency
		if g := r.global; g != nil && g.ghConcurrency > 0 {
			concurrency = g.ghConcurrency
		}
		cfg := githubstore.Config{
			BaseURL:    firstNonEmpty(c.GitHubAPIURLOverride, c.GitHubAPIURL),
			HTTPClient: r.forgeClient(concurrency),
			Rand:       r.m.Rand,
			Now:        r.now,
			Sleep:      r.m.Sleep,
			UserAgent:  version.UserAgent(),
		}
		if g := r.global; g != nil {
			cfg.Concurrency, cfg.PointsPerMinute = g.ghConcurrency, g.ghPoints
		}
		if c.Debug {
			cfg.Debugf = func(format string, args ...any) { r.rep.Infof("debug: github: "+format, args...) }
		}
		if c.GitHubAppID != "" {
			cfg.AppID, cfg.AppPrivateKey, cfg.InstallationID = c.GitHubAppID, c.GitHubAppPrivateKey, c.GitHubAppInstallationID
		} else {
			cfg.Token = ghToken
		}
		s, err := githubstore.New(cfg)
		if err != nil {
			return nil, usagef("GitHub credentials: %v", err)
		}
		stores[target.GitHub] = s
	}
	glToken := c.GitLabToken
	if glToken.IsZero() {
		glToken = c.GitLabTokenFallback
	}
	switch {
	case !glToken.IsZero():
		s, err := gitlabstore.New(gitlabstore.Config{
			BaseURL:    firstNonEmpty(c.GitLabAPIURLOverride, c.GitLabAPIURL),
			Token:      glToken,
			HTTPClient: r.forgeClient(gitlabstore.DefaultConcurrency),
			Rand:       r.m.Rand,
			Now:        r.now,
			Sleep:      r.m.Sleep,
		})
		if err != nil {
			return nil, usagef("GitLab credentials: %v", err)
		}
		stores[target.GitLab] = &notingStore{Store: s, put: s.PutReport, rep: r, paced: s}
	case !c.CIJobToken.IsZero():
		// Only CI_JOB_TOKEN: say why it cannot work, but only if a GitLab target needs it.
		stores[target.GitLab] = refusingStore{gitlabstore.ErrJobToken}
	}
	return stores, nil
}

// notingStore passes on what a store notes about a successful write (GitLab:
// "cannot make an existing variable hidden") as a warning.
type notingStore struct {
	target.Store
	put  func(ctx context.Context, t target.Target, v secret.Value) (bool, string, error)
	rep  *runner
	once sync.Map
	// paced is the store's pacing, which the fan-out sizes itself to.
	paced target.Paced
}

// Concurrency and PaceStats pass the store's pacing on (target.Paced).
func (n *notingStore) Concurrency() int      { return n.paced.Concurrency() }
func (n *notingStore) PaceStats() pace.Stats { return n.paced.PaceStats() }

func (n *notingStore) Put(ctx context.Context, t target.Target, v secret.Value) error {
	_, note, err := n.put(ctx, t, v)
	if err == nil && note != "" {
		if _, dup := n.once.LoadOrStore(t.String()+note, true); !dup {
			n.rep.rep.Warnf("%s: %s", t, note)
		}
	}
	return err
}

// refusingStore fails every operation with one explanation.
type refusingStore struct{ err error }

func (s refusingStore) Preflight(context.Context, target.Target, target.Proof) error { return s.err }
func (s refusingStore) Put(context.Context, target.Target, secret.Value) error       { return s.err }
func (s refusingStore) Delete(context.Context, target.Target) error                  { return s.err }

var (
	_ target.Paced = (*notingStore)(nil)
	_ target.Store = refusingStore{}
)

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
