// Package gitmeta answers two questions about the code a CI job deploys:
// which commit it is (commit, repository, branch, author and their URLs,
// for a deploy's git metadata), and whether anything outside dags/ changed
// since the commit the base Deployment's image was built from (then the
// preview, which runs the base's image, needs a new image: code-deploys.md
// C).
//
// The metadata comes from the CI environment, passed in as a map (GitHub
// Actions: GITHUB_SHA, GITHUB_REPOSITORY, GITHUB_SERVER_URL, GITHUB_REF_NAME,
// GITHUB_HEAD_REF, GITHUB_ACTOR; GitLab CI/CD: CI_COMMIT_SHA,
// CI_COMMIT_BEFORE_SHA, CI_PROJECT_URL, CI_PROJECT_PATH, CI_SERVER_URL,
// CI_COMMIT_REF_NAME, CI_COMMIT_BRANCH, CI_MERGE_REQUEST_SOURCE_BRANCH_NAME,
// CI_COMMIT_AUTHOR, GITLAB_USER_LOGIN), with the checkout's git as the
// fallback outside CI. The comparison shells out to the git binary in the
// checkout, read-only, with a bounded context.
//
// Sources: https://docs.github.com/en/actions/reference/variables-reference,
// https://docs.gitlab.com/ci/variables/predefined_variables/.
package gitmeta

import (
	"net/mail"
	"net/url"
	"strings"
)

// Systems a Meta can come from.
const (
	GitHub = "github"
	GitLab = "gitlab"
	Local  = "local" // the checkout's git, outside CI
)

// Meta is the git metadata of one deploy. Every field is data from the
// environment: never pass it to a shell.
type Meta struct {
	System     string
	CommitSHA  string // full hex SHA; "" when unknown or not a SHA
	BeforeSHA  string // the previous tip of the branch, when known
	Branch     string
	ServerURL  string // https://github.com, https://gitlab.example.com
	Repository string // GitHub "owner/repo", GitLab "group/sub/project"
	// RemoteURL is the repository's clone URL with any credentials
	// removed (GitLab runners clone from https://gitlab-ci-token:…@host/…).
	RemoteURL      string
	AuthorName     string
	AuthorUsername string
}

// FromEnv reads the CI environment. Values that are not what they claim
// (a SHA that is not hex, a URL that is not http(s)) are left out.
func FromEnv(env map[string]string) Meta {
	switch {
	case env["GITHUB_ACTIONS"] == "true":
		m := Meta{System: GitHub}
		m.CommitSHA = sha(env["GITHUB_SHA"])
		m.Repository = env["GITHUB_REPOSITORY"]
		m.ServerURL = httpURL(firstOf(env["GITHUB_SERVER_URL"], "https://github.com"))
		// A pull_request run's GITHUB_REF_NAME is "<n>/merge"; the branch
		// is GITHUB_HEAD_REF there.
		m.Branch = firstOf(env["GITHUB_HEAD_REF"], branchOf(env["GITHUB_REF"], env["GITHUB_REF_NAME"]))
		m.AuthorUsername = env["GITHUB_ACTOR"]
		if m.ServerURL != "" && m.Repository != "" {
			m.RemoteURL = m.ServerURL + "/" + m.Repository + ".git"
		}
		return m
	case env["GITLAB_CI"] == "true":
		m := Meta{System: GitLab}
		m.CommitSHA = sha(env["CI_COMMIT_SHA"])
		if b := sha(env["CI_COMMIT_BEFORE_SHA"]); strings.Trim(b, "0") != "" {
			m.BeforeSHA = b
		}
		m.Repository = env["CI_PROJECT_PATH"]
		m.ServerURL = httpURL(env["CI_SERVER_URL"])
		m.Branch = firstOf(env["CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"], env["CI_COMMIT_BRANCH"])
		if m.Branch == "" && env["CI_COMMIT_TAG"] == "" {
			m.Branch = env["CI_COMMIT_REF_NAME"]
		}
		if a, err := mail.ParseAddress(env["CI_COMMIT_AUTHOR"]); err == nil {
			m.AuthorName = a.Name
		} else {
			m.AuthorName = strings.TrimSpace(env["CI_COMMIT_AUTHOR"])
		}
		m.AuthorUsername = env["GITLAB_USER_LOGIN"]
		if p := httpURL(env["CI_PROJECT_URL"]); p != "" {
			m.RemoteURL = p + ".git"
		} else if m.ServerURL != "" && m.Repository != "" {
			m.RemoteURL = m.ServerURL + "/" + m.Repository + ".git"
		}
		return m
	}
	return Meta{System: Local}
}

