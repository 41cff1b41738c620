#!/usr/bin/env bash
# Runs each fuzz target of the repository for FUZZTIME (default 60s), one
# at a time (Go fuzzes one target per run). New crashers land in the
# package's testdata/fuzz/ directory and become regression seeds.
# Minimizing each new interesting input may take Go's default 60s, during
# which nothing else is fuzzed; FUZZMINIMIZETIME (default 10s) caps it so a
# short run still fuzzes.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-60s}"
minimize="${FUZZMINIMIZETIME:-10s}"
targets=$(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | sed -E 's|^\./||; s|/[^/]*_test\.go:func | |' | sort -u)
if [ -z "$targets" ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi
while read -r dir name; do
  echo "== $name in ./$dir for $fuzztime"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "./$dir" </dev/null
done <<<"$targets"
