#!/usr/bin/env bash
# Puts an astro-ci binary on the runner for the GitHub Action (action.yml) and
# writes its path to $GITHUB_OUTPUT as bin=<path> (and to stdout).
#
# Which astro-ci (each choice is said in the log):
#   ASTROCI_VERSION      the action's `version` input: vX.Y.Z downloads that
#                        release; "source" builds from the action's own files;
#                        empty: the action's files decide, as follows
#   .release-version     in the action's files: the release (vX.Y.Z) whose release
#                        commit these files are. Only a release commit carries it
#                        (scripts/release-commit.sh writes it; the release workflow
#                        checks it against the tag), so pins of a release commit by
#                        SHA, by its tag vX.Y.Z or by a moving major tag (v1)
#                        download that release. Pinned by SHA, the downloaded
#                        binary must say it was built from that very commit, or
#                        the commit is not the release commit and is built from
#                        source.
#   action ref           without .release-version: a release tag vX.Y.Z still
#                        downloads that release; anything else (a branch, a
#                        commit of main, `uses: ./`) builds from the action's own
#                        source with the runner's Go
#   ASTROCI_ACTION_PATH  github.action_path; on GitHub's runner it ends in
#                        _actions/<owner>/<repo>/<ref>, which names the ref
#   ASTROCI_ACTION_REF   github.action_ref, used when the path does not name it
#   ASTROCI_COMMAND      the `command` input: "install" also puts astro-ci on PATH
#                        for the job's later steps and tells the run step to skip
#   ASTROCI_PROVENANCE   the `provenance` input: auto (default), require or skip
#   ASTRO_CI_RELEASE_REPOSITORY  default astro-ci/astro-ci
#   ASTRO_CI_RELEASE_BASE_URL    default https://github.com/<repository>/releases/download
#
# A download is verified against the release's checksums.txt (SHA-256) and refused
# on a mismatch or a missing entry. Then its build provenance: the release
# workflow attests every archive (GitHub artifact attestations); with the GitHub
# CLI and a token (GH_TOKEN) at hand, `gh attestation verify` must confirm that
# the archive was built by the release workflow of the repository, or it is
# refused. Without gh (or on GHES) the log says what was and was not verified;
# provenance: require refuses instead, skip does not try.
# Binaries are cached in RUNNER_TOOL_CACHE (else RUNNER_TEMP) by version, OS and
# architecture; source builds only when the ref is a full commit SHA.
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
if ! [[ $ref =~ ^[A-Za-z0-9._/-]{0,100}$ ]]; then ref=; fi # only ever a label in messages
tmp_root=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
tmp_root=${tmp_root//\\//}
cache_root=${RUNNER_TOOL_CACHE:-$tmp_root}
cache_root=${cache_root//\\//}/astro-ci
release_re='^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
sha_re='^[0-9a-f]{40}$'
repo=${ASTRO_CI_RELEASE_REPOSITORY:-astro-ci/astro-ci}
[[ $repo =~ ^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$ ]] || die "ASTRO_CI_RELEASE_REPOSITORY must be OWNER/REPO"
provenance=${ASTROCI_PROVENANCE:-auto}
case "$provenance" in
auto | require | skip) ;;
*) die "provenance input: auto, require or skip" ;;
esac
command=$(printf '%s' "${ASTROCI_COMMAND:-}" | tr -s ' \t\r\n' ' ')
command=${command# }
command=${command% }

# 1. Which astro-ci: a release (tag, and where that was decided) or the source.
tag='' why=''
case "${ASTROCI_VERSION:-}" in
"")
	if [ -f "$src/.release-version" ]; then
		tag=$(head -n 1 "$src/.release-version" | tr -d ' \r\n')
		[[ $tag =~ $release_re ]] || die ".release-version of the action does not hold a release version (vX.Y.Z)"
		why='file'
		say "this action is the release commit of astro-ci $tag (its .release-version): downloading that release"
	elif [[ $ref =~ $release_re ]]; then
		tag=$ref why=ref
		say "the action ref $ref is a release tag: downloading that release"
	else
		say "the action ref ${ref:-(local)} is not a release commit (no .release-version): astro-ci is built from source"
	fi
	;;
