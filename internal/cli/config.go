package cli

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// Config is what astro-ci reads from the environment. Secrets come only from
// here (or stdin), never from flags, so they stay out of argv, shell history
// and process listings.
type Config struct {
	APIToken secret.Value `env:"ASTRO_API_TOKEN"`
	// APITokenOverride wins over ASTRO_API_TOKEN: in a GitLab review
	// environment ASTRO_API_TOKEN may be the preview's own Deployment token
	// (an environment-scoped variable beats the project-wide one, and job
	// variables cannot override it), so astro-ci's credential needs a name
	// of its own there.
	APITokenOverride secret.Value `env:"ASTRO_CI_API_TOKEN"`
	// TokenVar names the variable the credential came from.
	TokenVar       string       `env:"-"`
	KeyID          string       `env:"ASTRONOMER_KEY_ID"`
	KeySecret      secret.Value `env:"ASTRONOMER_KEY_SECRET"`
	APIURL         string       `env:"ASTRO_API_URL" envDefault:"https://api.astronomer.io/v1"`
	OrganizationID string       `env:"ASTRO_ORGANIZATION_ID"`
	Debug          bool         `env:"ASTRO_CI_DEBUG"`

	// GitHub write-back: a token that may write secrets, or a GitHub App.
	// GITHUB_TOKEN is accepted too, but the workflow's own GITHUB_TOKEN
	// cannot write secrets (github-secrets.md §2): errors say so.
	GitHubToken             secret.Value `env:"ASTRO_CI_GITHUB_TOKEN"`
	GitHubTokenFallback     secret.Value `env:"GITHUB_TOKEN"`
	GitHubAppID             string       `env:"ASTRO_CI_GITHUB_APP_ID"`
	GitHubAppPrivateKey     secret.Value `env:"ASTRO_CI_GITHUB_APP_PRIVATE_KEY"`
	GitHubAppInstallationID int64        `env:"ASTRO_CI_GITHUB_APP_INSTALLATION_ID"`
	GitHubAPIURLOverride    string       `env:"ASTRO_CI_GITHUB_API_URL"`
	GitHubAPIURL            string       `env:"GITHUB_API_URL"`

	// GitLab write-back: a project, group or personal access token with the
	// api scope. CI_JOB_TOKEN cannot manage variables (gitlab-variables.md §1.3).
	GitLabToken          secret.Value `env:"ASTRO_CI_GITLAB_TOKEN"`
	GitLabTokenFallback  secret.Value `env:"GITLAB_TOKEN"`
	CIJobToken           secret.Value `env:"CI_JOB_TOKEN"`
	GitLabAPIURLOverride string       `env:"ASTRO_CI_GITLAB_API_URL"`
	GitLabAPIURL         string       `env:"CI_API_V4_URL"`

	// CI detection (https://docs.github.com/actions/learn-github-actions/variables,
	// https://docs.gitlab.com/ci/variables/predefined_variables/).
	GitHubActions    bool   `env:"GITHUB_ACTIONS"`
	GitHubRepository string `env:"GITHUB_REPOSITORY"`
	GitLabCI         bool   `env:"GITLAB_CI"`
	GitLabProjectID  string `env:"CI_PROJECT_ID"`
}

func loadConfig(environ map[string]string) (*Config, error) {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		return nil, configError(err, environ)
	}
	c.APIURL = strings.TrimSpace(c.APIURL)
	c.TokenVar = "ASTRO_API_TOKEN"
	if !c.APITokenOverride.IsZero() {
		c.APIToken, c.TokenVar = c.APITokenOverride, "ASTRO_CI_API_TOKEN"
	}
	return &c, nil
}

// configError names the variable at fault, echoing its value bounded
// (caarlos0/env's errors name the Go field and repeat the whole value).
func configError(err error, environ map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("reading the environment: %w", err)
	}
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			errs = append(errs, e)
			continue
		}
		name := pe.Name
		if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
			name = f.Tag.Get("env")
		}
		errs = append(errs, fmt.Errorf("%s: %s is not a valid %s", name, echo.Quote(environ[name]), pe.Type))
	}
	return errors.Join(errs...)
}

// CI says which CI system runs us.
func (c *Config) CI() report.CI {
	switch {
	case c.GitHubActions:
		return report.GitHubActions
	case c.GitLabCI:
		return report.GitLabCI
	}
	return report.Local
}
