package astrofake

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ts renders a timestamp the way the API does: RFC 3339, UTC, whole
// seconds, "2006-01-02T15:04:05Z" (astro-api.md §1).
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func callerSubject(p *principal) wireSubject {
	return wireSubject{ID: p.tok.id, SubjectType: "SERVICEKEY", APITokenName: p.tok.name}
}

// wireToken renders t. The secret value is included only when withValue is
// set, i.e. in create and rotate responses (astro-api.md §3.9).
func wireToken(t *token, withValue bool) wireAPIToken {
	cb, ub := t.createdBy, t.updatedBy
	w := wireAPIToken{
		CreatedAt: ts(t.createdAt), CreatedBy: &cb, Description: t.description,
		EndAt: ts(t.endAt), ID: t.id, Kind: t.kind,
		LastRotatedAt: ts(t.lastRotatedAt), LastUsedAt: ts(t.lastUsedAt),
		Name: t.name, Roles: make([]wireRole, 0, len(t.roles)), Scope: t.scope,
		ShortToken: t.shortToken, StartAt: ts(t.startAt), UpdatedAt: ts(t.updatedAt), UpdatedBy: &ub,
	}
	if t.expiryDays > 0 {
		d := t.expiryDays
		w.ExpiryPeriodInDays = &d
	}
	for _, r := range t.roles {
		w.Roles = append(w.Roles, wireRole{DeploymentID: r.DeploymentID, EntityID: r.EntityID, EntityType: r.EntityType, Role: r.Role})
	}
	if withValue {
		w.Token = t.value
	}
	return w
}

// roleFitsScope reports whether role may be a token's primary role for
// scope (astro-api.md §3.4): the five organization roles, the five
// workspace roles, and for deployments DEPLOYMENT_ADMIN or a custom role
// name (anything that is not a built-in role of another level).
func roleFitsScope(scope, role string) bool {
	switch scope {
	case ScopeOrganization:
		return slices.Contains(orgRoles, role)
	case ScopeWorkspace:
		return slices.Contains(wsRoles, role)
	case ScopeDeployment:
		return role == RoleDeploymentAdmin || isCustomRoleName(role)
	}
	return false
}

func isCustomRoleName(role string) bool {
	if strings.TrimSpace(role) == "" || slices.Contains(orgRoles, role) || slices.Contains(wsRoles, role) {
		return false
	}
	return role != RoleDeploymentAdmin && role != "DAG_VIEWER" && role != "DAG_AUTHOR"
}

func validScope(s string) bool {
	return s == ScopeOrganization || s == ScopeWorkspace || s == ScopeDeployment
}

// lookupToken resolves {tokenId}. Unknown, deleted, and other-org tokens are
// all 404 (a repeated DELETE returns 404, astro-api.md §3.8).
func (s *Server) lookupToken(c *call) (*token, int, any) {
	t, ok := s.tokens[c.params["tokenId"]]
	if !ok || t.deleted || t.orgID != c.params["organizationId"] {
		code, body := errorf(http.StatusNotFound, "API token not found")
		return nil, code, body
	}
	return t, 0, nil
}

func forbidden() (int, any) {
	return errorf(http.StatusForbidden, "You do not have permission to perform this action")
}

// ---------------------------------------------------------------------------
// Pagination and sorting shared by the list endpoints

type page struct{ offset, limit int }

// pageParams reads offset (default 0, min 0) and limit (default 20, min 0,
// max maxLimit when > 0). Out-of-range or non-integer values are 400
// (astro-api.md §2 Pagination).
func pageParams(q url.Values, maxLimit int, fe *fieldErrs) page {
	p := page{offset: 0, limit: 20}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fe.add("offset", "min", "offset must be an integer >= 0")
		} else {
			p.offset = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0:
			fe.add("limit", "min", "limit must be an integer >= 0")
		case maxLimit > 0 && n > maxLimit:
			fe.add("limit", "max", "limit must be <= %d", maxLimit)
		default:
			p.limit = n
		}
	}
	return p
}

func paginate[T any](items []T, p page) []T {
	if p.offset >= len(items) {
		return []T{}
	}
	end := min(len(items), p.offset+p.limit)
	return items[p.offset:end]
}

