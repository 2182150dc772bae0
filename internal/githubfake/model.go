package githubfake

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// account is a user or an organization.
type account struct {
	login   string
	id      int64
	isOrg   bool
	created time.Time
	actions *scope // organization Actions secrets; nil for users
}

func (a *account) kind() string {
	if a.isOrg {
		return "Organization"
	}
	return "User"
}

type repo struct {
	id         int64
	owner      *account
	name       string
	private    bool
	created    time.Time
	actions    *scope
	dependabot *scope
	envs       map[string]*environment // by lower-case name
	code       repoCode                // branches, deployments, comments (deployments.go)
}

func (r *repo) fullName() string { return r.owner.login + "/" + r.name }

type environment struct {
	id      int64
	name    string
	created time.Time
	updated time.Time
	secrets *scope
}

// scope is one secret store with its own key pair (github-secrets.md §1:
// each store has its own key, never shared).
type scope struct {
	name    string // "repo:o/r", "env:o/r/e", "org:o", "dependabot:o/r"
	keyID   string
	pub     [32]byte
	priv    [32]byte
	limit   int
	secrets map[string]*secretRec // by upper-case name
}

type secretRec struct {
	name       string
	value      string
	created    time.Time
	updated    time.Time
	visibility string  // organization secrets only
	selected   []int64 // repository ids, with visibility "selected"
}

// SecretInfo describes a stored secret, plaintext included.
type SecretInfo struct {
	Name            string
	Value           string
	Visibility      string  // organization secrets: all, private or selected
	SelectedRepoIDs []int64 // with Visibility "selected"
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func lower(s string) string { return strings.ToLower(s) }

func (s *Server) nextIDLocked() int64 {
	s.seq++
	return s.seq
}

// newScopeLocked makes a scope with a fresh key pair drawn from Options.Rand.
func (s *Server) newScopeLocked(name string, limit int) *scope {
	sc := &scope{name: name, limit: limit, secrets: map[string]*secretRec{}}
	s.rekeyLocked(sc)
	return sc
}

func (s *Server) rekeyLocked(sc *scope) {
	pub, priv, err := box.GenerateKey(s.randReader())
	if err != nil {
		panic(fmt.Sprintf("githubfake: generating a key pair: %v", err))
	}
	sc.pub, sc.priv = *pub, *priv
	// GitHub key ids are long decimal strings.
	sc.keyID = s.randDigits(19)
}

func (s *Server) accountLocked(login string) *account {
	a := s.accounts[lower(login)]
	if a == nil {
		a = &account{login: login, id: s.nextIDLocked(), created: s.clock()}
		s.accounts[lower(login)] = a
	}
	return a
}

// AddOrg registers an organization (or turns a known user into one) and
// gives it an Actions secret store.
func (s *Server) AddOrg(org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(org)
	if !a.isOrg {
		a.isOrg = true
		a.actions = s.newScopeLocked("org:"+a.login, 1000)
	}
}

// AddRepo registers a repository (and its owner, as a user unless AddOrg
// named it) and returns its id. Adding a known repository returns its id.
func (s *Server) AddRepo(owner, name string, private bool) (id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[lower(owner+"/"+name)]; r != nil {
		return r.id
	}
	a := s.accountLocked(owner)
	r := &repo{
		id:      s.nextIDLocked(),
		owner:   a,
		name:    name,
		private: private,
		created: s.clock(),
		envs:    map[string]*environment{},
	}
	r.actions = s.newScopeLocked("repo:"+r.fullName(), 100)
	r.dependabot = s.newScopeLocked("dependabot:"+r.fullName(), 100)
	s.repos[lower(r.fullName())] = r
	s.reposByID[r.id] = r
	return r.id
}

// AddEnvironment creates an environment in a known repository. It panics
// on an unknown repository: that is a bug in the test's setup.
func (s *Server) AddEnvironment(owner, repoName, env string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[lower(owner+"/"+repoName)]
	if r == nil {
		panic(fmt.Sprintf("githubfake: AddEnvironment: unknown repository %s/%s", owner, repoName))
	}
	if r.envs[lower(env)] != nil {
		return
	}
	s.newEnvironmentLocked(r, env)
}

// newEnvironmentLocked adds an environment, with its own secret store, to r.
func (s *Server) newEnvironmentLocked(r *repo, env string) *environment {
	now := s.clock()
	e := &environment{
		id:      s.nextIDLocked(),
		name:    env,
		created: now,
		updated: now,
		secrets: s.newScopeLocked("env:"+r.fullName()+"/"+env, 100),
	}
	r.envs[lower(env)] = e
	return e
}

// Environments lists the environment names of a repository, sorted; an
// unknown repository has none.
func (s *Server) Environments(owner, repoName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[lower(owner+"/"+repoName)]
	if r == nil {
		return nil
	}
	var names []string
	for _, e := range r.envs {
		names = append(names, e.name)
	}
	slices.Sort(names)
	return names
}

// HasEnvironment tells whether a repository has an environment (names are
// case-insensitive, as on GitHub).
func (s *Server) HasEnvironment(owner, repoName, env string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[lower(owner+"/"+repoName)]
	return r != nil && r.envs[lower(env)] != nil
}

// scopeLocked finds a scope by its name: "repo:o/r", "env:o/r/e" (the
// environment name may contain "/"), "org:o" or "dependabot:o/r".
func (s *Server) scopeLocked(name string) *scope {
	kind, rest, _ := strings.Cut(name, ":")
	switch kind {
	case "org":
		if a := s.accounts[lower(rest)]; a != nil {
			return a.actions
		}
	case "repo", "dependabot":
		if r := s.repos[lower(rest)]; r != nil {
			if kind == "repo" {
				return r.actions
			}
			return r.dependabot
		}
	case "env":
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) == 3 {
			if r := s.repos[lower(parts[0]+"/"+parts[1])]; r != nil {
				if e := r.envs[lower(parts[2])]; e != nil {
					return e.secrets
				}
			}
		}
	}
	return nil
}

