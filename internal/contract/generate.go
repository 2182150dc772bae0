package contract

// The trimmed descriptions in testdata/openapi are generated from the
// upstream descriptions (see SOURCES.md next to them), which live outside
// the repository, in shared/specs beside the checkout, and are absent in CI:
// run `go generate ./internal/contract` where they are, then commit the
// outputs. Tests read only the committed outputs.

//go:generate go run ../tools/specsubset -in ../../../shared/specs/astro-v1.0.openapi.yaml -out ../../testdata/openapi/astro-v1.0.subset.json -ops ../tools/specsubset/astro.ops -source "Astro API v1.0 (https://api.astronomer.io/spec/v1.0), copy from github.com/api-evangelist/astronomer openapi/_original/astronomer-astro-openapi-original.yml at commit 5175e0fc5f03a1b708cd55a5eb3b67cf5ced74ad; (c) Astronomer"
//go:generate go run ../tools/specsubset -in ../../../shared/specs/github-api.github.com.json -out ../../testdata/openapi/github.subset.json -ops ../tools/specsubset/github.ops -source "GitHub REST API description for api.github.com (github/rest-api-description), from npm package @octokit/openapi 23.0.2 generated/api.github.com.json; MIT licence"