// sortKeys validates the sorts parameter against the endpoint's enum
// ("field:asc|desc") and returns the keys in order.
func sortKeys(q url.Values, allowed []string, fe *fieldErrs) [][2]string {
	var keys [][2]string
	for _, v := range q["sorts"] {
		for _, one := range strings.Split(v, ",") {
			f, dir, ok := strings.Cut(one, ":")
			if !ok || !slices.Contains(allowed, f) || (dir != "asc" && dir != "desc") {
				fe.add("sorts", "oneof", "sorts entries must be field:asc or field:desc with field one of %s", strings.Join(allowed, ", "))
				return nil
			}
			keys = append(keys, [2]string{f, dir})
		}
	}
	return keys
}

func parseBoolParam(q url.Values, name string, fe *fieldErrs) bool {
	v := q.Get(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		fe.add(name, "boolean", "%s must be true or false", name)
	}
	return b
}

// ---------------------------------------------------------------------------
// ListApiTokens

func (s *Server) listTokens(c *call) (int, any) {
	org := c.params["organizationId"]
	q := c.query
	var fe fieldErrs
	pg := pageParams(q, 1000, &fe)
	onlyOrg := parseBoolParam(q, "includeOnlyOrganizationTokens", &fe)
	kind := q.Get("kind")
	if kind != "" && kind != "STANDARD" && kind != "DIRECT_ACCESS" {
		fe.add("kind", "oneof", "kind must be STANDARD or DIRECT_ACCESS")
	}
	keys := sortKeys(q, []string{"name", "description", "createdAt", "updatedAt", "tokenStartAt"}, &fe)
	if len(fe) > 0 {
		return fe.response()
	}
	wsID, depID := q.Get("workspaceId"), q.Get("deploymentId")
	dagID, dagTags := q.Get("dagId"), q["dagTags"]
	if wsID != "" {
		if w, ok := s.workspaces[wsID]; !ok || w.orgID != org {
			return errorf(http.StatusNotFound, "Workspace not found")
		}
	}
	if depID != "" {
		if d, ok := s.deployments[depID]; !ok || d.deleted || d.orgID != org {
			return errorf(http.StatusNotFound, "Deployment not found")
		}
	}
	dagFilter := dagID != "" || len(dagTags) > 0

	var matches []*token
	for _, t := range s.sortedTokens() {
		if t.deleted || t.orgID != org {
			continue
		}
		if onlyOrg && t.scope != ScopeOrganization {
			continue
		}
		if kind != "" && t.kind != kind {
			continue
		}
		// §3.2: workspaceId=X → WORKSPACE tokens of X plus ORGANIZATION
		// tokens holding a role on X.
		if wsID != "" && !(t.scope == ScopeWorkspace && t.entityID == wsID) &&
			!(t.scope == ScopeOrganization && hasRole(t, ScopeWorkspace, wsID)) {
			continue
		}
		if dagFilter {
			if !hasDagRole(t, depID, dagID, dagTags) {
				continue
			}
		} else if depID != "" && !(t.scope == ScopeDeployment && t.entityID == depID) &&
			!(t.scope != ScopeDeployment && hasRole(t, ScopeDeployment, depID)) {
			// §3.2: deploymentId=Y → DEPLOYMENT tokens of Y plus WORKSPACE or
			// ORGANIZATION tokens holding a role on Y.
			continue
		}
		if !s.canReadToken(c.caller, t) {
			continue // lists show only what the caller can see
		}
		matches = append(matches, t)
	}
	// Default order is createdAt ascending, then id (stable across pages);
	// requested sorts take precedence.
	slices.SortStableFunc(matches, func(a, b *token) int {
		for _, k := range keys {
			var r int
			switch k[0] {
			case "name":
				r = cmp.Compare(a.name, b.name)
			case "description":
				r = cmp.Compare(a.description, b.description)
			case "createdAt":
				r = a.createdAt.Compare(b.createdAt)
			case "updatedAt":
				r = a.updatedAt.Compare(b.updatedAt)
			case "tokenStartAt":
				r = a.startAt.Compare(b.startAt)
			}
			if k[1] == "desc" {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.id, b.id))
	})
	out := wireTokensPage{Limit: pg.limit, Offset: pg.offset, TotalCount: len(matches), Tokens: []wireAPIToken{}}
	for _, t := range paginate(matches, pg) {
		out.Tokens = append(out.Tokens, wireToken(t, false))
	}
	return http.StatusOK, out
}

