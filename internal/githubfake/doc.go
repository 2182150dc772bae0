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
// With Options.LegacyEnvironmentSecrets the three environment-secret
// routes are served as
//
//	GET    /repositories/{repository_id}/environments/{env}/secrets[/public-key|/{name}]
//	PUT    /repositories/{repository_id}/environments/{env}/secrets/{name}
//	DELETE /repositories/{repository_id}/environments/{env}/secrets/{name}
//
// instead, and the /repos/{owner}/{repo}/environments/{env}/secrets… form
// answers 404 (see "Older GitHub Enterprise Server" below).
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
// passes.
//
// The secondary limits GitHub documents ("Rate limits for the REST API" §
// About secondary rate limits; github-secrets.md §3) are enforced on
// authenticated requests, on the fake's clock (Options.Now, to the
// nanosecond), with the numbers of Options.Limits — DocumentedLimits() are
// GitHub's; the zero value enforces none, since a test that stops the
// clock would see a whole run inside one minute:
//
//   - concurrency: more than 100 requests being answered at once;
//   - points: more than 900 points in any rolling 60 s on one endpoint
//     (method and route: "PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}"),
//     a GET costing 1 point and a PUT, POST, PATCH or DELETE 5 — GitHub
//     says "to a single endpoint", so endpoints do not share the budget;
//   - content: more than 80 content-creating requests in any rolling 60 s
//     or 500 in any rolling hour. GitHub does not list which requests are
//     content-generating; the fake counts those that create a resource (a
//     secret that did not exist, an environment) and not updates: an
//     inference, tested by TestContentCreationPerMinute.
//
// A refused request is answered as GitHub answers a secondary limit: 403
// with {"message":"You have exceeded a secondary rate limit. Please wait a
// few minutes before you try again. …","documentation_url":"…#about-secondary-rate-limits"}
// and, for the points and content budgets, Retry-After in whole seconds
// until enough of the window has passed ("If the retry-after response
// header is present, you should not retry your request until after that
// many seconds has elapsed"); the concurrency refusal has none ("Otherwise,
// wait for at least one minute"). Refused requests spend nothing; the
// request log names the limit (Request.Limited) and the arrival time
// (Request.At).
//
// InjectFault makes matching requests slow, fail with a status
// (optionally as a secondary rate limit, with or without Retry-After) or
// lose their connection; every response shaped by a fault carries
// X-Fake-Fault: 1 so that contract validation skips it.
//
// # Roles
//
// A personal access token acts for a user with a role on its repositories
// (TokenPerms.Role, default "write"): GET /repos/{owner}/{repo} reports it
// in "permissions" (push = write or more), and below "write" a secret
// write gets 403 whatever the token's fine-grained permissions, since a
// fine-grained token never exceeds its user's access and "to create a
// repository secret, you must have write access" (github/docs, 2025-10).
// Installation tokens have no role; their repository "permissions" show
// push access.
//
// # Older GitHub Enterprise Server
//
// Environment secrets were first served only as
// /repositories/{repository_id}/environments/{environment_name}/secrets…:
// go-github added them in that form (google/go-github#1847, 2021-04), and
// it is still the form go-github v60 uses and the one GitHub's own docs
// showed in November 2023 (github/rest-api-description#3159, whose
// curl examples address /repositories/<REPO_ID>/environments/…). The
// descriptions moved to /repos/{owner}/{repo}/environments/{environment_name}/secrets…
// in March 2024 for github.com and the Enterprise Server releases alike
// (octokit/openapi#428 and octokit/plugin-enterprise-server.js#663, both
// "BREAKING CHANGE: Updates multiple endpoints to use owner + repo in place
// of repository_id"; google/go-github#3103 found the id routes gone from
// the description, 2024-03). Today's description (the one in
// shared/specs) has only the /repos/… form. The first Enterprise Server
// release that serves the /repos/… form is not documented; issue 10 reports
// servers that answer it with 404 and serve the id form. The fake's
// LegacyEnvironmentSecrets reproduces such a server: the id form only,
// environments themselves under /repos/… as ever (their API used that form
// from the start), the environment name one escaped segment as in today's
// form (an inference: #3159 shows the id form failing for names with an
// unescaped "/"). Tested by
// TestOlderGHESServesEnvironmentSecretsOnlyByRepositoryID. Without the
// option the fake serves only the /repos/… form; whether github.com still
// answers the id form is not documented, so the fake does not.
//
// # Test hooks
//
// Options.Now drives the clock and Options.Rand the key pairs, key ids and
// minted tokens. Seed with AddOrg, AddRepo, AddEnvironment, AddSecret,
// AddToken, AddApp, AddInstallation, AddBranch, DeleteBranch and
// AddPullRequest; inspect with Deployments, Comments, Secret (and its
// shorthands), SecretNames, Environments, HasEnvironment, PublicKey,
// DecryptFailures, InFlight and Requests; disturb with RotateKey,
// RevokeInstallationTokens, SetPrimaryLimit and InjectFault.
//
// # Not modelled
//
// Classic PAT scopes (X-OAuth-Scopes), OAuth apps, user and Codespaces
// secrets, organization Dependabot secrets, environment protection rules,
// the CPU-time secondary limit, organization roles, conditional requests
// and ETags.
package githubfake