// Merge fills the fields m lacks from other (FromGit outside CI).
func (m Meta) Merge(other Meta) Meta {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&m.CommitSHA, other.CommitSHA)
	fill(&m.BeforeSHA, other.BeforeSHA)
	fill(&m.Branch, other.Branch)
	fill(&m.ServerURL, other.ServerURL)
	fill(&m.Repository, other.Repository)
	fill(&m.RemoteURL, other.RemoteURL)
	fill(&m.AuthorName, other.AuthorName)
	fill(&m.AuthorUsername, other.AuthorUsername)
	return m
}

// IsGitHub reports a repository on a GitHub server (github.com or GitHub
// Enterprise through Actions), whose deploy metadata takes account + repo.
func (m Meta) IsGitHub() bool { return m.System == GitHub && strings.Count(m.Repository, "/") == 1 }

// Account and Repo split a GitHub "owner/repo".
func (m Meta) Account() string { a, _, _ := strings.Cut(m.Repository, "/"); return a }

// Repo is the repository name of a GitHub "owner/repo".
func (m Meta) Repo() string { _, r, _ := strings.Cut(m.Repository, "/"); return r }

// CommitURL is the commit's page on the forge, "" when unknown.
func (m Meta) CommitURL() string {
	if m.ServerURL == "" || m.Repository == "" || m.CommitSHA == "" {
		return ""
	}
	switch m.System {
	case GitHub:
		return m.ServerURL + "/" + m.Repository + "/commit/" + m.CommitSHA
	case GitLab:
		return m.ServerURL + "/" + m.Repository + "/-/commit/" + m.CommitSHA
	}
	return ""
}

// AuthorURL is the author's profile page, "" when unknown.
func (m Meta) AuthorURL() string {
	if m.ServerURL == "" || m.AuthorUsername == "" || (m.System != GitHub && m.System != GitLab) {
		return ""
	}
	return m.ServerURL + "/" + url.PathEscape(m.AuthorUsername)
}

// Short is the first 7 characters of the commit.
func (m Meta) Short() string {
	if len(m.CommitSHA) < 7 {
		return m.CommitSHA
	}
	return m.CommitSHA[:7]
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// branchOf is the branch of GITHUB_REF, or refName when the ref is one.
func branchOf(ref, refName string) string {
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return b
	}
	if ref == "" {
		return refName
	}
	return ""
}

// sha returns s when it is a full SHA-1 or SHA-256 object name.
func sha(s string) string {
	if len(s) != 40 && len(s) != 64 {
		return ""
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	return s
}

// httpURL returns u without a trailing slash when it is an http(s) URL
// without credentials, query or fragment; else "".
func httpURL(u string) string {
	p, err := url.Parse(strings.TrimRight(u, "/"))
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		return ""
	}
	return p.String()
}

// CleanRemote strips credentials, query and fragment from a git remote
// URL; scp-like remotes (git@host:path) are kept as they are (their user
// is not a secret). Anything else is "".
func CleanRemote(remote string) string {
	remote = strings.TrimSpace(remote)
	if remote == "" {
		return ""
	}
	if !strings.Contains(remote, "://") {
		if at, colon := strings.Index(remote, "@"), strings.Index(remote, ":"); at > 0 && colon > at && !strings.ContainsAny(remote, " \t") {
			return remote
		}
		return ""
	}
	p, err := url.Parse(remote)
	if err != nil || p.Host == "" {
		return ""
	}
	switch p.Scheme {
	case "https", "http", "ssh", "git":
	default:
		return ""
	}
	if p.Scheme == "ssh" && p.User != nil {
		p.User = url.User(p.User.Username()) // ssh://git@host: the user name is no secret
	} else {
		p.User = nil
	}
	p.RawQuery, p.Fragment = "", ""
	return p.String()
}
