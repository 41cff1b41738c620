#!/usr/bin/env bash
# The long runs: the same benchmarks as bench.sh for longer, with
# SIPHON_BENCH_BIG=1 so that benchmarks that have a large variant (more
# tenants, more records) run it too; then the end-to-end reliability suite
# (e2e/) at full size with SIPHON_SOAK=1: 20 tenants x 10,000 users
# against the adversarial simulator, with minutes of worker kills, Redis
# restarts and plugin kills. SOAK_E2E=0 skips the end-to-end part.
set -euo pipefail
cd "$(dirname "$0")/.."
SIPHON_BENCH_BIG=1 BENCHTIME="${BENCHTIME:-10s}" ./scripts/bench.sh
if [[ ${SOAK_E2E:-1} != 0 ]]; then
	SIPHON_SOAK=1 go test -count=1 -timeout 120m -v ./e2e/
fi
