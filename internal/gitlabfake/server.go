package gitlabfake

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakefault"
)

// Access levels, as GitLab numbers them.
const (
	Guest      = 10
	Reporter   = 20
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

// DefaultVersion is what GET /version reports when Options.Version is "".
const DefaultVersion = "18.6.0-ee"

// Options configure a Server. The zero value is usable.
type Options struct {
	// Now is the fake's clock (token created_at / expires_at). Default
	// time.Now.
	Now func() time.Time
	// Version is the GitLab version the fake plays, as GET /version
	// reports it ("16.8.4-ee"); default DefaultVersion. Before 16.9 the
	// group variable routes ignore filter[environment_scope] (see the
	// package documentation).
	Version string
}

// TokenPerms describe a personal, project or group access token.
type TokenPerms struct {
	Name    string         // default "token-<id>"
	Scopes  []string       // "api", "read_api", ...
	Roles   map[string]int // full path of a group or project → access level; inherited downwards
	Expired bool
	Revoked bool
}

// Variable is a stored CI/CD variable.
type Variable struct {
	Key              string
	Value            string
	VariableType     string // env_var or file
	Protected        bool
	Masked           bool
	Hidden           bool
	Raw              bool
	EnvironmentScope string
	Description      string
}

// Request is one entry of the request log. It never holds a variable value
// or a token.
type Request struct {
	Method string
	Path   string     // escaped path as sent, e.g. /api/v4/projects/acme%2Fweb/variables/KEY
	Query  url.Values // parsed query string
	// Params are the parameters the fake read (query and body, flattened:
	// "filter[environment_scope]"); a "value" parameter reads "<redacted>".
	Params map[string]string
	Status int  // 0 when the connection was dropped
	Fault  bool // a fault shaped this response
}

// Fault makes the server misbehave for matching requests; the first active
// matching fault (in injection order) applies.
type Fault struct {
	Method       string        // "" = any
	PathContains string        // matched against the escaped and the decoded path; "" = any
	Status       int           // answer with this status instead of handling; 0 = handle normally
	RetryAfter   string        // Retry-After header sent with Status
	Header       http.Header   // more headers sent with Status (e.g. RateLimit-Reset)
	Latency      time.Duration // wait before handling (ends early when the client goes away)
	Drop         bool          // close the connection without an answer
	AfterApply   bool          // handle the request first, then answer Status / Drop (a lost response)
	Times        int           // requests affected; 0 = unlimited
	// Body replaces the body of the answer: with AfterApply (or without
	// Status) the real answer's status and headers are kept, so the
	// request is applied and the client cannot read what came back; with
	// Status and without AfterApply nothing is applied (a proxy's page).
	Body string
	// Truncate > 0 sends the answer (the real one, with AfterApply or
	// without Status) with its full Content-Length but only its first
	// Truncate bytes, then drops the connection.
	Truncate int
}

// Server is the fake. It implements http.Handler and is safe for concurrent
// use.
type Server struct {
	now     func() time.Time
	version string
	// groupFilterIgnored: a GitLab before 16.9, whose group variable
	// routes look variables up by key alone.
	groupFilterIgnored bool

	mu       sync.Mutex
	groups   map[int]*namespace
	projects map[int]*namespace
	byPath   map[string]*namespace // lower-case full path → group or project
	tokens   map[string]*token
	nextID   struct{ group, project, token int }

	logMu    sync.Mutex
	requests []Request
	faults   fakefault.Registry[Fault]
}

type namespace struct {
	id       int
	isGroup  bool
	fullPath string
	parent   *namespace // nil for a top-level group
	vars     []*variable
	// scopedVars, when set on a group, says whether the group's tier has
	// scoped group variables (group_scoped_ci_variables); unset inherits
	// from the parent, and the default is true.
	scopedVars *bool
}

// scopedVariables says whether environment_scope is honoured on the group
// variables of ns.
func (ns *namespace) scopedVariables() bool {
	for n := ns; n != nil; n = n.parent {
		if n.scopedVars != nil {
			return *n.scopedVars
		}
	}
	return true
}

type variable struct {
	Variable
}

type token struct {
	id         int
	name       string
	scopes     []string
	roles      map[string]int // lower-case path
	expired    bool
	revoked    bool
	job        bool
	jobProject string
	created    time.Time
}

// New returns an empty Server.
func New(o Options) *Server {
	s := &Server{
		now:      o.Now,
		groups:   map[int]*namespace{},
		projects: map[int]*namespace{},
		byPath:   map[string]*namespace{},
		tokens:   map[string]*token{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.version = o.Version
	if s.version == "" {
		s.version = DefaultVersion
	}
	s.groupFilterIgnored = versionBefore(s.version, 16, 9)
	// Groups and projects are numbered apart, so a group id used as a
	// project id (or the reverse) finds nothing, as it usually would.
	s.nextID.group, s.nextID.project, s.nextID.token = 100, 1000, 1
	return s
}

// ---------------------------------------------------------------------------
// Seeding

// AddGroup adds a group (and its missing parents) and returns its id. An
// existing group's id is returned as is. It panics on a path that is a
// project or is empty.
func (s *Server) AddGroup(fullPath string) (id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addGroupLocked(fullPath).id
}

func (s *Server) addGroupLocked(fullPath string) *namespace {
	fullPath = strings.Trim(fullPath, "/")
	if fullPath == "" {
		panic("gitlabfake: empty group path")
	}
	if ns, ok := s.byPath[strings.ToLower(fullPath)]; ok {
		if !ns.isGroup {
			panic(fmt.Sprintf("gitlabfake: %q is a project", fullPath))
		}
		return ns
	}
	var parent *namespace
	if i := strings.LastIndex(fullPath, "/"); i >= 0 {
		parent = s.addGroupLocked(fullPath[:i])
	}
	s.nextID.group++
	ns := &namespace{id: s.nextID.group, isGroup: true, fullPath: fullPath, parent: parent}
	s.groups[ns.id] = ns
	s.byPath[strings.ToLower(fullPath)] = ns
	return ns
}

// AddProject adds a project "group[/sub...]/project", creating its parent
// groups as needed, and returns its id (an existing project's id as is).
func (s *Server) AddProject(fullPath string) (id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fullPath = strings.Trim(fullPath, "/")
	i := strings.LastIndex(fullPath, "/")
	if i <= 0 || i == len(fullPath)-1 {
		panic(fmt.Sprintf("gitlabfake: project path %q needs a group", fullPath))
	}
	if ns, ok := s.byPath[strings.ToLower(fullPath)]; ok {
		if ns.isGroup {
			panic(fmt.Sprintf("gitlabfake: %q is a group", fullPath))
		}
		return ns.id
	}
	parent := s.addGroupLocked(fullPath[:i])
	s.nextID.project++
	ns := &namespace{id: s.nextID.project, fullPath: fullPath, parent: parent}
	s.projects[ns.id] = ns
	s.byPath[strings.ToLower(fullPath)] = ns
	return ns.id
}

// SetScopedGroupVariables says whether the group at fullPath (created if
// missing) and its subgroups have scoped group variables, a Premium feature
// (group_scoped_ci_variables). Without it GitLab EE drops
// environment_scope from group variable writes. Set it on a top-level
// group: on GitLab.com the plan belongs to the top-level namespace.
func (s *Server) SetScopedGroupVariables(fullPath string, available bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addGroupLocked(fullPath).scopedVars = &available
}

// versionBefore says whether v ("16.8.4-ee") is older than major.minor; an
// unreadable version counts as current.
func versionBefore(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || ma == major && mi < minor
}

// AddToken registers a personal, project or group access token.
func (s *Server) AddToken(value string, p TokenPerms) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID.token++
	t := &token{
		id:      s.nextID.token,
		name:    p.Name,
		scopes:  slices.Clone(p.Scopes),
		roles:   map[string]int{},
		expired: p.Expired,
		revoked: p.Revoked,
		created: s.now().UTC(),
	}
	if t.name == "" {
		t.name = "token-" + strconv.Itoa(t.id)
	}
	for path, lvl := range p.Roles {
		t.roles[strings.ToLower(strings.Trim(path, "/"))] = lvl
	}
	s.tokens[value] = t
}

// AddJobToken registers a CI_JOB_TOKEN of a job in projectPath. The
// variables API never accepts it (see the package documentation).
func (s *Server) AddJobToken(value string, projectPath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID.token++
	s.tokens[value] = &token{id: s.nextID.token, job: true, jobProject: projectPath, roles: map[string]int{}, created: s.now().UTC()}
}

// SetProjectVariable stores v in project (path or id) as is, without
// validation, replacing the variable with the same key and scope. For
// seeding states a test needs (an unmasked or hidden variable, say).
func (s *Server) SetProjectVariable(project string, v Variable) {
	s.setVariable(project, false, v)
}

// SetGroupVariable is SetProjectVariable for a group.
func (s *Server) SetGroupVariable(group string, v Variable) {
	s.setVariable(group, true, v)
}

func (s *Server) setVariable(pathOrID string, group bool, v Variable) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.lookupLocked(pathOrID, group)
	if ns == nil {
		panic(fmt.Sprintf("gitlabfake: no such project or group %q", pathOrID))
	}
	if v.EnvironmentScope == "" {
		v.EnvironmentScope = "*"
	}
	if v.VariableType == "" {
		v.VariableType = "env_var"
	}
	if v.Hidden {
		v.Masked = true
	}
	for _, x := range ns.vars {
		if x.Key == v.Key && x.EnvironmentScope == v.EnvironmentScope {
			x.Variable = v
			return
		}
	}
	ns.vars = append(ns.vars, &variable{Variable: v})
}

// ---------------------------------------------------------------------------
// Inspection

// ProjectVariable returns the variable key in envScope ("" means "*") of
// project (full path or id).
func (s *Server) ProjectVariable(project, key, envScope string) (Variable, bool) {
	return s.variable(project, false, key, envScope)
}

// GroupVariable returns the variable key in envScope ("" means "*") of group.
func (s *Server) GroupVariable(group, key, envScope string) (Variable, bool) {
	return s.variable(group, true, key, envScope)
}

func (s *Server) variable(pathOrID string, group bool, key, envScope string) (Variable, bool) {
	if envScope == "" {
		envScope = "*"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.lookupLocked(pathOrID, group)
	if ns == nil {
		return Variable{}, false
	}
	for _, v := range ns.vars {
		if v.Key == key && v.EnvironmentScope == envScope {
			return v.Variable, true
		}
	}
	return Variable{}, false
}

// Variables returns every variable of a project, or else of a group, named
// by full path or id, in creation order.
func (s *Server) Variables(pathOrID string) []Variable {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.lookupLocked(pathOrID, false)
	if ns == nil {
		ns = s.lookupLocked(pathOrID, true)
	}
	if ns == nil {
		return nil
	}
	out := make([]Variable, 0, len(ns.vars))
	for _, v := range ns.vars {
		out = append(out, v.Variable)
	}
	return out
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	s.requests = nil
	s.logMu.Unlock()
}

// lookupLocked finds a project (group false) or group by numeric id or
// case-insensitive full path.
func (s *Server) lookupLocked(pathOrID string, group bool) *namespace {
	if id, err := strconv.Atoi(pathOrID); err == nil {
		if group {
			return s.groups[id]
		}
		return s.projects[id]
	}
	ns := s.byPath[strings.ToLower(strings.Trim(pathOrID, "/"))]
	if ns == nil || ns.isGroup != group {
		return nil
	}
	return ns
}

// ---------------------------------------------------------------------------
// Faults

// InjectFault adds a fault; remove deletes it.
func (s *Server) InjectFault(f Fault) (remove func()) { return s.faults.Add(f, f.Times) }

func (s *Server) takeFault(method, escaped, decoded string) *Fault {
	f, ok := s.faults.Take(func(f Fault) bool {
		return (f.Method == "" || strings.EqualFold(f.Method, method)) &&
			(f.PathContains == "" || strings.Contains(escaped, f.PathContains) || strings.Contains(decoded, f.PathContains))
	})
	if !ok {
		return nil
	}
	return &f
}

func (s *Server) log(r Request) {
	s.logMu.Lock()
	s.requests = append(s.requests, r)
	s.logMu.Unlock()
}

// ---------------------------------------------------------------------------
// HTTP

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entry := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query()}
	f := s.takeFault(r.Method, r.URL.EscapedPath(), r.URL.Path)
	if f != nil {
		entry.Fault = true
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-r.Context().Done():
				t.Stop()
				s.log(entry)
				return
			case <-t.C:
			}
		}
		if f.Body != "" || f.Truncate > 0 {
			s.serveUnreadable(w, r, f, &entry)
			return
		}
		if f.Status != 0 || f.Drop {
			if f.AfterApply {
				rec := httptest.NewRecorder()
				s.handle(rec, r, &entry)
			}
			entry.Status = f.Status
			if f.Drop {
				entry.Status = 0
				s.log(entry)
				// The server closes the connection without an answer and
				// does not log this panic.
				panic(http.ErrAbortHandler)
			}
			s.log(entry)
			writeFault(w, f)
			return
		}
	}
	rw := &fakefault.StatusWriter{ResponseWriter: w}
	if f != nil {
		w.Header().Set("X-Fake-Fault", "1")
	}
	s.handle(rw, r, &entry)
	entry.Status = rw.Status
	s.log(entry)
}

