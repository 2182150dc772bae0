package githubstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/astro-ci/astro-ci/internal/target"
)

// step is what the Store was doing when a request failed; hints depend on
// it as much as on the status.
type step int

const (
	stepSecret   step = iota // public key, PUT or DELETE on the target's secret store
	stepRepo                 // GET /repos/{o}/{r} of the target's own repository
	stepSelected             // GET /repos/{org}/{name} of a repos= entry
	stepEnv                  // GET the target's environment
	stepEnvPut               // PUT the target's environment (create_environment)
	stepEnvDel               // DELETE the target's environment (create_environment)
	stepInstall              // find the GitHub App installation (app JWT)
	stepToken                // mint an installation token (app JWT)
	stepLocal                // no request: configuration, sealing
	stepProof                // a read showed that the write would be refused
)

type stepError struct {
	step    step
	subject string // what step was about, e.g. "org/name" for stepSelected
	err     error
	note    string // added to the hint
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// apiError is a GitHub error answer, stripped of go-github types.
type apiError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("GitHub answered %d %s to %s %s", e.Status, http.StatusText(e.Status), e.Method, e.Path)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// response digs the HTTP answer out of a go-github error.
func response(err error) (*http.Response, string, []github.Error) {
	var er *github.ErrorResponse
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var tf *github.TwoFactorAuthError
	switch {
	case errors.As(err, &rl):
		return rl.Response, rl.Message, nil
	case errors.As(err, &ab):
		return ab.Response, ab.Message, nil
	case errors.As(err, &er):
		return er.Response, er.Message, er.Errors
	case errors.As(err, &tf):
		return tf.Response, tf.Message, tf.Errors
	}
	return nil, "", nil
}

func statusOf(err error) int {
	if resp, _, _ := response(err); resp != nil {
		return resp.StatusCode
	}
	return 0
}

// oneLine folds GitHub's multi-line messages ("Invalid request.\n\n...").
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// wrap turns any failure into a *target.Error with the retry
// classification and a hint that says what to do.
func (s *Store) wrap(ctx context.Context, op string, t target.Target, err error) error {
	te := &target.Error{Op: op, Target: t.String(), Err: err}
	var se *stepError
	if !errors.As(err, &se) {
		se = &stepError{step: stepLocal, err: err}
	}
	resp, msg, fields := response(err)
	switch {
	case resp != nil:
		ae := &apiError{Status: resp.StatusCode, Message: oneLine(msg)}
		if resp.Request != nil {
			ae.Method, ae.Path = resp.Request.Method, resp.Request.URL.EscapedPath()
		}
		for _, f := range fields {
			if f.Message != "" {
				ae.Message += " (" + oneLine(f.Message) + ")"
			} else if f.Field != "" {
				ae.Message += fmt.Sprintf(" (%s: %s)", f.Field, f.Code)
			}
		}
		te.Err, te.Status = ae, resp.StatusCode
		te.Retryable, te.PushBack, te.RetryAfter = classify(resp.StatusCode, resp.Header, msg, s.now())
		var ab *github.AbuseRateLimitError
		if te.RetryAfter == 0 && len(resp.Header) == 0 && errors.As(err, &ab) && ab.RetryAfter != nil {
			// A go-github answer made up without a request carries the wait itself.
			te.RetryAfter = *ab.RetryAfter
		}
		if te.PushBack {
			te.Hint = "GitHub asked to slow down (rate limit); astro-ci waits and lowers its concurrency"
		} else {
			te.Hint = s.hint(t, se, resp.StatusCode, resp.Header)
		}
		if resp.StatusCode == http.StatusUnauthorized && s.appKey != nil &&
			(se.step == stepSecret || se.step == stepEnv || se.step == stepEnvPut || se.step == stepEnvDel) {
			// The installation token was refused: mint another next time.
			// (With create_environment=true a write starts at stepEnv.)
			s.forgetToken(ctx, t)
			te.Retryable = true
		}
	case ctx.Err() != nil:
		// Cancelled or timed out by the caller: not GitHub's doing.
		te.Err = transportError(err)
	case se.step == stepLocal || se.step == stepProof:
		// Configuration, sealing, or a permission a read showed missing:
		// retrying will not help.
	default:
		// No answer: connection refused, reset, timeout. Transient.
		te.Err = transportError(err)
		te.Retryable = true
	}
	if se.note != "" {
		te.Hint = strings.TrimPrefix(te.Hint+"; "+se.note, "; ")
	}
	return te
}

// transportError keeps the cause of a failed exchange but drops the
// doubled "Put URL: Put URL:" of nested *url.Error (go-github's client
// wraps the injected client's error).
func transportError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	cause := ue.Err
	for {
		var inner *url.Error
		if !errors.As(cause, &inner) {
			break
		}
		cause = inner.Err
	}
	u, _ := url.Parse(ue.URL)
	path := ue.URL
	if u != nil {
		path = u.EscapedPath()
	}
	return fmt.Errorf("%s %s: no answer from GitHub: %w", strings.ToUpper(ue.Op), path, cause)
}

