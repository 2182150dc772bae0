package githubfake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakefault"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Now is the fake's clock: secret timestamps, token and JWT expiry and
	// the rate-limit window read it. Default time.Now.
	Now func() time.Time
	// Rand feeds key pairs, key ids and minted tokens. Default crypto/rand.
	// Reads are serialised, so any io.Reader works.
	Rand io.Reader
	// Limits are the secondary rate limits the fake enforces;
	// DocumentedLimits() are GitHub's. The zero value enforces none.
	Limits SecondaryLimits
	// LegacyEnvironmentSecrets serves environment secrets only under
	// /repositories/{repository_id}/environments/{environment_name}/secrets…,
	// as older GitHub Enterprise Server releases do; the
	// /repos/{owner}/{repo}/environments/{environment_name}/secrets… form
	// then answers 404. Environments themselves stay under /repos/….
	LegacyEnvironmentSecrets bool
}

// Server is the fake GitHub REST API. It implements http.Handler, serves at
// "/" and under "/api/v3", and is safe for concurrent use.
type Server struct {
	now func() time.Time

	randMu sync.Mutex
	rand   io.Reader

	mu              sync.Mutex
	seq             int64
	accounts        map[string]*account // by lower-case login
	repos           map[string]*repo    // by lower-case "owner/name"
	reposByID       map[int64]*repo
	tokens          map[string]*credential // by value
	apps            map[string]*app        // by app id
	installations   map[int64]*installation
	rate            rateWindow
	decryptFailures int
	patSeq          int

	limits   SecondaryLimits
	legacy   bool
	inFlight atomic.Int32
	points   map[string]*window // by endpoint ("PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}")
	content  [2]window          // content creation: per minute, per hour

	logMu    sync.Mutex
	requests []Request
	faults   fakefault.Registry[Fault]
	reqSeq   uint64
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string // escaped URL path as received, base path included, no query
	Status int    // status sent; 0 when the connection was dropped
	// Token labels the credential used (TokenPerms.Label, "app-<id>" for an
	// app JWT, "installation-<id>" for an installation token); never the
	// value. "" when there was none or it was not recognised.
	Token string
	Fault bool // a fault shaped this request
	// At is the fake's time when the request arrived, to the nanosecond.
	At time.Time
	// Limited names the secondary limit that refused the request
	// ("concurrency", "points", "content"); "" when none did.
	Limited string
}

