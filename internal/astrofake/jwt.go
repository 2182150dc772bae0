package astrofake

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Token values are JWTs, like Astro's (astro-api.md §3.9, §6): HS256 with a
// per-Server random key. The claims follow what astro-cli decodes:
// "permissions" carries organizationId:<org> (plus workspaceId:<ws> for
// WORKSPACE tokens, deploymentId:<dep> for DEPLOYMENT tokens), "apiTokenId"
// is the token id, and "exp" is present only for expiring tokens.

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

type jwtClaims struct {
	APITokenID            string   `json:"apiTokenId,omitempty"`
	Aud                   []string `json:"aud"`
	Exp                   int64    `json:"exp,omitempty"`
	Iat                   int64    `json:"iat"`
	IsAstronomerGenerated bool     `json:"isAstronomerGenerated"`
	Iss                   string   `json:"iss"`
	Jti                   string   `json:"jti"`
	Nbf                   int64    `json:"nbf"`
	OrgID                 string   `json:"org_id"`
	Permissions           []string `json:"permissions"`
	Sub                   string   `json:"sub"`
	Version               string   `json:"version"`
}

var b64 = base64.RawURLEncoding

// mintValueLocked gives t a new value issued at "at": a fresh jti, iat and
// nbf, exp = endAt when the token expires. The previous value stops
// authenticating at once because only the current value is accepted
// (astro-api.md §3.7: no overlap window).
func (s *Server) mintValueLocked(t *token, at time.Time, jti string) {
	perms := []string{"organizationId:" + t.orgID}
	switch t.scope {
	case ScopeWorkspace:
		perms = append(perms, "workspaceId:"+t.entityID)
	case ScopeDeployment:
		perms = append(perms, "deploymentId:"+t.entityID)
	}
	c := jwtClaims{
		APITokenID: t.id, Aud: []string{"astronomer-ee"}, Iat: at.Unix(), IsAstronomerGenerated: true,
		Iss: "https://api.astronomer.io", Jti: jti, Nbf: at.Unix(), OrgID: t.orgID,
		Permissions: perms, Sub: t.id, Version: "v1",
	}
	if !t.endAt.IsZero() {
		c.Exp = t.endAt.Unix()
	}
	if s.omitTokenIDClaim {
		c.APITokenID = ""
	}
	hb, _ := json.Marshal(jwtHeader{Alg: "HS256", Kid: s.kid, Typ: "JWT"})
	cb, _ := json.Marshal(c)
	signing := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signing))
	t.value = signing + "." + b64.EncodeToString(m.Sum(nil))
	s.issued = append(s.issued, t.value)
	t.jti = jti
	t.shortToken = shortTokenFor(t.value)
}

// shortTokenFor derives the non-secret preview shown as shortToken: the
// first 7 hex digits of a hash of the value, so it changes with each
// rotation like a real preview would, yet is never a substring of the value
// (checked, with a salt bumped in the astronomically unlikely clash).
func shortTokenFor(value string) string {
	for i := 0; ; i++ {
		sum := sha256.Sum256([]byte(value + "#" + strconv.Itoa(i)))
		st := hex.EncodeToString(sum[:])[:7]
		if !strings.Contains(value, st) {
			return st
		}
	}
}

// parseValue checks the value's shape and signature and returns the token id
// it names. It says nothing about whether the value is current.
func (s *Server) parseValue(value string) (string, bool) {
	parts := strings.Split(value, ".")
	if len(parts) != 3 {
		return "", false
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return "", false
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return "", false
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return "", false
	}
	var h jwtHeader
	if json.Unmarshal(hb, &h) != nil || h.Alg != "HS256" {
		return "", false
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c jwtClaims
	if json.Unmarshal(cb, &c) != nil {
		return "", false
	}
	if c.APITokenID == "" {
		c.APITokenID = c.Sub // a value minted without apiTokenId (SetOmitTokenIDClaim)
	}
	return c.APITokenID, c.APITokenID != ""
}

// tokenForValueLocked returns the live token whose current value is value.
func (s *Server) tokenForValueLocked(value string) *token {
	id, ok := s.parseValue(value)
	if !ok {
		return nil
	}
	t, ok := s.tokens[id]
	if !ok || t.deleted || subtle.ConstantTimeCompare([]byte(t.value), []byte(value)) != 1 {
		return nil
	}
	return t
}

func (s *Server) expired(t *token) bool {
	return !t.endAt.IsZero() && !s.clock().Before(t.endAt)
}

// lastUsedDebounce: lastUsedAt is written only when unset or older than
// this, as real systems debounce such writes. It keeps the state (and
// Snapshot) unchanged across a burst of read-only requests.
const lastUsedDebounce = time.Hour

// authenticateLocked checks the bearer token. Unknown, malformed,
// rotated-away, deleted and expired values all get 401 with the same
// message, which never quotes the value.
func (s *Server) authenticateLocked(r *http.Request) (*principal, int, any) {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
		code, body := errorf(http.StatusUnauthorized, "Missing or malformed Authorization header: a Bearer API token is required")
		return nil, code, body
	}
	t := s.tokenForValueLocked(value)
	if t == nil || s.expired(t) {
		code, body := errorf(http.StatusUnauthorized, msgInvalidToken)
		return nil, code, body
	}
	if now := s.clock(); t.lastUsedAt.IsZero() || now.Sub(t.lastUsedAt) >= lastUsedDebounce {
		t.lastUsedAt = now
	}
	return newPrincipal(t), 0, nil
}
