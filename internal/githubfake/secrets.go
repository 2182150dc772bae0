package githubfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/nacl/box"
)

type scopeKind int

const (
	scopeRepo scopeKind = iota
	scopeDependabot
	scopeEnv
	scopeOrg
)

// scopeCall is a resolved secret store with what it belongs to.
type scopeCall struct {
	kind scopeKind
	sc   *scope
	repo *repo    // repository scopes and environments
	org  *account // organization scope
	env  *environment
}

// maxValueBytes is GitHub's limit on a secret value (github-secrets.md §1).
const maxValueBytes = 48 * 1024

var secretNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// permsFor is what a scope's endpoints need at level ("read" for GET,
// "write" otherwise), in the fine-grained permission names of GitHub's
// fine-grained-pat-permissions.json (github-secrets.md §2).
func permsFor(k scopeKind, level string) []perm {
	switch k {
	case scopeDependabot:
		return []perm{{"dependabot_secrets", level}}
	case scopeEnv:
		return []perm{{"secrets", level}, {"environments", "read"}}
	case scopeOrg:
		return []perm{{"organization_secrets", level}}
	}
	return []perm{{"secrets", level}}
}

// secretsHandler resolves the scope of a secrets route and checks the
// caller may use it: 404 for what the caller cannot see (GitHub hides it),
// 403 for what it can see without the permission.
func secretsHandler(k scopeKind, h func(s *Server, c *call, sc *scopeCall) (int, any)) handlerFunc {
	return func(s *Server, c *call) (int, any) {
		level := "write"
		if c.r.Method == http.MethodGet {
			level = "read"
		}
		need := permsFor(k, level)
		sc := &scopeCall{kind: k}
		if k == scopeOrg {
			a := s.accounts[lower(c.params["org"])]
			if a == nil || !a.isOrg || !c.caller.orgAccess(a) {
				return c.notFound()
			}
			if code, body, ok := c.allow(need...); !ok {
				return code, body
			}
			sc.org, sc.sc = a, a.actions
			return h(s, c, sc)
		}
		var r *repo
		if id, ok := c.params["repository_id"]; ok {
			// The older environment-secret form names the repository by id.
			n, err := strconv.ParseInt(id, 10, 64)
			if r = s.reposByID[n]; err != nil || r == nil {
				return c.notFound()
			}
		} else if r = s.repos[lower(c.params["owner"]+"/"+c.params["repo"])]; r == nil {
			return c.notFound()
		}
		visible, inScope := c.caller.repoAccess(r)
		if !visible {
			return c.notFound()
		}
		if !inScope {
			code, body, _ := c.forbidden(need...)
			return code, body
		}
		if code, body, ok := c.allow(need...); !ok {
			return code, body
		}
		if level == "write" && !c.caller.roleAllows(roleWrite) {
			// A fine-grained token never exceeds its user's role: "To
			// create a repository secret, you must have write access".
			code, body, _ := c.forbidden(need...)
			return code, body
		}
		sc.repo = r
		switch k {
		case scopeRepo:
			sc.sc = r.actions
		case scopeDependabot:
			sc.sc = r.dependabot
		case scopeEnv:
			e := r.envs[lower(c.params["environment_name"])]
			if e == nil {
				return c.notFound()
			}
			sc.env, sc.sc = e, e.secrets
		}
		return h(s, c, sc)
	}
}

func (s *Server) getPublicKey(c *call, sc *scopeCall) (int, any) {
	return http.StatusOK, map[string]any{"key_id": sc.sc.keyID, "key": b64(sc.sc.pub[:])}
}

// secretJSON is the metadata GitHub returns; values never leave it.
func (c *call) secretJSON(sc *scopeCall, rec *secretRec) map[string]any {
	m := map[string]any{
		"name":       rec.name,
		"created_at": ts(rec.created),
		"updated_at": ts(rec.updated),
	}
	if sc.kind == scopeOrg {
		m["visibility"] = rec.visibility
		if rec.visibility == "selected" {
			m["selected_repositories_url"] = fmt.Sprintf("%s/orgs/%s/actions/secrets/%s/repositories", c.apiBase, sc.org.login, rec.name)
		}
	}
	return m
}

