package githubstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Preflight proves t writable without leaving a changed value behind, as
// strongly as p asks.
//
// With p.ByRead (overlap rotation) it reads only, all reads at once, and
// the write that follows is the target's one write of the rotation:
//
//	GET …/secrets/public-key   the scope exists and the credential may read
//	                           its secrets (Secrets: read, or a classic
//	                           token's repo / admin:org scope). It cannot
//	                           show write access: Secrets: read gets the key
//	                           too. The key is cached for the Put.
//	GET …/secrets/{name}       whether the secret exists, so that its write
//	                           is known to update rather than create content
//	                           (the pacer's content budgets). Read only.
//	GET /repos/{owner}/{repo}  (personal access tokens, repository scopes)
//	                           "permissions": the user's role allows writing
//	                           secrets (push, i.e. write access, which GitHub
//	                           requires). It cannot show that a fine-grained
//	                           token was granted Secrets: write — no endpoint
//	                           reveals a fine-grained token's permissions.
//	GET …/environments/{env}   (environment secrets) the environment exists.
//
// A GitHub App needs no read for the permission: the installation token's
// permissions, returned when it was minted, name secrets: write (or
// dependabot_secrets, organization_secrets) exactly. For a personal
// access token, what the reads cannot show fails at the write, and
// overlap makes that safe: the old value stays valid until every target
// holds the new one.
//
// Otherwise (in-place rotation, create), where a write failing after the
// fact would lose a value, it proves the write itself: it writes current
// back when it is known (the secret already holds it), else writes and
// deletes a canary secret in the same scope. Environment secrets first
// read the repository, the environment and the key at once.
//
// With create_environment=true a missing environment is created by either
// kind of preflight (see preflightByWrite).
func (s *Store) Preflight(ctx context.Context, t target.Target, p target.Proof) error {
	if err := checkTarget(t); err != nil {
		return s.wrap(ctx, "preflight", t, err)
	}
	ctx, err := s.authorize(ctx, t)
	if err == nil {
		if p.ByRead {
			err = s.preflightByRead(ctx, t)
		} else {
			err = s.preflightByWrite(ctx, t, p.Current)
		}
	}
	if err != nil {
		return s.wrap(ctx, "preflight", t, err)
	}
	return nil
}

// together runs fs at once and returns the first error in the order of fs
// (so that "no such repository" wins over the 404s it causes). A panic in
// one becomes its error, as in the fan-out.
func together(fs ...func() error) error {
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs[i] = &stepError{step: stepLocal, err: fmt.Errorf("internal error: %v", p)}
				}
			}()
			errs[i] = f()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) preflightByRead(ctx context.Context, t target.Target) error {
	var repo repoInfo
	readRepo := func() (err error) {
		repo, err = s.repo(ctx, stepRepo, t.Owner, t.Repo)
		return err
	}
	key := func() error { _, err := s.publicKey(ctx, t); return err }
	exists := func() error { _, err := s.secretExists(ctx, t); return err }
	var fs []func() error
	switch t.Kind {
	case target.KindOrgSecret:
		fs = []func() error{key, exists}
		if t.Visibility == "selected" {
			fs = append(fs, func() error { _, err := s.selectedIDs(ctx, t); return err })
		}
	case target.KindEnvSecret:
		env := func() error { return s.envMustExist(ctx, t) }
		if t.CreateEnvironment {
			env = func() error { return s.ensureEnvironment(ctx, t) }
		}
		fs = []func() error{readRepo, env, key, exists}
	default:
		fs = []func() error{key, exists}
		if s.appKey == nil {
			fs = append([]func() error{readRepo}, fs...)
		}
	}
	err := together(fs...)
	if err != nil && t.CreateEnvironment && statusOf(err) == http.StatusNotFound {
		// The key was asked for while the environment was being created.
		err = together(readRepo, func() error { return s.ensureEnvironment(ctx, t) }, key)
	}
	if err != nil {
		return err
	}
	if s.appKey != nil {
		return s.appMayWrite(t)
	}
	if p := repo.perms; p != nil && !p["push"] && !p["maintain"] && !p["admin"] {
		return &stepError{step: stepProof, err: fmt.Errorf("GET /repos/%s/%s reports no write access for the token's user", t.Owner, t.Repo),
			note: "writing secrets needs a user with write access to " + t.Owner + "/" + t.Repo + " (a fine-grained token never exceeds its user's role)"}
	}
	return nil
}

// appMayWrite checks the permissions of the installation token minted for
// t's owner: complete evidence for the token.
func (s *Store) appMayWrite(t target.Target) error {
	perms, ok := s.installationPerms(t)
	if !ok {
		return nil // not known (no token minted here): the write will tell
	}
	need := []string{"secrets"}
	switch t.Kind {
	case target.KindDependabot:
		need = []string{"dependabot_secrets"}
	case target.KindOrgSecret:
		need = []string{"organization_secrets"}
	}
	for _, n := range need {
		if perms[n] != "write" && perms[n] != "admin" {
			return &stepError{step: stepProof, err: fmt.Errorf("the GitHub App installation token for %s has %s: %q, not write", owner(t), n, perms[n]),
				note: forbiddenHint(t, true)}
		}
	}
	if t.Kind == target.KindEnvSecret && perms["environments"] == "" {
		return &stepError{step: stepProof, err: fmt.Errorf("the GitHub App installation token for %s has no environments permission", owner(t)),
			note: forbiddenHint(t, true)}
	}
	return nil
}