source) say "version: source: astro-ci is built from the action's source" ;;
*)
	tag=v${ASTROCI_VERSION#v}
	[[ $tag =~ $release_re ]] || die "version input: not a release version (vX.Y.Z) or \"source\""
	why=input
	say "version: $tag: downloading that release"
	;;
esac

work=$(mktemp -d "$tmp_root/astro-ci-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# emit FILE DIR: put FILE into DIR as the binary (atomically), report its path;
# with command: install, also on PATH for the job's later steps.
emit() {
	local from=$1 dir=$2
	mkdir -p "$dir"
	if [ "$from" != "$dir/$exe" ]; then
		cp "$from" "$dir/.$exe.$$"
		chmod 755 "$dir/.$exe.$$"
		mv -f "$dir/.$exe.$$" "$dir/$exe" || [ -f "$dir/$exe" ] # a parallel job may have won
	fi
	if [ -n "${GITHUB_OUTPUT:-}" ]; then
		echo "bin=$dir/$exe" >>"$GITHUB_OUTPUT"
		if [ "$command" = install ]; then echo "run=false" >>"$GITHUB_OUTPUT"; fi
	fi
	if [ "$command" = install ]; then
		[ -n "${GITHUB_PATH:-}" ] || die "command: install: GITHUB_PATH is not set (not a GitHub Actions runner?)"
		local d=$dir
		if [ "$os" = windows ] && command -v cygpath >/dev/null 2>&1; then d=$(cygpath -w "$dir"); fi
		echo "$d" >>"$GITHUB_PATH"
		say "command: install: astro-ci is on PATH for the next steps of this job ($dir)"
	fi
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

# verify_provenance FILE NAME: the release workflow's attestation for FILE,
# checked with gh; refuses FILE when the check runs and fails.
verify_provenance() {
	local file=$1 name=$2 reason='' server=${GITHUB_SERVER_URL:-https://github.com}
	if [ "$provenance" = skip ]; then
		say "provenance: not checked (provenance: skip); $name is verified only against checksums.txt"
		return
	fi
	if ! command -v gh >/dev/null 2>&1; then
		reason="the GitHub CLI (gh) is not installed"
	elif [ "${server%/}" != https://github.com ]; then
		reason="this runner's GitHub is ${server%/}, and astro-ci's attestations are on github.com"
	elif [ -z "${GH_TOKEN:-}" ]; then
		reason="gh has no token (GH_TOKEN)"
	fi
	if [ -n "$reason" ]; then
		[ "$provenance" != require ] || die "provenance: cannot verify the build provenance of $name: $reason; refusing it (provenance: require)"
		say "provenance: NOT verified: $reason. Verified: $name matches the SHA-256 in the release's checksums.txt (the file the release lists; it does not prove who built it). Install gh, or set provenance: require to refuse unverified archives."
		return
	fi
	local out
	if ! out=$(gh attestation verify "$file" --repo "$repo" --signer-workflow "$repo/.github/workflows/release.yml" 2>&1); then
		printf '%s\n' "$out" | tail -n 5 >&2 || true
		die "provenance: gh attestation verify found no valid attestation that $repo's release workflow built $name; refusing to run it"
	fi
	say "provenance: verified: $name was built by $repo's release workflow (GitHub artifact attestation, gh attestation verify)"
}

# built_from BIN: the commit the binary says it was built from.
built_from() {
	"$1" version --format json 2>/dev/null | grep -oE '"commit": *"[0-9a-f]{40}"' | grep -oE '[0-9a-f]{40}' | head -n 1 || true
}

# 2. A release: from the tool cache, or downloaded and verified.
bin=''
if [ -n "$tag" ]; then
	v=${tag#v}
	dir=$cache_root/$v/${os}_$arch
	if [ -f "$dir/$exe" ]; then
		say "astro-ci $tag ($os/$arch) from the tool cache: $dir"
		bin=$dir/$exe
	else
		base=${ASTRO_CI_RELEASE_BASE_URL:-https://github.com/$repo/releases/download}
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
		verify_provenance "$work/$archive" "$archive"
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
		chmod 755 "$bin"
	fi
	# Pinned by SHA through .release-version: the release must have been built
	# from this very commit. Another commit carrying the file (a branch made
	# from a release commit) is not that release.
	if [ "$why" = file ] && [[ $ref =~ $sha_re ]]; then
		commit=$(built_from "$bin")
		if [ "$commit" != "$ref" ]; then
			say "commit $ref carries .release-version $tag, but astro-ci $tag was built from commit ${commit:-(unknown)}: this is not the release commit, so astro-ci is built from source"
			tag=''
		else
			say "astro-ci $tag was built from commit $ref, the commit this action is pinned to"
		fi
	fi
	if [ -n "$tag" ]; then
		emit "$bin" "$dir"
		exit 0
	fi
fi

# 3. Build from the action's own source.
if [ ! -f "$src/go.mod" ] || [ ! -d "$src/cmd/astro-ci" ]; then
	die "no astro-ci source at the action path ${src:-(unset)}"
fi
command -v go >/dev/null 2>&1 || die "the action ref ${ref:-(local)} is not a release commit, so astro-ci is built from source, but there is no Go on this runner: pin a release (uses: astro-ci/astro-ci@<release commit SHA> # vX.Y.Z, or @vX.Y.Z), set the version input to a release, or add actions/setup-go before this step"
commit='' dir=''
if [[ $ref =~ $sha_re ]]; then
	commit=$ref
	dir=$cache_root/src-$ref/${os}_$arch
	if [ -f "$dir/$exe" ]; then
		say "astro-ci built from commit $ref ($os/$arch), from the tool cache: $dir"
		emit "$dir/$exe" "$dir"
		exit 0
	fi
fi
label=${ref:-local}
label=${label//\//-}
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
