package cli

import (
	"context"
	"sync"

	"github.com/astro-ci/astro-ci/internal/githubstore"
	"github.com/astro-ci/astro-ci/internal/gitlabstore"
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
		// The flags' values (validated at parse); their defaults where a
		// runner was built without flags.
		g := globalOptions{ghConcurrency: githubstore.MaxConcurrency, ghPoints: githubstore.DefaultPointsPerMinute}
		if r.global != nil {
			g = *r.global
		}
		cfg := githubstore.Config{
			BaseURL:         firstNonEmpty(c.GitHubAPIURLOverride, c.GitHubAPIURL),
			HTTPClient:      r.forgeClient(g.ghConcurrency),
			Concurrency:     g.ghConcurrency,
			PointsPerMinute: g.ghPoints,
			Rand:            r.m.Rand,
			Now:             r.now,
			Sleep:           r.m.Sleep,
			UserAgent:       version.UserAgent(),
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
		stores[target.GitLab] = &notingStore{Store: s, rep: r}
	case !c.CIJobToken.IsZero():
		// Only CI_JOB_TOKEN: say why it cannot work, but only if a GitLab target needs it.
		stores[target.GitLab] = refusingStore{gitlabstore.ErrJobToken}
	}
	return stores, nil
}

// notingStore passes on what a store notes about a successful write (GitLab:
// "cannot make an existing variable hidden") as a warning.
// Its pacing (target.Paced) is the store's, which the fan-out sizes
// itself to.
type notingStore struct {
	*gitlabstore.Store
	rep  *runner
	once sync.Map
}

func (n *notingStore) Put(ctx context.Context, t target.Target, v secret.Value) error {
	_, note, err := n.PutReport(ctx, t, v)
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