// Secret returns a stored secret of scope (see SecretNames for the scope
// syntax), plaintext included.
func (s *Server) Secret(scopeName, name string) (SecretInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopeLocked(scopeName)
	if sc == nil {
		return SecretInfo{}, false
	}
	rec := sc.secrets[strings.ToUpper(name)]
	if rec == nil {
		return SecretInfo{}, false
	}
	return SecretInfo{
		Name:            rec.name,
		Value:           rec.value,
		Visibility:      rec.visibility,
		SelectedRepoIDs: slices.Clone(rec.selected),
		CreatedAt:       rec.created,
		UpdatedAt:       rec.updated,
	}, true
}

// AddSecret stores a secret in scope (see SecretNames for the scope
// syntax) as if it had been written before the test; an organization
// secret gets visibility "private". It panics on an unknown scope.
func (s *Server) AddSecret(scopeName, name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopeLocked(scopeName)
	if sc == nil {
		panic(fmt.Sprintf("githubfake: AddSecret: unknown scope %q", scopeName))
	}
	now := s.clock()
	rec := &secretRec{name: strings.ToUpper(name), value: value, created: now, updated: now}
	if strings.HasPrefix(scopeName, "org:") {
		rec.visibility = "private"
	}
	sc.secrets[rec.name] = rec
}

// RepoSecret returns the decrypted value of a repository Actions secret.
func (s *Server) RepoSecret(owner, repoName, name string) (value string, ok bool) {
	i, ok := s.Secret("repo:"+owner+"/"+repoName, name)
	return i.Value, ok
}

// EnvSecret returns the decrypted value of an environment secret.
func (s *Server) EnvSecret(owner, repoName, env, name string) (string, bool) {
	i, ok := s.Secret("env:"+owner+"/"+repoName+"/"+env, name)
	return i.Value, ok
}

// OrgSecret returns the decrypted value of an organization Actions secret,
// its visibility and, for "selected", the repository ids.
func (s *Server) OrgSecret(org, name string) (value string, visibility string, selectedRepoIDs []int64, ok bool) {
	i, ok := s.Secret("org:"+org, name)
	return i.Value, i.Visibility, i.SelectedRepoIDs, ok
}

// DependabotSecret returns the decrypted value of a repository Dependabot
// secret.
func (s *Server) DependabotSecret(owner, repoName, name string) (string, bool) {
	i, ok := s.Secret("dependabot:"+owner+"/"+repoName, name)
	return i.Value, ok
}

// SecretNames lists the secret names of a scope, sorted: "repo:o/r",
// "env:o/r/e", "org:o" or "dependabot:o/r". An unknown scope has none.
func (s *Server) SecretNames(scopeName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopeLocked(scopeName)
	if sc == nil {
		return nil
	}
	var names []string
	for _, rec := range sc.secrets {
		names = append(names, rec.name)
	}
	slices.Sort(names)
	return names
}

// RotateKey gives scope a new key pair and key id, as GitHub may do at any
// time; a PUT sealed for the old key then gets 422. Stored secrets are kept.
// It panics on an unknown scope (a bug in the test).
func (s *Server) RotateKey(scopeName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopeLocked(scopeName)
	if sc == nil {
		panic(fmt.Sprintf("githubfake: RotateKey: unknown scope %q", scopeName))
	}
	s.rekeyLocked(sc)
}

// PublicKey returns the current key id and base64 public key of scope, so a
// test can seal a value itself.
func (s *Server) PublicKey(scopeName string) (keyID, key string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopeLocked(scopeName)
	if sc == nil {
		return "", "", false
	}
	return sc.keyID, b64(sc.pub[:]), true
}

// DecryptFailures counts PUTs whose encrypted_value the fake could not open
// with the scope's key: a sealing bug in the client.
func (s *Server) DecryptFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decryptFailures
}
