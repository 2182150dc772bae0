// Package astrofake is an in-memory fake of the Astronomer Astro API v1
// (base path /v1), for tests of the project's client and CLI and for the
// sandbox binary. It follows the wire facts in shared/reference/astro-api.md
// and the official description astro-v1.0.openapi.yaml; it defines its own
// wire structs and imports no other project package, so that a client bug
// cannot be hidden by shared types.
//
// # Routes
//
//	GET    /v1/organizations                                   ListOrganizations
//	GET    /v1/organizations/{org}                             GetOrganization
//	GET    /v1/organizations/{org}/workspaces[/{id}]           ListWorkspaces, GetWorkspace
//	GET    /v1/organizations/{org}/tokens                      ListApiTokens
//	POST   /v1/organizations/{org}/tokens                      CreateApiToken
//	GET    /v1/organizations/{org}/tokens/{id}                 GetApiToken
//	POST   /v1/organizations/{org}/tokens/{id}                 UpdateApiToken
//	DELETE /v1/organizations/{org}/tokens/{id}                 DeleteApiToken
//	POST   /v1/organizations/{org}/tokens/{id}/roles           UpdateApiTokenRoles
//	POST   /v1/organizations/{org}/tokens/{id}/rotate          RotateApiToken
//	GET    /v1/organizations/{org}/deployments                 ListDeployments
//	POST   /v1/organizations/{org}/deployments                 CreateDeployment
//	GET    /v1/organizations/{org}/deployments/{id}            GetDeployment
//	POST   /v1/organizations/{org}/deployments/{id}            UpdateDeployment
//	DELETE /v1/organizations/{org}/deployments/{id}            DeleteDeployment
//	POST   /v1/organizations/{org}/deployments/{id}/hibernation-override   UpdateDeploymentHibernationOverride
//	DELETE /v1/organizations/{org}/deployments/{id}/hibernation-override   DeleteDeploymentHibernationOverride
//	GET    /v1/organizations/{org}/deployments/{id}/deploys    ListDeploys
//	POST   /v1/organizations/{org}/deployments/{id}/deploys    CreateDeploy
//	GET    /v1/organizations/{org}/deployments/{id}/deploys/{deployId}            GetDeploy
//	POST   /v1/organizations/{org}/deployments/{id}/deploys/{deployId}            UpdateDeploy
//	POST   /v1/organizations/{org}/deployments/{id}/deploys/{deployId}/finalize   FinalizeDeploy
//
// Beside the API, not validated against it: the blob endpoint that
// dagsUploadUrl points at (PUT /astrofake-blob/…, blob.go) and, when
// Options.RegistryHost is set, an OCI registry under /v2/ (registry.go).
//
// Any other path is 404 with the error body; a served path with another
// method is 405 with the error body and an Allow header. Every response
// carries X-Request-Id; every error is {message, requestId, statusCode[,
// fieldErrors]} as application/json (astro-api.md §2). Validation failures
// are 400 with fieldErrors.
//
// # Authentication
//
// Every route needs "Authorization: Bearer <value>". Values are HS256 JWTs
// signed with a per-Server random key, with Astro-like claims (permissions
// organizationId:<org> plus workspaceId:<ws> or deploymentId:<dep>,
// apiTokenId, isAstronomerGenerated, iss, aud, sub, iat, nbf, jti, version,
// org_id, and exp only for expiring tokens). Only a token's current value
// authenticates: missing, malformed, unknown, rotated-away, deleted and
// expired values get 401, and no message ever quotes a value. A successful
// authentication sets lastUsedAt when it is unset or older than an hour
// (debounced, so read-only traffic leaves Snapshot unchanged).
//
// # Authorization
//
// A token belongs to one organization; any path naming another
// organization is 403. An id that names an object of another organization is
// 404, like an unknown id. Within the organization (403 when denied):
//
//   - ORGANIZATION_OWNER (an organization token): everything.
//   - Other organization roles (BILLING_ADMIN, MEMBER, OBSERVE_ADMIN,
//     OBSERVE_MEMBER): read organization-scoped tokens; nothing else unless
//     the token also holds workspace or deployment roles (an
//     ORGANIZATION_MEMBER token sees no workspace, astro-api.md §2).
//   - Any role on workspace W (held by a WORKSPACE token of W, or an
//     organization token given a WORKSPACE role on W): read W, its
//     deployments, its WORKSPACE tokens, DEPLOYMENT tokens of its
//     deployments, and tokens holding roles on them.
//   - WORKSPACE_OWNER on W adds: create, update, rotate, delete and change
//     the roles of WORKSPACE tokens of W and DEPLOYMENT tokens of
//     deployments in W; create, update and delete deployments in W.
//   - WORKSPACE_OPERATOR on W adds: create, update and delete deployments
//     in W. AUTHOR, MEMBER and ACCESSOR are read-only.
//   - Any role on deployment D: read D and DEPLOYMENT tokens of D.
//     DEPLOYMENT_ADMIN on D adds: update D (not delete it) and manage
//     DEPLOYMENT tokens of D, itself included. Custom deployment roles are
//     read-only.
//   - A token can always GET itself.
//   - Organization-scoped tokens are managed by the organization owner only.
//   - Changing roles also needs grant rights on every role added or
//     removed (the org owner for ORGANIZATION roles, WORKSPACE_OWNER for a
//     workspace, WORKSPACE_OWNER of its workspace or DEPLOYMENT_ADMIN for a
//     deployment and its DAG roles).
//
// List endpoints return only what the caller can see; totalCount counts
// those.
//
// # Inferred behaviour
//
// Where the reference leaves a behaviour open the fake picks one, marked
// "inferred" at the code: rotation keeps the id and restarts an expiring
// token's validity window (startAt = now, endAt = now+expiryPeriodInDays);
// shortToken is a 7-hex-digit hash of the current value (changes on
// rotation, never a substring of the value); an update's omitted optional
// fields reset to create-time defaults; deleting a deployment deletes its
// DEPLOYMENT tokens and drops roles on it; create rejects worker-queue ids
// and value-less new secret variables; DEDICATED/HYBRID creates need a
// clusterId unless the organization has exactly one cluster of that type
// (register clusters with AddCluster, or implicitly with AddDeployment);
// STANDARD without cloudProvider/region lands on AWS us-east-1.
//
// # Code deploys
//
// Facts from shared/reference/code-deploys.md: a deploy is created
// INITIALIZED with dagsUploadUrl (DAG deploys on, DAG_ONLY or
// IMAGE_AND_DAG) and imageRepository/imageTag; the DAG bundle is PUT to
// that URL with x-ms-blob-type: BlockBlob and answered 201 with
// x-ms-version-id; finalize with that version makes it DEPLOYED and sets
// the Deployment's desiredDagTarballVersion, and dagTarballVersion follows
// after Options.DAGDeployAfter; an image deploy's tag must be pushed to
// the registry before finalize ("Cannot get digest for image"); a
// DAG_ONLY deploy on a Deployment with DAG deploys off is refused with
// "dag deploy is not enabled for deployment"; the registry takes user
// "cli" and an API token. Inferred, each with the test that pins it:
//
//   - The blob endpoint and its URL shape are ours (code-deploys.md "For a
//     fake"): it wants the per-deploy sig (403 AuthenticationFailed
//     otherwise, never quoting it), an unexpired se (one hour), and takes no
//     writes after finalize (TestBlobEndpointWantsBlockBlobAndTheSignatureAndAnswersAVersionID,
//     TestFinalizeRunsTheUploadedVersionAfterDAGDeployAfter).
//   - Every PUT is a new blob version; finalize needs one uploaded to the
//     deploy; a deploy is finalized once (second finalize 400); unknown
//     ids at finalize are 400 because the operation declares no 404
//     (TestFinalizeRunsTheUploadedVersionAfterDAGDeployAfter).
//   - A HIBERNATING Deployment refuses CreateDeploy with 400; an active
//     wake override (isHibernating false) makes it HEALTHY at once, and it
//     hibernates again when the override is deleted or its overrideUntil
//     passes; overrides are for development Deployments only and
//     overrideUntil must lie ahead; deleting a missing override is 404
//     (TestHibernatingDeploymentRefusesDeploysUntilAWakeOverride,
//     TestHibernationOverrideIsForDevelopmentDeploymentsOnly).
//   - Who may deploy: whoever may update the Deployment, plus Workspace
//     Authors ("deploy code" in Astro's role table); reading deploys needs
//     read access (TestDeploysNeedTheRightToDeploy).
//   - ListDeploys is in creation order, oldest first (no order is
//     documented; clients sort by createdAt).
//   - IMAGE_* deploys get a fresh tag "deploy-<time>-<random>"; DAG_ONLY
//     deploys report the Deployment's current image. BUNDLE deploys are
//     400. An IMAGE_ONLY deploy before any DAG bundle is 400 (docs: it
//     needs a DAG deploy first).
//   - Registry: pulls need read access to the Deployment, pushes the right
//     to deploy; blobs belong to repositories; a cross-repository mount
//     succeeds from a repository of this registry the caller may read,
//     else an ordinary upload starts (distribution spec); DELETE is 405
//     (TestRegistryWantsUserCliAndAValidTokenOfTheOrganization,
//     TestRegistryMountsAcrossRepositoriesOrFallsBackToAnUpload,
//     TestImageAndDAGFinalizeNeedsThePushedTagAndSwitchesTheImage).
//
// Deployment inferences with their evidence, each pinned by the test named:
//
//   - KubernetesExecutor: no worker queues. A create or update with
//     executor KUBERNETES and workerQueues is a 400 on workerQueues; such a
//     deployment comes back with an empty list, and switching an existing one
//     to KUBERNETES drops its queues. Evidence: terraform-provider-astro's
//     live acceptance tests (resource_deployment_test.go) assert no
//     worker_queues for KUBERNETES deployments, hosted and hybrid; astro-cli
//     refuses worker_queues with KubernetesExecutor before sending
//     (fromfile.go errNoUseWorkerQueues, errUseDefaultWorkerType).
//     TestInferredKubernetesExecutorHasNoWorkerQueues.
//   - Runtime versions: a create asking for an astroRuntimeVersion outside
//     Options.RuntimeReleases (default 12.*, 13.*, 3.*) is a 400 with a
//     fieldError on astroRuntimeVersion whose message lists what is offered;
//     updates and seeded deployments keep any version. Evidence: Astronomer's
//     "Run a deprecated Astro Runtime" docs (astronomer/docs PRs #3553, #3595:
//     deprecated versions need Astronomer's permission and "the Astro API
//     returns a failure" for some), astro-cli issue #1449 (a preview on an
//     older runtime is refused; the error tells what can be created), and
//     astro-cli validating versions against deployment-options
//     runtimeReleases. The exact message is not documented.
//     TestInferredRuntimeNotOfferedForNewDeploymentsIsRefused.
//   - Workload identity: effectiveWorkloadIdentity is "either
//     user-configured or Astronomer-provided default" (spec); without
//     workloadIdentity a deployment gets its own default (terraform: "if it
//     is not provided the workload identity will be assigned automatically").
//     A create or update naming another deployment's Astronomer-managed
//     default identity is a 400 on workloadIdentity: that role lives in
//     Astronomer's account and trusts only its own deployment. A
//     customer-managed identity is accepted and echoed.
//     TestInferredWorkloadIdentityIsOwnUnlessSetAndNeverAnothersDefault.
//
// # Clock, claims and rotation variants
//
//   - Every answer carries a Date header from the fake's clock (net/http
//     would send the machine's): Astro's answers carry one (RFC 9110 makes it
//     mandatory for an origin server with a clock), and clients read Astro's
//     time from it to judge timestamps Astro wrote (createdAt, and the
//     bounds rotation markers derive from it) without trusting the runner's
//     clock. TestServerTimeIsAstrosClock (internal/astro).
//   - Token values carry apiTokenId, as astro-cli's fixtures and the JWTs in
//     Astronomer's docs do; that every kind and age of token does is not
//     documented, and astro-cli itself needs only "permissions".
//     SetOmitTokenIDClaim mints values without it, and the fake then finds
//     the token by "sub". TestSelfRotationWithoutTokenIDClaim
//     (internal/rotation), TestTokensWithoutAnAPITokenIDClaim (internal/cli).
//   - Rotation keeping the id and restarting endAt is inferred (see
//     rotateToken); SetRotateVariant makes a rotate hand out a new id or keep
//     endAt, so that clients are tested not to depend on either inference.
//     TestInPlaceLostAnswerIsReconciled, TestInPlaceReportsTheRotatesExpiry
//     (internal/rotation).
//
// # Test hooks
//
// Options.Now drives the clock (expiry, lastUsedAt, CREATING→HEALTHY after
// Options.DeploymentReadyAfter, dagTarballVersion after
// Options.DAGDeployAfter), Options.Rand the ids and keys. Seed with
// AddOrganization, AddWorkspace, AddCluster, AddDeployment, MintToken,
// AddDeploy and PushImage; inspect with Deploys, Code and ImageDigest, and
// with Token, Tokens, Deployment, Deployments, Authenticates,
// TokenIDForValue, IssuedValues, Snapshot and Requests; misbehave with
// InjectFault (responses shaped by a fault carry X-Fake-Fault: 1): a
// status, a dropped connection, before or after the operation was applied,
// a garbage (Fault.Body) or cut-off (Fault.Truncate) answer to an applied
// operation, or a Hold that parks the request before or after it is applied
// until the test lets it go.
package astrofake
