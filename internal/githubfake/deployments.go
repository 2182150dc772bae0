package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Deployments, deployment statuses and issue comments: what a preview
// needs to show "View deployment" and one kept-current comment on its pull
// request (GitHub REST "Deployments" and "Issue comments"). Branches are in
// branches.go.
//
//	GET    /repos/{owner}/{repo}/deployments                              repos/list-deployments
//	POST   /repos/{owner}/{repo}/deployments                              repos/create-deployment
//	GET    /repos/{owner}/{repo}/deployments/{deployment_id}/statuses     repos/list-deployment-statuses
//	POST   /repos/{owner}/{repo}/deployments/{deployment_id}/statuses     repos/create-deployment-status
//	GET    /repos/{owner}/{repo}/issues/{issue_number}/comments           issues/list-comments
//	POST   /repos/{owner}/{repo}/issues/{issue_number}/comments           issues/create-comment
//	PATCH  /repos/{owner}/{repo}/issues/comments/{comment_id}             issues/update-comment

func init() {
	// Registered here rather than in server.go's table, so that these
	// routes live in the files that serve them.
	routes = append(routes,
		route{"GET", split("/repos/{owner}/{repo}/deployments"), "repos/list-deployments", "/deployments/deployments#list-deployments", false, (*Server).listDeployments},
		route{"POST", split("/repos/{owner}/{repo}/deployments"), "repos/create-deployment", "/deployments/deployments#create-a-deployment", false, (*Server).createDeployment},
		route{"GET", split("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"), "repos/list-deployment-statuses", "/deployments/statuses#list-deployment-statuses", false, (*Server).listDeploymentStatuses},
		route{"POST", split("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"), "repos/create-deployment-status", "/deployments/statuses#create-a-deployment-status", false, (*Server).createDeploymentStatus},
		route{"GET", split("/repos/{owner}/{repo}/branches"), "repos/list-branches", "/branches/branches#list-branches", false, (*Server).listBranches},
		route{"GET", split("/repos/{owner}/{repo}/issues/{issue_number}/comments"), "issues/list-comments", "/issues/comments#list-issue-comments", false, (*Server).listComments},
		route{"POST", split("/repos/{owner}/{repo}/issues/{issue_number}/comments"), "issues/create-comment", "/issues/comments#create-an-issue-comment", false, (*Server).createComment},
		route{"PATCH", split("/repos/{owner}/{repo}/issues/comments/{comment_id}"), "issues/update-comment", "/issues/comments#update-an-issue-comment", false, (*Server).updateComment},
	)
}

// repoCode is a repository's branches, deployments, pull requests and
// comments.
type repoCode struct {
	branches    map[string]string // name → head sha; "main" is implied
	mainGone    bool              // DeleteBranch removed the implied main
	deployments []*ghDeployment
	pulls       map[int]bool
	comments    []*ghComment
}

type ghDeployment struct {
	id                        int64
	sha, ref, task, env, desc string
	payload                   json.RawMessage
	transient, production     bool
	creator                   *account
	created, updated          string
	statuses                  []*ghStatus
}

type ghStatus struct {
	id                                       int64
	state, desc, env, envURL, logURL, target string
	creator                                  *account
	created                                  string
}

type ghComment struct {
	id               int64
	issue            int
	body             string
	user             *account
	created, updated string
}

// botLogin is the account that the fake's credentials act as.
const botLogin = "github-actions[bot]"

func (s *Server) actorLocked() *account { return s.accountLocked(botLogin) }

// mainSHA is the implied head of a repository's default branch.
func mainSHA(r *repo) string { return fmt.Sprintf("%040x", r.id*7919) }

func (r *repo) branchSHA(name string) (string, bool) {
	if sha, ok := r.code.branches[name]; ok {
		return sha, true
	}
	if name == "main" && !r.code.mainGone {
		return mainSHA(r), true
	}
	return "", false
}

