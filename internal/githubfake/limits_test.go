package githubfake_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/crypto/nacl/box"

	"github.com/astro-ci/astro-ci/internal/githubfake"
)

// ghClient is go-github pointed at srv with token.
func ghClient(t *testing.T, srv *httptest.Server, token string) *github.Client {
	t.Helper()
	c := github.NewClient(srv.Client()).WithAuthToken(token)
	u, err := url.Parse(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

// sealed seals value for a public key as go-github's users do.
func sealed(t *testing.T, pk *github.PublicKey, name, value string) *github.EncryptedSecret {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(pk.GetKey())
	if err != nil || len(raw) != 32 {
		t.Fatalf("public key %q", pk.GetKey())
	}
	var k [32]byte
	copy(k[:], raw)
	ct, err := box.SealAnonymous(nil, []byte(value), &k, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &github.EncryptedSecret{Name: name, KeyID: pk.GetKeyID(), EncryptedValue: base64.StdEncoding.EncodeToString(ct)}
}

// abuse asserts err is go-github's secondary-limit error and returns its wait.
func abuse(t *testing.T, err error) time.Duration {
	t.Helper()
	var ab *github.AbuseRateLimitError
	if !errors.As(err, &ab) {
		t.Fatalf("error %v (%T), want a secondary rate limit", err, err)
	}
	if ab.Response.StatusCode != 403 || !strings.Contains(ab.Message, "You have exceeded a secondary rate limit") {
		t.Errorf("answer %d %q", ab.Response.StatusCode, ab.Message)
	}
	v := ab.Response.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	var secs int
	if _, err := fmt.Sscan(v, &secs); err != nil {
		t.Fatalf("Retry-After %q", v)
	}
	return time.Duration(secs) * time.Second
}

func limitedRequests(f *fixture) map[string]int {
	m := map[string]int{}
	for _, r := range f.fake.Requests() {
		if r.Limited != "" {
			m[r.Limited]++
		}
	}
	return m
}

// TestPointsPerEndpointPerMinute: "No more than 900 points per minute are
// allowed for REST API endpoints" with writes at 5 points: the 181st PUT
// on one endpoint within a rolling minute is refused with Retry-After;
// another endpoint has its own budget; the refusal frees when the oldest
// requests leave the window.
func TestPointsPerEndpointPerMinute(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A fresh go-github client per refused call: go-github remembers a
	// secondary limit and refuses locally until it passes (on the wall
	// clock, not the fake's).
	gh := ghClient(t, f.srv, tokAll)
	ctx := t.Context()
	pk, _, err := gh.Actions.GetRepoPublicKey(ctx, "o", "r")
	if err != nil {
		t.Fatal(err)
	}
	es := sealed(t, pk, "X", "v")
	if _, err := gh.Actions.CreateOrUpdateRepoSecret(ctx, "o", "r", es); err != nil { // creates
		t.Fatal(err)
	}
	for i := 1; i < 180; i++ {
		if i == 90 {
			f.clk.Advance(30 * time.Second)
		}
		if _, err := gh.Actions.CreateOrUpdateRepoSecret(ctx, "o", "r", es); err != nil {
			t.Fatalf("PUT %d: %v", i+1, err)
		}
	}
	_, err = gh.Actions.CreateOrUpdateRepoSecret(ctx, "o", "r", es)
	// The first 90 PUTs (450 points) leave the window 60 s after they came.
	if wait := abuse(t, err); wait != 30*time.Second {
		t.Errorf("Retry-After %v, want 30s", wait)
	}
	// GETs of another endpoint are not held back by the PUTs.
	if _, _, err := ghClient(t, f.srv, tokAll).Actions.GetRepoPublicKey(ctx, "o", "r"); err != nil {
		t.Errorf("public key GET refused with the PUT endpoint full: %v", err)
	}
	f.clk.Advance(30 * time.Second)
	if _, err := ghClient(t, f.srv, tokAll).Actions.CreateOrUpdateRepoSecret(ctx, "o", "r", es); err != nil {
		t.Errorf("PUT after Retry-After: %v", err)
	}
	if got := limitedRequests(f); got["points"] != 1 || len(got) != 1 {
		t.Errorf("limited requests %v, want one for points", got)
	}
}

// TestConcurrentRequests: "No more than 100 concurrent requests are
// allowed": the 101st request while 100 are being answered is refused,
// without Retry-After (the fake cannot know when a slot frees).
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	remove := f.fake.InjectFault(githubfake.Fault{PathPrefix: "/repos/o/r", Latency: time.Hour, Times: 100})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", f.raw.URL+"/repos/o/r", nil)
			req.Header.Set("Authorization", "Bearer "+tokAll)
			if resp, err := f.raw.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	for f.fake.InFlight() < 100 {
		time.Sleep(time.Millisecond)
	}
	remove()
	_, _, err := ghClient(t, f.srv, tokAll).Repositories.Get(t.Context(), "o", "r")
	if wait := abuse(t, err); wait != 0 {
		t.Errorf("Retry-After %v on the concurrency limit", wait)
	}
	cancel()
	wg.Wait()
	for f.fake.InFlight() > 0 { // the handlers notice the clients left
		time.Sleep(time.Millisecond)
	}
	if _, _, err := ghClient(t, f.srv, tokAll).Repositories.Get(t.Context(), "o", "r"); err != nil {
		t.Errorf("GET after the others finished: %v", err)
	}
	if got := limitedRequests(f); got["concurrency"] != 1 {
		t.Errorf("limited requests %v", got)
	}
}

// TestContentCreationPerMinute: the fake counts creating a secret (or an
// environment) as content creation, 80 a minute, and updates not at all.
func TestContentCreationPerMinute(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	for i := range 3 {
		f.fake.AddRepo("acme", fmt.Sprintf("c%d", i), true)
	}
	put := func(repo, name string) error {
		gh := ghClient(t, f.srv, tokAll)
		pk, _, err := gh.Actions.GetRepoPublicKey(ctx, "acme", repo)
		if err != nil {
			t.Fatal(err)
		}
		_, err = gh.Actions.CreateOrUpdateRepoSecret(ctx, "acme", repo, sealed(t, pk, name, "v"))
		return err
	}
	for i := range 80 {
		if err := put(fmt.Sprintf("c%d", i%3), fmt.Sprintf("S%d", i)); err != nil {
			t.Fatalf("creation %d: %v", i+1, err)
		}
	}
	if wait := abuse(t, put("c0", "ONE_TOO_MANY")); wait <= 0 || wait > time.Minute {
		t.Errorf("Retry-After %v", wait)
	}
	// Updating a secret that exists creates nothing.
	if err := put("c0", "S0"); err != nil {
		t.Errorf("update refused: %v", err)
	}
	f.clk.Advance(time.Minute)
	if err := put("c0", "ONE_TOO_MANY"); err != nil {
		t.Errorf("creation a minute later: %v", err)
	}
	if got := limitedRequests(f); got["content"] != 1 || len(got) != 1 {
		t.Errorf("limited requests %v", got)
	}
}

// TestOlderGHESServesEnvironmentSecretsOnlyByRepositoryID: with
// LegacyEnvironmentSecrets the fake answers go-github v60's environment
// secret calls (which use /repositories/{repository_id}/environments/…)
// and 404s the /repos/{owner}/{repo}/environments/{env}/secrets… form,
// while environments themselves stay under /repos/…; without it, the
// reverse.
func TestOlderGHESServesEnvironmentSecretsOnlyByRepositoryID(t *testing.T) {
	t.Parallel()
	for _, legacy := range []bool{true, false} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			t.Parallel()
			fake := githubfake.New(githubfake.Options{LegacyEnvironmentSecrets: legacy})
			// Not behind the validator: today's description has only the
			// /repos/… form (see doc.go for the older one).
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			id := fake.AddRepo("o", "r", true)
			fake.AddEnvironment("o", "r", "prod")
			fake.AddToken(tokAll, githubfake.TokenPerms{Perms: map[string]string{"secrets": "write", "environments": "read"}})
			gh := ghClient(t, srv, tokAll)
			ctx := t.Context()

			pk, _, err := gh.Actions.GetEnvPublicKey(ctx, int(id), "prod")
			if !legacy {
				var er *github.ErrorResponse
				if !errors.As(err, &er) || er.Response.StatusCode != 404 {
					t.Fatalf("id form on today's GitHub: %v, want 404", err)
				}
				if _, _, err := gh.Repositories.GetEnvironment(ctx, "o", "r", "prod"); err != nil {
					t.Fatalf("environment: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetEnvPublicKey: %v", err)
			}
			if _, err := gh.Actions.CreateOrUpdateEnvSecret(ctx, int(id), "prod", sealed(t, pk, "T", "value-1")); err != nil {
				t.Fatalf("CreateOrUpdateEnvSecret: %v", err)
			}
			if v, _ := fake.EnvSecret("o", "r", "prod", "T"); v != "value-1" {
				t.Errorf("stored %q", v)
			}
			if s, _, err := gh.Actions.GetEnvSecret(ctx, int(id), "prod", "T"); err != nil || s.Name != "T" {
				t.Errorf("GetEnvSecret: %v %v", s, err)
			}
			if _, _, err := gh.Repositories.GetEnvironment(ctx, "o", "r", "prod"); err != nil {
				t.Errorf("environments stay under /repos/…: %v", err)
			}
			req, _ := gh.NewRequest("GET", "repos/o/r/environments/prod/secrets/public-key", nil)
			var er *github.ErrorResponse
			if _, err := gh.Do(ctx, req, nil); !errors.As(err, &er) || er.Response.StatusCode != 404 {
				t.Errorf("/repos/… form on older GHES: %v, want 404", err)
			}
			if _, err := gh.Actions.DeleteEnvSecret(ctx, int(id), "prod", "T"); err != nil {
				t.Errorf("DeleteEnvSecret: %v", err)
			}
			if _, _, err := gh.Actions.GetEnvPublicKey(ctx, 999999, "prod"); !errors.As(err, &er) || er.Response.StatusCode != 404 {
				t.Errorf("unknown repository id: %v, want 404", err)
			}
		})
	}
}