// serveUnreadable answers with a body the client cannot read: replaced by
// f.Body or cut after f.Truncate bytes. The request is applied unless the
// fault names a Status without AfterApply (a proxy answering on its own).
func (s *Server) serveUnreadable(w http.ResponseWriter, r *http.Request, f *Fault, entry *Request) {
	status, body := f.Status, []byte(nil)
	if f.AfterApply || f.Status == 0 {
		rec := httptest.NewRecorder()
		s.handle(rec, r, entry)
		maps.Copy(w.Header(), rec.Header())
		body = rec.Body.Bytes()
		if status == 0 {
			status = rec.Code
		}
	} else {
		w.Header().Set("Content-Type", "application/json")
		body = fmt.Appendf(nil, `{"message":"%d %s"}`, status, http.StatusText(status))
	}
	if f.Body != "" {
		body = []byte(f.Body)
	}
	w.Header().Set("X-Fake-Fault", "1")
	entry.Status = status
	s.log(*entry)
	if f.Truncate > 0 && f.Truncate < len(body) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body[:f.Truncate])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeFault(w http.ResponseWriter, f *Fault) {
	h := w.Header()
	for k, vs := range f.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if f.RetryAfter != "" {
		h.Set("Retry-After", f.RetryAfter)
	}
	h.Set("X-Fake-Fault", "1")
	if f.Status == http.StatusTooManyRequests {
		// GitLab's throttle (Rack::Attack) answers in plain text.
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte("Retry later\n"))
		return
	}
	writeJSON(w, f.Status, map[string]string{"message": fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))})
}
