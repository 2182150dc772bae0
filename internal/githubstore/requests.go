package githubstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// repoInfo is what GET /repos/{owner}/{repo} told.
type repoInfo struct {
	id int64
	// perms is the "permissions" object: the role of the credential's
	// user (admin, maintain, push, triage, pull); nil when GitHub sent none.
	perms map[string]bool
}

// repo reads a repository (cached).
func (s *Store) repo(ctx context.Context, st step, owner, name string) (repoInfo, error) {
	return s.repos.get(ctx, strings.ToLower(owner+"/"+name), nil, func(ctx context.Context) (repoInfo, error) {
		r, _, err := s.gh().Repositories.Get(ctx, owner, name)
		if err != nil {
			return repoInfo{}, &stepError{step: st, subject: owner + "/" + name, err: err}
		}
		if r.GetID() == 0 {
			return repoInfo{}, &stepError{step: st, subject: owner + "/" + name, err: errors.New("GitHub returned a repository without an id")}
		}
		return repoInfo{id: r.GetID(), perms: r.Permissions}, nil
	})
}

// repoID resolves a repository's numeric id (cached).
func (s *Store) repoID(ctx context.Context, st step, owner, name string) (int64, error) {
	r, err := s.repo(ctx, st, owner, name)
	return r.id, err
}

// ---------------------------------------------------------------------------
// Environments

// envPath is the environment's API path. go-github v60 only has the older
// /repositories/{id}/environments/... secret routes and does not escape the
// environment name; the official description uses
// /repos/{owner}/{repo}/environments/{environment_name}, with the name as
// one escaped segment ("preview/x" → "preview%2Fx").
func envPath(t target.Target) string {
	return fmt.Sprintf("repos/%s/%s/environments/%s", url.PathEscape(t.Owner), url.PathEscape(t.Repo), url.PathEscape(t.Environment))
}

// envKey names t's environment in the existence cache. GitHub's
// environment names are case-insensitive.
func envKey(t target.Target) string {
	return strings.ToLower(t.Owner + "/" + t.Repo + "/" + t.Environment)
}

// envInfo is what GET of an environment told.
type envInfo struct {
	exists  bool
	missing error // the 404 that said it does not exist
}

// envExists reads whether t's environment exists (cached for the Store's
// life, absent or present, until ensureEnvironment creates it or
// deleteEnvironment deletes it). The GET needs only read access to the
// repository.
func (s *Store) envExists(ctx context.Context, t target.Target) (envInfo, error) {
	return s.envs.get(ctx, envKey(t), nil, func(ctx context.Context) (envInfo, error) {
		gh := s.gh()
		req, err := gh.NewRequest(http.MethodGet, envPath(t), nil)
		if err != nil {
			return envInfo{}, &stepError{step: stepLocal, err: err}
		}
		_, err = gh.Do(ctx, req, nil)
		switch {
		case err == nil:
			return envInfo{exists: true}, nil
		case statusOf(err) == http.StatusNotFound:
			return envInfo{missing: &stepError{step: stepEnv, err: err}}, nil
		}
		return envInfo{}, &stepError{step: stepEnv, err: err}
	})
}

// envMustExist is envExists as an error.
func (s *Store) envMustExist(ctx context.Context, t target.Target) error {
	info, err := s.envExists(ctx, t)
	if err == nil && !info.exists {
		err = info.missing
	}
	return err
}

// ensureEnvironment makes sure t's environment exists, creating it when it
// is missing (create_environment=true). That an environment exists is
// cached for the Store's life, so 50 writes to one environment ask once.
//
// It reads before it writes: PUT /repos/{o}/{r}/environments/{env}
// creates or updates, and an update with an empty body could reset the
// protection rules of an environment someone configured; the read also
// needs no more than read access, so a token without Administration: write
// still serves environments that exist.
func (s *Store) ensureEnvironment(ctx context.Context, t target.Target) error {
	if info, err := s.envExists(ctx, t); err != nil || info.exists {
		return err
	}
	_, err := s.envs.get(ctx, envKey(t), func(i envInfo) bool { return i.exists }, func(ctx context.Context) (envInfo, error) {
		// Missing (or the repository is invisible, which the PUT's 404
		// tells). The body is an empty object: no protection rules.
		gh := s.gh()
		req, err := gh.NewRequest(http.MethodPut, envPath(t), struct{}{})
		if err != nil {
			return envInfo{}, &stepError{step: stepLocal, err: err}
		}
		if _, err := gh.Do(withCreates(ctx), req, nil); err != nil {
			return envInfo{}, &stepError{step: stepEnvPut, err: err}
		}
		return envInfo{exists: true}, nil
	})
	return err
}