// repoFor resolves the repository of a route and checks need: 404 for
// what the caller cannot see, 403 with X-Accepted-GitHub-Permissions for
// what it sees without the permission.
func (s *Server) repoFor(c *call, need ...perm) (*repo, int, any) {
	r := s.repos[lower(c.params["owner"]+"/"+c.params["repo"])]
	if r == nil {
		code, body := c.notFound()
		return nil, code, body
	}
	visible, inScope := c.caller.repoAccess(r)
	switch {
	case !visible:
		code, body := c.notFound()
		return nil, code, body
	case !inScope && slices.ContainsFunc(need, func(p perm) bool { return p.level == "write" }):
		code, body, _ := c.forbidden(need...)
		return nil, code, body
	}
	if code, body, ok := c.allow(need...); !ok {
		return nil, code, body
	}
	return r, 0, nil
}

// allowAny passes when the caller holds one of the permissions.
func (c *call) allowAny(need ...perm) (int, any, bool) {
	for _, n := range need {
		if c.caller.has(n) {
			return 0, nil, true
		}
	}
	return c.forbidden(need...)
}

func (c *call) deploymentJSON(r *repo, d *ghDeployment) map[string]any {
	api := c.apiBase + "/repos/" + r.fullName() + "/deployments/" + strconv.FormatInt(d.id, 10)
	payload := any(map[string]any{})
	if len(d.payload) > 0 {
		payload = d.payload
	}
	return map[string]any{
		"url": api, "id": d.id, "node_id": nodeID("Deployment", d.id), "sha": d.sha, "ref": d.ref, "task": d.task,
		"payload": payload, "original_environment": d.env, "environment": d.env, "description": d.desc,
		"creator": c.userJSON(d.creator), "created_at": d.created, "updated_at": d.updated,
		"statuses_url": api + "/statuses", "repository_url": c.apiBase + "/repos/" + r.fullName(),
		"transient_environment": d.transient, "production_environment": d.production,
	}
}

func (c *call) statusJSON(r *repo, d *ghDeployment, st *ghStatus) map[string]any {
	dep := c.apiBase + "/repos/" + r.fullName() + "/deployments/" + strconv.FormatInt(d.id, 10)
	return map[string]any{
		"url": dep + "/statuses/" + strconv.FormatInt(st.id, 10), "id": st.id, "node_id": nodeID("DeploymentStatus", st.id),
		"state": st.state, "creator": c.userJSON(st.creator), "description": st.desc, "environment": st.env,
		"target_url": st.target, "environment_url": st.envURL, "log_url": st.logURL,
		"created_at": st.created, "updated_at": st.created, "deployment_url": dep,
		"repository_url": c.apiBase + "/repos/" + r.fullName(),
	}
}

func decodeJSON(c *call, v any) (int, any, bool) {
	if c.bodyErr != nil || json.Unmarshal(c.body, v) != nil {
		code, body := c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return code, body, false
	}
	return 0, nil, true
}

// createDeployment: ref must name a branch (or a full SHA of one); the
// environment defaults to "production", production_environment to
// whether it is "production", task to "deploy". Not modelled: auto_merge
// (GitHub may merge the default branch into ref and answer 202) and
// required_contexts (commit statuses are not modelled, so every check
// counts as passed). Needs deployments=write.
func (s *Server) createDeployment(c *call) (int, any) {
	r, code, body := s.repoFor(c, perm{"deployments", "write"})
	if r == nil {
		return code, body
	}
	var req struct {
		Ref         *string         `json:"ref"`
		Task        *string         `json:"task"`
		Environment *string         `json:"environment"`
		Description *string         `json:"description"`
		Payload     json.RawMessage `json:"payload"`
		Transient   *bool           `json:"transient_environment"`
		Production  *bool           `json:"production_environment"`
	}
	if code, body, ok := decodeJSON(c, &req); !ok {
		return code, body
	}
	if req.Ref == nil || *req.Ref == "" {
		return c.invalid("Deployment", "ref", "missing_field", "ref is required")
	}
	sha, ok := r.branchSHA(*req.Ref)
	if !ok {
		for _, h := range r.code.branches {
			if h == *req.Ref {
				sha, ok = h, true
			}
		}
	}
	if !ok {
		return c.fail(http.StatusUnprocessableEntity, "No ref found for: %s", *req.Ref)
	}
	env := "production"
	if req.Environment != nil && *req.Environment != "" {
		env = *req.Environment
	}
	d := &ghDeployment{
		id: s.nextIDLocked(), sha: sha, ref: *req.Ref, task: "deploy", env: env, creator: s.actorLocked(),
		created: ts(s.clock()), production: env == "production", payload: req.Payload,
	}
	d.updated = d.created
	if req.Task != nil && *req.Task != "" {
		d.task = *req.Task
	}
	if req.Description != nil {
		d.desc = *req.Description
	}
	if req.Transient != nil {
		d.transient = *req.Transient
	}
	if req.Production != nil {
		d.production = *req.Production
	}
	r.code.deployments = append(r.code.deployments, d)
	return http.StatusCreated, c.deploymentJSON(r, d)
}

