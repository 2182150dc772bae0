package preview

import (
	"context"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/fakegate"
	"github.com/astro-ci/astro-ci/internal/githubfake"
)

const envTarget = "github://acme/app/environments/preview-{slug}/secrets/ASTRO_API_TOKEN"

const envPath = `/repos/acme/app/environments/preview-feature-x`

var (
	canary = envPath + `/secrets/ASTRO_CI_PREFLIGHT_[0-9A-F]+`
	ghRepo = gh("GET", `/repos/acme/app`)
	ghEnv  = gh("GET", envPath)
	ghKey  = gh("GET", envPath+`/secrets/public-key`)
)

// seedPreview makes the preview of feature/x with its environment-secret
// target, as an earlier run would.
func (w *world) seedPreview() *Result {
	w.t.Helper()
	w.gh.AddEnvironment("acme", "app", "preview-feature-x")
	first := w.run("first")
	return w.must(<-first.start(w.ctx(), w.request("feature/x", envTarget)), "first", first)
}

// script runs f under the rounds and fails on any violation: each round's
// requests in flight together, each waiting for the round before.
func (w *world) script(f func() error, rounds ...[]fakegate.Matcher) {
	w.t.Helper()
	s := w.gate.Script(rounds...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	if err := f(); err != nil {
		w.t.Fatal(err)
	}
	if err := <-ran; err != nil {
		w.t.Fatal(err)
	}
	if err := s.Done(); err != nil {
		w.t.Fatal(err)
	}
}

// Issue 13: preview create of a new preview with an environment-secret
// target. The Astro look-ups (base, then the previews of its workspace)
// run beside the preflight; no token list for the Deployment just created;
// one list after the create (convergence); then the token's own chain,
// whose value is proven while its scope is listed again. 9 rounds: the
// environment preflight reads repository, environment and key at once, then
// proves the write with a canary (3, the look-ups hiding under it), then
// create, converge, token create, prove ∥ list, write, commit.
func TestCreateChain(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	w.gh.AddEnvironment("acme", "app", "preview-feature-x")
	r := w.run("A")
	w.script(func() error {
		_, err := r.Create(w.ctx(), w.request("feature/x", envTarget))
		return err
	},
		[]fakegate.Matcher{op("A", "GetDeployment"), ghRepo, ghEnv, ghKey},
		[]fakegate.Matcher{op("A", "ListDeployments"), gh("PUT", canary)},
		[]fakegate.Matcher{gh("DELETE", canary)},
		[]fakegate.Matcher{op("A", "CreateDeployment")},
		[]fakegate.Matcher{op("A", "ListDeployments")},
		[]fakegate.Matcher{op("A", "CreateApiToken")},
		[]fakegate.Matcher{op("A", "GetApiToken"), op("A", "ListApiTokens")},
		[]fakegate.Matcher{gh("PUT", envPath+`/secrets/ASTRO_API_TOKEN`)},
		[]fakegate.Matcher{op("A", "UpdateApiToken")},
	)
	if n := chainOf(w); n != 9 {
		t.Fatalf("chain %d", n)
	}
}

// The steady state (a push to a branch whose preview is settled and has its
// token): the look-ups and the token list hide under the preflight.
func TestCreateChainWhenThePreviewExists(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	w.seedPreview()
	w.clock.Advance(time.Hour)
	r := w.run("A")
	w.script(func() error {
		res, err := r.Create(w.ctx(), w.request("feature/x", envTarget))
		if err == nil && res.Action != "exists" {
			t.Errorf("action %s", res.Action)
		}
		return err
	},
		[]fakegate.Matcher{op("A", "GetDeployment"), ghRepo, ghEnv, ghKey},
		[]fakegate.Matcher{op("A", "ListDeployments"), gh("PUT", canary)},
		[]fakegate.Matcher{op("A", "ListApiTokens"), gh("DELETE", canary)},
	)
}

// Issue 13: preview delete. The look-ups (base, previews, their tokens)
// come first: a target is deleted only once the preview is known to go, or
// a failed look-up would leave a preview whose token no target holds. The
// tokens and the Deployment go together once the target is gone. 5 rounds.
func TestDeleteChain(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	w.seedPreview()
	r := w.run("A")
	w.script(func() error {
		_, err := r.Delete(w.ctx(), w.request("feature/x", envTarget))
		return err
	},
		[]fakegate.Matcher{op("A", "GetDeployment")},
		[]fakegate.Matcher{op("A", "ListDeployments")},
		[]fakegate.Matcher{op("A", "ListApiTokens")},
		[]fakegate.Matcher{gh("DELETE", envPath+`/secrets/ASTRO_API_TOKEN`)},
		[]fakegate.Matcher{op("A", "DeleteDeployment"), op("A", "DeleteApiToken")},
	)
	if len(w.previews("feature/x")) != 0 {
		t.Fatal("preview left")
	}
}

// A failed target delete keeps the preview and its token: a target never
// holds a dead value, and the rerun finds the preview by its marker.
func TestDeleteKeepsThePreviewWhileATargetRemains(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	res := w.seedPreview()
	r := w.run("A")
	w.gh.InjectFault(githubfake.Fault{Method: "DELETE", PathPrefix: "/repos/acme/app/environments", Status: 403})
	if _, err := r.Delete(w.ctx(), w.request("feature/x", envTarget)); err == nil {
		t.Fatal("a failed target delete was not reported")
	}
	if len(w.previews("feature/x")) != 1 || len(w.tokensOf(res.ID)) != 1 {
		t.Fatal("the preview or its token went while a target remained")
	}
	for _, e := range w.gate.Entries() {
		if e.Label == "A" && e.Method == "DELETE" {
			t.Fatalf("%s before every target was gone", e)
		}
	}
}

// A look-up that fails (a credential that may not list the previews: the
// preview's own token in a GitLab stop job) deletes nothing: deleting the
// target first would leave a preview whose token no target holds.
func TestDeleteWithAFailedLookUpDeletesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	w.seedPreview()
	r := w.run("A")
	w.fake.InjectFault(astrofake.Fault{Route: "ListDeployments", Status: 403})
	if _, err := r.Delete(w.ctx(), w.request("feature/x", envTarget)); err == nil {
		t.Fatal("a failed look-up was not reported")
	}
	if names := w.gh.SecretNames("env:acme/app/preview-feature-x"); len(names) != 1 {
		t.Fatalf("the environment holds %v, want its token secret", names)
	}
}
