package astrofake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakefault"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Now is the fake's clock: token expiry, lastUsedAt, timestamps and the
	// CREATING→HEALTHY transition all read it. Default time.Now.
	Now func() time.Time
	// Rand feeds ids, the signing key, jti values and generated names.
	// Default crypto/rand. Reads are serialised, so any io.Reader works.
	Rand io.Reader
	// DeploymentReadyAfter is how long a deployment created through the API
	// reports CREATING before it reports HEALTHY. 0 means the default (2s);
	// a negative value means "healthy at once".
	DeploymentReadyAfter time.Duration
	// UIHost is the host suffix of uiUrl, apiUrl, webServerUrl and friends.
	// Default "astronomer.run".
	UIHost string
	// RegistryHost is the host[:port] in imageRepository values: where the
	// registry this Server serves under /v2/ is reached (registry.go).
	// Default "images.astronomer.cloud".
	RegistryHost string
	// DAGDeployAfter is how long after a finalize a Deployment still
	// reports its previous dagTarballVersion. 0: at once.
	DAGDeployAfter time.Duration
	// RegistryRefusesMount makes the registry answer every cross-repository
	// mount with an ordinary upload, as registries may.
	RegistryRefusesMount bool
	// RuntimeReleases are the Astro Runtime versions a new deployment may
	// ask for, as path.Match patterns ("12.*"); default DefaultRuntimeReleases.
	// Existing (seeded) deployments may run any version.
	RuntimeReleases []string
}

// Server is the fake Astro API. It implements http.Handler (mount it at the
// root: every route starts with /v1) and is safe for concurrent use.
type Server struct {
	now        func() time.Time
	readyAfter time.Duration
	uiHost     string
	runtimes   []string // offered for new deployments (Options.RuntimeReleases)

	regHost        string
	dagDeployAfter time.Duration
	refuseMount    bool
	regOnce        sync.Once

	randMu sync.Mutex
	rand   io.Reader

	key []byte // HS256 signing key, per Server
	kid string

	mu          sync.Mutex
	orgs        map[string]*organization
	workspaces  map[string]*workspace
	clusters    map[string]*cluster
	tokens      map[string]*token
	deployments map[string]*deployment
	seedUser    wireSubject
	seq         int64 // creation sequence, a tiebreak for equal timestamps
	code        codeState

	rotateVariant    RotateVariant
	omitTokenIDClaim bool
	issued           []string // every token value ever minted, for leak scans

	logMu    sync.Mutex
	requests []Request
	faults   fakefault.Registry[Fault]
	reqSeq   uint64
	reqSalt  string
}

// Request is one entry of the request log.
type Request struct {
	Method    string
	Path      string     // URL path, without the query
	Query     url.Values // parsed query
	Route     string     // operationId, "" when no route matched
	Status    int        // status sent; 0 when the connection was dropped or the client went away
	TokenID   string     // id of the authenticated caller, "" when unauthenticated
	RequestID string
	Fault     bool // a fault was applied to this request
}

