#!/usr/bin/env bash
# The demo: a real sync with nothing to install. It prints the plan of
# pipelines/demo, starts the VOMO simulator (bin/vomosim) on a free port,
# stores one simulated token per tenant, runs `siphon run --once` on the
# embedded state store into a local SQLite file, and shows the synced rows
# with `siphon dev sql` (so no sqlite3 shell is needed).
#
# It runs on a copy of pipelines/demo in a temporary directory, so the
# repository stays clean and two demos never share state; the copy is kept
# afterwards for exploring. `make demo` builds bin/siphon and bin/vomosim
# first.
set -euo pipefail
cd "$(dirname "$0")/.."

siphon=bin/siphon
vomosim=bin/vomosim
# A few hundred users per tenant: enough pages to show paging and the
# filter at work, small enough to sync in about a second.
users=300

say() { printf '\n==> %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
die() {
	printf '\ndemo: %s\n' "$*" >&2
	exit 1
}
# redact hides tokens in the simulator's output: its start-up listing is
# the one place they are printed, and the demo must not pass them on.
redact() { sed -E "s/(token=)[^ ]+/\1<hidden>/g; s/(Bearer )[^' ]+/\1<hidden>/g" "$@"; }

# sync_problems lists, one "...; " each, what is wrong with a run --once
# given its exit code and its summary line ("jobs run 6, skipped 0; enqueued
# ..., dead-lettered 0; failed jobs 0"); nothing when the sync was clean.
sync_problems() {
	local rc=$1 summary=$2 failed dead
	failed=$(sed -nE 's/.*; failed jobs ([0-9]+).*/\1/p' <<<"$summary")
	dead=$(sed -nE 's/.*, dead-lettered ([0-9]+);.*/\1/p' <<<"$summary")
	((rc == 0)) || printf 'siphon run --once exited %d; ' "$rc"
	if [[ -z $failed || -z $dead ]]; then
		printf 'the run printed no summary line; '
		return
	fi
	((failed == 0)) || printf '%d jobs failed; ' "$failed"
	((dead == 0)) || printf '%d records went to a dead-letter queue; ' "$dead"
}

for b in "$siphon" "$vomosim"; do
	[[ -x $b ]] || die "$b is missing: run make demo, which builds it first"
done

start=$SECONDS
work=$(mktemp -d -t siphon-demo.XXXXXX)
# The simulator's output holds the tokens: it lives in a directory of its
# own, private to the user, removed on exit whatever happens.
secret=$(mktemp -d -t siphon-demo-sim.XXXXXX)
sim_pid=""
cleanup() {
	local rc=$?
	if [[ -n $sim_pid ]] && kill -0 "$sim_pid" 2>/dev/null; then
		kill "$sim_pid" 2>/dev/null || true
		wait "$sim_pid" 2>/dev/null || true
	fi
	rm -rf "$secret"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "1/6  The plan: what would run, when, for whom, at what cost (first tenant shown)"
show "$siphon plan pipelines/demo"
plan=$("$siphon" plan pipelines/demo) || {
	printf '%s\n' "$plan"
	die "siphon plan pipelines/demo failed"
}
# Everything up to the second tenant, then the summary line: the other two
# tenants read like the first.
awk '/^Tenant / && ++n == 2 { exit } { print }' <<<"$plan"
printf '(harbour and kiez follow in the full plan)\n\n'
grep '^Plan:' <<<"$plan"

say "2/6  A copy of pipelines/demo to run in (the repository stays untouched)"
cp -R pipelines/demo/. "$work"
rm -rf "$work/.siphon" # state of an earlier run in the tree, if any
echo "$work"

say "3/6  The VOMO simulator: calm scenario, 3 tenants x $users users, on a free port"
show "$vomosim --addr 127.0.0.1:0 --scenario calm --tenants 3 --users $users"
# Port 0 lets the kernel pick a free port; vomosim prints the address it
# got once it is listening, so that line is also the sign it answers.
"$vomosim" --addr 127.0.0.1:0 --scenario calm --tenants 3 --users "$users" >"$secret/vomosim.out" 2>&1 &
sim_pid=$!
base=""
for _ in $(seq 100); do
	base=$(sed -n 's/^base URL: *//p' "$secret/vomosim.out")
	[[ -n $base ]] && break
	if ! kill -0 "$sim_pid" 2>/dev/null; then
		redact "$secret/vomosim.out" >&2
		die "vomosim exited before it was ready"
	fi
	sleep 0.1
done
[[ -n $base ]] || die "vomosim did not start listening within 10 seconds"
# The tenant lines follow the base URL; wait until all three are written.
for _ in $(seq 50); do
	[[ $(grep -c '^tenant t[0-9]* ' "$secret/vomosim.out") -ge 3 ]] && break
	sleep 0.1
done
mapfile -t tokens < <(sed -n 's/^tenant t[0-9]* org=[0-9]* token=//p' "$secret/vomosim.out")
((${#tokens[@]} >= 3)) || die "vomosim listed ${#tokens[@]} tenants, want 3"
grep -E '^(vomosim:|base URL:)' "$secret/vomosim.out"

say "4/6  One simulated token per tenant, sealed at rest (never printed)"
# The copy's source URL points at this simulator, through a variable file
# that siphon reads with the configuration.
printf 'vomo_url = "%s"\n' "$base" >"$work/demo.auto.vars.hcl"
echo "wrote $work/demo.auto.vars.hcl: vomo_url = \"$base\""
names=(acme harbour kiez)
for i in 0 1 2; do
	show "$siphon credentials set ${names[i]} --config $work < token-of-t00$((i + 1))"
	printf '%s\n' "${tokens[i]}" | "$siphon" credentials set "${names[i]}" --config "$work" ||
		die "could not store the token of ${names[i]}"
done
unset tokens

say "5/6  The sync: every job of every tenant once, queues drained"
show "$siphon run --once --config $work"
rc=0
"$siphon" run --once --config "$work" >"$work/run.out" 2>"$work/run.log" || rc=$?
cat "$work/run.out"
echo "(the run's JSON log: $work/run.log)"
echo
show "$siphon status --config $work"
"$siphon" status --config "$work" || die "siphon status failed"
# The demo must show a clean sync: the exit code and the summary line are
# both checked, so a run that reports failed jobs or dead letters fails the
# demo even if its exit code ever stops saying so.
problems=$(sync_problems "$rc" "$(grep '^jobs run ' "$work/run.out" || true)")
if [[ -n $problems ]]; then
	echo "--- the end of the run's log ---" >&2
	tail -n 20 "$work/run.log" >&2
	die "the sync was not clean: ${problems}the status above says which tenant or pipeline failed and why"
fi

say "6/6  The synced rows, read from $work/.siphon/destination.db, and a preview against them"
q1="SELECT tenant, count(*) AS volunteers FROM volunteers GROUP BY tenant ORDER BY tenant"
show "$siphon dev sql --config $work \"$q1\""
"$siphon" dev sql --config "$work" "$q1" || die "the query failed"
echo
q2="SELECT key AS id, full_name, email, status, source_updated_at AS updated_at FROM volunteers WHERE tenant = 'kiez' ORDER BY CAST(key AS INTEGER) LIMIT 5"
show "$siphon dev sql --config $work \"$q2\""
"$siphon" dev sql --config "$work" "$q2" || die "the query failed"
echo
# What the next sync would do with a few live records: read with kiez's
# token, mapped, and compared with the rows just written.
show "$siphon preview kiez volunteers --limit 3 --against-destination --config $work"
"$siphon" preview kiez volunteers --limit 3 --against-destination --config "$work" || die "the preview failed"

printf '\nDone in %ds: %d users per tenant at the source; removed members are filtered out.\n' $((SECONDS - start)) "$users"
echo "The demo's copy stays in $work for exploring (the simulator has stopped):"
echo "  $siphon status --config $work"
echo "  $siphon dev sql --config $work \"SELECT tenant, count(*) AS completions FROM form_completions GROUP BY tenant\""
echo "Remove it with: rm -rf $work"
