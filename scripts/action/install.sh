#!/usr/bin/env bash
# Puts an astro-ci binary on the runner for the GitHub Action (action.yml) and
# writes its path to $GITHUB_OUTPUT as bin=<path> (and to stdout).
#
# Which astro-ci:
#   ASTROCI_VERSION      the action's `version` input: vX.Y.Z downloads that
#                        release; "source" builds from the action's own files;
#                        empty: the action's ref decides, as follows
#   action ref           a release tag vX.Y.Z downloads that release; anything else
#                        (a branch, a commit SHA, `uses: ./`) builds from the
#                        action's own source with the runner's Go
#   ASTROCI_ACTION_PATH  github.action_path; on GitHub's runner it ends in
#                        _actions/<owner>/<repo>/<ref>, which names the ref
#   ASTROCI_ACTION_REF   github.action_ref, used when the path does not name it
#                        (GitHub leaves it empty in some composite contexts)
#   ASTRO_CI_RELEASE_BASE_URL  default https://github.com/astro-ci/astro-ci/releases/download
#
# A download is verified against the release's checksums.txt (SHA-256) and refused
# on a mismatch or a missing entry. Binaries are cached in RUNNER_TOOL_CACHE (else
# RUNNER_TEMP) by version, OS and architecture; source builds only when the ref is
# a full commit SHA (a branch moves; Go's own build cache makes rebuilds quick).
set -euo pipefail

die() {
	echo "::error title=astro-ci install::$*"
	exit 1
}
say() { echo "astro-ci: $*" >&2; }

case "${RUNNER_OS:-$(uname -s)}" in
Linux) os=linux ;;
macOS | Darwin) os=darwin ;;
Windows | MINGW* | MSYS* | CYGWIN*) os=windows ;;
*) die "unsupported runner OS ${RUNNER_OS:-$(uname -s)} (release binaries exist for Linux, macOS and Windows)" ;;
esac
case "${RUNNER_ARCH:-$(uname -m)}" in
X64 | x86_64 | amd64) arch=amd64 ;;
ARM64 | arm64 | aarch64) arch=arm64 ;;
*) die "unsupported runner architecture ${RUNNER_ARCH:-$(uname -m)} (release binaries exist for X64 and ARM64)" ;;
esac
exe=astro-ci
if [ "$os" = windows ]; then exe=astro-ci.exe; fi