// New returns a Server with no organizations. Seed it with AddOrganization,
// AddWorkspace, AddDeployment and MintToken.
func New(opts Options) *Server {
	s := &Server{
		now:         opts.Now,
		rand:        opts.Rand,
		readyAfter:  opts.DeploymentReadyAfter,
		uiHost:      opts.UIHost,
		regHost:     opts.RegistryHost,
		refuseMount: opts.RegistryRefusesMount,
		runtimes:    opts.RuntimeReleases,

		dagDeployAfter: opts.DAGDeployAfter,
		orgs:           map[string]*organization{},
		workspaces:     map[string]*workspace{},
		clusters:       map[string]*cluster{},
		tokens:         map[string]*token{},
		deployments:    map[string]*deployment{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.readyAfter == 0 {
		s.readyAfter = 2 * time.Second
	} else if s.readyAfter < 0 {
		s.readyAfter = 0
	}
	if s.uiHost == "" {
		s.uiHost = "astronomer.run"
	}
	if s.runtimes == nil {
		s.runtimes = DefaultRuntimeReleases
	}
	s.key = s.randBytes(32)
	s.kid = hex.EncodeToString(s.randBytes(8))
	s.reqSalt = hex.EncodeToString(s.randBytes(8))
	s.seedUser = wireSubject{
		ID:          s.newID(),
		SubjectType: "USER",
		FullName:    "Astro Fake Admin",
		Username:    "admin@astrofake.invalid",
	}
	return s
}

// clock returns the fake's current time in UTC, truncated to seconds: the
// wire carries whole seconds (astro-api.md §1), so state never holds more
// precision than a client can observe.
func (s *Server) clock() time.Time {
	return s.now().UTC().Truncate(time.Second)
}

// ---------------------------------------------------------------------------
// Routing

type handlerFunc func(s *Server, c *call) (int, any)

type route struct {
	method  string
	pattern []string // literal segments, "{name}" for parameters
	opID    string
	h       handlerFunc
}

var routes = []route{
	{"GET", split("/v1/organizations"), "ListOrganizations", (*Server).listOrganizations},
	{"GET", split("/v1/organizations/{organizationId}"), "GetOrganization", (*Server).getOrganization},
	{"GET", split("/v1/organizations/{organizationId}/workspaces"), "ListWorkspaces", (*Server).listWorkspaces},
	{"GET", split("/v1/organizations/{organizationId}/workspaces/{workspaceId}"), "GetWorkspace", (*Server).getWorkspace},
	{"GET", split("/v1/organizations/{organizationId}/tokens"), "ListApiTokens", (*Server).listTokens},
	{"POST", split("/v1/organizations/{organizationId}/tokens"), "CreateApiToken", (*Server).createToken},
	{"GET", split("/v1/organizations/{organizationId}/tokens/{tokenId}"), "GetApiToken", (*Server).getToken},
	{"POST", split("/v1/organizations/{organizationId}/tokens/{tokenId}"), "UpdateApiToken", (*Server).updateToken},
	{"DELETE", split("/v1/organizations/{organizationId}/tokens/{tokenId}"), "DeleteApiToken", (*Server).deleteToken},
	{"POST", split("/v1/organizations/{organizationId}/tokens/{tokenId}/roles"), "UpdateApiTokenRoles", (*Server).updateTokenRoles},
	{"POST", split("/v1/organizations/{organizationId}/tokens/{tokenId}/rotate"), "RotateApiToken", (*Server).rotateToken},
	{"GET", split("/v1/organizations/{organizationId}/deployments"), "ListDeployments", (*Server).listDeployments},
	{"POST", split("/v1/organizations/{organizationId}/deployments"), "CreateDeployment", (*Server).createDeployment},
	{"GET", split("/v1/organizations/{organizationId}/deployments/{deploymentId}"), "GetDeployment", (*Server).getDeployment},
	{"POST", split("/v1/organizations/{organizationId}/deployments/{deploymentId}"), "UpdateDeployment", (*Server).updateDeployment},
	{"DELETE", split("/v1/organizations/{organizationId}/deployments/{deploymentId}"), "DeleteDeployment", (*Server).deleteDeployment},
	{"POST", split("/v1/organizations/{organizationId}/deployments/{deploymentId}/hibernation-override"), "UpdateDeploymentHibernationOverride", (*Server).setHibernationOverride},
	{"DELETE", split("/v1/organizations/{organizationId}/deployments/{deploymentId}/hibernation-override"), "DeleteDeploymentHibernationOverride", (*Server).deleteHibernationOverride},
	{"GET", split("/v1/organizations/{organizationId}/deployments/{deploymentId}/deploys"), "ListDeploys", (*Server).listDeploys},
	{"POST", split("/v1/organizations/{organizationId}/deployments/{deploymentId}/deploys"), "CreateDeploy", (*Server).createDeploy},
	{"GET", split("/v1/organizations/{organizationId}/deployments/{deploymentId}/deploys/{deployId}"), "GetDeploy", (*Server).getDeploy},
	{"POST", split("/v1/organizations/{organizationId}/deployments/{deploymentId}/deploys/{deployId}"), "UpdateDeploy", (*Server).updateDeploy},
	{"POST", split("/v1/organizations/{organizationId}/deployments/{deploymentId}/deploys/{deployId}/finalize"), "FinalizeDeploy", (*Server).finalizeDeploy},
}

func split(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// match finds the route for method and path. When the path matches a route
// with another method it reports 405 and the allowed methods; when nothing
// matches, 404.
func match(method, path string) (*route, map[string]string, int, []string) {
	segs := split(path)
	if path == "" || path == "/" || strings.HasSuffix(path, "/") || strings.Contains(path, "//") {
		return nil, nil, http.StatusNotFound, nil
	}
	var allowed []string
	for i := range routes {
		rt := &routes[i]
		params, ok := matchPattern(rt.pattern, segs)
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, params, 0, nil
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		return nil, nil, http.StatusMethodNotAllowed, allowed
	}
	return nil, nil, http.StatusNotFound, nil
}

func matchPattern(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[strings.Trim(p, "{}")] = v
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// call is the per-request context handed to handlers.
type call struct {
	r      *http.Request
	params map[string]string
	query  url.Values
	caller *principal
	// body read once, before the handler runs (so a dropped connection or a
	// fault cannot leave a half-read body behind)
	body []byte
	// bodyErr is set when the body could not be read (too large)
	bodyErr error
}

// ---------------------------------------------------------------------------
// ServeHTTP

const maxBody = 1 << 20

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The registry (served when RegistryHost says where it is reached) and
	// the blob endpoint are not the API (registry.go, blob.go).
	if s.regHost != "" && (r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/")) {
		s.serveRegistry(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, blobPrefix) {
		s.serveBlob(w, r)
		return
	}
	reqID := s.nextRequestID()
	w.Header().Set("X-Request-Id", reqID)
	// Date from the fake's own clock (net/http would send the machine's):
	// clients read Astro's time from it, and tests move that clock.
	w.Header().Set("Date", s.clock().Format(http.TimeFormat))
	entry := Request{
		Method:    r.Method,
		Path:      r.URL.Path,
		Query:     cloneValues(r.URL.Query()),
		RequestID: reqID,
	}
	logged := false
	defer func() {
		if !logged {
			s.logRequest(entry)
		}
	}()

	rt, params, status, allowed := match(r.Method, r.URL.EscapedPath())
	if rt != nil {
		entry.Route = rt.opID
	}

	f := s.takeFault(r.Method, entry.Route)
	if f != nil {
		entry.Fault = true
		w.Header().Set("X-Fake-Fault", "1")
		if f.Latency > 0 && wait.Sleep(r.Context(), f.Latency) != nil {
			return // the client is gone; nothing to answer
		}
	}

	// The actual operation, run unless a fault answers before it.
	run := func() (int, any) {
		if rt == nil {
			if status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				return errorf(http.StatusMethodNotAllowed, "Method %s is not allowed on this resource", r.Method)
			}
			return errorf(http.StatusNotFound, "The requested resource was not found")
		}
		c := &call{r: r, params: params, query: r.URL.Query()}
		if r.Body != nil {
			b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
			c.body, c.bodyErr = b, err
		}
		// One lock for authentication and the operation: a concurrent
		// rotation or deletion of the caller cannot slip in between.
		s.mu.Lock()
		defer s.mu.Unlock()
		p, code, body := s.authenticateLocked(r)
		if p == nil {
			return code, body
		}
		entry.TokenID = p.tok.id
		c.caller = p
		if org := params["organizationId"]; org != "" && org != p.tok.orgID {
			return errorf(http.StatusForbidden, "You do not have permission to access this organization")
		}
		return rt.h(s, c)
	}

	if f != nil && f.Hold != nil && !f.HoldAfterApply {
		f.Hold(entry)
	}
	if f != nil && (f.Body != "" || f.Truncate) {
		// The operation is applied; its answer arrives unreadable.
		code, _ := run()
		entry.Status = code
		s.logRequest(entry)
		logged = true
		s.writeBroken(w, code, f)
		return
	}
	if f != nil && (f.Status != 0 || f.Drop) {
		if f.AfterApply {
			run() // apply, then lose the response
		}
		if f.Drop {
			// Logged before the connection closes: a client that retries at
			// once must find the first attempt in the log already.
			entry.Status = 0
			s.logRequest(entry)
			logged = true
			drop(w)
			return
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		code, body := errorf(f.Status, "%s", faultMessage(f.Status))
		entry.Status = code
		s.write(w, code, body, reqID)
		return
	}

	code, body := run()
	entry.Status = code
	if f != nil && f.Hold != nil && f.HoldAfterApply {
		f.Hold(entry)
	}
	s.write(w, code, body, reqID)
}

// writeBroken answers with f's garbage body, or with a body cut off after a
// few bytes (a promised Content-Length, then the connection closes).
func (s *Server) writeBroken(w http.ResponseWriter, code int, f *Fault) {
	w.Header().Set("Content-Type", "application/json")
	if f.Truncate {
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"id":"`))
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		drop(w)
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(f.Body))
}

func faultMessage(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", status)
}

// drop closes the connection without a response: hijack when the writer
// (or one it wraps) allows it, otherwise abort the handler, which makes
// net/http close the connection (HTTP/1) or reset the stream (HTTP/2).
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// write sends a handler's result: 204 without a body, anything else as JSON.
// Error bodies get the request id filled in here.
func (s *Server) write(w http.ResponseWriter, code int, body any, reqID string) {
	if e, ok := body.(*wireError); ok {
		e.RequestID = reqID
		e.StatusCode = code
	}
	if code == http.StatusNoContent || body == nil {
		w.WriteHeader(code)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(&wireError{Message: "internal error", RequestID: reqID, StatusCode: code})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func (s *Server) nextRequestID() string {
	s.logMu.Lock()
	s.reqSeq++
	n := s.reqSeq
	salt := s.reqSalt
	s.logMu.Unlock()
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", salt, n)))
	return "req_" + hex.EncodeToString(sum[:12])
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
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		out[i] = r
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	s.requests = nil
	s.logMu.Unlock()
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ---------------------------------------------------------------------------
// Faults

// Fault makes the server misbehave for matching requests. It is matched per
// route; the first matching active fault (in injection order) applies.
type Fault struct {
	Method     string        // "" = any
	Route      string        // operationId as in the spec, e.g. "RotateApiToken"; "" = any route
	Status     int           // respond with this status and the error body instead of handling; 0 = handle normally
	RetryAfter string        // Retry-After header value to send with Status
	Latency    time.Duration // sleep before handling (returns early when the request context ends)
	Drop       bool          // close the connection without a response
	AfterApply bool          // apply the operation first, then respond with Status / Drop (a lost response)
	// Body: apply the operation, then answer its status with this body
	// instead of the JSON (a garbage answer from a proxy or a bug).
	Body string
	// Truncate: apply the operation, then send a few bytes of a longer body
	// and close the connection (an answer cut off).
	Truncate bool
	// Hold is called with the request (before the operation runs, or after
	// it ran and before the answer is sent when HoldAfterApply) and the
	// request waits until it returns: tests park a request there to force an
	// interleaving, or kill the client while it waits. It runs outside the
	// fake's lock, so other requests go on meanwhile.
	Hold           func(Request)
	HoldAfterApply bool
	Times          int // number of requests affected; 0 = unlimited
}

// InjectFault adds a fault. Every response shaped by a fault carries the
// header X-Fake-Fault: 1 so that contract validation can skip it (a real
// 502/503 would come from a proxy, not from the API). remove deletes it.
func (s *Server) InjectFault(f Fault) (remove func()) { return s.faults.Add(f, f.Times) }

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

func (s *Server) takeFault(method, opID string) *Fault {
	f, ok := s.faults.Take(func(f Fault) bool {
		return (f.Method == "" || strings.EqualFold(f.Method, method)) && (f.Route == "" || f.Route == opID)
	})
	if !ok {
		return nil
	}
	return &f
}

// ---------------------------------------------------------------------------
// Errors

const msgInvalidToken = "The API token is invalid or expired"

func errorf(code int, format string, args ...any) (int, any) {
	return code, &wireError{Message: fmt.Sprintf(format, args...), StatusCode: code}
}

// fieldErrs collects request-validation failures; v1 reports them in
// fieldErrors on 400s (astro-api.md §2).
type fieldErrs []wireFieldError

func (fe *fieldErrs) add(field, code, format string, args ...any) {
	*fe = append(*fe, wireFieldError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (fe fieldErrs) response() (int, any) {
	msgs := make([]string, len(fe))
	for i, e := range fe {
		msgs[i] = e.Message
	}
	return http.StatusBadRequest, &wireError{
		Message:     "Invalid request: " + strings.Join(msgs, "; "),
		StatusCode:  http.StatusBadRequest,
		FieldErrors: fe,
	}
}

func badRequest(field, code, format string, args ...any) (int, any) {
	var fe fieldErrs
	fe.add(field, code, format, args...)
	return fe.response()
}

// decodeBody decodes the JSON body into v. Unknown fields are ignored, as a
// real server does; a missing body or a type mismatch is a 400.
func decodeBody(c *call, v any) (int, any, bool) {
	if c.bodyErr != nil {
		code, body := badRequest("body", "too_large", "request body is too large or unreadable")
		return code, body, false
	}
	if len(strings.TrimSpace(string(c.body))) == 0 {
		code, body := badRequest("body", "required", "request body is required")
		return code, body, false
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		field := "body"
		if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
			field = te.Field
		}
		code, body := badRequest(field, "invalid", "request body could not be decoded: %s", jsonErrText(err))
		return code, body, false
	}
	return 0, nil, true
}

// jsonErrText describes a decode error without quoting input values.
func jsonErrText(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q must be of type %s", e.Field, e.Type)
	case *json.SyntaxError:
		return fmt.Sprintf("malformed JSON at offset %d", e.Offset)
	}
	return "malformed JSON"
}

// ---------------------------------------------------------------------------
// Randomness and ids

func (s *Server) randBytes(n int) []byte {
	b := make([]byte, n)
	s.randMu.Lock()
	defer s.randMu.Unlock()
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic(fmt.Sprintf("astrofake: reading randomness: %v", err))
	}
	return b
}

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// randBase36 returns n lowercase alphanumeric characters, uniformly drawn
// (bytes ≥ 252 are rejected to avoid modulo bias).
func (s *Server) randBase36(n int) string {
	out := make([]byte, 0, n)
	for len(out) < n {
		for _, b := range s.randBytes(n) {
			if b >= 252 {
				continue
			}
			out = append(out, base36[int(b)%36])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// newID returns a CUID-like id: 25 lowercase alphanumeric characters
// starting with "c" (astro-api.md §1).
func (s *Server) newID() string { return "c" + s.randBase36(24) }