// classify says whether a GitHub answer is worth retrying, whether GitHub
// asked to slow down, and how long it asked to wait, following GitHub's
// rules (github-secrets.md §3): obey retry-after; else, when
// x-ratelimit-remaining is 0, wait until x-ratelimit-reset; else, for a
// secondary limit, wait a minute.
func classify(status int, h http.Header, msg string, now time.Time) (retryable, pushBack bool, after time.Duration) {
	limited := status == http.StatusForbidden || status == http.StatusTooManyRequests
	secondary := limited && (strings.Contains(strings.ToLower(msg), "secondary rate limit") || h.Get("Retry-After") != "")
	primary := limited && h.Get("X-RateLimit-Remaining") == "0"
	switch {
	case status == http.StatusTooManyRequests || secondary || primary:
		retryable, pushBack = true, true
	case status >= 500:
		retryable = true
	default:
		return false, false, 0
	}
	if d, ok := retryAfter(h.Get("Retry-After"), now); ok {
		return retryable, pushBack, d
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return retryable, pushBack, max(time.Unix(reset, 0).Sub(now), 0)
		}
	}
	if secondary || status == http.StatusTooManyRequests {
		return retryable, pushBack, time.Minute
	}
	return retryable, pushBack, 0
}

// retryAfter reads Retry-After: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// hint says what to do about a GitHub answer.
func (s *Store) hint(t target.Target, se *stepError, status int, h http.Header) string {
	app := s.appKey != nil
	accepted := ""
	if v := h.Get("X-Accepted-GitHub-Permissions"); v != "" {
		accepted = " (GitHub accepts: " + v + ")"
	}
	where := t.Owner + "/" + t.Repo
	switch se.step {
	case stepInstall, stepToken:
		switch status {
		case http.StatusUnauthorized:
			return "GitHub rejected the GitHub App JWT: check the app id (ASTRO_CI_GITHUB_APP_ID), the private key (ASTRO_CI_GITHUB_APP_PRIVATE_KEY) and this machine's clock"
		case http.StatusNotFound:
			if se.step == stepInstall {
				return "the GitHub App is not installed on " + se.subject + ": install it there (with access to the repository), or set the installation id"
			}
			return "the GitHub App installation was not found: check the installation id"
		case http.StatusForbidden, http.StatusUnprocessableEntity:
			return "GitHub refused an installation token for " + se.subject + accepted + ": check the app's permissions and that the installation is not suspended"
		}
		return ""
	case stepSelected:
		switch status {
		case http.StatusNotFound:
			return "repository " + se.subject + " (listed in repos=) not found or not visible to this token"
		case http.StatusForbidden:
			return "the token cannot read repository " + se.subject + " (listed in repos=); it needs Metadata: read on it" + accepted
		}
	case stepRepo:
		if status == http.StatusNotFound {
			return where + " not found or not visible to this token"
		}
	case stepEnv:
		if status == http.StatusNotFound {
			return "environment " + strconv.Quote(t.Environment) + " does not exist in " + where + ": create the environment first (Settings → Environments) or use a repository secret, " +
				"or add ?create_environment=true to the target to let astro-ci create it (needs Administration: write)"
		}
	case stepEnvPut:
		switch status {
		case http.StatusForbidden, http.StatusNotFound:
			h := "creating environment " + strconv.Quote(t.Environment) + " (?create_environment=true) needs " + adminPerm(where, app)
			if status == http.StatusNotFound {
				h = where + " not found or not visible to this token, or " + h
			}
			return h + accepted + "; or create the environment by hand (Settings → Environments) or let a workflow job with `environment: " + t.Environment + "` create it, then drop ?create_environment=true"
		case http.StatusUnprocessableEntity:
			return "GitHub refused to create environment " + strconv.Quote(t.Environment) + " in " + where + ": check the name (at most 255 characters)"
		}
	case stepEnvDel:
		if status == http.StatusForbidden {
			return "with ?create_environment=true the environment belongs to the preview and is deleted with its secret; deleting environment " + strconv.Quote(t.Environment) + " needs " + adminPerm(where, app) + accepted +
				"; delete it by hand (Settings → Environments), or drop ?create_environment=true to keep it"
		}
	}
	switch status {
	case http.StatusUnauthorized:
		if app {
			return "GitHub rejected the GitHub App installation token (revoked or expired); a new one is minted on the next attempt"
		}
		return "the GitHub token is invalid or expired (ASTRO_CI_GITHUB_TOKEN / GITHUB_TOKEN)"
	case http.StatusForbidden:
		return forbiddenHint(t, app) + accepted
	case http.StatusNotFound:
		suffix := " not found or not visible to this token"
		if app {
			suffix = " not found or not visible to the GitHub App installation (is the app installed with access to it?)"
		}
		switch t.Kind {
		case target.KindOrgSecret:
			return "organization " + t.Org + suffix
		case target.KindEnvSecret:
			if t.CreateEnvironment {
				return where + " or its environment " + strconv.Quote(t.Environment) + suffix
			}
			return where + " or its environment " + strconv.Quote(t.Environment) + suffix + " (an environment must exist first: Settings → Environments, or add ?create_environment=true to the target to let astro-ci create it)"
		}
		return where + suffix
	case http.StatusUnprocessableEntity:
		if !validName(t.Name) {
			return "secret names may contain only letters, digits and _, must not start with a digit or GITHUB_"
		}
		return "GitHub refused the value; if it names the key, the secret store's public key changed twice in a row, so retry"
	case http.StatusConflict:
		return "GitHub reported a conflict; retry"
	}
	if status >= 500 {
		return "a transient GitHub failure; retry later if it persists"
	}
	return ""
}

