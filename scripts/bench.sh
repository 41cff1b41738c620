#!/usr/bin/env bash
# Runs every Go benchmark once with allocation counts (among them the
# plugin boundary: host → no-op plugin, sqlite in-process vs as a plugin,
# and the sqlite, postgres and jsonl upserts), then the conformance kit
# through the plugin boundary at 1,000,000 records, and prints the figures
# again at the end, one line each, for the issue notes.
# BENCHTIME (default 1s) and BENCH (a -bench pattern, default all) narrow
# or lengthen the benchmarks; KIT_RECORDS (default 1000000, 0 skips the
# kit) sizes the kit's scale case.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench "${BENCH:-.}" -benchmem -benchtime "${BENCHTIME:-1s}" ./... | tee "$out"
kit=${KIT_RECORDS:-1000000}
if [ "$kit" != 0 ]; then
	echo
	echo "== conformance kit through the plugin boundary, $kit records"
	SIPHON_KIT_RECORDS="$kit" go test -count=1 -timeout 60m -v -run '^TestKit' ./plugins/host ./plugins/destinations |
		grep -E '^(--- |ok|FAIL)|/scale \(' | sed 's/^    //' | tee -a "$out"
fi
echo
echo "== figures"
grep -E '^(Benchmark|pkg:|--- )' "$out" || echo "no benchmarks ran"
