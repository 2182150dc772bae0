// Package act tests the GitHub Action (action.yml and scripts/action/) for real.
//
// act_test.go runs workflows with nektos/act on the host executor (no Docker,
// no network) against astro-sandbox: self-rotation through `uses: ./`, the
// preview lifecycle on create and delete events, the consumer view
// (`uses: astro-ci/astro-ci@<ref>` with --local-repository) for each kind of
// ref, the release download with checksum verification from a local release
// server, and the quick-start workflows of docs/examples/github exactly as
// published except for the `uses:` ref. It runs only with
// ASTRO_CI_RUNNER_TESTS=1 and needs .cache/bin/act (scripts/tools.sh runners).
//
// scripts_test.go runs scripts/action/install.sh and run.sh directly with
// bash (checksum refusals, the command allow-list, input mapping); it needs
// only bash and curl and always runs.
package act