func (s *Server) listSecrets(c *call, sc *scopeCall) (int, any) {
	names := make([]string, 0, len(sc.sc.secrets))
	for k := range sc.sc.secrets {
		names = append(names, k)
	}
	slices.Sort(names)
	page, perPage := c.paging()
	items := []map[string]any{}
	for _, n := range pageOf(names, page, perPage) {
		items = append(items, c.secretJSON(sc, sc.sc.secrets[n]))
	}
	c.link(len(names), page, perPage)
	return http.StatusOK, map[string]any{"total_count": len(names), "secrets": items}
}

func (s *Server) getSecret(c *call, sc *scopeCall) (int, any) {
	rec := sc.sc.secrets[strings.ToUpper(c.params["secret_name"])]
	if rec == nil {
		return c.notFound()
	}
	return http.StatusOK, c.secretJSON(sc, rec)
}

func (s *Server) deleteSecret(c *call, sc *scopeCall) (int, any) {
	key := strings.ToUpper(c.params["secret_name"])
	if sc.sc.secrets[key] == nil {
		return c.notFound()
	}
	delete(sc.sc.secrets, key)
	return http.StatusNoContent, nil
}

// notSupplied is the 422 GitHub sends for a missing body field (quoted in
// github/rest-api-description#419).
func (c *call) notSupplied(field string) (int, any) {
	return c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n%q wasn't supplied.", field)
}

func (c *call) decodeJSON(v any) (int, any, bool) {
	if c.bodyErr != nil || len(strings.TrimSpace(string(c.body))) == 0 {
		code, body := c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return code, body, false
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		code, body := c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return code, body, false
	}
	return 0, nil, true
}

