#!/usr/bin/env bash
# Installs the pinned tools the tests and lint need into .cache/ of the repo.
# Idempotent and fast when done before. Usage: scripts/tools.sh runners|lint|all
#   runners: nektos/act (Go module proxy), gitlab-ci-local (npm registry), rsync (Debian)
#   lint:    actionlint, golangci-lint, goreleaser (Go module proxy)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.cache/bin
node=$root/.cache/node
mkdir -p "$bin" "$node"

ACT_VERSION=v0.2.89
GITLAB_CI_LOCAL_VERSION=4.73.0

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
		if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq rsync >/dev/null
		else sudo apt-get update -qq && sudo apt-get install -y -qq rsync >/dev/null; fi
	fi
}

case "${1:-all}" in
runners) runners ;;
lint) ;; # filled in with the lint tools
all) runners ;;
*) echo "usage: $0 runners|lint|all" >&2; exit 2 ;;
esac
