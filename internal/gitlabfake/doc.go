// Package gitlabfake is an in-memory fake of the GitLab REST API v4 routes
// that CI/CD variables need, for tests of the project's GitLab store and of
// the CLI. GitLab publishes no OpenAPI description of these routes, so the
// contract is the REST documentation summarised in
// shared/reference/gitlab-variables.md, checked against GitLab's own sources
// (lib/api/ci/variables.rb, lib/api/group_variables.rb,
// Ci::ChangeVariableService, Ci::VariablesFinder, Ci::Maskable,
// Ci::HidableVariable); the official client gitlab.com/gitlab-org/api/client-go
// is its real client, and the tests drive the fake with it. The fake defines
// its own wire structs and imports no other project package, so a bug in the
// store cannot be hidden by shared types.
//
// # Routes (mount the Server at the root; every route starts with /api/v4)
//
//	GET    /version                             {"version":..., "revision":...}
//	GET    /projects/:id                        minimal project
//	GET    /groups/:id                          minimal group
//	GET    /personal_access_tokens/self         the calling token
//	GET    /projects/:id/variables              paginated list
//	POST   /projects/:id/variables              create only
//	GET    /projects/:id/variables/:key         one, filter[environment_scope]
//	PUT    /projects/:id/variables/:key         update only, filter[environment_scope]
//	DELETE /projects/:id/variables/:key         filter[environment_scope]
//	       /groups/:id/variables[...]           the same for group variables
//
// :id is a numeric id or the URL-encoded full path (group%2Fsub%2Fproject;
// client-go also encodes "." as %2E), looked up case-insensitively.
// Parameters come from the query string and from a JSON, form-encoded or
// multipart body; filter[environment_scope] may be a form key or a nested
// JSON object {"filter":{"environment_scope":"..."}}.
//
// # Semantics, as GitLab implements them
//
//   - POST is create-only: the same key and scope is 400
//     {"message":{"key":["(KEY) has already been taken"]}}.
//   - Project PUT is update-only: no variable with the key (and the filtered
//     scope) is 404 {"message":"404 Variable Not Found"}. Omitted parameters
//     keep their stored value. environment_scope (not filter) moves the
//     variable to another scope.
//   - Group PUT keeps an old GitLab quirk on purpose: without a filter it
//     updates the first variable with the key in any scope, and with a filter
//     that matches nothing it also falls back to the first variable with the
//     key (ChangeVariableService's find_by!(key)); 404
//     {"message":"404 GroupVariable Not Found"} only when the key exists in
//     no scope. A client that wants one scope must GET it first.
//   - GET one and DELETE without a filter, when the key exists in several
//     scopes: 409 {"message":"There are multiple variables with provided
//     parameters. Please use 'filter[environment_scope]'"} (conflict!).
//   - masked_and_hidden is accepted on POST only (it sets hidden and masked).
//     PUT does not declare it, so GitLab drops it silently; the fake does the
//     same. Changing masked on a hidden variable is 400 {"message":{"base":
//     ["Updating masked attribute is not allowed on updates for hidden
//     variables."]}}.
//   - Masked values must match the older, conservative GitLab rule
//     \A[a-zA-Z0-9_+=/@:.~-]{8,}\z, else 400 {"message":{"value":["is
//     invalid"]}}. Keys: 1-255 of [A-Za-z0-9_], else 400 on key.
//     Environment scopes: letters, digits, '-', '_', '/', '$', '{', '}',
//     '.', '*' and spaces (Gitlab::Regex.environment_scope_regex), else 400
//     on environment_scope; a filter may name any string and then matches
//     nothing.
//     Descriptions: at most 255 characters.
//   - Responses use GitLab's variable entity (variable_type, key, value,
//     hidden, protected, masked, raw, environment_scope, description); a
//     hidden variable's value is null.
//   - Lists are paginated with page/per_page (default 20, at most 100) and
//     carry X-Page, X-Per-Page, X-Total, X-Total-Pages, X-Next-Page,
//     X-Prev-Page and Link (prev, next, first, last).
//
// # Tiers and versions (evidence; each has a test that names it)
//
//   - Scoped group variables are a licensed feature (Premium and Ultimate:
//     group_scoped_ci_variables in ee/app/models/gitlab_subscriptions/
//     features.rb; Group#scoped_variables_available? in
//     ee/app/models/ee/group.rb). Without it, GitLab EE's
//     EE::API::Helpers::VariablesHelpers#filter_variable_parameters
//     deletes environment_scope from group POST and PUT parameters, so the
//     variable is created in (or stays in) "*" and the answer, 201 or 200,
//     says "environment_scope":"*" without a warning; a second scope of the
//     same key is then 400 "has already been taken" (ee/spec/requests/api/
//     group_variables_spec.rb: "creates a variable, but does not use the
//     provided environment scope"; "does not update the variable"). The
//     filter parameter is not filtered, so a group PUT with
//     filter[environment_scope]=production then finds nothing and falls
//     back to the "*" variable (see the PUT quirk above). The docs mark
//     environment_scope on group variables "Premium and Ultimate only".
//     SetScopedGroupVariables(group, false) plays such a group (and its
//     subgroups: on GitLab.com the plan belongs to the top-level group);
//     the default is a group that has the feature. Project variables are
//     scoped on every tier. Test: TestGroupWithoutScopedVariablesDropsTheScope.
//   - Before GitLab 16.9 the group variable routes did not declare filter
//     (doc/api/group_level_variables.md: "The filter parameter was
//     introduced in GitLab 16.9", issue 340185): GET was
//     user_group.variables.find_by(key:), PUT ChangeVariableService's
//     find_by!(key:) and DELETE find_by!(key:), so all three act on the
//     first variable with the key in any scope and GET never answers 409.
//     Options.Version below "16.9" plays that; GET /version reports it.
//     Project routes honour the filter on every version the fake plays
//     (it exists since 13.x). Test: TestBefore169GroupFilterIsIgnored.
//
// # Authentication and authorization
//
// A token is read from PRIVATE-TOKEN, "Authorization: Bearer", JOB-TOKEN or
// the private_token query parameter. A missing or unknown token is 401
// {"message":"401 Unauthorized"}; an expired or revoked one is 401
// {"error":"invalid_token","error_description":"Token has expired."} (or
// "Token was revoked. ..."), as GitLab's API guard answers. A CI_JOB_TOKEN
// (AddJobToken) is not a credential on any of these routes: GitLab only
// considers job tokens on routes that allow them, and the variables API is
// not one, so it is 401 like an unknown token. Scope api allows everything,
// read_api only GET; anything else is 403 {"error":"insufficient_scope",...},
// except GET /personal_access_tokens/self, which every scope may call
// (allow_access_with_scope(Gitlab::Auth.all_available_scopes)).
//
// Roles are given per full path and inherited by subgroups and projects
// (the highest applies). No role on a project or group is 404
// {"message":"404 Project Not Found"} / "404 Group Not Found", like an
// unknown one. Project variables need Maintainer (40), group variables
// Owner (50); less is 403 {"message":"403 Forbidden"}. GET /projects/:id and
// GET /groups/:id need any role.
//
// # Test hooks
//
// Seed with AddGroup, AddProject, AddToken, AddJobToken and SetProjectVariable
// / SetGroupVariable; inspect with ProjectVariable, GroupVariable, Variables
// and Requests (values are never logged); misbehave with InjectFault (every
// response shaped by a fault carries X-Fake-Fault: 1): a status, a dropped
// connection, latency, and, applied or not, an answer whose body is
// garbage (Body) or cut short (Truncate). Test: TestUnreadableAnswers.
package gitlabfake
