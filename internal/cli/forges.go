package cli

import (
	"github.com/astro-ci/astro-ci/internal/githubstore"
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
		cfg := githubstore.Config{
			BaseURL:    firstNonEmpty(c.GitHubAPIURLOverride, c.GitHubAPIURL),
			HTTPClient: r.m.HTTPClient,
			Rand:       r.m.Rand,
			Now:        r.now,
			UserAgent:  version.UserAgent(),
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
	return stores, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
