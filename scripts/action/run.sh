#!/usr/bin/env bash
# Runs astro-ci for the GitHub Action (action.yml). The command comes from the
# `command` input, checked against a fixed list and passed as argv words (never
# through a shell); every other input arrives as INPUT_<NAME> and is handed on
# as ASTRO_CI_<NAME>, which astro-ci reads itself, only when it is not empty, so
# ASTRO_CI_* set in the caller's env: still apply. The secrets inputs become
# ASTRO_API_TOKEN and ASTRO_CI_GITHUB_TOKEN the same way.
#
# The `args` input reaches every other flag: one argument per line, each line
# one argv word exactly as written (no shell, no quotes, no expansion; a
# trailing CR is dropped, empty lines are skipped). A flag that has an input of
# its own is refused there, so each setting has one place.
set -euo pipefail

bin=${ASTROCI_BIN:?ASTROCI_BIN: no astro-ci binary (the install step failed?)}
# The install step's settings are not astro-ci's (it warns about ASTRO_CI_*
# variables it does not read).
unset ASTROCI_BIN ASTROCI_ACTION_PATH ASTRO_CI_RELEASE_BASE_URL ASTRO_CI_RELEASE_REPOSITORY

words=()
read -r -d '' -a words <<<"${INPUT_COMMAND:-}" || true
unset INPUT_COMMAND
command="${words[*]:-}"
case "$command" in
"token check" | "token create" | "token rotate" | "token update" | "token list" | "token delete" | \
	"token workspace add" | "token workspace update" | "token workspace remove" | "preview create" | "preview delete" | "preview prune" | \
	"deploy" | "run" | "version") ;;
install)
	echo "astro-ci: command: install: nothing to run (astro-ci is on PATH for the next steps)" >&2
	exit 0
	;;
*)
	echo "::error title=astro-ci::command input: not one of: token check, token rotate, token create, token update, token list, token delete, token workspace add|update|remove, preview create, preview delete, preview prune, deploy, run, version, install"
	exit 2
	;;
esac

# own_input FLAG: the input a flag has of its own, if any.
own_input() {
	case "$1" in
	target | targets) echo targets ;;
	token-target | token-targets) echo token-targets ;;
	token-id | token-name | strategy | if-expires-within | grace | dry-run | base-deployment | branch | wait | \
		timeout | secret-env | warn-within | fail-within | format) echo "$1" ;;
	esac
}
args=()
if [ -n "${INPUT_ARGS:-}" ]; then
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		line=${line%$'\r'}
		[ -n "$line" ] || continue
		if [[ $line == -* ]]; then
			flag=${line#-}
			flag=${flag#-}
			flag=${flag%%=*}
			input=$(own_input "$flag")
			if [ -n "$input" ]; then
				echo "::error title=astro-ci::args line $n: --$flag has an input of its own: use the $input input instead"
				exit 2
			fi
		fi
		args+=("$line")
	done <<<"$INPUT_ARGS"
fi
unset INPUT_ARGS

for name in TARGETS TOKEN_ID TOKEN_NAME STRATEGY IF_EXPIRES_WITHIN GRACE DRY_RUN BASE_DEPLOYMENT BRANCH \
	WAIT TIMEOUT TOKEN_TARGETS SECRET_ENV WARN_WITHIN FAIL_WITHIN FORMAT; do
	in=INPUT_$name
	if [ -n "${!in:-}" ]; then export "ASTRO_CI_$name=${!in}"; fi
	unset "$in"
done
if [ -n "${INPUT_ASTRO_API_TOKEN:-}" ]; then export ASTRO_API_TOKEN="$INPUT_ASTRO_API_TOKEN"; fi
if [ -n "${INPUT_GITHUB_TOKEN:-}" ]; then export ASTRO_CI_GITHUB_TOKEN="$INPUT_GITHUB_TOKEN"; fi
unset INPUT_ASTRO_API_TOKEN INPUT_GITHUB_TOKEN

# ${args[@]+…}: an empty array under set -u on bash 3.2 (macOS).
exec "$bin" "${words[@]}" ${args[@]+"${args[@]}"}
