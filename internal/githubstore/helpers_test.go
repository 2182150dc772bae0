package githubstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakeclock"

	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

type clock = fakeclock.Clock

func newClock() *clock { return fakeclock.New(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)) }

// Credentials the fixture registers. The scan test looks for these in
// every error string.
const (
	patAll      = "github_pat_11AAAAAAA0_alltheperms"
	patNoPerms  = "github_pat_11AAAAAAA0_metadataonly"
	patOtherOrg = "github_pat_11AAAAAAA0_otherreposonly"
	secretValue = "astro-token-value-Zm9vYmFy"
)

// fixture is the fake behind the contract validator, with resources and
// credentials seeded, and the headers every request carried.
type fixture struct {
	fake *githubfake.Server
	srv  *httptest.Server
	clk  *clock

	mu      sync.Mutex
	headers []http.Header
	puts    []putBody // bodies of secret PUTs, in order
}

type putBody struct {
	Path           string
	KeyID          string `json:"key_id"`
	EncryptedValue string `json:"encrypted_value"`
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with the fake's options adjusted by mod.
// Requests in the older environment-secret form (/repositories/{id}/…),
// which today's description no longer has, reach the fake unvalidated.
func newFixtureWith(t *testing.T, mod func(*githubfake.Options)) *fixture {
	t.Helper()
	v, err := contract.GitHub()
	if err != nil {
		t.Fatalf("contract.GitHub: %v", err)
	}
	f := &fixture{clk: newClock()}
	opts := githubfake.Options{Now: f.clk.Now}
	if mod != nil {
		mod(&opts)
	}
	f.fake = githubfake.New(opts)
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.headers = append(f.headers, r.Header.Clone())
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/secrets/") {
			pb := putBody{Path: r.URL.EscapedPath()}
			_ = json.Unmarshal(body, &pb)
			f.puts = append(f.puts, pb)
		}
		f.mu.Unlock()
		f.fake.ServeHTTP(w, r)
	})
	checked := contract.Check(t, v, record)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/repositories/") {
			record.ServeHTTP(w, r)
			return
		}
		checked.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)

	f.fake.AddRepo("o", "r", true)
	f.fake.AddEnvironment("o", "r", "preview/x")
	f.fake.AddEnvironment("o", "r", "prod")
	f.fake.AddOrg("acme")
	f.fake.AddRepo("acme", "web", true)
	f.fake.AddRepo("acme", "api", false)
	f.fake.AddRepo("acme", "hidden", true)
	f.fake.AddToken(patAll, githubfake.TokenPerms{Label: "all", Perms: map[string]string{
		"secrets": "write", "environments": "read", "dependabot_secrets": "write", "organization_secrets": "write",
	}})
	f.fake.AddToken(patNoPerms, githubfake.TokenPerms{Label: "none", Perms: map[string]string{"metadata": "read"}})
	f.fake.AddToken(patOtherOrg, githubfake.TokenPerms{Label: "other", Perms: map[string]string{"secrets": "write", "organization_secrets": "write"},
		Repos: []string{"acme/web"}, Orgs: []string{"elsewhere"}})
	return f
}

// store returns a Store for the fixture; mod adjusts the Config.
func (f *fixture) store(t *testing.T, mod func(*Config)) *Store {
	t.Helper()
	cfg := Config{
		BaseURL:    f.srv.URL,
		Token:      secret.New(patAll),
		HTTPClient: f.srv.Client(),
		Now:        f.clk.Now,
		// The pacer's waits pass at once; it keeps its own count of them.
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// requests lists the logged requests as "METHOD path status".
func (f *fixture) requests() []string {
	var out []string
	for _, r := range f.fake.Requests() {
		out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	return out
}

// count returns how many logged requests match method and path suffix.
func (f *fixture) count(method, suffix string) int {
	n := 0
	for _, r := range f.fake.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

func mustParse(t *testing.T, addr string) target.Target {
	t.Helper()
	tg, err := target.Parse(addr, target.Defaults{})
	if err != nil {
		t.Fatalf("target.Parse(%q): %v", addr, err)
	}
	return tg
}

func asTargetError(t *testing.T, err error) *target.Error {
	t.Helper()
	var te *target.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *target.Error", err, err)
	}
	return te
}

var appKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pemPKCS1(k *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func pemPKCS8(t *testing.T, k *rsa.PrivateKey) string {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