// deleteEnvironment deletes t's environment with everything in it; 404
// means it is already gone. The caches of the environment (existence,
// public key, its secrets) are dropped: one created again later has a new
// key pair and no secrets.
func (s *Store) deleteEnvironment(ctx context.Context, t target.Target) error {
	gh := s.gh()
	req, err := gh.NewRequest(http.MethodDelete, envPath(t), nil)
	if err != nil {
		return &stepError{step: stepLocal, err: err}
	}
	_, err = gh.Do(ctx, req, nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return &stepError{step: stepEnvDel, err: err, note: "the secret itself was deleted"}
	}
	s.envs.drop(ctx, envKey(t), func(envInfo) bool { return true })
	s.keys.drop(ctx, scopeKey(t), func(publicKey) bool { return true })
	prefix := scopeKey(t) + "/"
	s.exists.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), prefix) {
			s.exists.Delete(k)
		}
		return true
	})
	return nil
}

// Environment-secret route forms. Today's GitHub serves environment
// secrets under /repos/{owner}/{repo}/environments/{environment_name}/secrets…;
// older GitHub Enterprise Server releases only under
// /repositories/{repository_id}/environments/{environment_name}/secrets…
// (githubfake's doc.go has the evidence). The form is a property of the
// server, learnt once per Store from the first environment public key.
const (
	formUnknown int32 = iota
	formRepos
	formID
)

// envSecretsPath is the path of t's environment secrets: the /repos/…
// form, or with a repository id the older /repositories/{id}/… form.
func envSecretsPath(t target.Target, repoID int64) string {
	if repoID == 0 {
		return envPath(t) + "/secrets"
	}
	return fmt.Sprintf("repositories/%d/environments/%s/secrets", repoID, url.PathEscape(t.Environment))
}

// envPublicKey fetches t's environment public key, learning the route
// form: a 404 from the /repos/… form while the environment exists can only
// mean a server without that form (every existing environment has a key),
// so the id form is tried, with the repository id from the repository's
// GET (usually fetched already, in parallel, by preflight).
func (s *Store) envPublicKey(ctx context.Context, t target.Target) (*github.PublicKey, error) {
	get := func(path string) (*github.PublicKey, error) {
		gh := s.gh()
		req, err := gh.NewRequest(http.MethodGet, path+"/public-key", nil)
		if err != nil {
			return nil, &stepError{step: stepLocal, err: err}
		}
		pk := new(github.PublicKey)
		if _, err := gh.Do(ctx, req, pk); err != nil {
			return nil, &stepError{step: stepSecret, err: err}
		}
		return pk, nil
	}
	var notFound error
	if form := s.envForm.Load(); form != formID {
		pk, err := get(envSecretsPath(t, 0))
		if err == nil {
			if s.envForm.CompareAndSwap(formUnknown, formRepos) {
				s.debugf("GitHub serves environment secrets at /repos/{owner}/{repo}/environments/{environment_name}/secrets")
			}
			return pk, nil
		}
		if statusOf(err) != http.StatusNotFound || form == formRepos {
			return nil, err
		}
		// No such repository or environment, or an older server.
		if info, eerr := s.envExists(ctx, t); eerr != nil || !info.exists {
			return nil, err
		}
		notFound = err
	}
	id, err := s.repoID(ctx, stepRepo, t.Owner, t.Repo)
	if err != nil {
		return nil, err
	}
	pk, err := get(envSecretsPath(t, id))
	if err != nil {
		if notFound != nil && statusOf(err) == http.StatusNotFound {
			// Neither form: the environment was created after the first
			// GET (create_environment) or is gone again; report the first.
			return nil, notFound
		}
		return nil, err
	}
	if s.envForm.Swap(formID) != formID {
		s.debugf("GitHub answered 404 to GET /%s/public-key although environment %q of %s/%s exists; GET /%s/public-key works (an older GitHub Enterprise Server): using the /repositories/{repository_id}/environments/{environment_name}/secrets form for this server",
			envSecretsPath(t, 0), t.Environment, t.Owner, t.Repo, envSecretsPath(t, id))
	}
	return pk, nil
}

