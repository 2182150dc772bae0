package githubfake_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakeclock"

	"golang.org/x/crypto/nacl/box"

	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/githubfake"
)

type clock = fakeclock.Clock

func newClock() *clock { return fakeclock.New(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)) }

// fixture is a fake behind the contract validator, with a few resources.
type fixture struct {
	fake *githubfake.Server
	srv  *httptest.Server // behind the contract validator
	raw  *httptest.Server // the fake alone, for requests that break the contract on purpose
	clk  *clock
}

const (
	tokAll      = "github_pat_all"      // every permission on everything
	tokReadOnly = "github_pat_readonly" // secrets read only
	tokOneRepo  = "github_pat_onerepo"  // secrets write on o/pub only
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	v, err := contract.GitHub()
	if err != nil {
		t.Fatalf("contract.GitHub: %v", err)
	}
	clk := newClock()
	fake := githubfake.New(githubfake.Options{Now: clk.Now, Limits: githubfake.DocumentedLimits()})
	srv := httptest.NewServer(contract.Check(t, v, fake))
	t.Cleanup(srv.Close)
	raw := httptest.NewServer(fake)
	t.Cleanup(raw.Close)

	fake.AddOrg("acme")
	fake.AddRepo("acme", "app", true)
	fake.AddRepo("acme", "lib", false)
	fake.AddRepo("o", "r", true)
	fake.AddRepo("o", "pub", false)
	fake.AddEnvironment("o", "r", "preview/x")
	fake.AddEnvironment("o", "r", "prod")
	fake.AddOrg("other")
	fake.AddRepo("other", "x", true)
	fake.AddToken(tokAll, githubfake.TokenPerms{Label: "all", Perms: map[string]string{
		"secrets": "write", "environments": "read", "dependabot_secrets": "write", "organization_secrets": "write",
	}})
	fake.AddToken(tokReadOnly, githubfake.TokenPerms{Label: "ro", Perms: map[string]string{"secrets": "read"}})
	fake.AddToken(tokOneRepo, githubfake.TokenPerms{Label: "one", Perms: map[string]string{"secrets": "write", "organization_secrets": "write"}, Repos: []string{"o/pub"}, Orgs: []string{"acme"}})
	return &fixture{fake: fake, srv: srv, raw: raw, clk: clk}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", a.body, err)
	}
	return m
}

// do sends one request through the validator; body is JSON-encoded unless
// it is nil.
func (f *fixture) do(t *testing.T, method, path, token string, body any) answer {
	t.Helper()
	return send(t, f.srv, method, path, token, body)
}

// doRaw sends one request straight to the fake.
func (f *fixture) doRaw(t *testing.T, method, path, token string, body any) answer {
	t.Helper()
	return send(t, f.raw, method, path, token, body)
}

func send(t *testing.T, srv *httptest.Server, method, path, token string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// sealFor fetches the public key at keyPath and seals value for it.
func (f *fixture) sealFor(t *testing.T, keyPath, token, value string) (keyID, enc string) {
	t.Helper()
	a := f.do(t, "GET", keyPath, token, nil)
	if a.status != 200 {
		t.Fatalf("GET %s: %d %s", keyPath, a.status, a.body)
	}
	m := a.json(t)
	raw, err := base64.StdEncoding.DecodeString(m["key"].(string))
	if err != nil || len(raw) != 32 {
		t.Fatalf("public key %q: %v (len %d)", m["key"], err, len(raw))
	}
	var pk [32]byte
	copy(pk[:], raw)
	ct, err := box.SealAnonymous(nil, []byte(value), &pk, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return m["key_id"].(string), base64.StdEncoding.EncodeToString(ct)
}

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// appJWT signs claims with key as an RS256 JWT.
func appJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	c, _ := json.Marshal(claims)
	signing := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(c)
	d := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

var otherKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func rsaKey2() (*rsa.PrivateKey, error) { return otherKey() }
