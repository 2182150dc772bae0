package gitlabstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Operations, as target.Error.Op.
const (
	opPreflight = "preflight"
	opWrite     = "write"
	opDelete    = "delete"
)

// notFound says what a 404 was about.
type notFound int

const (
	notFoundOther    notFound = iota // a resource (project, group) or unknown
	notFoundVariable                 // "404 Variable Not Found" / "404 GroupVariable Not Found"
)

// whatNotFound reads a 404 body. GitLab's not_found!(resource) renders
// {"message":"404 <Resource> Not Found"}.
func (x *exchange) whatNotFound() notFound {
	if x == nil || x.status != http.StatusNotFound {
		return notFoundOther
	}
	msg := gitlabMessage(x.body)
	if msg == "404 Variable Not Found" || msg == "404 GroupVariable Not Found" {
		return notFoundVariable
	}
	return notFoundOther
}

// gitlabMessage renders an error body the way a person should read it:
// {"message":"..."} as is; {"message":{"value":["is invalid"]}} as
// "value is invalid"; {"error":"...","error_description":"..."} as
// "error: description"; plain text as its first line; HTML as nothing.
func gitlabMessage(body []byte) string {
	b := strings.TrimSpace(string(body))
	if b == "" {
		return ""
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(b), &m); err != nil {
		if strings.HasPrefix(b, "<") {
			return ""
		}
		line, _, _ := strings.Cut(b, "\n")
		return clip(strings.TrimSpace(line))
	}
	var parts []string
	switch msg := m["message"].(type) {
	case string:
		parts = append(parts, msg)
	case map[string]any:
		keys := make([]string, 0, len(msg))
		for k := range msg {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			for _, e := range asStrings(msg[k]) {
				if k == "base" {
					parts = append(parts, e)
				} else {
					parts = append(parts, k+" "+e)
				}
			}
		}
	case []any:
		parts = append(parts, asStrings(msg)...)
	}
	if e, ok := m["error"].(string); ok {
		// OAuth-style: {"error":"invalid_token","error_description":"Token has expired."}
		if d, ok := m["error_description"].(string); ok && d != "" {
			e = d + " (" + e + ")"
		}
		parts = append(parts, e)
	}
	return clip(strings.Join(parts, "; "))
}

func asStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, asStrings(x)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, x := range v {
			for _, s := range asStrings(x) {
				out = append(out, k+" "+s)
			}
		}
		slices.Sort(out)
		return out
	}
	return nil
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// scrub removes every secret from s. GitLab does not echo values or
// tokens in its messages, but a proxy or a future version might; this is
// the last line of defence for every string an error carries.
func scrub(s string, secrets ...string) string {
	for _, x := range secrets {
		if len(x) >= 4 {
			s = strings.ReplaceAll(s, x, secret.Redacted)
		}
	}
	return s
}

// failure describes one failed call for classify.
type failure struct {
	op      string
	t       target.Target
	err     error     // what client-go returned
	x       *exchange // what the transport saw
	secrets []string  // values to scrub from every message, besides the token
}