// envDo sends method to t's environment secret in the route form the
// server serves. While the form is unknown it tries today's form first;
// a 404 then waits for the public key to tell the form (preflight fetches
// it at the same time; Put has fetched it already) and, on an older
// server, repeats the request in the id form. A DELETE's 404 is thus never
// taken for "already gone" on a server that does not know the route.
func (s *Store) envDo(ctx context.Context, t target.Target, method string, body any) (*github.Response, error) {
	do := func(repoID int64) (*github.Response, error) {
		gh := s.gh()
		req, err := gh.NewRequest(method, envSecretsPath(t, repoID)+"/"+url.PathEscape(t.Name), body)
		if err != nil {
			return nil, err
		}
		return gh.Do(ctx, req, nil)
	}
	byID := func() (*github.Response, error) {
		id, err := s.repoID(ctx, stepRepo, t.Owner, t.Repo)
		if err != nil {
			return nil, err
		}
		return do(id)
	}
	if s.envForm.Load() == formID {
		return byID()
	}
	resp, err := do(0)
	if statusOf(err) != http.StatusNotFound || s.envForm.Load() == formRepos {
		return resp, err
	}
	if _, kerr := s.publicKey(ctx, t); kerr != nil || s.envForm.Load() != formID {
		return resp, err
	}
	return byID()
}

// ---------------------------------------------------------------------------
// Secrets

type publicKey struct{ id, key string }

func (s *Store) publicKey(ctx context.Context, t target.Target) (publicKey, error) {
	return s.keys.get(ctx, scopeKey(t), nil, func(ctx context.Context) (publicKey, error) {
		gh := s.gh()
		var pk *github.PublicKey
		var err error
		switch t.Kind {
		case target.KindRepoSecret:
			pk, _, err = gh.Actions.GetRepoPublicKey(ctx, t.Owner, t.Repo)
		case target.KindDependabot:
			pk, _, err = gh.Dependabot.GetRepoPublicKey(ctx, t.Owner, t.Repo)
		case target.KindOrgSecret:
			pk, _, err = gh.Actions.GetOrgPublicKey(ctx, t.Org)
		case target.KindEnvSecret:
			if pk, err = s.envPublicKey(ctx, t); err != nil {
				return publicKey{}, err
			}
		}
		if err != nil {
			return publicKey{}, &stepError{step: stepSecret, err: err}
		}
		if pk.GetKeyID() == "" || pk.GetKey() == "" {
			return publicKey{}, &stepError{step: stepSecret, err: errors.New("GitHub returned a public key without key_id or key")}
		}
		return publicKey{id: pk.GetKeyID(), key: pk.GetKey()}, nil
	})
}

// secretKey names t's secret in the existence record.
func secretKey(t target.Target) string { return scopeKey(t) + "/" + strings.ToUpper(t.Name) }

// secretExists reads t's secret's metadata (GET …/secrets/{name}; values
// never leave GitHub): true when it exists, false on 404.
func (s *Store) secretExists(ctx context.Context, t target.Target) (bool, error) {
	gh := s.gh()
	var err error
	switch t.Kind {
	case target.KindRepoSecret:
		_, _, err = gh.Actions.GetRepoSecret(ctx, t.Owner, t.Repo, t.Name)
	case target.KindDependabot:
		_, _, err = gh.Dependabot.GetRepoSecret(ctx, t.Owner, t.Repo, t.Name)
	case target.KindOrgSecret:
		_, _, err = gh.Actions.GetOrgSecret(ctx, t.Org, t.Name)
	case target.KindEnvSecret:
		_, err = s.envDo(ctx, t, http.MethodGet, nil)
	}
	switch {
	case err == nil:
		s.exists.Store(secretKey(t), true)
		return true, nil
	case statusOf(err) == http.StatusNotFound:
		s.exists.Delete(secretKey(t))
		return false, nil
	}
	return false, &stepError{step: stepSecret, err: err}
}

