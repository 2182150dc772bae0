#!/usr/bin/env bash
# The container image without a Docker engine and without a registry.
#
#   scripts/image.sh build   # make image: builds Dockerfile with podman into $IMAGE
#   scripts/image.sh test    # make image-test: build, then run it like a GitLab job
#   scripts/image.sh check   # Dockerfile and Dockerfile.goreleaser share their runtime part
#   scripts/image.sh bases   # only the offline base images (cached)
#   scripts/image.sh deps    # only the Debian packages
#
# How the real Dockerfile builds offline (nothing is pulled, the build runs with
# --network none):
#   * GO_IMAGE (golang:1.26-bookworm upstream) is replaced by a Debian bookworm
#     made with debootstrap from the configured Debian mirror, plus this host's
#     Go toolchain copied to /usr/local/go (PATH, GOPATH, GOTOOLCHAIN as in the
#     official image).
#   * RUNTIME_IMAGE (alpine upstream) is replaced by an image of the same shape
#     as alpine: busybox (static, from Debian's busybox-static) as /bin/sh and
#     the applets, and Debian's CA bundle, nothing else.
#   * Go modules come from this host's module cache, which has the layout of a
#     module proxy: it is mounted read-only into the build (podman build
#     --volume) and passed as GOPROXY=file:///goproxy, a build argument the
#     Dockerfile declares anyway. go.sum still verifies every module.
#   Both base images are cached under tags that hash their recipe (and the Go
#   version), so only the first run pays for debootstrap (~30 s).
#
# Podman here: root, runc (Debian's podman defaults to crun, not installed),
# cgroupfs and a file event log (no systemd/journald in this VM), overlay
# storage, and --ulimit within this shell's hard limits (see ulimits below).
# Inside a container sandbox without overlay support set
# PODMAN_STORAGE_DRIVER=vfs (slower, but works).
# Rootless: running the image works here as a user with an /etc/subuid and
# /etc/subgid range (uidmap is installed for that): storage falls back to vfs,
# the rlimit problem does not arise (rootless podman keeps the caller's
# limits), and podman warns that "/" is not a shared mount. Each user has
# their own image store, so the bases are built per user, and debootstrap and
# chroot need root: `bases` uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/astro-ci:dev}
SUITE=${DEBIAN_SUITE:-bookworm}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
# Image size budget for the test image (busybox + CA bundle + astro-ci, ~12 MB).
MAX_IMAGE_MB=${MAX_IMAGE_MB:-25}

say() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pm() {
	podman --runtime runc --cgroup-manager cgroupfs --events-backend file \
		${PODMAN_STORAGE_DRIVER:+--storage-driver "$PODMAN_STORAGE_DRIVER"} "$@"
}

# Podman (as root) asks runc for nofile=1048576 and nproc=4194304 in every
# container, which needs CAP_SYS_RESOURCE; this VM's root lacks it, so runc
# fails with "error setting rlimit type 7: operation not permitted". Ask for
# no more than this shell's hard limits (nproc also at most 32768, the limit
# conmon runs with here).
limits=()
ulimits() {
	local n u
	n=$(ulimit -Hn) u=$(ulimit -Hu)
	[ "$u" = unlimited ] || [ "$u" -gt 32768 ] && u=32768
	[ "$n" = unlimited ] && n=1048576
	limits=(--ulimit "nofile=$n:$n" --ulimit "nproc=$u:$u")
}
ulimits

# Buildah 1.28 sets BUILDPLATFORM for FROM lines but not the TARGET* arguments
# (BuildKit does); pass the ones each Dockerfile uses.
platform=$(go env GOOS)/$(go env GOARCH)

