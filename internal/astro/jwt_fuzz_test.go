package astro

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// FuzzParseClaims: any value parses or is refused as not an Astro token;
// never a panic, and no error repeats the value.
func FuzzParseClaims(f *testing.F) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, p := range []string{
		`{"apiTokenId":"cltok","permissions":["organizationId:clorg"],"exp":1900000000}`,
		`{"permissions":["organizationId:o","workspaceId:w"]}`,
		`{"permissions":["deploymentId:d"],"exp":1e30}`,
		`{"permissions":["organizationId:o"],"exp":-1e30,"iat":"x"}`,
		`{"permissions":[]}`,
		`[]`,
		`{"permissions":["organizationId:o"],"exp":9223372036854775807}`,
	} {
		f.Add(enc(`{"alg":"HS256"}`) + "." + enc(p) + ".sig")
	}
	f.Add("not-a-jwt")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseClaims(secret.New(v))
		if err != nil {
			if len(v) >= 8 && strings.Contains(err.Error(), v) {
				t.Fatalf("error repeats the value: %v", err)
			}
			return
		}
		if c.OrganizationID == "" && c.WorkspaceID == "" && c.DeploymentID == "" && len(v) > 0 {
			// Permissions without ids of ours still parse: nothing to check.
			return
		}
		_ = c.CheckExpiry(time.Now())
	})
}
