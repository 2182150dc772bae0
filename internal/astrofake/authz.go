package astrofake

// principal is the authenticated caller with its roles indexed. Roles are
// read from the token at request time, so a roles update takes effect on the
// next request even though the JWT's permissions claim is fixed at minting.
type principal struct {
	tok     *token
	orgRole string
	ws      map[string]string // workspace id → workspace role
	dep     map[string]string // deployment id → deployment role
}

func newPrincipal(t *token) *principal {
	p := &principal{tok: t, ws: map[string]string{}, dep: map[string]string{}}
	for _, r := range t.roles {
		switch r.EntityType {
		case ScopeOrganization:
			if r.EntityID == t.orgID {
				p.orgRole = r.Role
			}
		case ScopeWorkspace:
			p.ws[r.EntityID] = r.Role
		case ScopeDeployment:
			p.dep[r.EntityID] = r.Role
		}
	}
	return p
}

func (p *principal) orgOwner() bool { return p.orgRole == RoleOrganizationOwner }

func (p *principal) wsRoleIn(wsID string, roles ...string) bool {
	r, ok := p.ws[wsID]
	if !ok {
		return false
	}
	if len(roles) == 0 {
		return true
	}
	for _, x := range roles {
		if r == x {
			return true
		}
	}
	return false
}

// canReadWorkspace: ORGANIZATION_OWNER sees every workspace; anyone else
// needs a role on it, or on a deployment in it. An ORGANIZATION_MEMBER
// token alone sees no workspace (astro-api.md §2 Visibility, §8.4).
func (s *Server) canReadWorkspace(p *principal, wsID string) bool {
	if p.orgOwner() || p.wsRoleIn(wsID) {
		return true
	}
	for depID := range p.dep {
		if d, ok := s.deployments[depID]; ok && !d.deleted && d.workspaceID == wsID {
			return true
		}
	}
	return false
}

// canReadDeployment: org owner, any role on its workspace, or any role on it.
func (s *Server) canReadDeployment(p *principal, d *deployment) bool {
	_, onDep := p.dep[d.id]
	return p.orgOwner() || p.wsRoleIn(d.workspaceID) || onDep
}

// canCreateDeploymentIn / canDeleteDeployment: org owner, or WORKSPACE_OWNER
// or WORKSPACE_OPERATOR on the workspace.
func (s *Server) canCreateDeploymentIn(p *principal, wsID string) bool {
	return p.orgOwner() || p.wsRoleIn(wsID, RoleWorkspaceOwner, RoleWorkspaceOperator)
}

// canUpdateDeployment adds DEPLOYMENT_ADMIN on the deployment itself
// (deployment tokens act like a Workspace Operator limited to their
// deployment, astro-api.md §8.4; they may not delete it).
func (s *Server) canUpdateDeployment(p *principal, d *deployment) bool {
	return s.canCreateDeploymentIn(p, d.workspaceID) || p.dep[d.id] == RoleDeploymentAdmin
}

// canReadToken: a token can always read itself; organization tokens are
// visible to any organization role; workspace and deployment tokens to
// whoever holds a role on that workspace / can read that deployment; and a
// token holding a role on a workspace or deployment is visible where that
// entity's own tokens are (it shows up in the entity's token list,
// astro-api.md §3.2).
func (s *Server) canReadToken(p *principal, t *token) bool {
	if t.id == p.tok.id || p.orgOwner() {
		return true
	}
	switch t.scope {
	case ScopeOrganization:
		if p.orgRole != "" {
			return true
		}
	case ScopeWorkspace:
		if p.wsRoleIn(t.entityID) {
			return true
		}
	case ScopeDeployment:
		if d, ok := s.deployments[t.entityID]; ok && s.canReadDeployment(p, d) {
			return true
		}
	}
	for _, r := range t.roles {
		switch r.EntityType {
		case ScopeWorkspace:
			if p.wsRoleIn(r.EntityID) {
				return true
			}
		case ScopeDeployment:
			if d, ok := s.deployments[r.EntityID]; ok && !d.deleted && s.canReadDeployment(p, d) {
				return true
			}
		}
	}
	return false
}

// canManageToken governs update, rotate, delete and roles: org owner for
// every token; WORKSPACE_OWNER of W for WORKSPACE tokens of W and DEPLOYMENT
// tokens of deployments in W; DEPLOYMENT_ADMIN of D for DEPLOYMENT tokens of
// D (itself included). Organization tokens need the org owner
// (astro-api.md §8.4: a token "can only be rotated, updated or deleted within
// its original scope").
func (s *Server) canManageToken(p *principal, t *token) bool {
	if p.orgOwner() {
		return true
	}
	switch t.scope {
	case ScopeWorkspace:
		return p.wsRoleIn(t.entityID, RoleWorkspaceOwner)
	case ScopeDeployment:
		return s.canManageDeploymentGrants(p, t.entityID)
	}
	return false
}

// canManageDeploymentGrants: who may create DEPLOYMENT tokens of a
// deployment and grant roles on it.
func (s *Server) canManageDeploymentGrants(p *principal, depID string) bool {
	if p.orgOwner() || p.dep[depID] == RoleDeploymentAdmin {
		return true
	}
	d, ok := s.deployments[depID]
	return ok && !d.deleted && p.wsRoleIn(d.workspaceID, RoleWorkspaceOwner)
}

// canGrant reports whether the caller may add or remove role r on a token:
// the caller must be able to manage the entity the role is on.
func (s *Server) canGrant(p *principal, r Role) bool {
	if p.orgOwner() {
		return true
	}
	switch r.EntityType {
	case ScopeWorkspace:
		return p.wsRoleIn(r.EntityID, RoleWorkspaceOwner)
	case ScopeDeployment:
		return s.canManageDeploymentGrants(p, r.EntityID)
	case EntityDAG, EntityDAGTag:
		return s.canManageDeploymentGrants(p, r.DeploymentID)
	}
	return false // ORGANIZATION roles: org owner only
}
