# astro-ci — see README.md. Every target works offline except where it says
# it fetches pinned tools from the Go module proxy or the npm registry.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/astro-ci/astro-ci/internal/version.Version=$(VERSION) -X github.com/astro-ci/astro-ci/internal/version.Commit=$(COMMIT)
export CGO_ENABLED ?= 0

.PHONY: build test test-short lint demo bench clean

build: ## static binaries in bin/
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/astro-ci ./cmd/astro-ci
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/astro-sandbox ./cmd/astro-sandbox

test: ## all tests with the race detector
	CGO_ENABLED=1 $(GO) test -race -shuffle=on -count=1 -timeout 12m ./...

test-short:
	$(GO) test -short -count=1 ./...

lint: ## go vet and gofmt
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

demo: build ## the real binary against the local sandbox
	./scripts/demo.sh

bench: ## benchmarks (compare ratios within one run; timings are noisy)
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN) dist