deps() {
	local missing=() pair
	for pair in podman:podman buildah:buildah runc:runc debootstrap:debootstrap \
		newuidmap:uidmap fuse-overlayfs:fuse-overlayfs slirp4netns:slirp4netns; do
		command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
	done
	[ ${#missing[@]} -eq 0 ] && return
	say "installing ${missing[*]} (Debian packages)"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" containernetworking-plugins >/dev/null
}

# The Debian mirror apt uses here (deb822 or one-line sources), else Debian's CDN.
debian_mirror() {
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]*/debian/?( |$)' | head -n 1 | tr -d ' ' || true)
	echo "${DEBIAN_MIRROR:-${m:-http://deb.debian.org/debian}}"
}

# make_bases ROOTFS RUNTIME_REF GO_REF: the recipe. Its text is part of the
# cache key, so editing it rebuilds the bases.
make_bases() {
	local rootfs=$1 runtime_ref=$2 go_ref=$3 slim=$1.slim mirror
	mirror=$(debian_mirror)
	say "debootstrap $SUITE (minbase + ca-certificates + busybox-static) from $mirror"
	as_root debootstrap --variant=minbase --include=ca-certificates,busybox-static \
		"$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -n 20 "$rootfs.log" >&2; die "debootstrap failed"; }
	as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

	# Runtime base: alpine's shape (busybox sh + applets, CA bundle, root and nobody).
	as_root mkdir -p "$slim"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc/ssl/certs,root,tmp}
	as_root chmod 1777 "$slim/tmp"
	as_root chmod 0700 "$slim/root"
	as_root cp "$rootfs/bin/busybox" "$slim/bin/busybox"
	as_root chroot "$slim" /bin/busybox --install -s
	as_root cp "$rootfs/etc/ssl/certs/ca-certificates.crt" "$slim/etc/ssl/certs/"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' | as_root tee "$slim/etc/passwd" >/dev/null
	printf 'root:x:0:\nnogroup:x:65534:\n' | as_root tee "$slim/etc/group" >/dev/null
	printf 'PRETTY_NAME="astro-ci offline test base: Debian %s busybox-static + ca-certificates"\nID=astro-ci-test-base\n' "$SUITE" |
		as_root tee "$slim/etc/os-release" >/dev/null
	as_root tar -C "$slim" --numeric-owner -cf - . | pm import --quiet \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["/bin/sh"]' - "$runtime_ref" >/dev/null

	# Build base: the official golang image's shape, with this host's toolchain.
	as_root cp -a "$(go env GOROOT)" "$rootfs/usr/local/go"
	as_root mkdir -p "$rootfs/go/bin" "$rootfs/go/src"
	as_root tar -C "$rootfs" --numeric-owner -cf - . | pm import --quiet \
		--change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local' \
		--change "ENV GOLANG_VERSION=$(go env GOVERSION | sed 's/^go//')" \
		--change 'WORKDIR /go' --change 'CMD ["bash"]' - "$go_ref" >/dev/null
}

exists() { pm image exists "$1"; }

# Sets RUNTIME_BASE and GO_BASE, building them when missing.
bases() {
	local key tmp
	key=$({ declare -f make_bases; echo "$SUITE"; } | sha256sum | cut -c1-12)
	RUNTIME_BASE=localhost/astro-ci-runtime-base:$SUITE-$key
	GO_BASE=localhost/astro-ci-build-base:$(go env GOVERSION)-$SUITE-$key
	if exists "$RUNTIME_BASE" && exists "$GO_BASE"; then return; fi
	local start=$SECONDS
	tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/astro-ci-base.XXXXXX")
	# debootstrap mounts /proc and /sys inside; never follow them when cleaning up.
	trap 'cleanup_rootfs "'"$tmp"'"' EXIT
	make_bases "$tmp/rootfs" "$RUNTIME_BASE" "$GO_BASE"
	cleanup_rootfs "$tmp"
	trap - EXIT
	# Drop bases of older recipes or Go versions.
	local old
	for old in $(pm images --format '{{.Repository}}:{{.Tag}}' |
		grep -E '^localhost/astro-ci-(runtime|build)-base:' | grep -vxF -e "$RUNTIME_BASE" -e "$GO_BASE"); do
		pm rmi "$old" >/dev/null 2>&1 || true
	done
	say "base images ready in $((SECONDS - start)) s: $RUNTIME_BASE, $GO_BASE"
}

cleanup_rootfs() {
	local m
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do as_root umount -l "$m" || true; done
	as_root rm -rf --one-file-system "$1"
}