// repoIDs reads selected_repository_ids (integers, or numeric strings as the
// description also allows) and checks they name repositories of org.
func (s *Server) repoIDs(c *call, org *account, raw []json.RawMessage) ([]int64, int, any, bool) {
	ids := make([]int64, 0, len(raw))
	for _, m := range raw {
		id, err := strconv.ParseInt(rawString(m), 10, 64)
		r := s.reposByID[id]
		if err != nil || r == nil || r.owner != org {
			code, body := c.invalid("Secret", "selected_repository_ids", "invalid",
				fmt.Sprintf("%s is not a repository of %s", strings.Trim(string(m), `"`), org.login))
			return nil, code, body, false
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, 0, nil, true
}

func (s *Server) putSecret(c *call, sc *scopeCall) (int, any) {
	name := c.params["secret_name"]
	switch {
	case !secretNameRE.MatchString(name):
		return c.invalid("Secret", "secret_name", "invalid", "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or underscores (_).")
	case strings.HasPrefix(strings.ToUpper(name), "GITHUB_"):
		return c.invalid("Secret", "secret_name", "invalid", "Secret names must not start with GITHUB_.")
	}
	var in struct {
		EncryptedValue *string           `json:"encrypted_value"`
		KeyID          *string           `json:"key_id"`
		Visibility     *string           `json:"visibility"`
		SelectedIDs    []json.RawMessage `json:"selected_repository_ids"`
	}
	if code, body, ok := c.decodeJSON(&in); !ok {
		return code, body
	}
	key := strings.ToUpper(name)
	rec := sc.sc.secrets[key]

	var visibility string
	var selected []int64
	if sc.kind == scopeOrg {
		if in.Visibility == nil {
			return c.notSupplied("visibility")
		}
		visibility = *in.Visibility
		switch visibility {
		case "all", "private":
			// selected_repository_ids is ignored without "selected".
		case "selected":
			ids, code, body, ok := s.repoIDs(c, sc.org, in.SelectedIDs)
			if !ok {
				return code, body
			}
			selected = ids
		default:
			return c.invalid("Secret", "visibility", "invalid", "visibility must be one of all, private, selected")
		}
		if in.EncryptedValue == nil && rec != nil {
			// An organization secret's access can change without a new value.
			rec.visibility, rec.selected, rec.updated = visibility, selected, s.clock()
			return http.StatusNoContent, nil
		}
	}
	if in.EncryptedValue == nil {
		return c.notSupplied("encrypted_value")
	}
	if in.KeyID == nil {
		return c.notSupplied("key_id")
	}
	if *in.KeyID != sc.sc.keyID {
		return c.invalid("Secret", "key_id", "invalid", "key_id does not match the current public key of this secret store; fetch the public key again")
	}
	ct, err := base64.StdEncoding.DecodeString(*in.EncryptedValue)
	var plain []byte
	ok := err == nil
	if ok {
		plain, ok = box.OpenAnonymous(nil, ct, &sc.sc.pub, &sc.sc.priv)
	}
	if !ok {
		s.decryptFailures++
		return c.fail(http.StatusUnprocessableEntity, "Bad request: value could not be decrypted")
	}
	if len(plain) > maxValueBytes {
		return c.invalid("Secret", "encrypted_value", "invalid", "Secret values are limited to 48 KB")
	}
	now := s.clock()
	if rec == nil {
		if len(sc.sc.secrets) >= sc.sc.limit {
			return c.invalid("Secret", "secret_name", "custom", fmt.Sprintf("This secret store is limited to %d secrets", sc.sc.limit))
		}
		if code, body, ok := s.createsLocked(c); !ok {
			return code, body
		}
		sc.sc.secrets[key] = &secretRec{name: key, value: string(plain), created: now, updated: now, visibility: visibility, selected: selected}
		return http.StatusCreated, struct{}{}
	}
	rec.value, rec.updated = string(plain), now
	if sc.kind == scopeOrg {
		rec.visibility, rec.selected = visibility, selected
	}
	return http.StatusNoContent, nil
}

func (s *Server) listSelectedRepos(c *call, sc *scopeCall) (int, any) {
	rec := sc.sc.secrets[strings.ToUpper(c.params["secret_name"])]
	if rec == nil {
		return c.notFound()
	}
	if rec.visibility != "selected" {
		return c.fail(http.StatusConflict, "The visibility of this secret is not set to selected")
	}
	page, perPage := c.paging()
	repos := []map[string]any{}
	for _, id := range pageOf(rec.selected, page, perPage) {
		if r := s.reposByID[id]; r != nil {
			repos = append(repos, c.repoJSON(r, false))
		}
	}
	c.link(len(rec.selected), page, perPage)
	return http.StatusOK, map[string]any{"total_count": len(rec.selected), "repositories": repos}
}

func (s *Server) setSelectedRepos(c *call, sc *scopeCall) (int, any) {
	var in struct {
		SelectedIDs *[]json.RawMessage `json:"selected_repository_ids"`
	}
	if code, body, ok := c.decodeJSON(&in); !ok {
		return code, body
	}
	if in.SelectedIDs == nil {
		return c.notSupplied("selected_repository_ids")
	}
	rec := sc.sc.secrets[strings.ToUpper(c.params["secret_name"])]
	if rec == nil {
		return c.notFound()
	}
	if rec.visibility != "selected" {
		return c.fail(http.StatusConflict, "The visibility of this secret is not set to selected")
	}
	ids, code, body, ok := s.repoIDs(c, sc.org, *in.SelectedIDs)
	if !ok {
		return code, body
	}
	rec.selected, rec.updated = ids, s.clock()
	return http.StatusNoContent, nil
}

// ---------------------------------------------------------------------------
// Pagination

func (c *call) paging() (page, perPage int) {
	page, perPage = 1, 30
	if v, err := strconv.Atoi(c.query.Get("page")); err == nil && v > 0 {
		page = v
	}
	if v, err := strconv.Atoi(c.query.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	return page, perPage
}

func pageOf[T any](all []T, page, perPage int) []T {
	start := (page - 1) * perPage
	if start >= len(all) {
		return nil
	}
	return all[start:min(start+perPage, len(all))]
}

// link sets GitHub's Link header when there is more than one page.
func (c *call) link(total, page, perPage int) {
	last := max((total+perPage-1)/perPage, 1)
	if last == 1 {
		return
	}
	u := *c.r.URL
	ref := func(p int, rel string) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, c.webBase, u.EscapedPath(), q.Encode(), rel)
	}
	var parts []string
	if page > 1 {
		parts = append(parts, ref(page-1, "prev"), ref(1, "first"))
	}
	if page < last {
		parts = append(parts, ref(page+1, "next"), ref(last, "last"))
	}
	c.header.Set("Link", strings.Join(parts, ", "))
}