// forbiddenHint names the permission a target needs, for a PAT or an app.
func forbiddenHint(t target.Target, app bool) string {
	where := t.Owner + "/" + t.Repo
	if app {
		switch t.Kind {
		case target.KindOrgSecret:
			return "the GitHub App needs the organization permission Secrets: write on " + t.Org
		case target.KindEnvSecret:
			return "the GitHub App needs the repository permissions Secrets: write and Environments: read on " + where
		case target.KindDependabot:
			return "the GitHub App needs the repository permission Dependabot secrets: write on " + where
		}
		return "the GitHub App needs the repository permission Secrets: write on " + where
	}
	switch t.Kind {
	case target.KindOrgSecret:
		return "the token needs the Organization permission Secrets: write on " + t.Org + " (classic: admin:org); GITHUB_TOKEN cannot write secrets"
	case target.KindEnvSecret:
		return "the token needs the fine-grained permissions Secrets: write and Environments: read on " + where + ", or a classic PAT with repo scope; GITHUB_TOKEN cannot write secrets"
	case target.KindDependabot:
		return "the token needs the fine-grained permission Dependabot secrets: write on " + where + ", or a classic PAT with repo scope; GITHUB_TOKEN cannot write secrets"
	}
	return "the token needs the fine-grained permission Secrets: write on " + where + ", or a classic PAT with repo scope; GITHUB_TOKEN cannot write secrets"
}

// adminPerm names the permission that creates and deletes environments.
func adminPerm(where string, app bool) string {
	if app {
		return "the GitHub App's repository permission Administration: write on " + where
	}
	return "the fine-grained permission Administration: write on " + where + " (classic PAT: repo scope, as a repository admin)"
}

func validName(n string) bool {
	if n == "" || strings.HasPrefix(strings.ToUpper(n), "GITHUB_") || (n[0] >= '0' && n[0] <= '9') {
		return false
	}
	for _, r := range n {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}
