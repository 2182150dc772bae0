#!/usr/bin/env bash
# Runs astro-ci for the GitHub Action (action.yml). The command comes from the
# `command` input, checked against a fixed list and passed as argv words (never
# through a shell); every other input arrives as INPUT_<NAME> and is handed on
# as ASTRO_CI_<NAME>, which astro-ci reads itself, only when it is not empty, so
# ASTRO_CI_* set in the caller's env: still apply. The secrets inputs become
# ASTRO_API_TOKEN and ASTRO_CI_GITHUB_TOKEN the same way.
set -euo pipefail

bin=${ASTROCI_BIN:?ASTROCI_BIN: no astro-ci binary (the install step failed?)}
unset ASTROCI_BIN ASTROCI_ACTION_PATH

words=()
read -r -d '' -a words <<<"${INPUT_COMMAND:-}" || true
unset INPUT_COMMAND
command="${words[*]:-}"
case "$command" in
"token check" | "token create" | "token rotate" | "token update" | "token list" | "token delete" | \
	"token workspace add" | "token workspace remove" | "preview create" | "preview delete" | "run" | "version") ;;
*)
	echo "::error title=astro-ci::command input: not one of: token check, token rotate, token create, token update, token list, token delete, token workspace add|remove, preview create, preview delete, run, version"
	exit 2
	;;
esac

for name in TARGETS TOKEN_ID TOKEN_NAME STRATEGY IF_EXPIRES_WITHIN GRACE DRY_RUN BASE_DEPLOYMENT BRANCH \
	WAIT TIMEOUT TOKEN_TARGETS SECRET_ENV WARN_WITHIN FAIL_WITHIN FORMAT; do
	in=INPUT_$name
	if [ -n "${!in:-}" ]; then export "ASTRO_CI_$name=${!in}"; fi
	unset "$in"
done
if [ -n "${INPUT_ASTRO_API_TOKEN:-}" ]; then export ASTRO_API_TOKEN="$INPUT_ASTRO_API_TOKEN"; fi
if [ -n "${INPUT_GITHUB_TOKEN:-}" ]; then export ASTRO_CI_GITHUB_TOKEN="$INPUT_GITHUB_TOKEN"; fi
unset INPUT_ASTRO_API_TOKEN INPUT_GITHUB_TOKEN

exec "$bin" "${words[@]}"
