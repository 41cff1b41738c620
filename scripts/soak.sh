#!/usr/bin/env bash
# The long runs: the same benchmarks as bench.sh for longer, with
# SIPHON_BENCH_BIG=1 so that benchmarks that have a large variant (more
# tenants, more records) run it too.
set -euo pipefail
cd "$(dirname "$0")/.."
SIPHON_BENCH_BIG=1 BENCHTIME="${BENCHTIME:-10s}" ./scripts/bench.sh
