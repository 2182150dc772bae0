package githubstore

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// TestErrorsNeverLeak provokes every kind of failure and scans each error,
// in every format, for the value, the credentials and anything derived
// from them (installation tokens, JWTs, the private key).
func TestErrorsNeverLeak(t *testing.T) {
	t.Parallel()
	const badPAT = "ghp_RevokedTokenValue0123456789abcdef"
	keyPEM := pemPKCS1(appKey())
	forbidden := []string{
		secretValue, badPAT, patAll, patNoPerms, patOtherOrg,
		"ghs_",        // installation tokens minted by the fake
		"eyJ",         // base64url of `{"` starts every JWT
		"PRIVATE KEY", // PEM armour
		strings.Split(keyPEM, "\n")[1],
		"Bearer",
	}
	var errs []error
	collect := func(err error) {
		if err == nil {
			t.Helper()
			t.Error("expected a failure")
			return
		}
		errs = append(errs, err)
	}
	v := secret.New(secretValue)
	repo := mustParse(t, "github://o/r/secrets/X")

	f, onO, _ := appFixture(t)
	withToken := func(tok string) *Store { return f.store(t, func(c *Config) { c.Token = secret.New(tok) }) }
	ctx := t.Context()

	collect(withToken(badPAT).Put(ctx, repo, v))
	collect(withToken(badPAT).Preflight(ctx, repo, target.Proof{Current: &v}))
	collect(withToken(patNoPerms).Put(ctx, repo, v))
	collect(withToken(patNoPerms).Delete(ctx, repo))
	collect(withToken(patOtherOrg).Put(ctx, mustParse(t, "github://orgs/acme/secrets/X"), v))
	collect(withToken(patAll).Preflight(ctx, mustParse(t, "github://o/r/environments/nope/secrets/X"), target.Proof{Current: &v}))
	collect(withToken(patAll).Put(ctx, target.Target{Scheme: target.GitHub, Kind: target.KindRepoSecret, Owner: "o", Repo: "r", Name: "BAD-NAME"}, v))
	collect(withToken(patAll).Put(ctx, mustParse(t, "github://orgs/acme/secrets/X?repos=ghost"), v))

	for _, fault := range []githubfake.Fault{
		{Status: 502}, {Status: 429, RetryAfter: "3"}, {Secondary: true}, {Drop: true},
	} {
		remove := f.fake.InjectFault(fault)
		collect(withToken(patAll).Put(ctx, repo, v))
		remove()
	}
	f.fake.SetPrimaryLimit(0, f.clk.Now().Add(time.Minute))
	collect(withToken(patAll).Put(ctx, repo, v))
	f.fake.SetPrimaryLimit(5000, f.clk.Now().Add(time.Hour))

	// GitHub App: unknown app, not installed, missing permission, and a
	// revoked installation token.
	app := func(id string) *Store {
		return f.store(t, func(c *Config) {
			c.Token, c.AppID, c.AppPrivateKey = secret.Value{}, id, secret.New(keyPEM)
		})
	}
	collect(app("999").Put(ctx, repo, v))
	collect(app("4242").Put(ctx, mustParse(t, "github://nobody/r/secrets/X"), v))
	collect(app("4242").Put(ctx, mustParse(t, "github://o/r/dependabot/secrets/X"), v))
	stale := app("4242")
	if err := stale.Put(ctx, repo, v); err != nil {
		t.Fatal(err)
	}
	f.fake.RevokeInstallationTokens(onO)
	err := stale.Put(ctx, repo, v)
	collect(err)
	if te := asTargetError(t, err); te.Status != 401 || !te.Retryable {
		t.Errorf("rejected installation token: %+v, want a retryable 401", te)
	}
	before := f.count("POST", "/access_tokens")
	if err := stale.Put(ctx, repo, v); err != nil {
		t.Errorf("after the rejected installation token: %v", err)
	}
	if f.count("POST", "/access_tokens") != before+1 {
		t.Error("the rejected installation token was not replaced")
	}

	// No answer at all.
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()
	collect(f.store(t, func(c *Config) { c.BaseURL = deadURL }).Put(ctx, repo, v))

	if len(errs) < 18 {
		t.Fatalf("only %d errors collected", len(errs))
	}
	for _, err := range errs {
		te := asTargetError(t, err)
		for _, text := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%#v", *te), te.Hint} {
			for _, bad := range forbidden {
				if strings.Contains(text, bad) {
					t.Errorf("error text contains %q:\n%s", bad, text)
				}
			}
		}
		t.Logf("%s", err)
	}
}