// listDeployments: newest first, filtered by sha, ref, task and
// environment. Needs deployments=read.
func (s *Server) listDeployments(c *call) (int, any) {
	r, code, body := s.repoFor(c, perm{"deployments", "read"})
	if r == nil {
		return code, body
	}
	var list []*ghDeployment
	for _, d := range slices.Backward(r.code.deployments) {
		if q := c.query.Get("sha"); q != "" && q != d.sha {
			continue
		}
		if q := c.query.Get("ref"); q != "" && q != d.ref {
			continue
		}
		if q := c.query.Get("task"); q != "" && q != d.task {
			continue
		}
		if q := c.query.Get("environment"); q != "" && q != d.env {
			continue
		}
		list = append(list, d)
	}
	page, perPage := c.paging()
	out := []map[string]any{}
	for _, d := range pageOf(list, page, perPage) {
		out = append(out, c.deploymentJSON(r, d))
	}
	c.link(len(list), page, perPage)
	return http.StatusOK, out
}

func (s *Server) deploymentOf(c *call, r *repo) *ghDeployment {
	id, err := strconv.ParseInt(c.params["deployment_id"], 10, 64)
	if err != nil {
		return nil
	}
	for _, d := range r.code.deployments {
		if d.id == id {
			return d
		}
	}
	return nil
}

var statusStates = []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}

