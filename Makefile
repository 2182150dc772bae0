# astro-ci — see README.md. Every target works offline except where it says
# it fetches pinned tools from the Go module proxy, the npm registry or Debian's
# packages (scripts/tools.sh, scripts/image.sh deps), each only when missing.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/astro-ci/astro-ci/internal/version.Version=$(VERSION) -X github.com/astro-ci/astro-ci/internal/version.Commit=$(COMMIT)
export CGO_ENABLED ?= 0
# The container image make image builds (podman; no Docker engine needed).
IMAGE ?= localhost/astro-ci:dev

.PHONY: build test test-short fuzz lint demo bench bench-go image image-test release-snapshot tools clean help

build: ## static binaries in bin/
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/astro-ci ./cmd/astro-ci
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/astro-sandbox ./cmd/astro-sandbox

test: ## every test, race detector on, including the ones that drive act and gitlab-ci-local
	scripts/tools.sh runners
	ASTRO_CI_RUNNER_TESTS=1 CGO_ENABLED=1 $(GO) test -race -shuffle=on -count=1 -timeout 14m ./...
	FUZZTIME=2s scripts/fuzz.sh

fuzz: ## the long pass of every fuzz target (FUZZTIME each, default 60s); FUZZ_REPORT=FILE keeps the counts
	FUZZTIME=$${FUZZTIME:-60s} scripts/fuzz.sh

test-short: ## quick: no race detector, no real runners
	$(GO) test -short -count=1 ./...

lint: ## go vet, gofmt, golangci-lint, shellcheck, actionlint, GitLab CI schema, goreleaser check
	scripts/lint.sh

demo: build ## the real binary against the local sandbox
	./scripts/demo.sh

bench: build ## docs/BENCHMARKS.md: chains, wall at 20 ms latency, paced fan-out, start-up, the action under act (a few minutes)
	scripts/tools.sh runners
	$(GO) run ./internal/tools/bench -bin $(BIN)/astro-ci -out docs/BENCHMARKS.md

bench-go: ## the Go micro-benchmarks (compare ratios within one run; timings are noisy)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

image: ## the container image from Dockerfile, built offline with podman
	IMAGE=$(IMAGE) VERSION=$(VERSION) COMMIT=$(COMMIT) scripts/image.sh build

image-test: ## build the image, then run it like a GitLab job (non-root, sh, against the sandbox)
	IMAGE=$(IMAGE) VERSION=$(VERSION) COMMIT=$(COMMIT) scripts/image.sh test

release-snapshot: ## what a release publishes, into dist/ (no tag, no publishing, no image; SBOMs if syft is installed)
	scripts/release-snapshot.sh

tools: ## install every pinned tool (runners and lint)
	scripts/tools.sh all

clean:
	rm -rf $(BIN) dist

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20
