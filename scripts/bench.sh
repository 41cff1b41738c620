#!/usr/bin/env bash
# Runs every Go benchmark once with allocation counts (among them the
# plugin boundary: host → no-op plugin, sqlite in-process vs as a plugin,
# and the sqlite, postgres and jsonl upserts), then the runtime's
# end-to-end benchmarks at full size (issue 6: records/s beside a raw
# baseline, store round trips per page and per batch, source requests per
# steady-state poll), then the conformance kit through the plugin boundary
# at 1,000,000 records, and prints the figures again at the end, one line
# each, for the issue notes.
# BENCHTIME (default 1s) and BENCH (a -bench pattern, default all) narrow
# or lengthen the benchmarks; SIPHON_BENCH_BIG (default 1, 0 for the small
# size) sizes the runtime's end-to-end runs; KIT_RECORDS (default 1000000,
# 0 skips the kit) sizes the kit's scale case.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
e2e=$(mktemp)
trap 'rm -f "$out" "$e2e"' EXIT
# The runtime package runs once, below, at its own size.
go test -run '^$' -bench "${BENCH:-.}" -benchmem -benchtime "${BENCHTIME:-1s}" $(go list ./... | grep -v '/runtime$') | tee "$out"

big=${SIPHON_BENCH_BIG:-1}
[ "$big" = 0 ] && big=
echo
echo "== runtime end to end (SIPHON_BENCH_BIG=${big:-unset}; one run each, every run from an empty store)"
SIPHON_BENCH_BIG="$big" go test -count=1 -timeout 60m -run '^$' -bench "${BENCH:-.}" -benchtime 1x ./runtime | tee "$e2e"
cat "$e2e" >>"$out"

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