// preflightByWrite proves the write by writing. For an environment secret
// the repository (to tell "no such repository" from "no such
// environment": GitHub answers 404 for both on the secrets endpoints), the
// environment and the key are read at once.
//
// With create_environment=true a missing environment is created here
// already, and is left in place even though preflight otherwise changes
// nothing: the Put that follows needs it anyway (it would create it
// itself), the write permission on its secrets can only be proven inside
// it, and a token that may not create environments fails now, before any
// value exists. A later Delete of the target removes it.
func (s *Store) preflightByWrite(ctx context.Context, t target.Target, current *secret.Value) error {
	if t.Kind == target.KindEnvSecret {
		readRepo := func() error { _, err := s.repo(ctx, stepRepo, t.Owner, t.Repo); return err }
		var err error
		if t.CreateEnvironment {
			err = together(readRepo, func() error { return s.ensureEnvironment(ctx, t) })
		} else {
			err = together(readRepo, func() error { return s.envMustExist(ctx, t) },
				func() error { _, err := s.publicKey(ctx, t); return err })
		}
		if err != nil {
			return err
		}
	}
	return s.preflightSecret(ctx, t, current)
}

// preflightSecret is preflight by write once the scope of t is known to
// exist.
func (s *Store) preflightSecret(ctx context.Context, t target.Target, current *secret.Value) error {
	if _, err := s.publicKey(ctx, t); err != nil {
		return err
	}
	if t.Kind == target.KindOrgSecret && t.Visibility == "selected" {
		// The canary is private; check the repos= names Put will need.
		if _, err := s.selectedIDs(ctx, t); err != nil {
			return err
		}
	}
	if current != nil {
		created, err := s.put(ctx, t, *current)
		if err != nil {
			return err
		}
		if created {
			// The secret did not exist after all: leave it absent, as found.
			return s.delete(ctx, t)
		}
		return nil
	}
	b := make([]byte, 4)
	if _, err := s.rand.Read(b); err != nil {
		return &stepError{step: stepLocal, err: fmt.Errorf("reading randomness: %w", err)}
	}
	canary := t
	canary.Name = target.CanaryPrefix + strings.ToUpper(hex.EncodeToString(b))
	// Canaries a killed run left behind go while this one is proven: the
	// list runs beside the write, and deleting another run's canary is
	// harmless (its own delete then finds it gone).
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		s.sweepCanaries(ctx, t, canary.Name)
	}()
	defer func() { <-swept }()
	if canary.Kind == target.KindOrgSecret {
		canary.Visibility, canary.SelectedRepos = "private", nil
	}
	val := make([]byte, 16)
	if _, err := s.rand.Read(val); err != nil {
		return &stepError{step: stepLocal, err: fmt.Errorf("reading randomness: %w", err)}
	}
	// Deleted even when the run was just stopped: see target.RemoveCanary.
	deleteCanary := func(uncertain bool) error {
		return target.RemoveCanary(ctx, uncertain, func(dctx context.Context) (bool, error) { return s.deleteFound(dctx, canary) })
	}
	if _, err := s.put(ctx, canary, secret.New(hex.EncodeToString(val))); err != nil {
		// The write may have landed before its answer was lost (or the run
		// was stopped while it was in flight): remove it all the same.
		if st := statusOf(err); ctx.Err() != nil || st == 0 || st >= 500 {
			_ = deleteCanary(true)
		}
		return err
	}
	if err := deleteCanary(false); err != nil {
		var se *stepError
		if errors.As(err, &se) {
			se.note = "the preflight canary secret " + canary.Name + " was left behind; delete it by hand"
		}
		return err
	}
	return nil
}

// canaryRE matches the name of a preflight canary secret.
var canaryRE = regexp.MustCompile(`^` + target.CanaryPrefix + `[0-9A-F]{8}$`)

// sweepCanaries deletes the canary secrets left in t's scope, except own
// (this preflight's). Environment scopes are not listed (their secrets go
// with the preview environments they are made for). Failures are left to a
// later sweep: a canary holds a random value, no credential.
func (s *Store) sweepCanaries(ctx context.Context, t target.Target, own string) {
	gh := s.gh()
	opts := &github.ListOptions{PerPage: 100}
	var (
		secrets *github.Secrets
		err     error
	)
	switch t.Kind {
	case target.KindRepoSecret:
		secrets, _, err = gh.Actions.ListRepoSecrets(ctx, t.Owner, t.Repo, opts)
	case target.KindDependabot:
		secrets, _, err = gh.Dependabot.ListRepoSecrets(ctx, t.Owner, t.Repo, opts)
	case target.KindOrgSecret:
		secrets, _, err = gh.Actions.ListOrgSecrets(ctx, t.Org, opts)
	default:
		return
	}
	if err != nil || secrets == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), target.CanaryCleanup)
	defer cancel()
	for _, sec := range secrets.Secrets {
		if sec.Name != own && canaryRE.MatchString(sec.Name) {
			left := t
			left.Name = sec.Name
			if err := s.delete(dctx, left); err == nil && s.debugf != nil {
				s.debugf("deleted %s, a preflight canary an earlier run left in %s", sec.Name, t)
			}
		}
	}
}