// classify turns a failed client-go call into a *target.Error: the status,
// whether the fan-out should retry and slow down, how long GitLab asked it
// to wait, and what the user should do. No message carries a value or the
// token.
func (s *Store) classify(ctx context.Context, f failure) error {
	secrets := append([]string{s.token.Reveal()}, f.secrets...)
	te := &target.Error{Op: f.op, Target: f.t.String()}
	if ctx.Err() != nil {
		te.Err = ctx.Err()
		return te
	}
	if f.x == nil || f.x.status == 0 {
		// No response: connection refused or reset, timeout, TLS, DNS. The
		// request may or may not have been applied; every operation here is
		// safe to repeat (upsert, delete, fresh canary), so retry.
		te.Retryable = true
		te.Err = errors.New(scrub(fmt.Sprintf("cannot reach GitLab: %v", f.err), secrets...))
		te.Hint = fmt.Sprintf("check the GitLab API URL (CI_API_V4_URL, now %s) and the network", s.baseURL)
		return te
	}
	status := f.x.status
	te.Status = status
	msg := scrub(gitlabMessage(f.x.body), secrets...)
	text := fmt.Sprintf("GitLab answered %d %s", status, http.StatusText(status))
	if status < 300 {
		// A 2xx whose body client-go could not decode: cut short by a
		// reset, garbled by a proxy, or a page that is not the API. The
		// request may have been applied. Every operation here is safe to
		// repeat (an upsert that looks before it writes, a delete, a
		// fresh canary whose possible leftover is remembered), so retry:
		// the repeat reads a whole answer, or fails the same way and the
		// hint applies.
		te.Retryable = true
		te.Err = errors.New(scrub(fmt.Sprintf("%s with a body astro-ci cannot read: %v", text, f.err), secrets...))
		te.Hint = "check that the GitLab API URL points at /api/v4 of a GitLab instance"
		return te
	}
	if f.x.cut {
		// The answer broke off: whatever it said, it may not be what
		// happened, and every operation here is safe to repeat.
		te.Retryable = true
		te.Err = errors.New(text + " with an answer cut short")
		te.Hint = "the connection to GitLab broke in the middle of an answer"
		return te
	}
	// GitLab prefixes many messages with the status ("404 Project Not
	// Found"); say it once.
	msg = strings.TrimPrefix(msg, strconv.Itoa(status)+" ")
	if msg != "" && msg != http.StatusText(status) {
		text += ": " + msg
	}
	te.Err = errors.New(text)

	where := "project " + f.t.Project
	role := "Maintainer"
	if f.t.Kind == target.KindGroupVar {
		where, role = "group "+f.t.Group, "Owner"
	}
	switch {
	case status >= 300 && status < 400:
		te.Hint = "GitLab redirected the request, which astro-ci does not follow (it would resend the token): set the GitLab API URL to https://HOST/api/v4 of the instance itself"
	case status == http.StatusUnauthorized:
		te.Hint = "the GitLab token is invalid, expired or revoked (ASTRO_CI_GITLAB_TOKEN / GITLAB_TOKEN); CI_JOB_TOKEN is not accepted by the variables API"
	case status == http.StatusForbidden && strings.Contains(string(f.x.body), "insufficient_scope"):
		te.Hint = fmt.Sprintf("the token lacks the api scope (read_api is not enough): use a token with the api scope and the %s role on %s", role, where)
	case status == http.StatusForbidden:
		te.Hint = fmt.Sprintf("the token needs the %s role on %s and the api scope", role, where)
	case status == http.StatusNotFound:
		te.Hint = where + " not found or not visible to this token (check the path or use the numeric id)"
	case status == http.StatusConflict:
		te.Hint = "the variable exists in several environment scopes; name one with ?environment_scope="
	case status == http.StatusBadRequest && strings.Contains(msg, "value is invalid"):
		te.Hint = "GitLab would not mask the value; astro-ci never stores a token unmasked"
	case status == http.StatusTooManyRequests:
		te.Retryable, te.PushBack = true, true
		te.RetryAfter = s.retryAfter(f.x.header)
	case status == http.StatusRequestTimeout || (status >= 500 && status != http.StatusNotImplemented):
		te.Retryable = true
		te.RetryAfter = s.retryAfter(f.x.header)
	}
	return te
}

// retryAfter reads Retry-After (seconds or an HTTP date) and, failing
// that, GitLab's RateLimit-Reset (a Unix time).
func (s *Store) retryAfter(h http.Header) time.Duration { return waitOf(h, s.now()) }

func waitOf(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now))
		}
	}
	if v := strings.TrimSpace(h.Get("RateLimit-Reset")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return max(0, time.Unix(n, 0).Sub(now).Round(time.Second))
		}
	}
	return 0
}
