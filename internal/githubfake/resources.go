package githubfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func nodeID(kind string, id int64) string {
	return base64.RawStdEncoding.EncodeToString([]byte(fmt.Sprintf("0%d:%s%d", len(kind), kind, id)))
}

// userJSON is a simple-user: every field the description requires.
func (c *call) userJSON(a *account) map[string]any {
	api := c.apiBase + "/users/" + a.login
	return map[string]any{
		"login":               a.login,
		"id":                  a.id,
		"node_id":             nodeID(a.kind(), a.id),
		"avatar_url":          fmt.Sprintf("%s/u/%d?v=4", c.webBase, a.id),
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            c.webBase + "/" + a.login,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                a.kind(),
		"user_view_type":      "public",
		"site_admin":          false,
	}
}

// repoJSON is a minimal-repository, or with full a full-repository.
func (c *call) repoJSON(r *repo, full bool) map[string]any {
	api := c.apiBase + "/repos/" + r.fullName()
	html := c.webBase + "/" + r.fullName()
	m := map[string]any{
		"id":                r.id,
		"node_id":           nodeID("Repository", r.id),
		"name":              r.name,
		"full_name":         r.fullName(),
		"owner":             c.userJSON(r.owner),
		"private":           r.private,
		"html_url":          html,
		"description":       nil,
		"fork":              false,
		"url":               api,
		"archive_url":       api + "/{archive_format}{/ref}",
		"assignees_url":     api + "/assignees{/user}",
		"blobs_url":         api + "/git/blobs{/sha}",
		"branches_url":      api + "/branches{/branch}",
		"collaborators_url": api + "/collaborators{/collaborator}",
		"comments_url":      api + "/comments{/number}",
		"commits_url":       api + "/commits{/sha}",
		"compare_url":       api + "/compare/{base}...{head}",
		"contents_url":      api + "/contents/{+path}",
		"contributors_url":  api + "/contributors",
		"deployments_url":   api + "/deployments",
		"downloads_url":     api + "/downloads",
		"events_url":        api + "/events",
		"forks_url":         api + "/forks",
		"git_commits_url":   api + "/git/commits{/sha}",
		"git_refs_url":      api + "/git/refs{/sha}",
		"git_tags_url":      api + "/git/tags{/sha}",
		"hooks_url":         api + "/hooks",
		"issue_comment_url": api + "/issues/comments{/number}",
		"issue_events_url":  api + "/issues/events{/number}",
		"issues_url":        api + "/issues{/number}",
		"keys_url":          api + "/keys{/key_id}",
		"labels_url":        api + "/labels{/name}",
		"languages_url":     api + "/languages",
		"merges_url":        api + "/merges",
		"milestones_url":    api + "/milestones{/number}",
		"notifications_url": api + "/notifications{?since,all,participating}",
		"pulls_url":         api + "/pulls{/number}",
		"releases_url":      api + "/releases{/id}",
		"stargazers_url":    api + "/stargazers",
		"statuses_url":      api + "/statuses/{sha}",
		"subscribers_url":   api + "/subscribers",
		"subscription_url":  api + "/subscription",
		"tags_url":          api + "/tags",
		"teams_url":         api + "/teams",
		"trees_url":         api + "/git/trees{/sha}",
	}
	visibility := "public"
	if r.private {
		visibility = "private"
	}
	m["visibility"] = visibility
	if !full {
		return m
	}
	host := c.r.Host
	for k, v := range map[string]any{
		"clone_url":         html + ".git",
		"git_url":           "git://" + host + "/" + r.fullName() + ".git",
		"ssh_url":           "git@" + host + ":" + r.fullName() + ".git",
		"svn_url":           html,
		"mirror_url":        nil,
		"homepage":          nil,
		"language":          nil,
		"license":           nil,
		"default_branch":    "main",
		"forks":             0,
		"forks_count":       0,
		"open_issues":       0,
		"open_issues_count": 0,
		"stargazers_count":  0,
		"watchers":          0,
		"watchers_count":    0,
		"network_count":     0,
		"subscribers_count": 0,
		"size":              0,
		"has_issues":        true,
		"has_projects":      true,
		"has_wiki":          true,
		"has_pages":         false,
		"has_discussions":   false,
		"archived":          false,
		"disabled":          false,
		"pushed_at":         ts(r.created),
		"created_at":        ts(r.created),
		"updated_at":        ts(r.created),
		"topics":            []string{},
		"permissions":       c.caller.repoPermissions(),
	} {
		m[k] = v
	}
	if r.owner.isOrg {
		m["organization"] = c.userJSON(r.owner)
	}
	return m
}

