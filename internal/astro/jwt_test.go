package astro

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// mint builds an unsigned-looking JWT with the given claims (signature is not checked client-side).
func mint(t testing.TB, claims map[string]any) secret.Value {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return secret.New(h + "." + base64.RawURLEncoding.EncodeToString(b) + ".c2lnbmF0dXJl")
}

func TestParseClaims(t *testing.T) {
	t.Parallel()
	exp := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		value   secret.Value
		want    Claims
		wantErr string
	}{
		{
			name:  "organization token",
			value: mint(t, map[string]any{"apiTokenId": "cltok", "permissions": []string{"organizationId:clorg"}, "exp": exp.Unix(), "iat": 1700000000}),
			want:  Claims{TokenID: "cltok", OrganizationID: "clorg", ExpiresAt: &exp},
		},
		{
			name:  "workspace token, never expires",
			value: mint(t, map[string]any{"apiTokenId": "cltok", "permissions": []string{"organizationId:clorg", "workspaceId:clws", "orgShortName:x", "junk"}}),
			want:  Claims{TokenID: "cltok", OrganizationID: "clorg", WorkspaceID: "clws"},
		},
		{
			name:  "deployment token",
			value: mint(t, map[string]any{"apiTokenId": "cltok", "permissions": []string{"organizationId:clorg", "deploymentId:cldep"}, "exp": float64(exp.Unix())}),
			want:  Claims{TokenID: "cltok", OrganizationID: "clorg", DeploymentID: "cldep", ExpiresAt: &exp},
		},
		{name: "user login token", value: mint(t, map[string]any{"sub": "user", "exp": exp.Unix()}), wantErr: "no permissions claim"},
		{
			// astro-cli needs only the permissions claim: so does ParseClaims.
			name:  "no apiTokenId claim",
			value: mint(t, map[string]any{"permissions": []string{"organizationId:o"}}),
			want:  Claims{OrganizationID: "o"},
		},
		{name: "not a jwt", value: secret.New("astro_abcdef"), wantErr: "not a JWT"},
		{name: "bad base64", value: secret.New("a.%%%.c"), wantErr: "not base64url"},
		{name: "not json", value: secret.New("a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c"), wantErr: "not a JSON object"},
		{name: "bad exp", value: mint(t, map[string]any{"apiTokenId": "x", "permissions": []string{"organizationId:o"}, "exp": "soon"}), wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseClaims(tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNotAstroToken) {
					t.Fatalf("err = %v, want %q and ErrNotAstroToken", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.value.Reveal()) {
					t.Fatal("error repeats the value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IssuedAt = nil
			if got.TokenID != tt.want.TokenID || got.OrganizationID != tt.want.OrganizationID || got.WorkspaceID != tt.want.WorkspaceID ||
				got.DeploymentID != tt.want.DeploymentID || (got.ExpiresAt == nil) != (tt.want.ExpiresAt == nil) ||
				(got.ExpiresAt != nil && !got.ExpiresAt.Equal(*tt.want.ExpiresAt)) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckExpiry(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := Claims{TokenID: "cltok", ExpiresAt: &exp}
	if err := c.CheckExpiry(exp.Add(-time.Second)); err != nil {
		t.Fatalf("not yet expired: %v", err)
	}
	err := c.CheckExpiry(exp)
	var ee *ExpiredError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "cltok") || !strings.Contains(err.Error(), "2026-11-01T00:00:00Z") {
		t.Fatalf("err = %v, want an ExpiredError naming the token and the time", err)
	}
	if err := (Claims{TokenID: "x"}).CheckExpiry(exp.AddDate(100, 0, 0)); err != nil {
		t.Fatalf("a token without exp never expires: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	good := mint(t, map[string]any{"apiTokenId": "t", "permissions": []string{"organizationId:o"}})
	noOrg := mint(t, map[string]any{"apiTokenId": "t", "permissions": []string{"workspaceId:w"}})
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no token", Config{}, "ASTRO_API_TOKEN is not set"},
		{"relative url", Config{BaseURL: "api.example.com/v1", Token: good}, "not an absolute URL"},
		{"not a token", Config{Token: secret.New("nope")}, "not an Astro API token"},
		{"no org", Config{Token: noOrg}, "ASTRO_ORGANIZATION_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	c, err := New(Config{Token: noOrg, OrganizationID: "explicit"})
	if err != nil || c.OrganizationID() != "explicit" {
		t.Fatalf("ASTRO_ORGANIZATION_ID must win: %v", err)
	}
	c, err = New(Config{Token: good})
	if err != nil || c.OrganizationID() != "o" || c.base.String() != DefaultBaseURL {
		t.Fatalf("defaults: %v %v", err, c)
	}
}
