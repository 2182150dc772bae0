#!/usr/bin/env bash
# Installs the pinned tools the tests and lint need into .cache/ of the repo.
# Idempotent and fast when done before. Usage: scripts/tools.sh runners|lint|all
#   runners: nektos/act (Go module proxy), gitlab-ci-local (npm registry), rsync (Debian)
#   lint:    actionlint, golangci-lint, goreleaser (Go module proxy);
#            PyYAML for python3 and shellcheck (Debian)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.cache/bin
node=$root/.cache/node
mkdir -p "$bin" "$node"

ACT_VERSION=v0.2.89
GITLAB_CI_LOCAL_VERSION=4.73.0
# Lint tools, built from source with the machine's Go 1.26. Newer goreleaser
# (v2.18+) needs a newer Go; keep these in step with what the proxy serves.
ACTIONLINT_VERSION=v1.7.12
GOLANGCI_LINT_VERSION=v2.15.0
GORELEASER_VERSION=v2.16.0

need_go_tool() { # name module@version
	local name=$1 mod=$2 stamp="$bin/.$1.version"
	if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$mod" ]; then return; fi
	echo "tools: installing $mod" >&2
	GOBIN=$bin CGO_ENABLED=0 go install "$mod"
	echo "$mod" > "$stamp"
}

runners() {
	need_go_tool act "github.com/nektos/act@$ACT_VERSION"
	if [ ! -x "$node/node_modules/.bin/gitlab-ci-local" ] || ! grep -q "\"version\": \"$GITLAB_CI_LOCAL_VERSION\"" "$node/node_modules/gitlab-ci-local/package.json" 2>/dev/null; then
		echo "tools: installing gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >&2
		(cd "$node" && [ -f package.json ] || echo '{"private":true}' > package.json
		 npm install --no-audit --no-fund --silent "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >/dev/null)
	fi
	if ! command -v rsync >/dev/null; then
		echo "tools: installing rsync (Debian package; gitlab-ci-local needs it)" >&2
		apt_install rsync
	fi
}

apt_install() {
	if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; fi
}

lint() {
	need_go_tool actionlint "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
	need_go_tool golangci-lint "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
	need_go_tool goreleaser "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
	# Debian: shellcheck for the scripts and, through actionlint, every run: block;
	# PyYAML, with which scripts/lint.sh reads action.yml's inputs.
	local pkgs=()
	command -v shellcheck >/dev/null || pkgs+=(shellcheck)
	python3 -c 'import yaml' 2>/dev/null || /usr/bin/python3 -c 'import yaml' 2>/dev/null || pkgs+=(python3-yaml)
	if [ ${#pkgs[@]} -gt 0 ]; then
		echo "tools: installing ${pkgs[*]} (Debian packages)" >&2
		apt_install "${pkgs[@]}"
	fi
}

case "${1:-all}" in
runners) runners ;;
lint) lint ;;
all) runners; lint ;;
*) echo "usage: $0 runners|lint|all" >&2; exit 2 ;;
esac