func (s *Server) getRepo(c *call) (int, any) {
	r := s.repos[lower(c.params["owner"]+"/"+c.params["repo"])]
	if r == nil {
		return c.notFound()
	}
	if visible, _ := c.caller.repoAccess(r); !visible {
		return c.notFound()
	}
	return http.StatusOK, c.repoJSON(r, true)
}

// getEnvironment: "anyone with read access to the repository can use this
// endpoint" (GitHub's description), so visibility is all it needs.
func (s *Server) getEnvironment(c *call) (int, any) {
	r := s.repos[lower(c.params["owner"]+"/"+c.params["repo"])]
	if r == nil {
		return c.notFound()
	}
	if visible, _ := c.caller.repoAccess(r); !visible {
		return c.notFound()
	}
	e := r.envs[lower(c.params["environment_name"])]
	if e == nil {
		return c.notFound()
	}
	return http.StatusOK, c.environmentJSON(r, e)
}

// environmentJSON is an environment: every field the description requires,
// and no protection rules (the fake does not model them).
func (c *call) environmentJSON(r *repo, e *environment) map[string]any {
	return map[string]any{
		"id":               e.id,
		"node_id":          nodeID("Environment", e.id),
		"name":             e.name,
		"url":              fmt.Sprintf("%s/repos/%s/environments/%s", c.apiBase, r.fullName(), pathEscape(e.name)),
		"html_url":         fmt.Sprintf("%s/%s/deployments/activity_log?environments_filter=%s", c.webBase, r.fullName(), pathEscape(e.name)),
		"created_at":       ts(e.created),
		"updated_at":       ts(e.updated),
		"protection_rules": []any{},
	}
}

// adminRepo resolves the repository of an administration route: 404 for
// what the caller cannot see, 403 (X-Accepted-GitHub-Permissions:
// administration=write) for what it can see without the permission.
// Creating and deleting environments needs the fine-grained permission
// "Administration: write" (classic tokens: repo scope).
func (s *Server) adminRepo(c *call) (*repo, int, any) {
	r := s.repos[lower(c.params["owner"]+"/"+c.params["repo"])]
	if r == nil {
		code, body := c.notFound()
		return nil, code, body
	}
	need := perm{"administration", "write"}
	visible, inScope := c.caller.repoAccess(r)
	switch {
	case !visible:
		code, body := c.notFound()
		return nil, code, body
	case !inScope:
		code, body, _ := c.forbidden(need)
		return nil, code, body
	}
	if code, body, ok := c.allow(need); !ok {
		return nil, code, body
	}
	return r, 0, nil
}

// maxEnvironmentName: "An environment name may not exceed 255 characters".
const maxEnvironmentName = 255

// putEnvironment creates the environment, or updates an existing one
// (names are case-insensitive): 200 with the environment either way. The
// body is optional; its protection settings (wait_timer, reviewers,
// deployment_branch_policy, prevent_self_review) are accepted and ignored.
func (s *Server) putEnvironment(c *call) (int, any) {
	r, code, body := s.adminRepo(c)
	if r == nil {
		return code, body
	}
	name := c.params["environment_name"]
	if len(name) > maxEnvironmentName || strings.ContainsFunc(name, unicode.IsControl) {
		return c.fail(http.StatusUnprocessableEntity, "Name is invalid")
	}
	if c.bodyErr != nil {
		return c.fail(http.StatusBadRequest, "Problems parsing JSON")
	}
	if len(bytes.TrimSpace(c.body)) > 0 {
		var settings map[string]json.RawMessage
		if json.Unmarshal(c.body, &settings) != nil {
			return c.fail(http.StatusBadRequest, "Problems parsing JSON")
		}
	}
	e := r.envs[lower(name)]
	if e == nil {
		if code, body, ok := s.createsLocked(c); !ok {
			return code, body
		}
		e = s.newEnvironmentLocked(r, name)
	} else {
		e.updated = s.clock()
	}
	return http.StatusOK, c.environmentJSON(r, e)
}

