package githubfake

import (
	"fmt"
	"net/http"
	"slices"
)

// GET /repos/{owner}/{repo}/branches (repos/list-branches): the
// repository's branches sorted by name, paginated with Link (per_page at
// most 100), each {name, commit{sha, url}, protected}; ?protected=true
// lists only protected ones (the fake protects none). Every repository
// has "main" (its default_branch) unless DeleteBranch removed it. It needs
// only read access to the repository (the "Metadata" permission every
// token holds).

func (s *Server) listBranches(c *call) (int, any) {
	r, code, body := s.repoFor(c)
	if r == nil {
		return code, body
	}
	var names []string
	for n := range r.code.branches {
		names = append(names, n)
	}
	if _, ok := r.code.branches["main"]; !ok && !r.code.mainGone {
		names = append(names, "main")
	}
	slices.Sort(names)
	if c.query.Get("protected") == "true" {
		names = nil
	}
	page, perPage := c.paging()
	out := []map[string]any{}
	for _, n := range pageOf(names, page, perPage) {
		sha, _ := r.branchSHA(n)
		out = append(out, map[string]any{
			"name":      n,
			"commit":    map[string]any{"sha": sha, "url": c.apiBase + "/repos/" + r.fullName() + "/commits/" + sha},
			"protected": false,
		})
	}
	c.link(len(names), page, perPage)
	return http.StatusOK, out
}

// AddBranch creates (or moves) a branch of a known repository.
func (s *Server) AddBranch(owner, repoName, branch, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[lower(owner+"/"+repoName)]
	if r == nil {
		panic(fmt.Sprintf("githubfake: AddBranch: unknown repository %s/%s", owner, repoName))
	}
	if r.code.branches == nil {
		r.code.branches = map[string]string{}
	}
	r.code.branches[branch] = sha
	if branch == "main" {
		r.code.mainGone = false
	}
}

// DeleteBranch removes a branch, as a merged pull request's branch goes.
func (s *Server) DeleteBranch(owner, repoName, branch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[lower(owner+"/"+repoName)]
	if r == nil {
		return
	}
	delete(r.code.branches, branch)
	if branch == "main" {
		r.code.mainGone = true
	}
}
