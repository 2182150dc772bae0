package githubstore

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// appFixture installs app 4242 on user o (no Dependabot permission) and on
// organization acme.
func appFixture(t *testing.T) (*fixture, int64, int64) {
	f := newFixture(t)
	f.fake.AddApp("4242", &appKey().PublicKey)
	onO := f.fake.AddInstallation("4242", "o", map[string]string{"secrets": "write", "environments": "read"}, nil)
	onAcme := f.fake.AddInstallation("4242", "acme", map[string]string{"secrets": "write", "organization_secrets": "write"}, nil)
	f.fake.AddRepo("nobody", "r", true)
	return f, onO, onAcme
}

func appStore(t *testing.T, f *fixture, key string, mod func(*Config)) *Store {
	return f.store(t, func(c *Config) {
		c.Token = secret.Value{}
		c.AppID = "4242"
		c.AppPrivateKey = secret.New(key)
		if mod != nil {
			mod(c)
		}
	})
}

func TestGitHubApp(t *testing.T) {
	t.Parallel()
	for _, form := range []string{"PKCS#1", "PKCS#8"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			f, onO, onAcme := appFixture(t)
			key := pemPKCS1(appKey())
			if form == "PKCS#8" {
				key = pemPKCS8(t, appKey())
			}
			s := appStore(t, f, key, nil)
			addrs := []string{
				"github://o/r/secrets/A_%d",
				"github://o/r/environments/preview%%2Fx/secrets/E_%d",
				"github://orgs/acme/secrets/O_%d?repos=web",
				"github://acme/web/secrets/W_%d",
			}
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- s.Put(t.Context(), mustParse(t, fmt.Sprintf(addrs[i%len(addrs)], i)), secret.New(secretValue))
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
			}
			if n := f.count("POST", "/access_tokens"); n != 2 {
				t.Errorf("%d installation tokens minted, want 2 (one per owner)", n)
			}
			if n := f.count("GET", "/installation"); n != 2 {
				t.Errorf("%d installation lookups, want 2 (one per owner)", n)
			}
			if v, _ := f.fake.EnvSecret("o", "r", "preview/x", "E_1"); v != secretValue {
				t.Error("environment secret not written")
			}
			labels := map[string]bool{}
			for _, r := range f.fake.Requests() {
				labels[r.Token] = true
			}
			for _, l := range []string{"app-4242", "installation-" + strconv.FormatInt(onO, 10), "installation-" + strconv.FormatInt(onAcme, 10)} {
				if !labels[l] {
					t.Errorf("no request made as %s (saw %v)", l, labels)
				}
			}

			// The token is reused until five minutes before it expires.
			f.clk.Advance(54 * time.Minute)
			if err := s.Put(t.Context(), mustParse(t, "github://o/r/secrets/LATER"), secret.New("v")); err != nil {
				t.Fatal(err)
			}
			if n := f.count("POST", "/access_tokens"); n != 2 {
				t.Errorf("token minted again after 54 minutes (%d)", n)
			}
			f.clk.Advance(2 * time.Minute)
			if err := s.Put(t.Context(), mustParse(t, "github://o/r/secrets/LATER"), secret.New("v")); err != nil {
				t.Fatal(err)
			}
			if n := f.count("POST", "/access_tokens"); n != 3 {
				t.Errorf("%d tokens after 56 minutes, want 3", n)
			}
		})
	}

	t.Run("installation id given", func(t *testing.T) {
		t.Parallel()
		f, onO, _ := appFixture(t)
		s := appStore(t, f, pemPKCS1(appKey()), func(c *Config) { c.InstallationID = onO })
		for i := range 3 {
			if err := s.Preflight(t.Context(), mustParse(t, fmt.Sprintf("github://o/r/secrets/X%d", i)), target.Proof{}); err != nil {
				t.Fatal(err)
			}
		}
		if f.count("GET", "/installation") != 0 || f.count("POST", "/access_tokens") != 1 {
			t.Errorf("lookups %d, tokens %d; want 0 and 1", f.count("GET", "/installation"), f.count("POST", "/access_tokens"))
		}
	})

	failures := []struct {
		name, appID, addr string
		status            int
		hint              string
	}{
		{"not installed", "4242", "github://nobody/r/secrets/X", 404, "the GitHub App is not installed on nobody/r"},
		{"unknown app", "999", "github://o/r/secrets/X", 401, "GitHub rejected the GitHub App JWT"},
		{"missing permission", "4242", "github://o/r/dependabot/secrets/X", 403, "the GitHub App needs the repository permission Dependabot secrets: write on o/r (GitHub accepts: dependabot_secrets=read)"},
		{"org not visible", "4242", "github://orgs/acme/secrets/X?repos=ghost", 404, "repository acme/ghost (listed in repos=) not found"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, _, _ := appFixture(t)
			s := appStore(t, f, pemPKCS1(appKey()), func(c *Config) { c.AppID = tc.appID })
			te := asTargetError(t, s.Preflight(t.Context(), mustParse(t, tc.addr), target.Proof{}))
			if te.Status != tc.status || !strings.Contains(te.Hint, tc.hint) {
				t.Errorf("got status %d hint %q; want %d, %q", te.Status, te.Hint, tc.status, tc.hint)
			}
		})
	}
}

func TestAppJWTClaims(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, err := New(Config{AppID: "4242", AppPrivateKey: secret.New(pemPKCS1(appKey())), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := s.appJWT()
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwt.Reveal(), ".")
	if len(parts) != 3 {
		t.Fatalf("JWT has %d parts", len(parts))
	}
	claims := decodeSegment(t, parts[1])
	now := clk.Now().Unix()
	if claims["iat"] != float64(now-60) || claims["exp"] != float64(now+540) || claims["iss"] != float64(4242) {
		t.Errorf("claims %v", claims)
	}
	if h := decodeSegment(t, parts[0]); h["alg"] != "RS256" || h["typ"] != "JWT" {
		t.Errorf("header %v", h)
	}
	if fmt.Sprint(jwt) != secret.Redacted {
		t.Error("the JWT is not held as a secret.Value")
	}
}