func hasRole(t *token, entityType, entityID string) bool {
	for _, r := range t.roles {
		if r.EntityType == entityType && r.EntityID == entityID {
			return true
		}
	}
	return false
}

func hasDagRole(t *token, depID, dagID string, dagTags []string) bool {
	for _, r := range t.roles {
		if depID != "" && r.DeploymentID != depID {
			continue
		}
		if r.EntityType == EntityDAG && dagID != "" && r.EntityID == dagID {
			return true
		}
		if r.EntityType == EntityDAGTag && slices.Contains(dagTags, r.EntityID) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// CreateApiToken

func (s *Server) createToken(c *call) (int, any) {
	org := c.params["organizationId"]
	var req wireCreateTokenReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	var fe fieldErrs
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		fe.add("name", "required", "name is required")
	}
	scope := ""
	if req.Scope == nil || *req.Scope == "" {
		fe.add("scope", "required", "scope is required")
	} else if !validScope(*req.Scope) {
		fe.add("scope", "oneof", "scope must be one of ORGANIZATION, WORKSPACE, DEPLOYMENT")
	} else {
		scope = *req.Scope
	}
	if req.Role == nil || *req.Role == "" {
		fe.add("role", "required", "role is required")
	} else if scope != "" && !roleFitsScope(scope, *req.Role) {
		fe.add("role", "oneof", "role %s is not valid for a token of scope %s", *req.Role, scope)
	}
	kind := "STANDARD"
	if req.Kind != nil {
		if *req.Kind != "STANDARD" && *req.Kind != "DIRECT_ACCESS" {
			fe.add("kind", "oneof", "kind must be STANDARD or DIRECT_ACCESS")
		} else {
			kind = *req.Kind
		}
	}
	expiry := 0
	if req.TokenExpiryPeriodInDays != nil {
		expiry = *req.TokenExpiryPeriodInDays
		if expiry < 1 || expiry > 3650 {
			fe.add("tokenExpiryPeriodInDays", "range", "tokenExpiryPeriodInDays must be between 1 and 3650")
		}
	}
	entity := ""
	if req.EntityID != nil {
		entity = *req.EntityID
	}
	switch scope {
	case ScopeWorkspace, ScopeDeployment:
		if entity == "" {
			fe.add("entityId", "required", "entityId is required when scope is %s", scope)
		}
	case ScopeOrganization:
		if entity != "" && entity != org {
			fe.add("entityId", "invalid", "entityId of an ORGANIZATION token must be the organization id")
		}
		entity = org
	}
	if len(fe) > 0 {
		return fe.response()
	}
	// The entity must exist in this organization (404, astro-api.md §3.4).
	switch scope {
	case ScopeWorkspace:
		if w, ok := s.workspaces[entity]; !ok || w.orgID != org {
			return errorf(http.StatusNotFound, "Workspace not found")
		}
		if !c.caller.orgOwner() && !c.caller.wsRoleIn(entity, RoleWorkspaceOwner) {
			return forbidden()
		}
	case ScopeDeployment:
		if d, ok := s.deployments[entity]; !ok || d.deleted || d.orgID != org {
			return errorf(http.StatusNotFound, "Deployment not found")
		}
		if !s.canManageDeploymentGrants(c.caller, entity) {
			return forbidden()
		}
	case ScopeOrganization:
		if !c.caller.orgOwner() {
			return forbidden()
		}
	}
	now := s.clock()
	desc := ""
	if req.Description != nil {
		desc = *req.Description
	}
	t := &token{
		id: s.newID(), orgID: org, name: *req.Name, description: desc, scope: scope, kind: kind, entityID: entity,
		roles:      []Role{{EntityType: scope, EntityID: entity, Role: *req.Role}},
		expiryDays: expiry, startAt: now, createdAt: now, updatedAt: now,
		createdBy: callerSubject(c.caller), updatedBy: callerSubject(c.caller),
		seq: s.nextSeq(),
	}
	if expiry > 0 {
		t.endAt = now.AddDate(0, 0, expiry)
	}
	s.mintValueLocked(t, now, s.newID())
	s.tokens[t.id] = t
	return http.StatusOK, wireToken(t, true)
}

// ---------------------------------------------------------------------------
// GetApiToken

func (s *Server) getToken(c *call) (int, any) {
	t, code, body := s.lookupToken(c)
	if t == nil {
		return code, body
	}
	if !s.canReadToken(c.caller, t) {
		return forbidden()
	}
	return http.StatusOK, wireToken(t, false)
}

// ---------------------------------------------------------------------------
// UpdateApiToken

// updateToken replaces name and description. astro-cli always sends both
// (astro-api.md §3.5); the fake treats the body as the full new pair, so an
// omitted description becomes "" (inferred "send both" semantics).
func (s *Server) updateToken(c *call) (int, any) {
	var req wireUpdateTokenReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	var fe fieldErrs
	if req.Name == nil {
		fe.add("name", "required", "name is required")
	} else if n := utf8.RuneCountInString(*req.Name); n < 1 || n > 256 {
		fe.add("name", "length", "name must be between 1 and 256 characters")
	}
	if req.Description != nil && utf8.RuneCountInString(*req.Description) > 500 {
		fe.add("description", "max", "description must be at most 500 characters")
	}
	if len(fe) > 0 {
		return fe.response()
	}
	t, code, body := s.lookupToken(c)
	if t == nil {
		return code, body
	}
	if !s.canManageToken(c.caller, t) {
		return forbidden()
	}
	t.name = *req.Name
	t.description = ""
	if req.Description != nil {
		t.description = *req.Description
	}
	t.updatedAt = s.clock()
	t.updatedBy = callerSubject(c.caller)
	return http.StatusOK, wireToken(t, false)
}

// ---------------------------------------------------------------------------
// DeleteApiToken

func (s *Server) deleteToken(c *call) (int, any) {
	t, code, body := s.lookupToken(c)
	if t == nil {
		return code, body
	}
	if !s.canManageToken(c.caller, t) {
		return forbidden()
	}
	t.deleted = true
	return http.StatusNoContent, nil
}

// ---------------------------------------------------------------------------
// RotateApiToken

// rotateToken mints a new value in place: the id, name, description, roles,
// scope and expiry period stay; the old value stops authenticating at once
// (astro-api.md §3.7). Inferred, not documented: for an expiring token the
// validity window restarts, startAt = now and endAt = now +
// expiryPeriodInDays, so that the new value lives as long as the period
// promised at creation.
func (s *Server) rotateToken(c *call) (int, any) {
	t, code, body := s.lookupToken(c)
	if t == nil {
		return code, body
	}
	if !s.canManageToken(c.caller, t) {
		return forbidden()
	}
	now := s.clock()
	if s.rotateVariant.NewID {
		t = s.reissueLocked(t)
	}
	if t.expiryDays > 0 && !s.rotateVariant.KeepEndAt {
		t.startAt = now
		t.endAt = now.AddDate(0, 0, t.expiryDays)
	}
	s.mintValueLocked(t, now, s.newID())
	t.lastRotatedAt = now
	t.updatedAt = now
	t.updatedBy = callerSubject(c.caller)
	return http.StatusOK, wireToken(t, true)
}

// ---------------------------------------------------------------------------
// UpdateApiTokenRoles

// updateTokenRoles replaces the whole role set (astro-api.md §3.6) and
// answers with SubjectRoles. Rules (terraform's client-side checks, taken
// as server rules):
//   - the set holds exactly one role on the token's own scope entity;
//   - an ORGANIZATION role's entityId is the organization id;
//   - a WORKSPACE token holds no ORGANIZATION role, no role on another
//     workspace, and deployment roles only on deployments of its workspace;
//   - a DEPLOYMENT token holds only DEPLOYMENT, DAG and DAG_TAG roles, all on
//     its own deployment;
//   - named workspaces and deployments exist in the organization (404);
//   - role names fit their entity type; no entity appears twice.
//
// The caller must be able to manage the token and to grant (or revoke)
// every role that changes.
func (s *Server) updateTokenRoles(c *call) (int, any) {
	org := c.params["organizationId"]
	var req wireUpdateRolesReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	var fe fieldErrs
	if req.Roles == nil {
		fe.add("roles", "required", "roles is required")
		return fe.response()
	}
	if len(*req.Roles) == 0 {
		fe.add("roles", "min", "roles must contain at least 1 item")
		return fe.response()
	}
	roles := make([]Role, 0, len(*req.Roles))
	for i, rr := range *req.Roles {
		f := func(name string) string { return "roles[" + strconv.Itoa(i) + "]." + name }
		r := Role{}
		if rr.EntityType == nil || *rr.EntityType == "" {
			fe.add(f("entityType"), "required", "%s is required", f("entityType"))
		} else {
			r.EntityType = *rr.EntityType
			switch r.EntityType {
			case ScopeOrganization, ScopeWorkspace, ScopeDeployment, EntityDAG, EntityDAGTag:
			default:
				fe.add(f("entityType"), "oneof", "%s must be one of ORGANIZATION, WORKSPACE, DEPLOYMENT, DAG, DAG_TAG", f("entityType"))
			}
		}
		if rr.EntityID == nil || *rr.EntityID == "" {
			fe.add(f("entityId"), "required", "%s is required", f("entityId"))
		} else {
			r.EntityID = *rr.EntityID
		}
		if rr.Role == nil || *rr.Role == "" {
			fe.add(f("role"), "required", "%s is required", f("role"))
		} else {
			r.Role = *rr.Role
		}
		if rr.DeploymentID != nil {
			r.DeploymentID = *rr.DeploymentID
		}
		switch r.EntityType {
		case ScopeOrganization:
			if r.Role != "" && !slices.Contains(orgRoles, r.Role) {
				fe.add(f("role"), "oneof", "%s is not an organization role", r.Role)
			}
			if r.EntityID != "" && r.EntityID != org {
				fe.add(f("entityId"), "invalid", "an ORGANIZATION role's entityId must be the organization id")
			}
		case ScopeWorkspace:
			if r.Role != "" && !slices.Contains(wsRoles, r.Role) {
				fe.add(f("role"), "oneof", "%s is not a workspace role", r.Role)
			}
		case ScopeDeployment:
			if r.Role != "" && !roleFitsScope(ScopeDeployment, r.Role) {
				fe.add(f("role"), "oneof", "%s is not a deployment role", r.Role)
			}
		case EntityDAG, EntityDAGTag:
			if r.DeploymentID == "" {
				fe.add(f("deploymentId"), "required", "%s is required for %s roles", f("deploymentId"), r.EntityType)
			}
			if r.Role != "" && (slices.Contains(orgRoles, r.Role) || slices.Contains(wsRoles, r.Role) || r.Role == RoleDeploymentAdmin) {
				fe.add(f("role"), "oneof", "%s is not a DAG role", r.Role)
			}
		}
		if r.EntityType != EntityDAG && r.EntityType != EntityDAGTag {
			r.DeploymentID = "" // only meaningful for DAG roles
		}
		roles = append(roles, r)
	}
	if len(fe) > 0 {
		return fe.response()
	}
	t, code, body := s.lookupToken(c)
	if t == nil {
		return code, body
	}
	if !s.canManageToken(c.caller, t) {
		return forbidden()
	}
	// Existence of named workspaces and deployments.
	for _, r := range roles {
		switch r.EntityType {
		case ScopeWorkspace:
			if w, ok := s.workspaces[r.EntityID]; !ok || w.orgID != org {
				return errorf(http.StatusNotFound, "Workspace %s not found", r.EntityID)
			}
		case ScopeDeployment:
			if d, ok := s.deployments[r.EntityID]; !ok || d.deleted || d.orgID != org {
				return errorf(http.StatusNotFound, "Deployment %s not found", r.EntityID)
			}
		case EntityDAG, EntityDAGTag:
			if d, ok := s.deployments[r.DeploymentID]; !ok || d.deleted || d.orgID != org {
				return errorf(http.StatusNotFound, "Deployment %s not found", r.DeploymentID)
			}
		}
	}
	// Scope rules.
	own := 0
	seen := map[[3]string]bool{}
	for i, r := range roles {
		f := "roles[" + strconv.Itoa(i) + "]"
		k := [3]string{r.EntityType, r.EntityID, r.DeploymentID}
		if seen[k] {
			fe.add(f, "duplicate", "%s: more than one role on %s %s", f, r.EntityType, r.EntityID)
		}
		seen[k] = true
		if r.EntityType == t.scope && r.EntityID == t.entityID {
			own++
		}
		switch t.scope {
		case ScopeWorkspace:
			switch r.EntityType {
			case ScopeOrganization:
				fe.add(f, "scope", "%s: a WORKSPACE token cannot hold an ORGANIZATION role", f)
			case ScopeWorkspace:
				if r.EntityID != t.entityID {
					fe.add(f, "scope", "%s: a WORKSPACE token cannot hold a role on another workspace", f)
				}
			case ScopeDeployment:
				if s.deployments[r.EntityID].workspaceID != t.entityID {
					fe.add(f, "scope", "%s: a WORKSPACE token can hold deployment roles only in its own workspace", f)
				}
			case EntityDAG, EntityDAGTag:
				if s.deployments[r.DeploymentID].workspaceID != t.entityID {
					fe.add(f, "scope", "%s: a WORKSPACE token can hold DAG roles only in its own workspace", f)
				}
			}
		case ScopeDeployment:
			switch r.EntityType {
			case ScopeOrganization, ScopeWorkspace:
				fe.add(f, "scope", "%s: a DEPLOYMENT token can hold only DEPLOYMENT, DAG and DAG_TAG roles", f)
			case ScopeDeployment:
				if r.EntityID != t.entityID {
					fe.add(f, "scope", "%s: a DEPLOYMENT token cannot hold a role on another deployment", f)
				}
			case EntityDAG, EntityDAGTag:
				if r.DeploymentID != t.entityID {
					fe.add(f, "scope", "%s: a DEPLOYMENT token can hold DAG roles only on its own deployment", f)
				}
			}
		}
	}
	if own != 1 {
		fe.add("roles", "scope", "roles must contain exactly one %s role on the token's own %s (%s)", t.scope, strings.ToLower(t.scope), t.entityID)
	}
	if len(fe) > 0 {
		return fe.response()
	}
	// Every added or removed role needs grant rights on its entity.
	for _, r := range symmetricDiff(t.roles, roles) {
		if !s.canGrant(c.caller, r) {
			return forbidden()
		}
	}
	t.roles = roles
	t.updatedAt = s.clock()
	t.updatedBy = callerSubject(c.caller)
	return http.StatusOK, subjectRoles(t)
}

func symmetricDiff(a, b []Role) []Role {
	var out []Role
	for _, r := range a {
		if !slices.Contains(b, r) {
			out = append(out, r)
		}
	}
	for _, r := range b {
		if !slices.Contains(a, r) {
			out = append(out, r)
		}
	}
	return out
}

func subjectRoles(t *token) wireSubjectRoles {
	out := wireSubjectRoles{
		DagRoles: []wireDagRole{}, DeploymentRoles: []wireDeploymentRole{}, WorkspaceRoles: []wireWorkspaceRole{},
	}
	for _, r := range t.roles {
		switch r.EntityType {
		case ScopeOrganization:
			out.OrganizationRole = r.Role
		case ScopeWorkspace:
			out.WorkspaceRoles = append(out.WorkspaceRoles, wireWorkspaceRole{Role: r.Role, WorkspaceID: r.EntityID})
		case ScopeDeployment:
			out.DeploymentRoles = append(out.DeploymentRoles, wireDeploymentRole{DeploymentID: r.EntityID, Role: r.Role})
		case EntityDAG:
			out.DagRoles = append(out.DagRoles, wireDagRole{DagID: r.EntityID, DeploymentID: r.DeploymentID, Role: r.Role})
		case EntityDAGTag:
			out.DagRoles = append(out.DagRoles, wireDagRole{DagTag: r.EntityID, DeploymentID: r.DeploymentID, Role: r.Role})
		}
	}
	return out
}
