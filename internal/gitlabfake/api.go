package gitlabfake

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	keyRE = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
	// maskRE is Ci::Maskable's older, conservative rule; newer GitLab
	// versions accept more characters (gitlab-variables.md §1.2).
	maskRE = regexp.MustCompile(`^[a-zA-Z0-9_+=/@:.~-]{8,}$`)
	// scopeRE is Gitlab::Regex.environment_scope_regex.
	scopeRE = regexp.MustCompile(`^[a-zA-Z0-9_/${}. *-]+$`)
)

const multipleScopes = "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'"

// handle routes one request and writes the answer.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, entry *Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4/")
	if !ok {
		grapeError(w, http.StatusNotFound, "404 Not Found")
		return
	}
	raw := strings.Split(rest, "/")
	segs := make([]string, len(raw))
	for i, x := range raw {
		v, err := url.PathUnescape(x)
		if err != nil || v == "" {
			grapeError(w, http.StatusNotFound, "404 Not Found")
			return
		}
		segs[i] = v
	}

	var allowed []string
	var h func(http.ResponseWriter, *http.Request, *token, params)
	anyScope := false
	switch {
	case len(segs) == 1 && segs[0] == "version":
		allowed = []string{http.MethodGet}
		h = s.getVersion
	case len(segs) == 2 && segs[0] == "personal_access_tokens" && segs[1] == "self":
		// lib/api/personal_access_tokens/self_information.rb:
		// allow_access_with_scope(Gitlab::Auth.all_available_scopes).
		allowed, anyScope = []string{http.MethodGet}, true
		h = s.tokenSelf
	case len(segs) >= 2 && (segs[0] == "projects" || segs[0] == "groups"):
		group := segs[0] == "groups"
		id := segs[1]
		switch {
		case len(segs) == 2:
			allowed = []string{http.MethodGet}
			h = func(w http.ResponseWriter, r *http.Request, t *token, _ params) { s.getNamespace(w, r, t, id, group) }
		case len(segs) == 3 && segs[2] == "variables":
			allowed = []string{http.MethodGet, http.MethodPost}
			h = func(w http.ResponseWriter, r *http.Request, t *token, p params) { s.collection(w, r, t, p, id, group) }
		case len(segs) == 4 && segs[2] == "variables":
			allowed = []string{http.MethodGet, http.MethodPut, http.MethodDelete}
			key := segs[3]
			h = func(w http.ResponseWriter, r *http.Request, t *token, p params) { s.member(w, r, t, p, id, group, key) }
		}
	}
	if h == nil {
		grapeError(w, http.StatusNotFound, "404 Not Found")
		return
	}
	if !slices.Contains(allowed, r.Method) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		grapeError(w, http.StatusMethodNotAllowed, "405 Not Allowed")
		return
	}

	t, ok := s.authenticate(w, r, anyScope)
	if !ok {
		return
	}
	p, err := readParams(r)
	if err != nil {
		grapeError(w, http.StatusBadRequest, err.Error())
		return
	}
	entry.Params = maps.Clone(p)
	if _, ok := entry.Params["value"]; ok {
		entry.Params["value"] = "<redacted>"
	}
	h(w, r, t, p)
}

// authenticate finds the caller's token and checks its scope for the
// method, writing the 401/403 itself when it fails.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, anyScope bool) (*token, bool) {
	value := r.Header.Get("PRIVATE-TOKEN")
	if value == "" {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
			value = strings.TrimSpace(a[7:])
		}
	}
	if value == "" {
		value = r.Header.Get("JOB-TOKEN")
	}
	if value == "" {
		value = r.URL.Query().Get("private_token")
	}
	s.mu.Lock()
	t := s.tokens[value]
	s.mu.Unlock()
	switch {
	case value == "" || t == nil || t.job:
		apiError(w, http.StatusUnauthorized, "401 Unauthorized")
		return nil, false
	case t.revoked:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Token was revoked. You have to re-authorize from the user."})
		return nil, false
	case t.expired:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Token has expired."})
		return nil, false
	}
	ok := anyScope || slices.Contains(t.scopes, "api") ||
		(r.Method == http.MethodGet && slices.Contains(t.scopes, "read_api"))
	if !ok {
		writeJSON(w, http.StatusForbidden, map[string]string{
			"error":             "insufficient_scope",
			"error_description": "The request requires higher privileges than provided by the access token.",
			"scope":             "api",
		})
		return nil, false
	}
	return t, true
}

