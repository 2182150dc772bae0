// Package githubfake is an in-memory fake of the GitHub REST endpoints that
// astro-ci uses to write Actions and Dependabot secrets, for tests of the
// project's GitHub store and for the sandbox binary. It follows
// shared/reference/github-secrets.md and GitHub's official OpenAPI
// description; it defines its own wire shapes and imports no other project
// package (and no GitHub client library), so that a client bug cannot be
// hidden by shared types.
//
// # Routes
//
// Served at the root (api.github.com form) and under /api/v3 (GitHub
// Enterprise Server form):
//
//	GET    /rate_limit
//	GET    /app                                                         (app JWT)
//	POST   /app/installations/{installation_id}/access_tokens           (app JWT)
//	GET    /orgs/{org}
//	GET    /orgs/{org}/installation                                     (app JWT)
//	GET    /orgs/{org}/actions/secrets[/public-key|/{name}]
//	PUT    /orgs/{org}/actions/secrets/{name}
//	DELETE /orgs/{org}/actions/secrets/{name}
//	GET    /orgs/{org}/actions/secrets/{name}/repositories
//	PUT    /orgs/{org}/actions/secrets/{name}/repositories
//	GET    /repos/{owner}/{repo}
//	GET    /repos/{owner}/{repo}/installation                           (app JWT)
//	GET    /repos/{owner}/{repo}/environments/{env}
//	PUT    /repos/{owner}/{repo}/environments/{env}
//	DELETE /repos/{owner}/{repo}/environments/{env}
//	GET    /repos/{owner}/{repo}/{actions|dependabot}/secrets[/public-key|/{name}]
//	PUT    /repos/{owner}/{repo}/{actions|dependabot}/secrets/{name}
//	DELETE /repos/{owner}/{repo}/{actions|dependabot}/secrets/{name}
//	GET    /repos/{owner}/{repo}/environments/{env}/secrets[/public-key|/{name}]
//	PUT    /repos/{owner}/{repo}/environments/{env}/secrets/{name}
//	DELETE /repos/{owner}/{repo}/environments/{env}/secrets/{name}
//	GET    /repos/{owner}/{repo}/deployments
//	POST   /repos/{owner}/{repo}/deployments
//	GET    /repos/{owner}/{repo}/deployments/{id}/statuses
//	POST   /repos/{owner}/{repo}/deployments/{id}/statuses
//	GET    /repos/{owner}/{repo}/branches
//	GET    /repos/{owner}/{repo}/issues/{number}/comments
//	POST   /repos/{owner}/{repo}/issues/{number}/comments
//	PATCH  /repos/{owner}/{repo}/issues/comments/{id}
//
// The environment name is one path segment: "preview/x" must arrive as
// "preview%2Fx". Anything else is 404 {"message":"Not Found"}.
//
// # Environments
//
// GET needs only read access to the repository. PUT creates the
// environment (or updates an existing one; names are case-insensitive) and
// answers 200 with the environment; its body is optional and protection
// settings in it are ignored; a name over 255 characters or with control
// characters gets 422. DELETE answers 204, or 404 when there is no such
// environment, and deletes the environment's secrets with it. PUT and
// DELETE need the fine-grained permission "administration": "write".
//
// # Secrets
//
// Every scope (repository Actions, repository Dependabot, environment,
// organization Actions) has its own Curve25519 key pair; GET …/public-key
// returns {key_id, key}. A PUT must carry the current key_id (an older one,
// e.g. after RotateKey, gets 422 Validation Failed naming key_id) and an
// encrypted_value the fake can open with box.OpenAnonymous; one it cannot
// open gets 422 "Bad request: value could not be decrypted" and is counted
// in DecryptFailures. The fake keeps the plaintext so tests can inspect it
// (RepoSecret, EnvSecret, OrgSecret, DependabotSecret, Secret). PUT answers
// 201 with {} when it creates and 204 when it updates; DELETE 204, or 404
// when there is no such secret. Names must match ^[A-Za-z_][A-Za-z0-9_]*$
// and not start with GITHUB_; they are case-insensitive and stored upper
// case, as GitHub shows them. Values are limited to 48 KB, scopes to 100
// secrets (1,000 for organizations).
//
// # Authentication and permissions
//
// Requests carry "Authorization: Bearer <credential>" (or "token ..."):
//
//   - a personal access token registered with AddToken, holding
//     fine-grained permissions (secrets, environments, dependabot_secrets,
//     organization_secrets, administration, ...) on some or all repositories and
//     organizations;
//   - an RS256 JWT of an app registered with AddApp (iss = app id, exp at
//     most 10 minutes ahead), accepted only on the app routes above;
//   - an installation token minted by POST
//     /app/installations/{id}/access_tokens, carrying the installation's
//     permissions on its owner's repositories, valid for one hour.
//
// Missing credentials get 401 "Requires authentication", unknown or expired
// ones 401 "Bad credentials". A repository, environment or organization the
// credential cannot see is 404, as on GitHub; a visible one without the
// permission is 403 "Resource not accessible by personal access token" (or
// "... by integration") with X-Accepted-GitHub-Permissions naming what is
// needed (sets separated by ";", permissions within a set by ",").
//
// # Deployments, branches and comments
//
// (deployments.go, branches.go.) A deployment's ref must be a branch (or
// the SHA of one), else 422 "No ref found for: <ref>"; environment
// defaults to "production", task to "deploy", production_environment to
// environment == "production". A status needs a state GitHub lists (422
// otherwise); its description is cut at 140 characters; a success status
// with auto_inactive (default true) adds an inactive status to every
// earlier non-transient, non-production deployment of the same
// environment, as GitHub documents
// (TestSuccessStatusRetiresEarlierNonTransientDeploymentsOfTheEnvironment).
// Lists are newest first. Both need the fine-grained permission
// "deployments" (read to list, write to create; 403 with
// X-Accepted-GitHub-Permissions otherwise:
// TestDeploymentsNeedTheDeploymentsPermission). Not modelled, documented
// here: auto_merge (GitHub may merge the default branch into the ref and
// answer 202) and required_contexts (no commit statuses exist, so every
// check passes). Every repository has the branch "main" (its
// default_branch) unless DeleteBranch removes it; AddBranch adds others.
// Branches are listed by name in pages (TestBranchesAreListedByNameInPages)
// with only read access. Comments exist on pull requests registered with
// AddPullRequest; they need "issues" or "pull_requests" (read to list,
// write to create or edit), bodies are at most 65,536 characters (422),
// and every credential comments as github-actions[bot]
// (TestPullRequestCommentsAreCreatedListedAndEdited).
//
// # Rate limits and faults
//
// Every response carries x-ratelimit-limit, -remaining, -used, -reset and
// -resource ("core"). One window is shared by all credentials (GitHub keeps
// one per user or installation): 5,000 requests an hour by default;
// SetPrimaryLimit lowers what is left, after which requests get 403 "API
// rate limit exceeded" with x-ratelimit-remaining: 0 until the reset time
// passes. InjectFault makes matching requests slow, fail with a status
// (optionally as a secondary rate limit, with or without Retry-After) or
// lose their connection; every response shaped by a fault carries
// X-Fake-Fault: 1 so that contract validation skips it.
//
// # Test hooks
//
// Options.Now drives the clock and Options.Rand the key pairs, key ids and
// minted tokens. Seed with AddOrg, AddRepo, AddEnvironment, AddToken,
// AddApp, AddInstallation, AddBranch, DeleteBranch and AddPullRequest;
// inspect with Deployments, Comments, Secret (and its shorthands),
// SecretNames, Environments, HasEnvironment, PublicKey, DecryptFailures and Requests; disturb with
// RotateKey, RevokeInstallationTokens, SetPrimaryLimit and InjectFault.
//
// # Not modelled
//
// Classic PAT scopes (X-OAuth-Scopes), OAuth apps, user and Codespaces
// secrets, organization Dependabot secrets, environment protection rules, per-endpoint secondary limits
// (only injected), conditional requests and ETags.
package githubfake