// put seals v for t's store and writes it. A 422 about the key (GitHub
// rotated the store's key since it was cached) drops the cached key and
// tries once more with a fresh one. A write to a secret not known to exist
// spends from the content-creation budgets (see pacing.go).
func (s *Store) put(ctx context.Context, t target.Target, v secret.Value) (created bool, err error) {
	var ids []int64
	if t.Kind == target.KindOrgSecret && t.Visibility == "selected" {
		var err error
		if ids, err = s.selectedIDs(ctx, t); err != nil {
			return false, err
		}
	}
	if _, known := s.exists.Load(secretKey(t)); !known {
		ctx = withCreates(ctx)
	}
	for attempt := 0; ; attempt++ {
		key, err := s.publicKey(ctx, t)
		if err != nil {
			return false, err
		}
		enc, err := seal(key.key, v, s.rand)
		if err != nil {
			return false, &stepError{step: stepLocal, err: err}
		}
		status, err := s.putSealed(ctx, t, key.id, enc, ids)
		if err != nil && attempt == 0 && staleKey(err) {
			s.keys.drop(ctx, scopeKey(t), func(k publicKey) bool { return k.id == key.id })
			continue
		}
		if err != nil {
			return false, &stepError{step: stepSecret, err: err}
		}
		s.exists.Store(secretKey(t), true)
		return status == http.StatusCreated, nil
	}
}

func (s *Store) putSealed(ctx context.Context, t target.Target, keyID, enc string, ids []int64) (int, error) {
	gh := s.gh()
	es := &github.EncryptedSecret{Name: t.Name, KeyID: keyID, EncryptedValue: enc}
	var resp *github.Response
	var err error
	switch t.Kind {
	case target.KindRepoSecret:
		resp, err = gh.Actions.CreateOrUpdateRepoSecret(ctx, t.Owner, t.Repo, es)
	case target.KindDependabot:
		resp, err = gh.Dependabot.CreateOrUpdateRepoSecret(ctx, t.Owner, t.Repo,
			&github.DependabotEncryptedSecret{Name: t.Name, KeyID: keyID, EncryptedValue: enc})
	case target.KindOrgSecret:
		es.Visibility = t.Visibility
		if es.Visibility == "" {
			es.Visibility = "private"
		}
		if es.Visibility == "selected" {
			es.SelectedRepositoryIDs = github.SelectedRepoIDs(ids)
		}
		resp, err = gh.Actions.CreateOrUpdateOrgSecret(ctx, t.Org, es)
	case target.KindEnvSecret:
		resp, err = s.envDo(ctx, t, http.MethodPut, es)
	}
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// delete removes t's secret; 404 means it is already gone.
func (s *Store) delete(ctx context.Context, t target.Target) error {
	_, err := s.deleteFound(ctx, t)
	return err
}

// deleteFound is delete that also says whether the secret was there (a
// 404 is success: absent is what a delete wants).
func (s *Store) deleteFound(ctx context.Context, t target.Target) (bool, error) {
	gh := s.gh()
	var err error
	switch t.Kind {
	case target.KindRepoSecret:
		_, err = gh.Actions.DeleteRepoSecret(ctx, t.Owner, t.Repo, t.Name)
	case target.KindDependabot:
		_, err = gh.Dependabot.DeleteRepoSecret(ctx, t.Owner, t.Repo, t.Name)
	case target.KindOrgSecret:
		_, err = gh.Actions.DeleteOrgSecret(ctx, t.Org, t.Name)
	case target.KindEnvSecret:
		_, err = s.envDo(ctx, t, http.MethodDelete, nil)
	}
	if err != nil && statusOf(err) != http.StatusNotFound {
		return false, &stepError{step: stepSecret, err: err}
	}
	s.exists.Delete(secretKey(t))
	return err == nil, nil
}
