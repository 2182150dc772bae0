package githubfake

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TokenPerms describes a personal access token.
type TokenPerms struct {
	// Label names the token in Requests; default "pat-<n>".
	Label string
	// Perms are fine-grained permissions: name → "read" or "write", e.g.
	// {"secrets":"write","environments":"read","organization_secrets":"write",
	// "dependabot_secrets":"write"}. Metadata read is implied.
	Perms map[string]string
	// Repos limits the repositories ("owner/name") the token can use;
	// empty = all. Public repositories outside the list stay visible
	// (read-only), as on GitHub.
	Repos []string
	// Orgs limits the organizations whose organization endpoints the token
	// can use; empty = all.
	Orgs []string
	// Role is the token's user's role on its repositories: "read",
	// "triage", "write", "maintain" or "admin"; default "write". A
	// fine-grained token never exceeds it: below "write" secret writes get
	// 403 whatever the token's permissions. GET /repos/{owner}/{repo}
	// reports it in "permissions".
	Role string
}

// credential is a token value's grant.
type credential struct {
	label   string
	perms   map[string]string
	repos   []string // lower-case "owner/name"; empty = all (within owner for installations)
	orgs    []string // lower-case; PATs only
	role    int      // PATs: the user's role (roleRead…roleAdmin)
	inst    *installation
	expires time.Time // zero = never
}

type app struct {
	id      string
	num     int64
	slug    string
	pub     *rsa.PublicKey
	created time.Time
}

type installation struct {
	id      int64
	app     *app
	owner   *account
	perms   map[string]string
	repos   []string // lower-case "owner/name"; empty = all of the owner's
	created time.Time
}

// principal is an authenticated caller.
type principal struct {
	label string
	cred  *credential // nil for an app JWT
	app   *app        // set for an app JWT
}

func (p *principal) integration() bool { return p.app != nil || (p.cred != nil && p.cred.inst != nil) }

// AddToken registers a personal access token.
func (s *Server) AddToken(value string, p TokenPerms) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.patSeq++
	label := p.Label
	if label == "" {
		label = fmt.Sprintf("pat-%d", s.patSeq)
	}
	role, ok := roles[lower(p.Role)]
	if p.Role == "" {
		role, ok = roleWrite, true
	}
	if !ok {
		panic(fmt.Sprintf("githubfake: AddToken: unknown role %q", p.Role))
	}
	c := &credential{label: label, perms: clonePerms(p.Perms), role: role}
	for _, r := range p.Repos {
		c.repos = append(c.repos, lower(r))
	}
	for _, o := range p.Orgs {
		c.orgs = append(c.orgs, lower(o))
	}
	s.tokens[value] = c
}

// AddApp registers a GitHub App whose JWTs are signed by the private half of
// pub. appID is what the JWT's iss carries (GitHub accepts the numeric app
// id or the client id).
func (s *Server) AddApp(appID string, pub *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	num, err := strconv.ParseInt(appID, 10, 64)
	if err != nil {
		num = s.nextIDLocked()
	}
	s.apps[appID] = &app{id: appID, num: num, slug: "app-" + lower(appID), pub: pub, created: s.clock()}
}

// AddInstallation installs a registered app on owner (a user or an
// organization, registered on the fly as a user when unknown) with perms;
// repos ("name" or "owner/name") limits the repositories, empty = all. It
// panics on an unknown app.
func (s *Server) AddInstallation(appID, owner string, perms map[string]string, repos []string) (installationID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	if a == nil {
		panic(fmt.Sprintf("githubfake: AddInstallation: unknown app %q", appID))
	}
	acct := s.accountLocked(owner)
	in := &installation{id: s.nextIDLocked(), app: a, owner: acct, perms: clonePerms(perms), created: s.clock()}
	for _, r := range repos {
		if !strings.Contains(r, "/") {
			r = owner + "/" + r
		}
		in.repos = append(in.repos, lower(r))
	}
	s.installations[in.id] = in
	return in.id
}

// RevokeInstallationTokens invalidates every token minted for an
// installation, as DELETE /installation/token or an app uninstall would; a
// client holding one gets 401 Bad credentials.
func (s *Server) RevokeInstallationTokens(installationID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, c := range s.tokens {
		if c.inst != nil && c.inst.id == installationID {
			delete(s.tokens, v)
		}
	}
}

