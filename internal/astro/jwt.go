package astro

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// Claims are what astro-ci reads from an Astro API token without verifying
// it (astro-cli does the same: the server checks the signature, the client
// only needs the ids and the expiry before its first call).
type Claims struct {
	// TokenID is "" when the value has no apiTokenId claim: astro-cli needs
	// only the permissions claim, and so does astro-ci except where it must
	// know which token it is itself (self-rotation without --token-id).
	TokenID        string
	OrganizationID string
	WorkspaceID    string
	DeploymentID   string
	// ExpiresAt is nil for a token that never expires (no exp claim).
	ExpiresAt *time.Time
	IssuedAt  *time.Time
}

// ErrNotAstroToken means the value is not an Astro API token: not a JWT, or a
// JWT without the permissions claim that API tokens carry (a user's login
// token has none).
var ErrNotAstroToken = errors.New("the value is not an Astro API token")

// ExpiredError is returned for a token whose exp has passed.
type ExpiredError struct {
	TokenID   string
	ExpiredAt time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("the Astro API token %s expired at %s: create a new token in the Astro UI (or with astro-ci token create using another valid token) and store it where ASTRO_API_TOKEN comes from",
		e.TokenID, e.ExpiredAt.UTC().Format(time.RFC3339))
}

// ParseClaims decodes the payload of an Astro API token. It does not verify
// the signature and does not check expiry (see Claims.CheckExpiry).
func ParseClaims(v secret.Value) (Claims, error) {
	parts := strings.Split(strings.TrimSpace(v.Reveal()), ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("%w: it is not a JWT (expected three dot-separated parts); copy the whole value shown when the token was created", ErrNotAstroToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: its payload is not base64url", ErrNotAstroToken)
	}
	var raw struct {
		Permissions []string     `json:"permissions"`
		APITokenID  string       `json:"apiTokenId"`
		Exp         *json.Number `json:"exp"`
		Iat         *json.Number `json:"iat"`
	}
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Claims{}, fmt.Errorf("%w: its payload is not a JSON object", ErrNotAstroToken)
	}
	if len(raw.Permissions) == 0 {
		return Claims{}, fmt.Errorf("%w: it has no permissions claim (is it a user login token? use an Organization, Workspace or Deployment API token)", ErrNotAstroToken)
	}
	c := Claims{TokenID: raw.APITokenID}
	for _, p := range raw.Permissions {
		k, val, ok := strings.Cut(p, ":")
		if !ok {
			continue
		}
		switch k {
		case "organizationId":
			c.OrganizationID = val
		case "workspaceId":
			c.WorkspaceID = val
		case "deploymentId":
			c.DeploymentID = val
		}
	}
	if c.ExpiresAt, err = unixClaim(raw.Exp); err != nil {
		return Claims{}, fmt.Errorf("%w: exp claim: %v", ErrNotAstroToken, err)
	}
	if c.IssuedAt, err = unixClaim(raw.Iat); err != nil {
		return Claims{}, fmt.Errorf("%w: iat claim: %v", ErrNotAstroToken, err)
	}
	return c, nil
}

func unixClaim(n *json.Number) (*time.Time, error) {
	if n == nil {
		return nil, nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil, err
	}
	t := time.Unix(int64(f), 0).UTC()
	return &t, nil
}

// CheckExpiry returns an *ExpiredError when the token has expired at now.
func (c Claims) CheckExpiry(now time.Time) error {
	if c.ExpiresAt != nil && !now.Before(*c.ExpiresAt) {
		return &ExpiredError{TokenID: c.TokenID, ExpiredAt: *c.ExpiresAt}
	}
	return nil
}