src=${ASTROCI_ACTION_PATH:-${GITHUB_ACTION_PATH:-}}
src=${src//\\//}
ref=${ASTROCI_ACTION_REF:-}
case "$src" in
*/_actions/*/*/*) ref=${src#*/_actions/*/*/} ;; # GitHub's runner: _actions/<owner>/<repo>/<ref>
esac
tmp_root=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
tmp_root=${tmp_root//\\//}
cache_root=${RUNNER_TOOL_CACHE:-$tmp_root}
cache_root=${cache_root//\\//}/astro-ci
release_re='^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'

tag=
case "${ASTROCI_VERSION:-}" in
"") if [[ $ref =~ $release_re ]]; then tag=$ref; fi ;;
source) ;;
*)
	tag=v${ASTROCI_VERSION#v}
	[[ $tag =~ $release_re ]] || die "version input: not a release version (vX.Y.Z) or \"source\""
	;;
esac

work=$(mktemp -d "$tmp_root/astro-ci-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# emit FILE DIR: put FILE into DIR as the binary (atomically), report its path.
emit() {
	local from=$1 dir=$2
	mkdir -p "$dir"
	if [ "$from" != "$dir/$exe" ]; then
		cp "$from" "$dir/.$exe.$$"
		chmod 755 "$dir/.$exe.$$"
		mv -f "$dir/.$exe.$$" "$dir/$exe" || [ -f "$dir/$exe" ] # a parallel job may have won
	fi
	if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "bin=$dir/$exe" >>"$GITHUB_OUTPUT"; fi
	echo "$dir/$exe"
}

sha256() { # FILE: its SHA-256, lower-case hex
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | awk '{print $1}'
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | awk '{print $1}'
	else # Windows without Git Bash's coreutils
		local f=$1
		if command -v cygpath >/dev/null 2>&1; then f=$(cygpath -w "$1"); fi
		certutil -hashfile "$f" SHA256 | sed -n 2p | tr -d ' \r'
	fi | tr 'A-F' 'a-f'
}

fetch() { # URL FILE
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --proto-redir =https --retry 3 --connect-timeout 20 -o "$2" "$1" || die "could not download $1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" || die "could not download $1"
	else
		die "neither curl nor wget is installed to download $1"
	fi
}

if [ -n "$tag" ]; then
	v=${tag#v}
	dir=$cache_root/$v/${os}_$arch
	if [ -f "$dir/$exe" ]; then
		say "astro-ci $tag ($os/$arch) from the tool cache: $dir"
		emit "$dir/$exe" "$dir"
		exit 0
	fi
	base=${ASTRO_CI_RELEASE_BASE_URL:-https://github.com/astro-ci/astro-ci/releases/download}
	base=${base%/}
	case "$base" in
	https://* | http://127.0.0.1 | http://127.0.0.1[:/]* | http://localhost | http://localhost[:/]*) ;;
	*) die "ASTRO_CI_RELEASE_BASE_URL must be an https:// URL (http:// only on 127.0.0.1 or localhost)" ;;
	esac
	if ! command -v sha256sum >/dev/null 2>&1 && ! command -v shasum >/dev/null 2>&1 && ! command -v certutil >/dev/null 2>&1; then
		die "no sha256sum, shasum or certutil to verify the download with"
	fi
	ext=tar.gz
	if [ "$os" = windows ]; then ext=zip; fi
	archive=astro-ci_${v}_${os}_${arch}.$ext
	say "downloading $base/$tag/$archive"
	fetch "$base/$tag/checksums.txt" "$work/checksums.txt"
	fetch "$base/$tag/$archive" "$work/$archive"
	want=$(awk -v f="$archive" '{n = $2; sub(/^\*/, "", n)} n == f {print tolower($1)}' "$work/checksums.txt" | sort -u)
	[ -n "$want" ] || die "checksum: $tag's checksums.txt has no entry for $archive; refusing to run an unverified binary"
	[[ $want =~ ^[0-9a-f]{64}$ ]] || die "checksum: $tag's checksums.txt has no single valid SHA-256 for $archive; refusing to run it"
	got=$(sha256 "$work/$archive")
	[ "$got" = "$want" ] || die "checksum mismatch for $archive: checksums.txt says sha256 $want, the download is $got; refusing to run it (corrupted or tampered download)"
	say "verified sha256 $got"
	mkdir "$work/x"
	if [ "$ext" = zip ]; then
		if command -v unzip >/dev/null 2>&1; then
			unzip -q "$work/$archive" -d "$work/x"
		else
			# shellcheck disable=SC2016 # PowerShell expands $env:ZIP, not bash
			ZIP=$(cygpath -w "$work/$archive") DEST=$(cygpath -w "$work/x") \
				powershell -NoProfile -NonInteractive -Command 'Expand-Archive -LiteralPath $env:ZIP -DestinationPath $env:DEST'
		fi
	else
		tar -xzf "$work/$archive" -C "$work/x"
	fi
	bin=$work/x/$exe
	if [ ! -f "$bin" ]; then
		for c in "$work"/x/*/"$exe"; do
			if [ -f "$c" ]; then bin=$c && break; fi
		done
	fi
	[ -f "$bin" ] || die "$archive holds no $exe"
	emit "$bin" "$dir"
	exit 0
fi

# Build from the action's own source.
if [ ! -f "$src/go.mod" ] || [ ! -d "$src/cmd/astro-ci" ]; then
	die "no astro-ci source at the action path ${src:-(unset)}"
fi
command -v go >/dev/null 2>&1 || die "the action ref ${ref:-(local)} is not a release tag (vX.Y.Z), so astro-ci is built from source, but there is no Go on this runner: use a release tag (uses: astro-ci/astro-ci@vX.Y.Z), set the version input to a release, or add actions/setup-go before this step"
commit='' dir=''
if [[ $ref =~ ^[0-9a-f]{40}$ ]]; then
	commit=$ref
	dir=$cache_root/src-$ref/${os}_$arch
	if [ -f "$dir/$exe" ]; then
		say "astro-ci built from commit $ref ($os/$arch), from the tool cache: $dir"
		emit "$dir/$exe" "$dir"
		exit 0
	fi
fi
label=local
if [[ $ref =~ ^[A-Za-z0-9._/-]{1,100}$ ]]; then label=${ref//\//-}; fi
say "building astro-ci from source ($label, $os/$arch) with $(go version)"
mkdir -p "$work/build"
(cd "$src" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X github.com/astro-ci/astro-ci/internal/version.Version=dev-$label -X github.com/astro-ci/astro-ci/internal/version.Commit=$commit" \
	-o "$work/build/$exe" ./cmd/astro-ci) || die "building astro-ci from source failed (see above)"
if [ -z "$dir" ]; then
	# A branch moves and a local action changes: no cache beyond Go's own;
	# the binary lives in RUNNER_TEMP for this job.
	dir=$(mktemp -d "$tmp_root/astro-ci-bin.XXXXXX")
fi
emit "$work/build/$exe" "$dir"