# One line per issue 6 figure with its goal. A benchmark line is
# "name N ns/op v1 unit1 v2 unit2 ...": metrics are read by unit.
echo
echo "== issue 6 figures (SIPHON_BENCH_BIG=${big:-unset})"
awk '
/^Benchmark(EndToEnd|StoreTrips|SteadyStatePoll)/ {
	name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
	delete m
	for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i
	if (name ~ /^EndToEnd/) {
		sub(/^EndToEnd(Postgres)?\//, "", name)
		printf "records/s %-16s runtime %8.0f  baseline %8.0f  ratio %.2f (goal >= 0.7)\n", name, m["records/s"], m["baseline_records/s"], m["ratio"]
		printf "    poll stage %.0f/s, process stage %.0f/s, source alone %.0f/s; CPU µs/record: runtime %.0f (plugin and redis-server %.0f), baseline %.0f, source %.0f\n", m["poll_records/s"], m["process_records/s"], m["source_records/s"], m["cpu-µs/record"], m["children_cpu-µs/record"], m["baseline_cpu-µs/record"], m["source_cpu-µs/record"]
	} else if (name ~ /^StoreTrips/) {
		sub(/^StoreTrips\//, "", name)
		printf "store round trips %-6s %.2f per page polled, %.2f per batch processed (goal <= 2 each; %d pages, %d batches)\n", name, m["trips/page"], m["trips/batch"], m["pages/op"], m["batches/op"]
	} else {
		printf "source requests per steady-state poll %.2f, minimum %.2f, ratio %.2f (goal <= 1.1)\n", m["requests/poll"], m["min_requests/poll"], m["ratio"]
	}
}' "$e2e"
# Rate budgets (redis): Take throughput (goal >= 50,000 checks/s pipelined) and a 2,000/s budget's achieved rate (goal within 2%).
awk '/^BenchmarkTake\// { delete m; for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i; printf "budget %-34s %8.0f takes/s %6.1f server-µs/take %6.1f server-cpu-µs/take\n", $1, m["takes/s"], m["server-µs/take"], m["server-cpu-µs/take"] }' "$out"; SIPHON_SOAK=1 go test -count=1 -run '^TestTakeRateAccuracy$' -v ./internal/state/redis | grep -E 'configured|^(--- |FAIL)' | sed 's/^ *//'
# Scheduler at hub scale (issue 8): tenants × 2 jobs at a 1-minute cadence against a stub source; start lateness (goal p99 < 1 s) and store round trips per job run, one runner on bbolt and on Redis, then four on one Redis.
awk '/^BenchmarkScheduler\// { delete m; for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i; name = $1; sub(/^BenchmarkScheduler\//, "", name); sub(/-[0-9]+$/, "", name); printf "scheduler %-8s %6.0f tenants: start lateness p50 %.3fs p99 %.3fs max %.3fs (goal p99 < 1s); %.1f store trips per job run (%d runs; %d slots missed, %d started twice)\n", name, m["tenants"], m["p50_lateness_s"], m["p99_lateness_s"], m["max_lateness_s"], m["trips/job"], m["job_runs"], m["missed_slots"], m["double_starts"] }' "$e2e"
# Backfill (issue 7): records/s of a first sync by capped full scans beside the raw baseline (goal >= 0.7), and source requests beside the minimum (pages + 1 per tenant).
awk '/^BenchmarkBackfill\// { delete m; for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i; n = $1; sub(/^BenchmarkBackfill\//, "", n); sub(/-[0-9]+$/, "", n); printf "backfill %-16s runtime %8.0f records/s  baseline %8.0f  ratio %.2f (goal >= 0.7); source requests %.0f, minimum %.0f (pages + 1), ratio %.2f\n", n, m["records/s"], m["baseline_records/s"], m["ratio"], m["requests/op"], m["min_requests/op"], m["requests_ratio"] }' "$e2e"
# Daily reconcile (issue 7): source requests vs the minimum (pages + one GET per deletion), time, and peak heap/RSS growth at two sizes ten times apart (goal: memory independent of the tenant's size).
awk '/^BenchmarkReconcileDaily\// { delete m; for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i; n = $1; sub(/^BenchmarkReconcileDaily\//, "", n); sub(/-[0-9]+$/, "", n); printf "reconcile %-16s %.1fs, %.0f records/s, source requests %.0f (minimum %.0f), %.0f deleted, peak live heap growth %.1f MiB, peak RSS growth %.1f MiB\n", n, $3/1e9, m["records/s"], m["requests/op"], m["min_requests/op"], m["deleted/op"], m["peak_live_heap_growth_MiB"], m["peak_rss_growth_MiB"] }' "$e2e"
# Mixed hub (issue 8): 50 healthy tenants beside a revoked one, a backlogged one (1,000,000 records; MIXED_SOAK=0 for the CI size of 5,000) and one whose destination is down; freshness p50/p99 of the healthy tenants with and without the big neighbour (goal: within cadence + settle + a cadence, and <= 2x without).
SIPHON_SOAK="${MIXED_SOAK:-1}" go test -count=1 -timeout 60m -run '^TestMixedHub$' -v ./e2e | grep -E 'mixed hub freshness|big tenant.s queue held|^(--- |FAIL)' | sed 's/^ *//; s/^mixedhub_test.go:[0-9]*: //'
# Rate budgets through the runtime (issue 8): achieved vs configured request rate (goal within 2%), and a small tenant's sync latency alone and beside a big tenant's 10,000-entry backlog (goal ratio <= 2).
awk '/^BenchmarkBudgetRate\// { delete m; for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i; n = $1; sub(/^BenchmarkBudgetRate\//, "", n); sub(/-[0-9]+$/, "", n); printf "budget rate %-16s configured %6.1f/s achieved %6.2f/s error %+.2f%% (goal within 2%%)\n", n, m["configured_req/s"], m["achieved_req/s"], m["error_%"] }
/^BenchmarkBudgetFairness/ { delete m; for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i; printf "fairness: small tenant sync %.2fs alone, %.2fs beside a big tenant with %d entries queued, ratio %.2f (goal <= 2)\n", m["alone_s"], m["with_neighbour_s"], m["neighbour_backlog"], m["ratio"] }' "$e2e"
