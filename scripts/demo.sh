#!/usr/bin/env bash
# make demo: the real astro-ci binary against the local sandbox (fake Astro,
# GitHub and GitLab APIs on 127.0.0.1). No credentials, no network.
# Token values never reach this terminal: they live in files under $work and
# are shown as fingerprints by astro-sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin}
work=$(mktemp -d)
trap 'kill "${sandbox_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

"$bin/astro-sandbox" serve -env-file "$work/sandbox.env" -deployment-ready-after 2s &
sandbox_pid=$!
for _ in $(seq 100); do [ -s "$work/sandbox.env" ] && break; sleep 0.05; done
set -a; . "$work/sandbox.env"; set +a
export PATH="$PWD/$bin:$PATH"

step "1. Check the token in ASTRO_API_TOKEN, then every token (exit 1: deploy-bot expires within 3 days)"
run astro-ci token check
run astro-ci token check --all || echo "(exit $? as expected)"

step "2. Dry run of a self-rotation: the plan, nothing changes"
run astro-ci token rotate --dry-run --target "file://$work/astro-api-token"

step "3. Rotate ASTRO_API_TOKEN itself with the default overlap strategy (zero downtime)"
run astro-ci token rotate --target "file://$work/astro-api-token"
run astro-sandbox check -file "$work/astro-api-token"
ASTRO_API_TOKEN=$(cat "$work/astro-api-token"); export ASTRO_API_TOKEN

step "4. Rotate deploy-bot in place (Astro's rotate: same id, old value dies at once)"
run astro-ci token rotate --token-name deploy-bot --strategy rotate --target "file://$work/deploy-bot-token"
run astro-sandbox check -file "$work/deploy-bot-token"

step "5. Scheduled-job style: rotate only when due (it is not any more)"
run astro-ci token rotate --token-name deploy-bot --if-expires-within 14d --target "file://$work/deploy-bot-token"

step "6. Check again: everything is fresh"
run astro-ci token check --all