func clonePerms(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// bearer extracts the credential of "Authorization: Bearer|token X".
func bearer(r *http.Request) (string, bool) {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// labelOf names the caller for the request log without authenticating.
func (s *Server) labelOf(r *http.Request) string {
	v, ok := bearer(r)
	if !ok {
		return ""
	}
	if looksLikeJWT(v) {
		if iss, err := jwtIssuer(v); err == nil {
			return "app-" + iss
		}
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.tokens[v]; c != nil {
		return c.label
	}
	return ""
}

func looksLikeJWT(v string) bool { return strings.Count(v, ".") == 2 }

// authenticateLocked identifies the caller or answers 401/403.
func (s *Server) authenticateLocked(c *call) (*principal, int, any) {
	v, ok := bearer(c.r)
	if !ok {
		code, body := c.fail(http.StatusUnauthorized, "Requires authentication")
		return nil, code, body
	}
	if looksLikeJWT(v) {
		a, msg := s.verifyJWTLocked(v)
		if a == nil {
			code, body := c.fail(http.StatusUnauthorized, "%s", msg)
			return nil, code, body
		}
		if !c.rt.jwt {
			code, body := c.fail(http.StatusForbidden, "Resource not accessible by integration")
			return nil, code, body
		}
		return &principal{label: "app-" + a.id, app: a}, 0, nil
	}
	cred := s.tokens[v]
	if cred == nil || (!cred.expires.IsZero() && !s.clock().Before(cred.expires)) {
		code, body := c.fail(http.StatusUnauthorized, "Bad credentials")
		return nil, code, body
	}
	if c.rt.jwt {
		// What GitHub says when a token that is not a JWT reaches an app route.
		code, body := c.fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
		return nil, code, body
	}
	return &principal{label: cred.label, cred: cred}, 0, nil
}

func jwtIssuer(tok string) (string, error) {
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", err
	}
	return rawString(claims.Iss), nil
}

// rawString reads a JSON string or number as text.
func rawString(m json.RawMessage) string {
	var s string
	if json.Unmarshal(m, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(m, &n) == nil {
		return n.String()
	}
	return ""
}

// verifyJWTLocked checks an app JWT the way GitHub documents it: RS256,
// signed by a registered app's key, iss = app id, iat not in the future
// (60 s of skew allowed), exp in the future and at most 10 minutes ahead.
// It returns the app or GitHub's message for the failure.
func (s *Server) verifyJWTLocked(tok string) (*app, string) {
	const undecodable = "A JSON web token could not be decoded"
	parts := strings.Split(tok, ".")
	hdrRaw, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	claimsRaw, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, undecodable
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat *json.Number    `json:"iat"`
		Exp *json.Number    `json:"exp"`
	}
	if json.Unmarshal(hdrRaw, &hdr) != nil || json.Unmarshal(claimsRaw, &claims) != nil {
		return nil, undecodable
	}
	if hdr.Alg != "RS256" {
		return nil, undecodable
	}
	a := s.apps[rawString(claims.Iss)]
	if a == nil {
		return nil, "Integration not found"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(a.pub, crypto.SHA256, digest[:], sig) != nil {
		return nil, undecodable
	}
	now := s.clock().Unix()
	iat, errI := intClaim(claims.Iat)
	if errI != nil || iat > now+60 {
		return nil, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued."
	}
	exp, errE := intClaim(claims.Exp)
	if errE != nil || exp <= now {
		return nil, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."
	}
	if exp > now+600 {
		return nil, "'Expiration time' claim ('exp') is too far in the future."
	}
	return a, ""
}

func intClaim(n *json.Number) (int64, error) {
	if n == nil {
		return 0, fmt.Errorf("missing")
	}
	return n.Int64()
}

// ---------------------------------------------------------------------------
// Access checks

// repoAccess says whether the caller's grant covers r (inScope) and
// whether the caller can see r at all (visible: in scope, or public).
func (p *principal) repoAccess(r *repo) (visible, inScope bool) {
	c := p.cred
	if c == nil {
		return !r.private, false
	}
	if c.inst != nil && c.inst.owner != r.owner {
		return !r.private, false
	}
	inScope = len(c.repos) == 0 || slices.Contains(c.repos, lower(r.fullName()))
	return inScope || !r.private, inScope
}

// orgAccess says whether the caller's grant covers organization a.
func (p *principal) orgAccess(a *account) bool {
	c := p.cred
	if c == nil {
		return false
	}
	if c.inst != nil {
		return c.inst.owner == a
	}
	return len(c.orgs) == 0 || slices.Contains(c.orgs, lower(a.login))
}

// Repository roles, lowest first.
const (
	roleRead = iota
	roleTriage
	roleWrite
	roleMaintain
	roleAdmin
)

var roles = map[string]int{"read": roleRead, "triage": roleTriage, "write": roleWrite, "maintain": roleMaintain, "admin": roleAdmin}

// roleAllows says whether a personal access token's user holds at least
// role; integrations have no user role.
func (p *principal) roleAllows(role int) bool {
	return p.cred == nil || p.cred.inst != nil || p.cred.role >= role
}

// repoPermissions is the "permissions" object of a full repository: the
// user's role for a personal access token; for an integration what GitHub
// shows an installation with write access.
func (p *principal) repoPermissions() map[string]bool {
	role := roleWrite
	if p.cred != nil && p.cred.inst == nil {
		role = p.cred.role
	}
	return map[string]bool{
		"admin": role >= roleAdmin, "maintain": role >= roleMaintain, "push": role >= roleWrite,
		"triage": role >= roleTriage, "pull": true,
	}
}

// perm is one fine-grained permission at a level.
type perm struct{ name, level string }

func (p perm) String() string { return p.name + "=" + p.level }

func (p *principal) has(need perm) bool {
	if need.name == "metadata" {
		return true
	}
	if p.cred == nil {
		return false
	}
	got := p.cred.perms[need.name]
	return got == "write" || got == "admin" || (need.level == "read" && got == "read")
}

// allow answers 403 with X-Accepted-GitHub-Permissions unless the caller
// holds every permission of need.
func (c *call) allow(need ...perm) (int, any, bool) {
	for _, n := range need {
		if !c.caller.has(n) {
			return c.forbidden(need...)
		}
	}
	return 0, nil, true
}

func (c *call) forbidden(need ...perm) (int, any, bool) {
	names := make([]string, len(need))
	for i, n := range need {
		names[i] = n.String()
	}
	c.header.Set("X-Accepted-GitHub-Permissions", strings.Join(names, ","))
	who := "personal access token"
	if c.caller.integration() {
		who = "integration"
	}
	code, body := c.fail(http.StatusForbidden, "Resource not accessible by %s", who)
	return code, body, false
}