// deleteEnvironment deletes the environment and, with it, its secrets:
// 204, or 404 when there is no such environment.
func (s *Server) deleteEnvironment(c *call) (int, any) {
	r, code, body := s.adminRepo(c)
	if r == nil {
		return code, body
	}
	key := lower(c.params["environment_name"])
	if r.envs[key] == nil {
		return c.notFound()
	}
	delete(r.envs, key)
	return http.StatusNoContent, nil
}

func (s *Server) getOrg(c *call) (int, any) {
	a := s.accounts[lower(c.params["org"])]
	if a == nil || !a.isOrg {
		return c.notFound()
	}
	api := c.apiBase + "/orgs/" + a.login
	return http.StatusOK, map[string]any{
		"login":                     a.login,
		"id":                        a.id,
		"node_id":                   nodeID("Organization", a.id),
		"url":                       api,
		"repos_url":                 api + "/repos",
		"events_url":                api + "/events",
		"hooks_url":                 api + "/hooks",
		"issues_url":                api + "/issues",
		"members_url":               api + "/members{/member}",
		"public_members_url":        api + "/public_members{/member}",
		"avatar_url":                fmt.Sprintf("%s/u/%d?v=4", c.webBase, a.id),
		"description":               nil,
		"html_url":                  c.webBase + "/" + a.login,
		"has_organization_projects": true,
		"has_repository_projects":   true,
		"public_repos":              s.publicRepoCountLocked(a),
		"public_gists":              0,
		"followers":                 0,
		"following":                 0,
		"type":                      "Organization",
		"created_at":                ts(a.created),
		"updated_at":                ts(a.created),
		"archived_at":               nil,
	}
}

func (s *Server) publicRepoCountLocked(a *account) int {
	n := 0
	for _, r := range s.repos {
		if r.owner == a && !r.private {
			n++
		}
	}
	return n
}

func (s *Server) getRateLimit(c *call) (int, any) {
	core := map[string]any{"limit": s.rate.limit, "remaining": s.rate.remaining, "used": s.rate.used, "reset": s.rate.reset.Unix()}
	search := map[string]any{"limit": 30, "remaining": 30, "used": 0, "reset": s.clock().Add(time.Minute).Unix()}
	return http.StatusOK, map[string]any{"resources": map[string]any{"core": core, "search": search}, "rate": core}
}

// ---------------------------------------------------------------------------
// Apps

func (c *call) appJSON(a *app) map[string]any {
	owner := &account{login: "app-owner", id: a.num, isOrg: true}
	return map[string]any{
		"id":           a.num,
		"slug":         a.slug,
		"client_id":    "Iv1." + a.slug,
		"node_id":      nodeID("Integration", a.num),
		"owner":        c.userJSON(owner),
		"name":         a.slug,
		"description":  nil,
		"external_url": c.webBase + "/apps/" + a.slug,
		"html_url":     c.webBase + "/apps/" + a.slug,
		"created_at":   ts(a.created),
		"updated_at":   ts(a.created),
		"permissions":  map[string]string{"metadata": "read"},
		"events":       []string{},
	}
}

func (s *Server) getApp(c *call) (int, any) { return http.StatusOK, c.appJSON(c.caller.app) }