// New returns an empty Server: add organizations, repositories,
// environments, tokens and apps before use.
func New(o Options) *Server {
	s := &Server{
		now:           o.Now,
		rand:          o.Rand,
		accounts:      map[string]*account{},
		repos:         map[string]*repo{},
		reposByID:     map[int64]*repo{},
		tokens:        map[string]*credential{},
		apps:          map[string]*app{},
		installations: map[int64]*installation{},
		seq:           1000,
		limits:        o.Limits,
		legacy:        o.LegacyEnvironmentSecrets,
		points:        map[string]*window{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	s.rate = rateWindow{limit: defaultRateLimit, remaining: defaultRateLimit, reset: s.clock().Add(time.Hour)}
	return s
}

// clock is the fake's time in UTC, whole seconds: the wire carries seconds.
func (s *Server) clock() time.Time { return s.now().UTC().Truncate(time.Second) }

// ---------------------------------------------------------------------------
// Randomness

type lockedReader struct{ s *Server }

func (l lockedReader) Read(p []byte) (int, error) {
	l.s.randMu.Lock()
	defer l.s.randMu.Unlock()
	return io.ReadFull(l.s.rand, p)
}

func (s *Server) randReader() io.Reader { return lockedReader{s} }

func (s *Server) randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := s.randReader().Read(b); err != nil {
		panic(fmt.Sprintf("githubfake: reading randomness: %v", err))
	}
	return b
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randFrom draws n characters of alphabet uniformly (rejection sampling).
func (s *Server) randFrom(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	for len(out) < n {
		for _, b := range s.randBytes(n) {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

func (s *Server) randDigits(n int) string {
	d := s.randFrom("0123456789", n)
	if d[0] == '0' {
		d = "1" + d[1:]
	}
	return d
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// ---------------------------------------------------------------------------
// Routing

// handlerFunc runs with s.mu held and returns the status and the JSON body
// (nil for none).
type handlerFunc func(s *Server, c *call) (int, any)

type route struct {
	method  string
	pattern []string // literal segments, "{name}" for parameters
	opID    string   // operationId in GitHub's description
	doc     string   // documentation_url of its errors
	jwt     bool     // needs an app JWT
	h       handlerFunc
}

const (
	formModern = 1
	formLegacy = 2
)

// form says which environment-secret form the route belongs to: 0 for
// routes served always, formModern for those served only without
// LegacyEnvironmentSecrets, formLegacy for those served only with it.
func (rt *route) form() int {
	switch {
	case rt.pattern[0] == "repositories":
		return formLegacy
	case len(rt.pattern) >= 6 && rt.pattern[0] == "repos" && rt.pattern[3] == "environments" && rt.pattern[5] == "secrets":
		return formModern
	}
	return 0
}

// endpoint names the route for the per-endpoint points budget.
func (rt *route) endpoint() string { return rt.method + " /" + strings.Join(rt.pattern, "/") }

const docsBase = "https://docs.github.com/rest"

var routes = []route{
	{"GET", split("/rate_limit"), "rate-limit/get", "/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user", false, (*Server).getRateLimit},
	{"GET", split("/app"), "apps/get-authenticated", "/apps/apps#get-the-authenticated-app", true, (*Server).getApp},
	{"POST", split("/app/installations/{installation_id}/access_tokens"), "apps/create-installation-access-token", "/apps/apps#create-an-installation-access-token-for-an-app", true, (*Server).createInstallationToken},
	{"GET", split("/orgs/{org}"), "orgs/get", "/orgs/orgs#get-an-organization", false, (*Server).getOrg},
	{"GET", split("/orgs/{org}/installation"), "apps/get-org-installation", "/apps/apps#get-an-organization-installation-for-the-authenticated-app", true, (*Server).getOrgInstallation},
	{"GET", split("/orgs/{org}/actions/secrets"), "actions/list-org-secrets", "/actions/secrets#list-organization-secrets", false, secretsHandler(scopeOrg, (*Server).listSecrets)},
	{"GET", split("/orgs/{org}/actions/secrets/public-key"), "actions/get-org-public-key", "/actions/secrets#get-an-organization-public-key", false, secretsHandler(scopeOrg, (*Server).getPublicKey)},
	{"GET", split("/orgs/{org}/actions/secrets/{secret_name}"), "actions/get-org-secret", "/actions/secrets#get-an-organization-secret", false, secretsHandler(scopeOrg, (*Server).getSecret)},
	{"PUT", split("/orgs/{org}/actions/secrets/{secret_name}"), "actions/create-or-update-org-secret", "/actions/secrets#create-or-update-an-organization-secret", false, secretsHandler(scopeOrg, (*Server).putSecret)},
	{"DELETE", split("/orgs/{org}/actions/secrets/{secret_name}"), "actions/delete-org-secret", "/actions/secrets#delete-an-organization-secret", false, secretsHandler(scopeOrg, (*Server).deleteSecret)},
	{"GET", split("/orgs/{org}/actions/secrets/{secret_name}/repositories"), "actions/list-selected-repos-for-org-secret", "/actions/secrets#list-selected-repositories-for-an-organization-secret", false, secretsHandler(scopeOrg, (*Server).listSelectedRepos)},
	{"PUT", split("/orgs/{org}/actions/secrets/{secret_name}/repositories"), "actions/set-selected-repos-for-org-secret", "/actions/secrets#set-selected-repositories-for-an-organization-secret", false, secretsHandler(scopeOrg, (*Server).setSelectedRepos)},
	{"GET", split("/repos/{owner}/{repo}"), "repos/get", "/repos/repos#get-a-repository", false, (*Server).getRepo},
	{"GET", split("/repos/{owner}/{repo}/installation"), "apps/get-repo-installation", "/apps/apps#get-a-repository-installation-for-the-authenticated-app", true, (*Server).getRepoInstallation},
	{"GET", split("/repos/{owner}/{repo}/actions/secrets"), "actions/list-repo-secrets", "/actions/secrets#list-repository-secrets", false, secretsHandler(scopeRepo, (*Server).listSecrets)},
	{"GET", split("/repos/{owner}/{repo}/actions/secrets/public-key"), "actions/get-repo-public-key", "/actions/secrets#get-a-repository-public-key", false, secretsHandler(scopeRepo, (*Server).getPublicKey)},
	{"GET", split("/repos/{owner}/{repo}/actions/secrets/{secret_name}"), "actions/get-repo-secret", "/actions/secrets#get-a-repository-secret", false, secretsHandler(scopeRepo, (*Server).getSecret)},
	{"PUT", split("/repos/{owner}/{repo}/actions/secrets/{secret_name}"), "actions/create-or-update-repo-secret", "/actions/secrets#create-or-update-a-repository-secret", false, secretsHandler(scopeRepo, (*Server).putSecret)},
	{"DELETE", split("/repos/{owner}/{repo}/actions/secrets/{secret_name}"), "actions/delete-repo-secret", "/actions/secrets#delete-a-repository-secret", false, secretsHandler(scopeRepo, (*Server).deleteSecret)},
	{"GET", split("/repos/{owner}/{repo}/dependabot/secrets"), "dependabot/list-repo-secrets", "/dependabot/secrets#list-repository-secrets", false, secretsHandler(scopeDependabot, (*Server).listSecrets)},
	{"GET", split("/repos/{owner}/{repo}/dependabot/secrets/public-key"), "dependabot/get-repo-public-key", "/dependabot/secrets#get-a-repository-public-key", false, secretsHandler(scopeDependabot, (*Server).getPublicKey)},
	{"GET", split("/repos/{owner}/{repo}/dependabot/secrets/{secret_name}"), "dependabot/get-repo-secret", "/dependabot/secrets#get-a-repository-secret", false, secretsHandler(scopeDependabot, (*Server).getSecret)},
	{"PUT", split("/repos/{owner}/{repo}/dependabot/secrets/{secret_name}"), "dependabot/create-or-update-repo-secret", "/dependabot/secrets#create-or-update-a-repository-secret", false, secretsHandler(scopeDependabot, (*Server).putSecret)},
	{"DELETE", split("/repos/{owner}/{repo}/dependabot/secrets/{secret_name}"), "dependabot/delete-repo-secret", "/dependabot/secrets#delete-a-repository-secret", false, secretsHandler(scopeDependabot, (*Server).deleteSecret)},
	{"GET", split("/repos/{owner}/{repo}/environments/{environment_name}"), "repos/get-environment", "/deployments/environments#get-an-environment", false, (*Server).getEnvironment},
	{"PUT", split("/repos/{owner}/{repo}/environments/{environment_name}"), "repos/create-or-update-environment", "/deployments/environments#create-or-update-an-environment", false, (*Server).putEnvironment},
	{"DELETE", split("/repos/{owner}/{repo}/environments/{environment_name}"), "repos/delete-an-environment", "/deployments/environments#delete-an-environment", false, (*Server).deleteEnvironment},
}

// envSecretRoutes are the environment secret routes in both forms: the
// /repos/{owner}/{repo} one of today's description, and the
// /repositories/{repository_id} one of older GitHub Enterprise Server.
func envSecretRoutes() []route {
	var out []route
	for _, r := range []struct {
		method, suffix, opID, doc string
		h                         func(s *Server, c *call, sc *scopeCall) (int, any)
	}{
		{"GET", "/secrets", "actions/list-environment-secrets", "/actions/secrets#list-environment-secrets", (*Server).listSecrets},
		{"GET", "/secrets/public-key", "actions/get-environment-public-key", "/actions/secrets#get-an-environment-public-key", (*Server).getPublicKey},
		{"GET", "/secrets/{secret_name}", "actions/get-environment-secret", "/actions/secrets#get-an-environment-secret", (*Server).getSecret},
		{"PUT", "/secrets/{secret_name}", "actions/create-or-update-environment-secret", "/actions/secrets#create-or-update-an-environment-secret", (*Server).putSecret},
		{"DELETE", "/secrets/{secret_name}", "actions/delete-environment-secret", "/actions/secrets#delete-an-environment-secret", (*Server).deleteSecret},
	} {
		h := secretsHandler(scopeEnv, r.h)
		out = append(out,
			route{method: r.method, pattern: split("/repos/{owner}/{repo}/environments/{environment_name}" + r.suffix), opID: r.opID, doc: r.doc, h: h},
			route{method: r.method, pattern: split("/repositories/{repository_id}/environments/{environment_name}" + r.suffix), opID: r.opID, doc: r.doc, h: h})
	}
	return out
}

func init() { routes = append(routes, envSecretRoutes()...) }

func split(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// match finds the route of method and escaped path. Literal segments win
// over parameters ("public-key" is not a secret name: it has a hyphen).
// Routes of the other environment-secret form are not served (legacy says
// which form this server has).
func match(method, escapedPath string, legacy bool) (*route, map[string]string) {
	if escapedPath == "" || escapedPath == "/" || strings.HasSuffix(escapedPath, "/") || strings.Contains(escapedPath, "//") {
		return nil, nil
	}
	segs := split(escapedPath)
	var best *route
	var bestParams map[string]string
	bestLiterals := -1
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.pattern) != len(segs) {
			continue
		}
		if f := rt.form(); (f == formModern && legacy) || (f == formLegacy && !legacy) {
			continue
		}
		params := map[string]string{}
		literals, ok := 0, true
		for j, p := range rt.pattern {
			if strings.HasPrefix(p, "{") {
				v, err := url.PathUnescape(segs[j])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[strings.Trim(p, "{}")] = v
				continue
			}
			if p != segs[j] {
				ok = false
				break
			}
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestParams, bestLiterals = rt, params, literals
		}
	}
	return best, bestParams
}

// call is the per-request state handed to handlers.
type call struct {
	r       *http.Request
	rt      *route
	params  map[string]string
	query   url.Values
	body    []byte
	bodyErr error
	caller  *principal
	header  http.Header // response header, for Link and X-Accepted-GitHub-Permissions
	apiBase string      // scheme://host[/api/v3], for the URLs in bodies
	webBase string      // scheme://host
	limited string      // the secondary limit that refused the request
}

// ---------------------------------------------------------------------------
// ServeHTTP

const (
	maxBody = 1 << 20
	ghes    = "/api/v3"
)

// supportedVersions are the REST API versions GitHub accepts in
// X-GitHub-Api-Version (github-secrets.md §1); others get 400.
var supportedVersions = map[string]bool{"2022-11-28": true, "2026-03-10": true}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	escaped := r.URL.EscapedPath()
	entry := Request{Method: r.Method, Path: escaped, At: s.now()}
	defer func() { s.logRequest(entry) }()
	// Counted from arrival to answer, as GitHub counts concurrent requests.
	inFlight := int(s.inFlight.Add(1))
	defer s.inFlight.Add(-1)

	apiPath, prefix := escaped, ""
	if rest, ok := strings.CutPrefix(escaped, ghes); ok && (rest == "" || rest[0] == '/') {
		apiPath, prefix = rest, ghes
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	w.Header().Set("X-GitHub-Request-Id", s.nextRequestID())
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	entry.Token = s.labelOf(r)

	rt, params := match(r.Method, apiPath, s.legacy)
	f := s.takeFault(r.Method, apiPath)
	if f != nil {
		entry.Fault = true
		w.Header().Set("X-Fake-Fault", "1")
		if f.Latency > 0 && wait.Sleep(r.Context(), f.Latency) != nil {
			return // the client is gone; nothing to answer
		}
	}

	run := func() (int, any) {
		if v := r.Header.Get("X-GitHub-Api-Version"); v != "" && !supportedVersions[v] {
			return errBody(http.StatusBadRequest, docsBase+"/about-the-rest-api/api-versions", "API version %s is not supported.", v)
		}
		if rt == nil {
			return errBody(http.StatusNotFound, docsBase, "Not Found")
		}
		c := &call{
			r: r, rt: rt, params: params, query: r.URL.Query(), header: w.Header(),
			webBase: scheme + "://" + r.Host,
		}
		c.apiBase = c.webBase + prefix
		if r.Body != nil {
			c.body, c.bodyErr = io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
		}
		// One lock for authentication, rate accounting and the operation.
		s.mu.Lock()
		defer s.mu.Unlock()
		defer func() { entry.Limited = c.limited }()
		p, code, body := s.authenticateLocked(c)
		if p == nil {
			return code, body
		}
		c.caller = p
		if code, body, ok := s.chargeLocked(c); !ok {
			return code, body
		}
		if code, body, ok := s.secondaryLocked(c, inFlight); !ok {
			return code, body
		}
		return rt.h(s, c)
	}

	if f != nil && (f.Status != 0 || f.Drop || f.Secondary) {
		if f.AfterApply {
			run() // apply, then lose the answer
		}
		if f.Drop {
			entry.Status = 0
			drop(w)
			return
		}
		code, body := faultAnswer(f)
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		entry.Status = code
		s.write(w, code, body)
		return
	}

	code, body := run()
	entry.Status = code
	s.write(w, code, body)
}

// drop closes the connection without a response: hijack when possible,
// otherwise abort the handler, which makes net/http close the connection.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// write sends a result: no body for 204 (or a nil body), JSON otherwise,
// with the rate-limit headers GitHub puts on every response.
func (s *Server) write(w http.ResponseWriter, code int, body any) {
	s.rateHeaders(w.Header())
	if code == http.StatusNoContent || body == nil {
		w.WriteHeader(code)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(&wireError{Message: "Server Error", DocumentationURL: docsBase, Status: "500"})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// nextRequestID numbers requests; it draws nothing from Options.Rand, so a
// test's fixed randomness feeds keys and tokens only.
func (s *Server) nextRequestID() string {
	s.logMu.Lock()
	s.reqSeq++
	n := s.reqSeq
	s.logMu.Unlock()
	return fmt.Sprintf("FAKE:%08X", n)
}

func (s *Server) logRequest(e Request) {
	s.logMu.Lock()
	s.requests = append(s.requests, e)
	s.logMu.Unlock()
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	s.requests = nil
	s.logMu.Unlock()
}

// ---------------------------------------------------------------------------
// Errors

// wireError is GitHub's error body (basic-error, plus errors[] on 422).
type wireError struct {
	Message          string           `json:"message"`
	Errors           []wireFieldError `json:"errors,omitempty"`
	DocumentationURL string           `json:"documentation_url"`
	Status           string           `json:"status"`
}

type wireFieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

func errBody(code int, doc, format string, args ...any) (int, any) {
	return code, &wireError{Message: fmt.Sprintf(format, args...), DocumentationURL: doc, Status: strconv.Itoa(code)}
}

// fail answers with the route's documentation URL, as GitHub does.
func (c *call) fail(code int, format string, args ...any) (int, any) {
	return errBody(code, docsBase+c.rt.doc, format, args...)
}

func (c *call) notFound() (int, any) { return c.fail(http.StatusNotFound, "Not Found") }

// invalid is a 422 Validation Failed naming one field.
func (c *call) invalid(resource, field, code, msg string) (int, any) {
	return http.StatusUnprocessableEntity, &wireError{
		Message:          "Validation Failed",
		Errors:           []wireFieldError{{Resource: resource, Field: field, Code: code, Message: msg}},
		DocumentationURL: docsBase + c.rt.doc,
		Status:           "422",
	}
}

// ---------------------------------------------------------------------------
// Primary rate limit

const defaultRateLimit = 5000

type rateWindow struct {
	limit, remaining, used int
	reset                  time.Time
}

// rollLocked starts a new window once the reset time has passed.
func (s *Server) rollLocked() {
	now := s.clock()
	if !now.Before(s.rate.reset) {
		s.rate = rateWindow{limit: s.rate.limit, remaining: s.rate.limit, reset: now.Add(time.Hour)}
	}
}

// SetPrimaryLimit leaves remaining requests in the current window, which
// ends at reset; after them every request gets 403 with
// x-ratelimit-remaining: 0 until reset.
func (s *Server) SetPrimaryLimit(remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate.remaining = max(remaining, 0)
	s.rate.used = max(s.rate.limit-s.rate.remaining, 0)
	s.rate.reset = reset.UTC().Truncate(time.Second)
}

// chargeLocked counts an authenticated request against the window, or
// answers 403 when the window is exhausted. GET /rate_limit is free, as on
// GitHub.
func (s *Server) chargeLocked(c *call) (int, any, bool) {
	s.rollLocked()
	if c.rt.opID == "rate-limit/get" {
		return 0, nil, true
	}
	if s.rate.remaining <= 0 {
		code, body := errBody(http.StatusForbidden,
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-rate-limit",
			"API rate limit exceeded for %s. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)", c.caller.label)
		return code, body, false
	}
	s.rate.remaining--
	s.rate.used++
	return 0, nil, true
}

func (s *Server) rateHeaders(h http.Header) {
	s.mu.Lock()
	s.rollLocked()
	rw := s.rate
	s.mu.Unlock()
	h.Set("X-RateLimit-Limit", strconv.Itoa(rw.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rw.remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(rw.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(rw.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// ---------------------------------------------------------------------------
// Faults

// Fault makes the server misbehave for matching requests; the first
// matching active fault (in injection order) applies.
type Fault struct {
	Method     string // "" = any
	PathPrefix string // API path prefix without /api/v3, e.g. "/repos/o/r/actions/secrets"; "" = any
	// Status answers with this status and a GitHub error body instead of
	// handling the request; 0 = handle normally (unless Secondary or Drop).
	Status     int
	RetryAfter string // Retry-After header value sent with the answer
	// Secondary answers as a secondary rate limit: Status (default 403)
	// with "You have exceeded a secondary rate limit" and its documentation
	// URL.
	Secondary  bool
	Latency    time.Duration // sleep before answering (ends early when the client goes away)
	Drop       bool          // close the connection without a response
	AfterApply bool          // handle the request first, then answer with Status / Drop: a lost answer
	Times      int           // number of requests affected; 0 = unlimited
}

// InjectFault adds a fault; remove deletes it. Responses shaped by a fault
// carry X-Fake-Fault: 1.
func (s *Server) InjectFault(f Fault) (remove func()) { return s.faults.Add(f, f.Times) }

func (s *Server) takeFault(method, apiPath string) *Fault {
	f, ok := s.faults.Take(func(f Fault) bool {
		return (f.Method == "" || strings.EqualFold(f.Method, method)) && strings.HasPrefix(apiPath, f.PathPrefix)
	})
	if !ok {
		return nil
	}
	return &f
}

// secondaryBody is GitHub's answer to a request over a secondary limit.
func secondaryBody(code int) (int, any) {
	return errBody(code, "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.")
}

func faultAnswer(f *Fault) (int, any) {
	code := f.Status
	if f.Secondary {
		if code == 0 {
			code = http.StatusForbidden
		}
		return secondaryBody(code)
	}
	msg := http.StatusText(code)
	if code == http.StatusServiceUnavailable {
		msg = "Secrets service unavailable" // what GitHub says (cli/cli #9758)
	}
	if msg == "" {
		msg = fmt.Sprintf("status %d", code)
	}
	return errBody(code, docsBase, "%s", msg)
}