// createDeploymentStatus: state is required; description is cut at 140
// characters as GitHub documents; auto_inactive (default true) makes a
// success mark the earlier non-transient, non-production deployments of
// the same environment inactive, as GitHub does. Needs deployments=write.
func (s *Server) createDeploymentStatus(c *call) (int, any) {
	r, code, body := s.repoFor(c, perm{"deployments", "write"})
	if r == nil {
		return code, body
	}
	d := s.deploymentOf(c, r)
	if d == nil {
		return c.notFound()
	}
	var req struct {
		State          *string `json:"state"`
		TargetURL      *string `json:"target_url"`
		LogURL         *string `json:"log_url"`
		Description    *string `json:"description"`
		Environment    *string `json:"environment"`
		EnvironmentURL *string `json:"environment_url"`
		AutoInactive   *bool   `json:"auto_inactive"`
	}
	if code, body, ok := decodeJSON(c, &req); !ok {
		return code, body
	}
	if req.State == nil || !slices.Contains(statusStates, *req.State) {
		return c.invalid("DeploymentStatus", "state", "invalid", "state must be one of "+strings.Join(statusStates, ", "))
	}
	st := &ghStatus{id: s.nextIDLocked(), state: *req.State, env: d.env, creator: s.actorLocked(), created: ts(s.clock())}
	if req.Description != nil {
		st.desc = *req.Description
		if utf8.RuneCountInString(st.desc) > 140 {
			st.desc = string([]rune(st.desc)[:140])
		}
	}
	if req.Environment != nil && *req.Environment != "" {
		st.env, d.env = *req.Environment, *req.Environment
	}
	for _, p := range []struct {
		dst *string
		src *string
	}{{&st.envURL, req.EnvironmentURL}, {&st.logURL, req.LogURL}, {&st.target, req.TargetURL}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	if st.logURL == "" {
		st.logURL = st.target
	}
	if st.target == "" {
		st.target = st.logURL
	}
	d.statuses = append(d.statuses, st)
	d.updated = st.created
	if st.state == "success" && (req.AutoInactive == nil || *req.AutoInactive) {
		for _, o := range r.code.deployments {
			if o != d && o.env == d.env && !o.transient && !o.production && o.state() != "inactive" {
				o.statuses = append(o.statuses, &ghStatus{id: s.nextIDLocked(), state: "inactive", env: o.env,
					creator: st.creator, created: st.created, desc: "superseded"})
			}
		}
	}
	return http.StatusCreated, c.statusJSON(r, d, st)
}

func (d *ghDeployment) state() string {
	if len(d.statuses) == 0 {
		return ""
	}
	return d.statuses[len(d.statuses)-1].state
}

// listDeploymentStatuses: newest first. Needs deployments=read.
func (s *Server) listDeploymentStatuses(c *call) (int, any) {
	r, code, body := s.repoFor(c, perm{"deployments", "read"})
	if r == nil {
		return code, body
	}
	d := s.deploymentOf(c, r)
	if d == nil {
		return c.notFound()
	}
	list := slices.Clone(d.statuses)
	slices.Reverse(list)
	page, perPage := c.paging()
	out := []map[string]any{}
	for _, st := range pageOf(list, page, perPage) {
		out = append(out, c.statusJSON(r, d, st))
	}
	c.link(len(list), page, perPage)
	return http.StatusOK, out
}

// ---------------------------------------------------------------------------
// Issue comments

// maxCommentBody: "body is too long (maximum is 65536 characters)".
const maxCommentBody = 65536

func (c *call) commentJSON(r *repo, cm *ghComment) map[string]any {
	api := c.apiBase + "/repos/" + r.fullName()
	return map[string]any{
		"id": cm.id, "node_id": nodeID("IssueComment", cm.id), "url": api + "/issues/comments/" + strconv.FormatInt(cm.id, 10),
		"html_url":  fmt.Sprintf("%s/%s/pull/%d#issuecomment-%d", c.webBase, r.fullName(), cm.issue, cm.id),
		"issue_url": fmt.Sprintf("%s/issues/%d", api, cm.issue), "body": cm.body, "user": c.userJSON(cm.user),
		"created_at": cm.created, "updated_at": cm.updated, "author_association": "NONE",
	}
}

// commentsRepo: reading comments of a pull request needs issues or
// pull_requests read, writing them write (fine-grained permission tables).
func (s *Server) commentsRepo(c *call, level string) (*repo, int, any) {
	r, code, body := s.repoFor(c)
	if r == nil {
		return nil, code, body
	}
	if _, inScope := c.caller.repoAccess(r); !inScope && level == "write" {
		code, body, _ := c.forbidden(perm{"issues", level}, perm{"pull_requests", level})
		return nil, code, body
	}
	if code, body, ok := c.allowAny(perm{"issues", level}, perm{"pull_requests", level}); !ok {
		return nil, code, body
	}
	return r, 0, nil
}

func (s *Server) issueOf(c *call, r *repo) (int, bool) {
	n, err := strconv.Atoi(c.params["issue_number"])
	return n, err == nil && r.code.pulls[n]
}

// listComments: oldest first, as GitHub lists them.
func (s *Server) listComments(c *call) (int, any) {
	r, code, body := s.commentsRepo(c, "read")
	if r == nil {
		return code, body
	}
	n, ok := s.issueOf(c, r)
	if !ok {
		return c.notFound()
	}
	var list []*ghComment
	for _, cm := range r.code.comments {
		if cm.issue == n {
			list = append(list, cm)
		}
	}
	page, perPage := c.paging()
	out := []map[string]any{}
	for _, cm := range pageOf(list, page, perPage) {
		out = append(out, c.commentJSON(r, cm))
	}
	c.link(len(list), page, perPage)
	return http.StatusOK, out
}

func (s *Server) createComment(c *call) (int, any) {
	r, code, body := s.commentsRepo(c, "write")
	if r == nil {
		return code, body
	}
	n, ok := s.issueOf(c, r)
	if !ok {
		return c.notFound()
	}
	var req struct {
		Body *string `json:"body"`
	}
	if code, body, ok := decodeJSON(c, &req); !ok {
		return code, body
	}
	if req.Body == nil || *req.Body == "" {
		return c.invalid("IssueComment", "body", "missing_field", "body is required")
	}
	if utf8.RuneCountInString(*req.Body) > maxCommentBody {
		return c.invalid("IssueComment", "body", "custom", "body is too long (maximum is 65536 characters)")
	}
	cm := &ghComment{id: s.nextIDLocked(), issue: n, body: *req.Body, user: s.actorLocked(), created: ts(s.clock())}
	cm.updated = cm.created
	r.code.comments = append(r.code.comments, cm)
	return http.StatusCreated, c.commentJSON(r, cm)
}

func (s *Server) updateComment(c *call) (int, any) {
	r, code, body := s.commentsRepo(c, "write")
	if r == nil {
		return code, body
	}
	id, _ := strconv.ParseInt(c.params["comment_id"], 10, 64)
	var cm *ghComment
	for _, x := range r.code.comments {
		if x.id == id {
			cm = x
		}
	}
	if cm == nil {
		return c.notFound()
	}
	var req struct {
		Body *string `json:"body"`
	}
	if code, body, ok := decodeJSON(c, &req); !ok {
		return code, body
	}
	if req.Body == nil || *req.Body == "" {
		return c.invalid("IssueComment", "body", "missing_field", "body is required")
	}
	if utf8.RuneCountInString(*req.Body) > maxCommentBody {
		return c.invalid("IssueComment", "body", "custom", "body is too long (maximum is 65536 characters)")
	}
	cm.body, cm.updated = *req.Body, ts(s.clock())
	return http.StatusOK, c.commentJSON(r, cm)
}

// ---------------------------------------------------------------------------
// Seeding and inspection

// AddPullRequest registers pull request number of a known repository, so
// that its comments can be listed and written.
func (s *Server) AddPullRequest(owner, repoName string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[lower(owner+"/"+repoName)]
	if r == nil {
		panic(fmt.Sprintf("githubfake: AddPullRequest: unknown repository %s/%s", owner, repoName))
	}
	if r.code.pulls == nil {
		r.code.pulls = map[int]bool{}
	}
	r.code.pulls[number] = true
}

// DeploymentInfo is a deployment with its statuses, newest last.
type DeploymentInfo struct {
	ID                    int64
	Ref, SHA, Environment string
	Task, Description     string
	Transient, Production bool
	Statuses              []StatusInfo
}

// StatusInfo is one deployment status.
type StatusInfo struct {
	State, Description, EnvironmentURL, LogURL string
}

// Deployments lists the deployments of a repository, oldest first.
func (s *Server) Deployments(owner, repoName string) []DeploymentInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[lower(owner+"/"+repoName)]
	if r == nil {
		return nil
	}
	var out []DeploymentInfo
	for _, d := range r.code.deployments {
		di := DeploymentInfo{ID: d.id, Ref: d.ref, SHA: d.sha, Environment: d.env, Task: d.task, Description: d.desc,
			Transient: d.transient, Production: d.production}
		for _, st := range d.statuses {
			di.Statuses = append(di.Statuses, StatusInfo{State: st.state, Description: st.desc, EnvironmentURL: st.envURL, LogURL: st.logURL})
		}
		out = append(out, di)
	}
	return out
}

// Comments returns the bodies of the comments on a pull request, oldest
// first.
func (s *Server) Comments(owner, repoName string, number int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[lower(owner+"/"+repoName)]
	if r == nil {
		return nil
	}
	var out []string
	for _, cm := range r.code.comments {
		if cm.issue == number {
			out = append(out, cm.body)
		}
	}
	return out
}
