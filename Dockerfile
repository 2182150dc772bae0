# astro-ci container image, built from source: the image GitLab CI/CD component
# jobs run (they need `sh`, CA certificates and the binary on PATH).
#
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t astro-ci .
#
# Releases build the same image from goreleaser's binaries instead
# (Dockerfile.goreleaser, whose runtime part is identical: `make lint` checks).
#
# Both base images are pinned by digest and can be overridden with --build-arg.
# The digests are those of the multi-arch indexes of the named tags; refresh
# them with `docker buildx imagetools inspect IMAGE:TAG` (or Renovate).
# `make image-test` has no registry to pull from: it builds this very file with
# GO_IMAGE and RUNTIME_IMAGE pointing at local images made with debootstrap,
# GOPROXY pointing at the host's module cache and --network none
# (scripts/image.sh).
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm@sha256:b305420a68d0f229d91eb3b3ed9e519fcf2cf5461da4bef997bf927e8c0bfd2b
ARG RUNTIME_IMAGE=docker.io/library/alpine:3.23@sha256:fd791d74b68913cbb027c6546007b3f0d3bc45125f797758156952bc2d6daf40

# Build on the build machine's own platform and cross-compile (pure Go, no cgo),
# so multi-arch builds need no emulation.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
# Where modules come from; a corporate proxy, or file:///… for offline builds.
ARG GOPROXY=https://proxy.golang.org,direct
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY internal/ internal/
ARG VERSION=
ARG COMMIT=
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/astro-ci/astro-ci/internal/version.Version=${VERSION} -X github.com/astro-ci/astro-ci/internal/version.Commit=${COMMIT}" \
      -o /out/astro-ci ./cmd/astro-ci

# >>> runtime: keep this block identical in Dockerfile and Dockerfile.goreleaser
# The user account, made on the build platform from the runtime base's own
# /etc/passwd and /etc/group (plain text, the same on every architecture), so
# the target-platform stage below runs nothing and needs no emulation. Any base
# with /bin/sh and a CA bundle works: alpine, busybox-based, debian with
# ca-certificates. One without CA certificates fails here, not at run time.
FROM --platform=$BUILDPLATFORM ${RUNTIME_IMAGE} AS account
RUN set -eu; \
    test -s /etc/ssl/certs/ca-certificates.crt || { echo "RUNTIME_IMAGE has no /etc/ssl/certs/ca-certificates.crt" >&2; exit 1; }; \
    mkdir -p /out/etc /out/home/astro-ci; \
    grep -v '^astro-ci:' /etc/passwd > /out/etc/passwd; \
    grep -v '^astro-ci:' /etc/group > /out/etc/group; \
    echo 'astro-ci:x:65532:65532:astro-ci:/home/astro-ci:/bin/sh' >> /out/etc/passwd; \
    echo 'astro-ci:x:65532:' >> /out/etc/group

FROM ${RUNTIME_IMAGE}
ARG VERSION=
ARG COMMIT=
ARG RUNTIME_IMAGE
LABEL org.opencontainers.image.title="astro-ci" \
      org.opencontainers.image.description="Keeps Astro API tokens alive from GitHub Actions and GitLab CI/CD: check, create, rotate, write back; branch preview Deployments" \
      org.opencontainers.image.source="https://github.com/astro-ci/astro-ci" \
      org.opencontainers.image.url="https://github.com/astro-ci/astro-ci" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
COPY --from=account /out/etc/passwd /out/etc/group /etc/
COPY --from=account --chown=65532:65532 /out/home/astro-ci /home/astro-ci
# Numeric, so Kubernetes' runAsNonRoot can verify it. GitLab's Docker executor
# creates the build directory with umask 0000, so a non-root job can write its
# dotenv report there. (A GitHub `docker://` action would need root instead:
# GitHub mounts the workspace and file-command files owned by the runner user.)
USER 65532:65532
ENV HOME=/home/astro-ci
# No ENTRYPOINT: GitLab runs a job by starting the image's entrypoint with a
# shell-detection script (`sh -c 'if [ -x /bin/bash ]…'`), so an entrypoint
# of astro-ci would swallow every job (users would need `entrypoint: [""]`).
# `ENTRYPOINT []` also clears one inherited from an overridden base.
# `docker run IMAGE astro-ci token check` works as is; plain `docker run
# IMAGE` prints the help.
ENTRYPOINT []
CMD ["astro-ci", "--help"]
# <<< runtime

COPY --from=build /out/astro-ci /usr/local/bin/astro-ci
