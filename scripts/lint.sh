#!/usr/bin/env bash
# make lint: everything static, offline once scripts/tools.sh lint has run.
#   go vet, gofmt, golangci-lint (.golangci.yml), shellcheck on the scripts,
#   actionlint on the workflows, the GitHub workflow examples under docs/ and
#   action.yml, the GitLab components and examples against GitLab's CI schema
#   (test/gitlabci, without running gitlab-ci-local; the schema comes with it),
#   goreleaser check, and the two Dockerfiles' shared runtime part.
# Usage: scripts/lint.sh [go|shell|actions|gitlab|release|all]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh lint
bin=$PWD/.cache/bin
step() { printf 'lint: %s\n' "$*" >&2; }

go_lint() {
	step "go vet"
	go vet ./...

	step "gofmt"
	local out files=() f
	while IFS= read -r f; do [ -f "$f" ] && files+=("$f"); done < <(git ls-files -co --exclude-standard '*.go')
	out=$(gofmt -l "${files[@]}")
	if [ -n "$out" ]; then echo "gofmt needed:" >&2; echo "$out" >&2; return 1; fi

	step "golangci-lint"
	"$bin/golangci-lint" run ./...
}

shell_lint() {
	step "shellcheck"
	local scripts=() f
	while IFS= read -r f; do [ -f "$f" ] && scripts+=("$f"); done < <(git ls-files -co --exclude-standard '*.sh' .ci/run)
	shellcheck -S warning "${scripts[@]}"
}

# actionlint runs shellcheck on every run: block.
actionlint() { "$bin/actionlint" -shellcheck="$(command -v shellcheck)" -pyflakes= "$@"; }

actions_lint() {
	shopt -s nullglob globstar
	local workflows=(.github/workflows/*.yml .github/workflows/*.yaml) examples=() f
	if [ ${#workflows[@]} -gt 0 ]; then
		step "actionlint: ${#workflows[@]} workflow(s) in .github/workflows"
		actionlint "${workflows[@]}"
	else
		step "actionlint: no workflows in .github/workflows yet"
	fi

	# GitHub workflows among the examples: a top-level on: and jobs: (GitLab files have no on:).
	for f in docs/examples/**/*.yml docs/examples/**/*.yaml; do
		grep -qE '^(on|"on"|'"'"'on'"'"'):' "$f" && grep -qE '^jobs:' "$f" && examples+=("$f")
	done
	[ -f action.yml ] || [ ${#examples[@]} -gt 0 ] || return 0

	# The examples use astro-ci/astro-ci@vX, which actionlint cannot read offline.
	# Lint them in a scratch project that holds this action.yml, with that `uses:`
	# pointed at ./, so each example's `with:` is checked against the real inputs;
	# plus a workflow that calls the action with only its required inputs, so
	# action.yml itself is parsed and checked even when nothing else uses it.
	local scratch i=0 linted=() rename=()
	scratch=$(mktemp -d)
	trap 'rm -rf "'"$scratch"'"' RETURN
	mkdir -p "$scratch/.git" "$scratch/.github/workflows"
	if [ -f action.yml ]; then
		cp action.yml "$scratch/action.yml"
		# PATH's python3 may be a pyenv one without PyYAML; Debian's has python3-yaml (tools.sh lint).
		local py=python3
		python3 -c 'import yaml' 2>/dev/null || py=/usr/bin/python3
		"$py" - "$scratch/.github/workflows/uses-action.yml" <<-'EOF'
			import sys, yaml
			meta = yaml.safe_load(open("action.yml"))
			inputs = meta.get("inputs") or {}
			required = [k for k, v in inputs.items() if (v or {}).get("required") in (True, "true") and (v or {}).get("default") is None]
			step = {"uses": "./"}
			if required:
			    step["with"] = {k: "x" for k in required}
			wf = {"name": "uses action.yml", "on": {"push": None}, "jobs": {"a": {"runs-on": "ubuntu-latest",
			      "steps": [{"uses": "actions/checkout@v4"}, step]}}}
			yaml.safe_dump(wf, open(sys.argv[1], "w"), sort_keys=False)
		EOF
		linted+=(.github/workflows/uses-action.yml)
		rename+=(-e "s#^\.github/workflows/uses-action\.yml:#action.yml (through a workflow with uses: ./):#")
	fi
	for f in "${examples[@]}"; do
		i=$((i + 1))
		if [ -f action.yml ]; then
			sed -E 's#(uses:[[:space:]]*)astro-ci/astro-ci@[^[:space:]]+#\1./#' "$f" >"$scratch/.github/workflows/example$i.yml"
		else
			cp "$f" "$scratch/.github/workflows/example$i.yml"
		fi
		linted+=(".github/workflows/example$i.yml")
		rename+=(-e "s#^\.github/workflows/example$i\.yml:#$f:#")
	done
	step "actionlint: action.yml and ${#examples[@]} GitHub workflow example(s) under docs/examples"
	# Report the examples under their own names (line numbers are unchanged).
	if ! (cd "$scratch" && actionlint -no-color "${linted[@]}") >"$scratch/out" 2>&1; then
		sed "${rename[@]}" "$scratch/out" >&2
		return 1
	fi
}

gitlab_lint() {
	step "GitLab components and examples against GitLab's CI schema"
	scripts/tools.sh runners
	ASTRO_CI_RUNNER_TESTS=1 go test -count=1 -run 'Schema|JSLiteral|READMERegexes|ResourceGroup|JobKeyword' ./test/gitlabci/
}

release_lint() {
	step "goreleaser check"
	"$bin/goreleaser" check -q 2>/dev/null || "$bin/goreleaser" check

	step "Dockerfiles"
	scripts/image.sh check
}

case "${1:-all}" in
go) go_lint ;;
shell) shell_lint ;;
actions) actions_lint ;;
gitlab) gitlab_lint ;;
release) release_lint ;;
all) go_lint; shell_lint; actions_lint; gitlab_lint; release_lint; step "ok" ;;
*) echo "usage: $0 [go|shell|actions|gitlab|release|all]" >&2; exit 2 ;;
esac