func (c *call) installationJSON(in *installation) map[string]any {
	selection := "all"
	if len(in.repos) > 0 {
		selection = "selected"
	}
	return map[string]any{
		"id":                   in.id,
		"app_id":               in.app.num,
		"app_slug":             in.app.slug,
		"client_id":            "Iv1." + in.app.slug,
		"target_id":            in.owner.id,
		"target_type":          in.owner.kind(),
		"account":              c.userJSON(in.owner),
		"repository_selection": selection,
		"access_tokens_url":    fmt.Sprintf("%s/app/installations/%d/access_tokens", c.apiBase, in.id),
		"repositories_url":     c.apiBase + "/installation/repositories",
		"html_url":             fmt.Sprintf("%s/settings/installations/%d", c.webBase, in.id),
		"permissions":          in.perms,
		"events":               []string{},
		"created_at":           ts(in.created),
		"updated_at":           ts(in.created),
		"single_file_name":     nil,
		"suspended_by":         nil,
		"suspended_at":         nil,
	}
}

// installationOnLocked finds the caller app's installation on owner.
func (s *Server) installationOnLocked(a *app, owner *account) *installation {
	for _, in := range s.installations {
		if in.app == a && in.owner == owner {
			return in
		}
	}
	return nil
}

func (s *Server) getOrgInstallation(c *call) (int, any) {
	a := s.accounts[lower(c.params["org"])]
	if a == nil || !a.isOrg {
		return c.notFound()
	}
	in := s.installationOnLocked(c.caller.app, a)
	if in == nil {
		return c.notFound()
	}
	return http.StatusOK, c.installationJSON(in)
}

func (s *Server) getRepoInstallation(c *call) (int, any) {
	r := s.repos[lower(c.params["owner"]+"/"+c.params["repo"])]
	if r == nil {
		return c.notFound()
	}
	in := s.installationOnLocked(c.caller.app, r.owner)
	if in == nil || (len(in.repos) > 0 && !slices.Contains(in.repos, lower(r.fullName()))) {
		return c.notFound()
	}
	return http.StatusOK, c.installationJSON(in)
}

// installationTokenTTL: "Installation tokens expire one hour from the time
// you create them" (GitHub's description).
const installationTokenTTL = time.Hour

func (s *Server) createInstallationToken(c *call) (int, any) {
	id, err := strconv.ParseInt(c.params["installation_id"], 10, 64)
	in := s.installations[id]
	if err != nil || in == nil || in.app != c.caller.app {
		return c.notFound()
	}
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if len(c.body) > 0 {
		if code, body, ok := c.decodeJSON(&req); !ok {
			return code, body
		}
	}
	perms := clonePerms(in.perms)
	if req.Permissions != nil {
		perms = map[string]string{}
		for name, level := range req.Permissions {
			got := in.perms[name]
			if got == "" || (got == "read" && level != "read") {
				return c.invalid("Installation", "permissions", "invalid", "The permissions requested are not granted to this installation.")
			}
			perms[name] = level
		}
	}
	repos := slices.Clone(in.repos)
	var want []string
	for _, name := range req.Repositories {
		want = append(want, lower(in.owner.login+"/"+name))
	}
	for _, rid := range req.RepositoryIDs {
		if r := s.reposByID[rid]; r != nil {
			want = append(want, lower(r.fullName()))
		} else {
			want = append(want, fmt.Sprintf("#%d", rid))
		}
	}
	if len(want) > 0 {
		for _, w := range want {
			r := s.repos[w]
			if r == nil || r.owner != in.owner || (len(in.repos) > 0 && !slices.Contains(in.repos, w)) {
				return c.invalid("Installation", "repositories", "invalid", "There is at least one repository that does not exist or is not accessible to the parent installation.")
			}
		}
		repos = want
	}
	value := "ghs_" + s.randFrom(alnum, 36)
	expires := s.clock().Add(installationTokenTTL)
	s.tokens[value] = &credential{
		label:   fmt.Sprintf("installation-%d", in.id),
		perms:   perms,
		repos:   repos,
		inst:    in,
		expires: expires,
	}
	selection := "all"
	if len(repos) > 0 {
		selection = "selected"
	}
	return http.StatusCreated, map[string]any{
		"token":                value,
		"expires_at":           ts(expires),
		"permissions":          perms,
		"repository_selection": selection,
	}
}

// pathEscape escapes one path segment ("/" too).
func pathEscape(s string) string { return url.PathEscape(s) }
