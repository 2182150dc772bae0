// Package act tests the GitHub Action (action.yml and scripts/action/) for real.
//
// act_test.go runs workflows with nektos/act on the host executor (no Docker,
// no network) against astro-sandbox: self-rotation through `uses: ./`, the
// preview lifecycle on create and delete events, previews with code (a new
// branch's preview gets production's image and the branch's DAGs, a push
// deploys the DAGs again; code_test.go), the consumer view
// (`uses: astro-ci/astro-ci@<ref>` with --local-repository) for each kind of
// ref, the release download with checksum verification from a local release
// server, the release commit (its .release-version) pinned by SHA, by the
// major tag and through `command: install` on a job PATH without Go (so no
// source build could have happened), the args input, and the quick-start
// workflows of docs/examples/github exactly as published except for the
// `uses:` ref, which pins the release commit by SHA, again without Go. The
// release server serves an archive of an astro-ci stamped v9.9.9 and built
// "from" releaseSHA, with its checksums.txt. It runs only with
// ASTRO_CI_RUNNER_TESTS=1 and needs .cache/bin/act (scripts/tools.sh runners).
//
// scripts_test.go runs scripts/action/install.sh and run.sh directly with
// bash (checksum refusals, the release-commit rules, provenance with a
// stand-in gh, command: install, the command allow-list, input mapping, args);
// it needs only bash and curl and always runs.
package act