// TestReadRoleCannotWriteSecrets: a fine-grained token never exceeds its
// user's role; GET /repos/{owner}/{repo} reports the role in permissions.
func TestReadRoleCannotWriteSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.fake.AddToken("github_pat_reader", githubfake.TokenPerms{Role: "read", Perms: map[string]string{"secrets": "write"}})
	gh := ghClient(t, f.srv, "github_pat_reader")
	ctx := t.Context()
	r, _, err := gh.Repositories.Get(ctx, "o", "r")
	if err != nil {
		t.Fatal(err)
	}
	if p := r.GetPermissions(); p["push"] || p["admin"] || !p["pull"] {
		t.Errorf("permissions %v for a reader", p)
	}
	pk, _, err := gh.Actions.GetRepoPublicKey(ctx, "o", "r")
	if err != nil {
		t.Fatalf("a reader may read the public key: %v", err)
	}
	var er *github.ErrorResponse
	if _, err := gh.Actions.CreateOrUpdateRepoSecret(ctx, "o", "r", sealed(t, pk, "X", "v")); !errors.As(err, &er) || er.Response.StatusCode != 403 {
		t.Errorf("reader's write: %v, want 403", err)
	}
	r, _, _ = ghClient(t, f.srv, tokAll).Repositories.Get(ctx, "o", "r")
	if p := r.GetPermissions(); !p["push"] {
		t.Errorf("permissions %v for the default role (write)", p)
	}
}
