#!/usr/bin/env bash
# Runs every Go benchmark once with allocation counts and prints the
# figures again at the end, one line each, for the issue notes.
# BENCHTIME (default 1s) and BENCH (a -bench
# pattern, default all) narrow or lengthen the run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench "${BENCH:-.}" -benchmem -benchtime "${BENCHTIME:-1s}" ./... | tee "$out"
echo
echo "== figures"
grep -E '^(Benchmark|pkg:)' "$out" || echo "no benchmarks ran"