build() {
	deps
	bases
	# The module cache as a read-only GOPROXY; fill it first (from the proxy,
	# or nothing when it is warm).
	go mod download
	local modcache old start=$SECONDS
	modcache=$(go env GOMODCACHE)
	old=$(pm image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
	say "building $IMAGE ($VERSION) from Dockerfile with --network none"
	pm build --pull=never --layers=false --network none "${limits[@]}" --platform "$platform" \
		--build-arg TARGETOS="${platform%/*}" --build-arg TARGETARCH="${platform#*/}" \
		--build-arg GO_IMAGE="$GO_BASE" --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" \
		--build-arg GOPROXY=file:///goproxy --volume "$modcache/cache/download:/goproxy:ro" \
		--build-arg VERSION="$VERSION" --build-arg COMMIT="$COMMIT" \
		--file Dockerfile --tag "$IMAGE" . >&2
	# The image this one replaces would be left dangling (--layers=false keeps
	# no intermediate images; the Go build cache lives in a cache mount).
	if [ -n "$old" ] && [ "$old" != "$(pm image inspect --format '{{.Id}}' "$IMAGE")" ]; then
		pm rmi "$old" >/dev/null 2>&1 || true
	fi
	say "built $IMAGE in $((SECONDS - start)) s, $(size_mb "$IMAGE") MB"
}

size_mb() { pm image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f", $1 / 1000000 }'; }

# run ARGS...: a container the way the tests want it: no network unless asked.
run() { pm run --rm "${limits[@]}" "$@"; }

# GitLab's Docker executor starts the image with this shell detection as the
# command (gitlab-runner shells/bash.go) and feeds the job script on stdin.
gitlab_detect_shell='if [ -x /usr/local/bin/bash ]; then exec /usr/local/bin/bash "$@"; elif [ -x /usr/bin/bash ]; then exec /usr/bin/bash "$@"; elif [ -x /bin/bash ]; then exec /bin/bash "$@"; elif [ -x /usr/local/bin/sh ]; then exec /usr/local/bin/sh "$@"; elif [ -x /usr/bin/sh ]; then exec /usr/bin/sh "$@"; elif [ -x /bin/sh ]; then exec /bin/sh "$@"; elif [ -x /busybox/sh ]; then exec /busybox/sh "$@"; else echo shell not found; exit 1; fi'

check_eq() { # what got want
	[ "$2" = "$3" ] || die "FAIL $1: got '$2', want '$3'"
	say "ok   $1"
}

test_image() {
	local start=$SECONDS work out cfg
	build
	work=$(mktemp -d "${TMPDIR:-/tmp}/astro-ci-image-test.XXXXXX")
	trap 'kill "${sandbox_pid:-}" 2>/dev/null || true; rm -rf "'"$work"'"' EXIT

	say "config of $IMAGE"
	check_eq user "$(pm image inspect --format '{{.Config.User}}' "$IMAGE")" 65532:65532
	check_eq entrypoint "$(pm image inspect --format '{{range .Config.Entrypoint}}{{.}} {{end}}' "$IMAGE")" ""
	check_eq cmd "$(pm image inspect --format '{{json .Config.Cmd}}' "$IMAGE")" '["astro-ci","--help"]'
	check_eq label.version "$(pm image inspect --format '{{index .Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")" "$VERSION"
	check_eq label.revision "$(pm image inspect --format '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$IMAGE")" "$COMMIT"

	say "astro-ci in the image"
	out=$(run --network none "$IMAGE" astro-ci version)
	check_eq "astro-ci version" "${out%% (*}" "astro-ci $VERSION"
	run --network none "$IMAGE" >/dev/null 2>&1 || die "FAIL default command (astro-ci --help)"
	say "ok   default command"

	say "a GitLab-style job: shell detection, script on stdin, no network"
	out=$(run -i --network none --entrypoint '' "$IMAGE" sh -c "$gitlab_detect_shell" -- <<-'EOF'
		set -eu
		command -v astro-ci
		astro-ci version
		test "$(id -u)" != 0
		echo "user=$(id -un):$(id -u):$(id -g)"
		test -s /etc/ssl/certs/ca-certificates.crt
		echo "home=$HOME"; touch "$HOME/.writable"
		rc=0; astro-ci token check >/tmp/out 2>&1 || rc=$?
		echo "token-check-rc=$rc"
		grep -q ASTRO_API_TOKEN /tmp/out && echo "names ASTRO_API_TOKEN"
	EOF
	)
	printf '%s\n' "$out" | sed 's/^/    /' >&2
	check_eq "job user" "$(grep '^user=' <<<"$out")" "user=astro-ci:65532:65532"
	check_eq "job HOME writable" "$(grep '^home=' <<<"$out")" "home=/home/astro-ci"
	check_eq "token check without a token exits 2" "$(grep '^token-check-rc=' <<<"$out")" "token-check-rc=2"
	grep -q '^names ASTRO_API_TOKEN$' <<<"$out" || die "FAIL the error does not name ASTRO_API_TOKEN"

	say "a GitLab job against the sandbox (loopback only, host network): a preview, then rotate into the project's variable"
	go build -o "$work/astro-sandbox" ./cmd/astro-sandbox
	"$work/astro-sandbox" serve -env-file "$work/sandbox.env" -deployment-ready-after 1s >"$work/sandbox.log" 2>&1 &
	sandbox_pid=$!
	for _ in $(seq 100); do [ -s "$work/sandbox.env" ] && break; sleep 0.05; done
	[ -s "$work/sandbox.env" ] || die "sandbox did not start: $(cat "$work/sandbox.log")"
	# The build directory GitLab's Docker executor shares with the job (mode 0777: umask 0000).
	mkdir -m 0777 "$work/builds"
	run -i --network host --entrypoint '' --env-file "$work/sandbox.env" \
		-e GITLAB_CI=true -e CI_PROJECT_ID=1001 -e CI_PROJECT_DIR=/builds/acme/airflow-dags \
		-e CI_PIPELINE_SOURCE=push -e CI_COMMIT_BRANCH=feature/image-test -e CI_DEFAULT_BRANCH=main \
		-v "$work/builds:/builds/acme/airflow-dags" -w /builds/acme/airflow-dags \
		"$IMAGE" sh -c "$gitlab_detect_shell" -- >"$work/job.log" 2>&1 <<-'EOF' || { cat "$work/job.log" >&2; die "FAIL sandbox job"; }
		set -eu
		astro-ci token check
		astro-ci preview create --base-deployment production --branch feature/image-test --dotenv preview.env
		cat preview.env
		astro-ci preview delete --base-deployment production --branch feature/image-test
		# Last: it retires the value this job's environment still holds.
		astro-ci token rotate
	EOF
	sed 's/^/    /' "$work/job.log" >&2
	grep -q '^PREVIEW_NAME=preview-feature-image-test' "$work/builds/preview.env" || die "FAIL no dotenv report from the job"
	say "ok   dotenv report written by uid 65532 into the build directory"
	"$work/astro-sandbox" state -url "$(sed -n 's/^ASTRO_SANDBOX_URL=//p' "$work/sandbox.env")" -summary >"$work/state" 2>&1
	grep -Eq 'ASTRO_API_TOKEN .* valid as astro-ci admin' "$work/state" || { cat "$work/state" >&2; die "FAIL the rotated token is not in the GitLab variable"; }
	say "ok   rotated token written to the project's ASTRO_API_TOKEN variable"
	kill "$sandbox_pid" 2>/dev/null || true

	say "Dockerfile.goreleaser with the binary of $IMAGE (goreleaser's build context layout)"
	check
	mkdir -p "$work/ctx/$platform"
	cfg=$(pm create "$IMAGE")
	pm cp "$cfg:/usr/local/bin/astro-ci" "$work/ctx/$platform/astro-ci" && pm rm "$cfg" >/dev/null
	pm build --pull=never --layers=false --network none "${limits[@]}" --platform "$platform" \
		--build-arg TARGETPLATFORM="$platform" --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" \
		--build-arg VERSION="$VERSION" --build-arg COMMIT="$COMMIT" \
		--file Dockerfile.goreleaser --tag "$IMAGE-goreleaser" "$work/ctx" >"$work/gr-build.log" 2>&1 ||
		{ cat "$work/gr-build.log" >&2; die "FAIL Dockerfile.goreleaser"; }
	local f='{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Env}} {{json .Config.Labels}}'
	check_eq "same config as the release image" "$(pm image inspect --format "$f" "$IMAGE-goreleaser")" "$(pm image inspect --format "$f" "$IMAGE")"
	out=$(run --network none "$IMAGE-goreleaser" astro-ci version)
	check_eq "astro-ci version (goreleaser image)" "${out%% (*}" "astro-ci $VERSION"
	pm rmi "$IMAGE-goreleaser" >/dev/null

	local mb
	mb=$(size_mb "$IMAGE")
	awk -v s="$mb" -v m="$MAX_IMAGE_MB" 'BEGIN { exit !(s <= m) }' || die "FAIL image is $mb MB, budget $MAX_IMAGE_MB MB"
	say "ok   size $mb MB (budget $MAX_IMAGE_MB MB; the binary is $(wc -c <"$work/ctx/$platform/astro-ci" | awk '{ printf "%.1f", $1 / 1000000 }') MB)"
	say "image-test passed in $((SECONDS - start)) s"
}

# The runtime part of both Dockerfiles must not drift apart.
check() {
	local a b
	block() { sed -n '/^# >>> runtime/,/^# <<< runtime/p' "$1"; }
	a=$(block Dockerfile) b=$(block Dockerfile.goreleaser)
	[ -n "$a" ] || die "FAIL Dockerfile has no '# >>> runtime' block"
	[ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b") >&2 || true; die "FAIL the runtime blocks of Dockerfile and Dockerfile.goreleaser differ"; }
	a=$(grep '^ARG RUNTIME_IMAGE=' Dockerfile) b=$(grep '^ARG RUNTIME_IMAGE=' Dockerfile.goreleaser)
	[ "$a" = "$b" ] || die "FAIL RUNTIME_IMAGE defaults differ: $a / $b"
	say "ok   Dockerfile and Dockerfile.goreleaser share their runtime part"
}

case "${1:-}" in
deps) deps ;;
bases) deps; bases; echo "GO_IMAGE=$GO_BASE"; echo "RUNTIME_IMAGE=$RUNTIME_BASE" ;;
build) build ;;
test) test_image ;;
check) check ;;
*) echo "usage: $0 build|test|check|bases|deps" >&2; exit 2 ;;
esac
