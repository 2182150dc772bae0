#!/usr/bin/env bash
# Runs every fuzz target of the project for FUZZTIME each (default 3s;
# `make test` runs the short pass with FUZZTIME=2s, `make fuzz` the long one,
# 60s unless FUZZTIME says otherwise) and prints the executions of each.
# With FUZZ_REPORT=FILE it also writes them there as "target<TAB>executions"
# lines, for docs/RELIABILITY.md.
# A failing input is written to the package's testdata/fuzz, where `go test`
# replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
report=${FUZZ_REPORT:-}
[ -z "$report" ] || : > "$report"
total=0
# package:target for every func FuzzX in a _test.go file.
mapfile -t targets < <(grep -rlE '^func Fuzz[A-Za-z0-9_]+\(' --include='*_test.go' internal cmd test 2>/dev/null |
	while read -r f; do
		pkg=./$(dirname "$f")
		grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | sed "s|^func |$pkg:|"
	done | sort -u)
for t in "${targets[@]}"; do
	pkg=${t%%:*} name=${t##*:}
	log=$(mktemp)
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel 2 "$pkg" > "$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "fuzz: $pkg $name failed" >&2
		exit 1
	fi
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
	rm -f "$log"
	total=$((total + execs))
	printf 'fuzz: %-40s %-28s %10d executions\n' "$pkg" "$name" "$execs"
	[ -z "$report" ] || printf '%s.%s\t%d\n' "$pkg" "$name" "$execs" >> "$report"
done
printf 'fuzz: %d targets, %d executions in all (%s each)\n' "${#targets[@]}" "$total" "$fuzztime"
