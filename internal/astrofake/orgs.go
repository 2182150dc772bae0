package astrofake

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
)

func (s *Server) wireOrg(o *organization) wireOrganization {
	return wireOrganization{
		CreatedAt: ts(o.createdAt), CreatedBy: s.seedUser, ID: o.id, Name: o.name,
		// astro-cli reads orgs[0].product (astro-api.md §8.1).
		Product: "HOSTED", Status: "ACTIVE",
		ProductPlans: []wireOrgProductPlan{{
			AstronomerProduct: "ASTRO", OrganizationID: o.id, ProductPlanID: o.planID, ProductPlanName: "ENTERPRISE",
		}},
		UpdatedAt: ts(o.createdAt), UpdatedBy: s.seedUser,
	}
}

// listOrganizations returns the caller's organization: an API token belongs
// to exactly one. The spec says this needs a personal access token, but
// astro-cli calls it with API tokens and uses orgs[0] (astro-api.md §6), so
// the fake serves it to API tokens.
func (s *Server) listOrganizations(c *call) (int, any) {
	var fe fieldErrs
	pg := pageParams(c.query, 1000, &fe)
	sortKeys(c.query, []string{"name", "createdAt", "updatedAt"}, &fe)
	if p := c.query.Get("product"); p != "" && p != "HOSTED" && p != "HYBRID" {
		fe.add("product", "oneof", "product must be HOSTED or HYBRID")
	}
	if len(fe) > 0 {
		return fe.response()
	}
	var all []wireOrganization
	if o, ok := s.orgs[c.caller.tok.orgID]; ok {
		if p := c.query.Get("product"); p == "" || p == "HOSTED" {
			all = append(all, s.wireOrg(o))
		}
	}
	return http.StatusOK, wireOrgsPage{
		Limit: pg.limit, Offset: pg.offset, TotalCount: len(all),
		Organizations: paginate(all, pg),
	}
}

func (s *Server) getOrganization(c *call) (int, any) {
	o, ok := s.orgs[c.params["organizationId"]]
	if !ok {
		return errorf(http.StatusNotFound, "Organization not found")
	}
	return http.StatusOK, s.wireOrg(o)
}

func (s *Server) wireWS(w *workspace) wireWorkspace {
	sub := s.seedUser
	out := wireWorkspace{
		CreatedAt: ts(w.createdAt), CreatedBy: &sub, ID: w.id, Name: w.name,
		OrganizationID: w.orgID, UpdatedAt: ts(w.createdAt), UpdatedBy: &sub,
	}
	if o, ok := s.orgs[w.orgID]; ok {
		out.OrganizationName = o.name
	}
	return out
}

// listWorkspaces returns the workspaces the caller can see (an
// ORGANIZATION_MEMBER token without workspace roles sees none, astro-api.md
// §2), filtered by workspaceIds and names.
func (s *Server) listWorkspaces(c *call) (int, any) {
	org := c.params["organizationId"]
	var fe fieldErrs
	pg := pageParams(c.query, 1000, &fe)
	keys := sortKeys(c.query, []string{"name", "createdAt", "updatedAt"}, &fe)
	if len(fe) > 0 {
		return fe.response()
	}
	ids, names := c.query["workspaceIds"], c.query["names"]
	var list []*workspace
	for _, w := range s.workspaces {
		if w.orgID != org || !s.canReadWorkspace(c.caller, w.id) {
			continue
		}
		if len(ids) > 0 && !slices.Contains(ids, w.id) {
			continue
		}
		if len(names) > 0 && !slices.Contains(names, w.name) {
			continue
		}
		list = append(list, w)
	}
	slices.SortFunc(list, func(a, b *workspace) int {
		for _, k := range keys {
			var r int
			switch k[0] {
			case "name":
				r = strings.Compare(a.name, b.name)
			case "createdAt", "updatedAt":
				r = a.createdAt.Compare(b.createdAt)
			}
			if k[1] == "desc" {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.seq, b.seq), cmp.Compare(a.id, b.id))
	})
	out := wireWorkspacesPage{Limit: pg.limit, Offset: pg.offset, TotalCount: len(list), Workspaces: []wireWorkspace{}}
	for _, w := range paginate(list, pg) {
		out.Workspaces = append(out.Workspaces, s.wireWS(w))
	}
	return http.StatusOK, out
}

func (s *Server) getWorkspace(c *call) (int, any) {
	w, ok := s.workspaces[c.params["workspaceId"]]
	if !ok || w.orgID != c.params["organizationId"] {
		return errorf(http.StatusNotFound, "Workspace not found")
	}
	if !s.canReadWorkspace(c.caller, w.id) {
		return forbidden()
	}
	return http.StatusOK, s.wireWS(w)
}