// access is the token's effective level on ns: the highest role held on
// it or on any ancestor group.
func (t *token) access(ns *namespace) int {
	best := 0
	for n := ns; n != nil; n = n.parent {
		best = max(best, t.roles[strings.ToLower(n.fullPath)])
	}
	return best
}

// resolve finds the project or group named by id and checks the caller may
// see it (any role) and, with need > 0, holds at least need. It writes the
// 404/403 itself.
func (s *Server) resolve(w http.ResponseWriter, t *token, id string, group bool, need int) (*namespace, bool) {
	ns := s.lookupLocked(id, group)
	if ns == nil || t.access(ns) == 0 {
		if group {
			apiError(w, http.StatusNotFound, "404 Group Not Found")
		} else {
			apiError(w, http.StatusNotFound, "404 Project Not Found")
		}
		return nil, false
	}
	if t.access(ns) < need {
		apiError(w, http.StatusForbidden, "403 Forbidden")
		return nil, false
	}
	return ns, true
}

func varsRole(group bool) int {
	if group {
		return Owner
	}
	return Maintainer
}

func (s *Server) webURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/" + path
}

func lastSeg(p string) string { return p[strings.LastIndex(p, "/")+1:] }

func (s *Server) getNamespace(w http.ResponseWriter, r *http.Request, t *token, id string, group bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, ok := s.resolve(w, t, id, group, 0)
	if !ok {
		return
	}
	if group {
		writeJSON(w, http.StatusOK, s.wireGroup(r, ns))
		return
	}
	par := ns.parent
	p := wireProject{
		ID:                ns.id,
		Name:              lastSeg(ns.fullPath),
		NameWithNamespace: strings.ReplaceAll(ns.fullPath, "/", " / "),
		Path:              lastSeg(ns.fullPath),
		PathWithNamespace: ns.fullPath,
		DefaultBranch:     "main",
		Visibility:        "private",
		WebURL:            s.webURL(r, ns.fullPath),
		Namespace: wireNamespace{
			ID: par.id, Name: lastSeg(par.fullPath), Path: lastSeg(par.fullPath), Kind: "group",
			FullPath: par.fullPath, WebURL: s.webURL(r, "groups/"+par.fullPath),
		},
	}
	if par.parent != nil {
		pid := par.parent.id
		p.Namespace.ParentID = &pid
	}
	if lvl := t.roles[strings.ToLower(ns.fullPath)]; lvl > 0 {
		p.Permissions.ProjectAccess = &wireAccess{AccessLevel: lvl, NotificationLevel: 3}
	}
	if lvl := t.access(par); lvl > 0 {
		p.Permissions.GroupAccess = &wireAccess{AccessLevel: lvl, NotificationLevel: 3}
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) wireGroup(r *http.Request, ns *namespace) wireGroup {
	g := wireGroup{
		ID:         ns.id,
		Name:       lastSeg(ns.fullPath),
		Path:       lastSeg(ns.fullPath),
		Visibility: "private",
		WebURL:     s.webURL(r, "groups/"+ns.fullPath),
		FullName:   strings.ReplaceAll(ns.fullPath, "/", " / "),
		FullPath:   ns.fullPath,
	}
	if ns.parent != nil {
		pid := ns.parent.id
		g.ParentID = &pid
	}
	return g
}

// getVersion is GET /version (lib/api/version.rb): any authenticated
// caller.
func (s *Server) getVersion(w http.ResponseWriter, _ *http.Request, _ *token, _ params) {
	writeJSON(w, http.StatusOK, map[string]any{
		"version": s.version, "revision": "0fa4e000", "enterprise": strings.HasSuffix(s.version, "-ee"),
		"kas": map[string]any{"enabled": false, "externalUrl": nil, "externalK8sProxyUrl": nil, "version": nil},
	})
}

func (s *Server) tokenSelf(w http.ResponseWriter, _ *http.Request, t *token, _ params) {
	now := s.now().UTC()
	exp := now.AddDate(0, 0, 30)
	if t.expired {
		exp = now.AddDate(0, 0, -1)
	}
	writeJSON(w, http.StatusOK, wireToken{
		ID:        t.id,
		Name:      t.name,
		Revoked:   t.revoked,
		CreatedAt: t.created.Format("2006-01-02T15:04:05.000Z"),
		Scopes:    slices.Clone(t.scopes),
		UserID:    t.id + 10000,
		Active:    !t.expired && !t.revoked,
		ExpiresAt: exp.Format("2006-01-02"),
	})
}

// ---------------------------------------------------------------------------
// Variables

func notFoundVariable(w http.ResponseWriter, group bool) {
	if group {
		apiError(w, http.StatusNotFound, "404 GroupVariable Not Found")
	} else {
		apiError(w, http.StatusNotFound, "404 Variable Not Found")
	}
}

// find is Ci::VariablesFinder: by key, then by filter[environment_scope]
// when it is given and not blank.
func find(ns *namespace, key string, p params) []*variable {
	scope := p["filter[environment_scope]"]
	var out []*variable
	for _, v := range ns.vars {
		if v.Key == key && (scope == "" || v.EnvironmentScope == scope) {
			out = append(out, v)
		}
	}
	return out
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request, t *token, p params, id string, group bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, ok := s.resolve(w, t, id, group, varsRole(group))
	if !ok {
		return
	}
	if r.Method == http.MethodGet {
		s.list(w, r, p, ns)
		return
	}
	if group && !ns.scopedVariables() {
		// EE filter_variable_parameters: the tier has no scoped group
		// variables, so environment_scope is dropped and the default "*"
		// applies, without a word.
		delete(p, "environment_scope")
	}
	s.create(w, p, ns)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, p params, ns *namespace) {
	page, perPage := 1, 20
	for name, dst := range map[string]*int{"page": &page, "per_page": &perPage} {
		if v, ok := p[name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				grapeError(w, http.StatusBadRequest, name+" is invalid")
				return
			}
			*dst = n
		}
	}
	page = max(page, 1)
	if perPage <= 0 {
		perPage = 20
	}
	perPage = min(perPage, 100)
	total := len(ns.vars)
	pages := max(1, (total+perPage-1)/perPage)
	from := min((page-1)*perPage, total)
	to := min(from+perPage, total)
	out := make([]wireVariable, 0, to-from)
	for _, v := range ns.vars[from:to] {
		out = append(out, toWire(v))
	}

	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	link := func(n int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(perPage))
		u := s.webURL(r, strings.TrimPrefix(r.URL.EscapedPath(), "/")) + "?" + q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u, rel)
	}
	var links []string
	if page > 1 && page <= pages {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
		links = append(links, link(page-1, "prev"))
	}
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(1, "first"), link(pages, "last"))
	h.Set("Link", strings.Join(links, ", "))
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) create(w http.ResponseWriter, p params, ns *namespace) {
	var missing []string
	for _, k := range []string{"key", "value"} {
		if !p.has(k) {
			missing = append(missing, k+" is missing")
		}
	}
	if len(missing) > 0 {
		grapeError(w, http.StatusBadRequest, strings.Join(missing, ", "))
		return
	}
	v := &variable{Variable{
		Key:              strings.TrimSpace(p["key"]),
		Value:            p["value"],
		VariableType:     "env_var",
		EnvironmentScope: "*",
	}}
	if err := applyParams(v, p, true); err != nil {
		grapeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if errs := validate(ns, v, nil); len(errs) > 0 {
		apiError(w, http.StatusBadRequest, errs)
		return
	}
	ns.vars = append(ns.vars, v)
	writeJSON(w, http.StatusCreated, toWire(v))
}

// applyParams copies the declared parameters present in p onto v; omitted
// ones keep v's value (declared_params(include_missing: false)).
func applyParams(v *variable, p params, create bool) error {
	if s, ok := p["value"]; ok {
		v.Value = s
	}
	if s, ok := p["variable_type"]; ok {
		if s != "env_var" && s != "file" {
			return fmt.Errorf("variable_type does not have a valid value")
		}
		v.VariableType = s
	}
	if s, ok := p["environment_scope"]; ok {
		v.EnvironmentScope = s
	}
	if s, ok := p["description"]; ok {
		v.Description = s
	}
	flags := []struct {
		name string
		dst  *bool
	}{{"protected", &v.Protected}, {"masked", &v.Masked}, {"raw", &v.Raw}}
	for _, f := range flags {
		b, ok, err := p.boolParam(f.name)
		if err != nil {
			return err
		}
		if ok {
			*f.dst = b
		}
	}
	if create {
		// Ci::ChangeVariableService: masked_and_hidden sets both. PUT does
		// not declare the parameter, so it never gets here on update.
		b, ok, err := p.boolParam("masked_and_hidden")
		if err != nil {
			return err
		}
		if ok && b {
			v.Hidden, v.Masked = true, true
		}
	}
	return nil
}

// validate runs the model validations; orig is the stored state on update.
func validate(ns *namespace, v *variable, orig *variable) map[string][]string {
	errs := map[string][]string{}
	add := func(k, msg string) { errs[k] = append(errs[k], msg) }
	switch {
	case v.Key == "":
		add("key", "can't be blank")
	case len(v.Key) > 255:
		add("key", "is too long (maximum is 255 characters)")
	case !keyRE.MatchString(v.Key):
		add("key", "can contain only letters, digits and '_'.")
	}
	if v.EnvironmentScope == "" {
		add("environment_scope", "can't be blank")
	} else if len(v.EnvironmentScope) > 255 {
		add("environment_scope", "is too long (maximum is 255 characters)")
	} else if !scopeRE.MatchString(v.EnvironmentScope) {
		add("environment_scope", "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', '*' and spaces")
	}
	for _, x := range ns.vars {
		if x != orig && x.Key == v.Key && x.EnvironmentScope == v.EnvironmentScope && v.Key != "" {
			add("key", "("+v.Key+") has already been taken")
			break
		}
	}
	if v.Masked && !maskRE.MatchString(v.Value) {
		add("value", "is invalid")
	}
	if len(v.Description) > 255 {
		add("description", "is too long (maximum is 255 characters)")
	}
	if orig != nil && orig.Hidden && v.Masked != orig.Masked {
		add("base", "Updating masked attribute is not allowed on updates for hidden variables.")
	}
	return errs
}

func (s *Server) member(w http.ResponseWriter, r *http.Request, t *token, p params, id string, group bool, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, ok := s.resolve(w, t, id, group, varsRole(group))
	if !ok {
		return
	}
	var target *variable
	switch {
	case group && s.groupFilterIgnored:
		// Before 16.9 (lib/api/group_variables.rb then): GET
		// find_by(key:), PUT ChangeVariableService find_by!(key:), DELETE
		// find_by!(key:): the first variable with the key in any scope,
		// whatever filter says, and never a 409.
		for _, v := range ns.vars {
			if v.Key == key {
				target = v
				break
			}
		}
	case r.Method == http.MethodPut && group:
		// lib/api/group_variables.rb: with a filter, find_variable; when
		// that finds nothing (or without a filter), ChangeVariableService
		// falls back to find_by!(key) in any scope.
		found := find(ns, key, p)
		if p.has("filter[environment_scope]") && len(found) > 1 {
			apiError(w, http.StatusConflict, multipleScopes)
			return
		}
		if p.has("filter[environment_scope]") && len(found) == 1 {
			target = found[0]
		} else {
			for _, v := range ns.vars {
				if v.Key == key {
					target = v
					break
				}
			}
		}
	default:
		found := find(ns, key, p)
		if len(found) > 1 {
			apiError(w, http.StatusConflict, multipleScopes)
			return
		}
		if len(found) == 1 {
			target = found[0]
		}
	}
	if target == nil {
		notFoundVariable(w, group)
		return
	}

	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, toWire(target))
	case http.MethodDelete:
		ns.vars = slices.DeleteFunc(ns.vars, func(v *variable) bool { return v == target })
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		next := &variable{target.Variable}
		// key and filter are not applied; masked_and_hidden is not declared.
		delete(p, "key")
		if group && !ns.scopedVariables() {
			delete(p, "environment_scope")
		}
		if err := applyParams(next, p, false); err != nil {
			grapeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if errs := validate(ns, next, target); len(errs) > 0 {
			apiError(w, http.StatusBadRequest, errs)
			return
		}
		target.Variable = next.Variable
		writeJSON(w, http.StatusOK, toWire(target))
	}
}
