#!/usr/bin/env bash
# make release-snapshot: what a release would publish, built locally into dist/
# with no tag, no publishing and no image (goreleaser's image step needs a
# Docker engine with buildx; `make image-test` builds Dockerfile.goreleaser with
# podman instead). Works offline once the Go modules are in the module cache.
# SBOMs: a release always makes them with syft; the snapshot does when syft is
# on PATH and says that it skipped them otherwise.
# Then checks the result: six archives named as the action expects, each with
# the binary, checksums.txt that verifies (and lists the SBOMs when made), and
# a binary that runs and carries the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh lint
# goreleaser reads the remote's URL with the commit; when that fails (a clone
# without a remote, as in CI here) a snapshot drops all git information and
# stamps commit "none". Give git a remote URL through the environment only.
if [ -z "$(git remote)" ]; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/astro-ci/astro-ci.git
fi
sboms=0
if command -v syft >/dev/null 2>&1; then
	export ASTRO_CI_SBOM=1
	sboms=6
	echo "release-snapshot: syft $(syft version 2>/dev/null | sed -n 's/^Version: *//p') found: SBOMs included" >&2
else
	echo "release-snapshot: note: syft is not installed, so this snapshot has no SBOMs (a release always has them: .github/workflows/release.yml installs syft)" >&2
fi
.cache/bin/goreleaser release --snapshot --clean --skip=docker

cd dist
fail() { echo "release-snapshot: FAIL $*" >&2; exit 1; }
version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' metadata.json | head -n 1)
[ -n "$version" ] || fail "no version in dist/metadata.json"
for os in linux darwin windows; do
	for arch in amd64 arm64; do
		name=astro-ci_${version}_${os}_${arch}
		if [ "$os" = windows ]; then
			[ -f "$name.zip" ] || fail "missing $name.zip"
			python3 -m zipfile -l "$name.zip" | grep -q '^astro-ci\.exe ' || fail "$name.zip has no astro-ci.exe"
		else
			[ -f "$name.tar.gz" ] || fail "missing $name.tar.gz"
			tar -tzf "$name.tar.gz" | grep -qx astro-ci || fail "$name.tar.gz has no astro-ci at its top"
		fi
	done
done
[ "$(grep -c -E '  astro-ci_[^ ]+\.(tar\.gz|zip)$' checksums.txt)" -eq 6 ] || fail "checksums.txt should list the 6 archives"
[ "$(grep -c '\.sbom\.json$' checksums.txt)" -eq "$sboms" ] || fail "checksums.txt should list $sboms SBOMs"
[ "$(wc -l <checksums.txt)" -eq $((6 + sboms)) ] || fail "checksums.txt lists more than the archives and SBOMs"
sha256sum --quiet -c checksums.txt || fail "checksums.txt does not verify"
host=$(go env GOOS)_$(go env GOARCH)
bin=$(find . -path "./astro-ci_${host}*/astro-ci" | head -n 1)
out=$("$bin" version)
case "$out" in "astro-ci v$version ("*) ;; *) fail "$bin version said: $out" ;; esac
commit=$(sed -n 's/.*"commit": *"\([^"]*\)".*/\1/p' metadata.json | head -n 1)
[ "$commit" = "$(git rev-parse HEAD)" ] || fail "metadata.json has commit '$commit', not HEAD"
"$bin" version --format json | grep -q "\"$commit\"" || fail "$bin does not carry commit $commit"
echo "release-snapshot: ok: dist/ has 6 archives and $sboms SBOMs for $version, checksums.txt verifies, $bin says: $out"
