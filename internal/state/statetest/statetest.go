// Package statetest is the conformance suite every state backend passes:
// the runtime relies on these semantics, not on a backend's details.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// Run runs the suite. open returns a fresh, empty store for one subtest and
// arranges its cleanup.
func Run(t *testing.T, open func(t *testing.T) state.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s state.Store)
	}{
		{"Info", testInfo},
		{"LeaseExclusive", testLeaseExclusive},
		{"LeaseExpiryAndFencing", testLeaseExpiryAndFencing},
		{"LeaseRenewRelease", testLeaseRenewRelease},
		{"DueOnceUnderConcurrency", testDueOnce},
		{"DueIndexRepair", testDueIndexRepair},
		{"CheckpointGenerations", testCheckpointGenerations},
		{"CheckpointCompletion", testCheckpointCompletion},
		{"WalkProgress", testWalkProgress},
		{"CommitPageAtomic", testCommitPageAtomic},
		{"CommitPageMembers", testCommitPageMembers},
		{"QueueClaimAck", testQueueClaimAck},
		{"QueueAckClaim", testQueueAckClaim},
		{"QueueConcurrentClaimers", testQueueConcurrentClaimers},
		{"QueueOwnership", testQueueOwnership},
		{"QueuePartialAndLargeBatches", testQueueBatches},
		{"QueueFailRetryDLQ", testQueueFailRetryDLQ},
		{"QueueReclaim", testQueueReclaim},
		{"QueueReclaimTooOften", testQueueReclaimTooOften},
		{"QueueRestartLoopToDLQ", testQueueRestartLoop},
		{"QueueExtendAndConsumers", testQueueExtendAndConsumers},
		{"ReadyIndex", testReadyIndex},
		{"ReadyIndexConcurrent", testReadyIndexConcurrent},
		{"ReadyPark", testReadyPark},
		{"ReadyHold", testReadyHold},
		{"ReadyTakesTurns", testReadyTakesTurns},
		{"QueueNack", testQueueNack},
		{"DeadLetters", testDeadLetters},
		{"TenantIsolation", testTenantIsolation},
		{"Flags", testFlags},
		{"Credentials", testCredentials},
		{"CredentialSwap", testCredentialSwap},
		{"ConfigActivation", testConfigActivation},
		{"ConfigNumbering", testConfigNumbering},
		{"ConfigSummary", testConfigSummary},
		{"Audit", testAudit},
		{"ScanIDs", testScanIDs},
		{"BudgetBurst", testBudgetBurst},
		{"BudgetAllOrNone", testBudgetAllOrNone},
		{"BudgetHubGivesBack", testBudgetHubGivesBack},
		{"BudgetThrottle", testBudgetThrottle},
		{"BudgetDrain", testBudgetDrain},
		{"BudgetTokens", testBudgetTokens},
		{"BudgetTenants", testBudgetTenants},
		{"BudgetReserve", testBudgetReserve},
		{"BudgetReserveHub", testBudgetReserveHub},
		{"BudgetGiveBack", testBudgetGiveBack},
		{"BudgetDrained", testBudgetDrained},
		{"BudgetHubs", testBudgetHubs},
		{"BudgetCap", testBudgetCap},
		{"BudgetLend", testBudgetLend},
		{"Notes", testNotes},
		{"PurgeTenant", testPurgeTenant},
		{"CrossTenantIDs", testCrossTenantIDs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

// must turns a (value, error) result into the value, failing the test on
// error: must(s.Depth(ctx, q))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// claim claims with a maxAttempts no test entry reaches by redelivery.
func claim(t *testing.T, s state.Store, q state.QueueRef, consumer string, n int) []state.Entry {
	t.Helper()
	c, err := s.Claim(ctx, q, consumer, n, 100)
	check(t, err)
	if c.Dead != 0 {
		t.Fatalf("claim sent %d entries to the DLQ", c.Dead)
	}
	return c.Entries
}

func acquire(t *testing.T, s state.Store, tenant, job, owner string, ttl time.Duration) state.Lease {
	t.Helper()
	l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: job, Owner: owner, TTL: ttl})
	check(t, err)
	if !ok {
		t.Fatalf("acquire %s/%s by %s: held by %q", tenant, job, owner, l.Owner)
	}
	return l
}

func entries(pipeline string, keys ...string) []state.Entry {
	out := make([]state.Entry, len(keys))
	for i, k := range keys {
		out[i] = state.Entry{
			Pipeline: pipeline, Key: k, Op: "upsert",
			Version:          time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
			ConfigGeneration: 7, ContentHash: "h" + k,
			Payload: []byte(`{"id":"` + k + `"}`), Trace: "00-trace-" + k,
		}
	}
	return out
}

func keysOf(es []state.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	sort.Strings(out)
	return out
}

func idsOf(es []state.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// enqueue commits one page of entries for q under a fresh lease.
func enqueue(t *testing.T, s state.Store, q state.QueueRef, es []state.Entry) {
	t.Helper()
	l := acquire(t, s, q.Tenant, "enqueue-"+q.Destination, "test", time.Minute)
	must(s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}))(t)
	check(t, s.Release(ctx, l))
}

func testInfo(t *testing.T, s state.Store) {
	info := must(s.Info(ctx))(t)
	if info.FormatVersion != state.FormatVersion || info.Epoch == "" || info.Backend == "" {
		t.Fatalf("info = %+v", info)
	}
}

func testLeaseExclusive(t *testing.T, s state.Store) {
	l := acquire(t, s, "acme", "poll-users", "w1", time.Minute)
	if l.Token.Counter <= 0 || l.Token.Epoch == "" || l.Owner != "w1" {
		t.Fatalf("lease %+v", l)
	}
	other, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll-users", Owner: "w2", TTL: time.Minute})
	check(t, err)
	if ok || other.Owner != "w1" {
		t.Fatalf("second acquire: ok=%v holder=%q", ok, other.Owner)
	}
	// Another job and another tenant are independent.
	acquire(t, s, "acme", "poll-other", "w2", time.Minute)
	acquire(t, s, "globex", "poll-users", "w2", time.Minute)
}

func testLeaseExpiryAndFencing(t *testing.T, s state.Store) {
	const pl = "users"
	cp := must(s.Checkpoint(ctx, "acme", pl))(t)
	old := acquire(t, s, "acme", "poll", "w1", 50*time.Millisecond)
	time.Sleep(120 * time.Millisecond)
	nl := acquire(t, s, "acme", "poll", "w2", time.Minute)
	if nl.Token.Counter <= old.Token.Counter {
		t.Fatalf("counter did not rise: %d then %d", old.Token.Counter, nl.Token.Counter)
	}
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	_, err := s.CommitPage(ctx, state.PageCommit{
		Lease:   old,
		Walks:   []state.WalkUpdate{{Pipeline: pl, Generation: cp.Generation, Walk: state.Walk{Position: 15}}},
		Enqueue: []state.Enqueue{{Queue: q, Entries: entries(pl, "1")}},
	})
	if !errors.Is(err, state.ErrFenced) {
		t.Fatalf("commit with an expired, taken-over lease: %v", err)
	}
	if _, err := s.Renew(ctx, old, time.Minute); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("renew of a lost lease: %v", err)
	}
	// A fenced commit wrote nothing.
	if got := must(s.Checkpoint(ctx, "acme", pl))(t); got.Walk != nil {
		t.Fatalf("fenced commit left walk %+v", got.Walk)
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 0 {
		t.Fatalf("fenced commit enqueued %d", d.Stream)
	}
	// The current holder commits fine.
	must(s.CommitPage(ctx, state.PageCommit{Lease: nl, Enqueue: []state.Enqueue{{Queue: q, Entries: entries(pl, "1")}}}))(t)
	// Counters keep rising across grants.
	prev := nl.Token.Counter
	check(t, s.Release(ctx, nl))
	for i := range 5 {
		l := acquire(t, s, "acme", "poll", "w"+strconv.Itoa(i), time.Minute)
		if l.Token.Counter <= prev {
			t.Fatalf("grant %d: counter %d after %d", i, l.Token.Counter, prev)
		}
		prev = l.Token.Counter
		check(t, s.Release(ctx, l))
	}
}

func testLeaseRenewRelease(t *testing.T, s state.Store) {
	l := acquire(t, s, "acme", "poll", "w1", 80*time.Millisecond)
	// Renewing keeps the lease across more than its first TTL. (A renewal
	// that came late still works: nobody took the lease meanwhile.)
	for range 3 {
		time.Sleep(40 * time.Millisecond)
		l = must(s.Renew(ctx, l, 80*time.Millisecond))(t)
	}
	// From here on, a long TTL keeps a slow machine from expiring it.
	l = must(s.Renew(ctx, l, time.Minute))(t)
	if !l.Expires.After(time.Now().Add(30 * time.Second)) {
		t.Fatalf("renewed lease expires at %v", l.Expires)
	}
	if _, ok, _ := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: "w2", TTL: time.Minute}); ok {
		t.Fatal("renewed lease was taken")
	}
	forged := l
	forged.Token.Counter--
	if _, err := s.Renew(ctx, forged, time.Minute); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("renew with a wrong token: %v", err)
	}
	check(t, s.Release(ctx, forged)) // not the holder: no effect
	if _, ok, _ := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: "w2", TTL: time.Minute}); ok {
		t.Fatal("release with a wrong token freed the lease")
	}
	check(t, s.Release(ctx, l))
	acquire(t, s, "acme", "poll", "w2", time.Minute)
	// Writes under a released lease are fenced.
	if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l}); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("commit after release: %v", err)
	}
}

func testDueOnce(t *testing.T, s state.Store) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	due := must(s.ScheduleJob(ctx, "acme", "poll", t0, false))(t)
	if !due.Equal(t0) {
		t.Fatalf("scheduled %v", due)
	}
	if again := must(s.ScheduleJob(ctx, "acme", "poll", t0.Add(time.Hour), false))(t); !again.Equal(t0) {
		t.Fatalf("schedule without replace moved due to %v", again)
	}
	if jobs := must(s.DueJobs(ctx, t0.Add(-time.Second), 10))(t); len(jobs) != 0 {
		t.Fatalf("due before time: %v", jobs)
	}
	if jobs := must(s.DueJobs(ctx, t0, 10))(t); len(jobs) != 1 || jobs[0].Tenant != "acme" || jobs[0].Job != "poll" {
		t.Fatalf("due jobs: %v", jobs)
	}
	// Many schedulers race for each due slot, each releasing at once (so
	// the lease alone cannot be what stops a second run): exactly one wins
	// per slot.
	const slots, racers = 5, 8
	now := t0
	for slot := range slots {
		next := now.Add(10 * time.Minute)
		var wins sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for r := range racers {
			wins.Add(1)
			go func() {
				defer wins.Done()
				l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: fmt.Sprintf("s%d-%d", slot, r), TTL: time.Minute, Now: now, NextDue: next})
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
					if err := s.Release(ctx, l); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wins.Wait()
		if won != 1 {
			t.Fatalf("slot %d: %d winners", slot, won)
		}
		l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: "late", TTL: time.Minute, Now: now, NextDue: next})
		check(t, err)
		if ok || !l.Due.Equal(next) {
			t.Fatalf("late acquire for slot %d: ok=%v due=%v", slot, ok, l.Due)
		}
		now = next
	}
	jobs := must(s.DueJobs(ctx, now.Add(-time.Second), 10))(t)
	if len(jobs) != 0 {
		t.Fatalf("index not advanced: %v", jobs)
	}
}

func testDueIndexRepair(t *testing.T, s state.Store) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	must(s.ScheduleJob(ctx, "acme", "poll", t0, false))(t)
	must(s.ScheduleJob(ctx, "acme", "poll", t0.Add(time.Hour), true))(t)
	jobs := must(s.DueJobs(ctx, t0.Add(2*time.Hour), 10))(t)
	if len(jobs) != 1 || !jobs[0].Due.Equal(t0.Add(time.Hour)) {
		t.Fatalf("due jobs after replace: %v", jobs)
	}
	if n := must(s.RepairDue(ctx, jobs))(t); n != 0 {
		t.Fatalf("repair of a correct index changed %d", n)
	}
	if _, err := s.ScheduleJob(ctx, "acme", "poll", time.Time{}, true); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("schedule at zero time: %v", err)
	}
	check(t, s.UnscheduleJob(ctx, "acme", "poll"))
	if jobs := must(s.DueJobs(ctx, t0.Add(2*time.Hour), 10))(t); len(jobs) != 0 {
		t.Fatalf("unscheduled job still due: %v", jobs)
	}
	if n := must(s.RepairDue(ctx, []state.JobRef{{Tenant: "acme", Job: "poll"}}))(t); n != 0 {
		t.Fatalf("repair after unschedule changed %d", n)
	}
	if again := must(s.ScheduleJob(ctx, "acme", "poll", t0, false))(t); !again.Equal(t0) {
		t.Fatalf("reschedule after unschedule: %v", again)
	}
}

func testCheckpointGenerations(t *testing.T, s state.Store) {
	cp := must(s.Checkpoint(ctx, "acme", "users"))(t)
	if !cp.Cursor.IsZero() || cp.Walk != nil || cp.Generation != 0 {
		t.Fatalf("fresh checkpoint %+v", cp)
	}
	l := acquire(t, s, "acme", "poll", "w1", time.Minute)
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := state.Walk{After: after, Cap: after.Add(time.Hour), Position: 15, Total: 40, Records: 15, Progress: []byte(`{"next":15}`)}
	res := must(s.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: "users", Generation: 0, Walk: w}}}))(t)
	if !slices.Equal(res.Applied, []string{"users"}) {
		t.Fatalf("result %+v", res)
	}
	cp = must(s.Checkpoint(ctx, "acme", "users"))(t)
	if cp.Walk == nil || !sameWalk(*cp.Walk, w) || !cp.Cursor.IsZero() {
		t.Fatalf("after page 1: %+v", cp)
	}
	// An operator sets the cursor mid-walk: the walk is dropped and the
	// in-flight walk's next commit is skipped.
	at := after.Add(-24 * time.Hour)
	set := must(s.SetCursor(ctx, "acme", "users", at))(t)
	if set.Generation != 1 || !set.Cursor.Equal(at) || set.Walk != nil {
		t.Fatalf("set: %+v", set)
	}
	w.Position = 30
	res = must(s.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: "users", Generation: 0, Walk: w, Complete: true}}}))(t)
	if len(res.Applied) != 0 || !slices.Equal(res.Skipped, []string{"users"}) {
		t.Fatalf("stale commit result %+v", res)
	}
	if got := must(s.Checkpoint(ctx, "acme", "users"))(t); !got.Cursor.Equal(at) || got.Walk != nil {
		t.Fatalf("stale commit changed checkpoint: %+v", got)
	}
	// Completing with the current generation moves the cursor to the cap.
	must(s.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: "users", Generation: 1, Walk: w, Complete: true}}}))(t)
	if got := must(s.Checkpoint(ctx, "acme", "users"))(t); !got.Cursor.Equal(w.Cap) || got.Walk != nil || got.Generation != 1 {
		t.Fatalf("completed walk: %+v", got)
	}
	reset := must(s.ResetCheckpoint(ctx, "acme", "users"))(t)
	if reset.Generation != 2 || !reset.Cursor.IsZero() {
		t.Fatalf("reset: %+v", reset)
	}
}

// A completed walk or full scan records when it completed and how many
// records it read; a full scan (zero cap) leaves the cursor alone; a stale
// generation records nothing; an operator set or reset forgets it.
func testCheckpointCompletion(t *testing.T, s state.Store) {
	l := acquire(t, s, "acme", "poll", "w1", time.Minute)
	// The store's clock is the wall clock (Redis TIME on this machine); a
	// minute of slack keeps this from being a timing assertion.
	start := time.Now().Add(-time.Minute)
	commit := func(pipeline string, gen int64, w state.Walk, complete bool) state.CommitResult {
		t.Helper()
		return must(s.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: pipeline, Generation: gen, Walk: w, Complete: complete}}}))(t)
	}

	// A full scan of a cursorless resource: no cursor before or after.
	commit("forms", 0, state.Walk{Records: 7}, true)
	cp := must(s.Checkpoint(ctx, "acme", "forms"))(t)
	if !cp.Cursor.IsZero() || cp.Walk != nil || cp.LastRecords != 7 || cp.LastComplete.Before(start) {
		t.Fatalf("after a full scan: %+v", cp)
	}
	first := cp.LastComplete
	commit("forms", 0, state.Walk{Records: 9}, true)
	cp = must(s.Checkpoint(ctx, "acme", "forms"))(t)
	if cp.LastRecords != 9 || cp.LastComplete.Before(first) {
		t.Fatalf("after a second full scan: %+v (first completed %v)", cp, first)
	}

	// A walk counts its records page by page; completing it moves the
	// cursor and records the completion.
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := state.Walk{After: after, Cap: after.Add(time.Hour), Position: 15, Total: 40, Records: 15}
	commit("users", 0, w, false)
	cp = must(s.Checkpoint(ctx, "acme", "users"))(t)
	if cp.Walk == nil || cp.Walk.Records != 15 || !cp.LastComplete.IsZero() || cp.LastRecords != 0 {
		t.Fatalf("mid-walk: %+v", cp)
	}
	w.Position, w.Records = 40, 38
	commit("users", 0, w, true)
	cp = must(s.Checkpoint(ctx, "acme", "users"))(t)
	if !cp.Cursor.Equal(w.Cap) || cp.Walk != nil || cp.LastRecords != 38 || cp.LastComplete.Before(start) {
		t.Fatalf("completed walk: %+v", cp)
	}
	// A full-scan completion on a pipeline with a cursor keeps the cursor.
	commit("users", 0, state.Walk{Records: 3}, true)
	if got := must(s.Checkpoint(ctx, "acme", "users"))(t); !got.Cursor.Equal(w.Cap) || got.LastRecords != 3 {
		t.Fatalf("zero-cap completion moved the cursor: %+v", got)
	}

	// An operator reset forgets the completion; a completion under the old
	// generation is skipped.
	reset := must(s.ResetCheckpoint(ctx, "acme", "forms"))(t)
	if !reset.LastComplete.IsZero() || reset.LastRecords != 0 {
		t.Fatalf("reset returned %+v", reset)
	}
	if res := commit("forms", 0, state.Walk{Records: 5}, true); !slices.Equal(res.Skipped, []string{"forms"}) {
		t.Fatalf("stale completion: %+v", res)
	}
	if got := must(s.Checkpoint(ctx, "acme", "forms"))(t); !got.LastComplete.IsZero() || got.LastRecords != 0 || got.Generation != 1 {
		t.Fatalf("after reset and a stale completion: %+v", got)
	}
	set := must(s.SetCursor(ctx, "acme", "users", after))(t)
	if got := must(s.Checkpoint(ctx, "acme", "users"))(t); !got.LastComplete.IsZero() || got.LastRecords != 0 || got.Generation != set.Generation {
		t.Fatalf("after set: %+v", got)
	}
}

// sameWalk compares walks field by field (Progress is a byte slice).
func sameWalk(a, b state.Walk) bool {
	return a.After.Equal(b.After) && a.Cap.Equal(b.Cap) && a.Position == b.Position && a.Total == b.Total &&
		a.Records == b.Records && string(a.Progress) == string(b.Progress)
}

// The source's progress is stored with each page as given and replaced by
// the next page's; a page without one leaves none behind, and completion,
// set and reset drop it with the walk.
func testWalkProgress(t *testing.T, s state.Store) {
	l := acquire(t, s, "acme", "poll", "w1", time.Minute)
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	commit := func(w state.Walk, complete bool) {
		t.Helper()
		must(s.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: "users", Walk: w, Complete: complete}}}))(t)
	}
	walkNow := func() *state.Walk {
		t.Helper()
		return must(s.Checkpoint(ctx, "acme", "users"))(t).Walk
	}
	// Any bytes round-trip, not only JSON text.
	w := state.Walk{After: after, Cap: after.Add(time.Hour), Position: 15, Total: 40, Records: 15, Progress: []byte("{\"per_page\":15,\"x\":\"\x00\xff\"}")}
	commit(w, false)
	if got := walkNow(); got == nil || !sameWalk(*got, w) {
		t.Fatalf("page 1: %+v, want %+v", got, w)
	}
	w.Position, w.Progress = 30, []byte(`{"per_page":15,"next":30}`)
	commit(w, false)
	if got := walkNow(); got == nil || !sameWalk(*got, w) {
		t.Fatalf("page 2: %+v, want %+v", got, w)
	}
	w.Position, w.Progress = 45, nil
	commit(w, false)
	if got := walkNow(); got == nil || got.Progress != nil || got.Position != 45 {
		t.Fatalf("a page without progress: %+v", got)
	}
	w.Progress = []byte(`{"next":45}`)
	commit(w, false)
	commit(w, true)
	commit(state.Walk{After: w.Cap, Cap: w.Cap.Add(time.Hour), Position: 5}, false)
	if got := walkNow(); got == nil || got.Progress != nil {
		t.Fatalf("the next walk after a completion: %+v", got)
	}
	commit(w, false)
	must(s.ResetCheckpoint(ctx, "acme", "users"))(t)
	commit(state.Walk{After: after, Cap: w.Cap, Position: 5}, false) // generation 0 is stale now: skipped
	if got := walkNow(); got != nil {
		t.Fatalf("after reset: %+v", got)
	}
}

func testCommitPageAtomic(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	l := acquire(t, s, "acme", "poll", "w1", time.Minute)
	w := state.Walk{Position: 15, Total: 30}
	res := must(s.CommitPage(ctx, state.PageCommit{
		Lease:   l,
		Walks:   []state.WalkUpdate{{Pipeline: "users", Walk: w}},
		Enqueue: []state.Enqueue{{Queue: q, Entries: entries("users", "1", "2", "3")}},
	}))(t)
	if res.Enqueued != 3 {
		t.Fatalf("enqueued %d", res.Enqueued)
	}
	got := claim(t, s, q, "c1", 10)
	if !slices.Equal(keysOf(got), []string{"1", "2", "3"}) {
		t.Fatalf("claimed %v", keysOf(got))
	}
	want := entries("users", "1")[0]
	e := got[0]
	for _, g := range got {
		if g.Key == "1" {
			e = g
		}
	}
	if e.ID == "" || e.Seq <= 0 || e.Attempts != 0 || e.Pipeline != want.Pipeline || e.Op != want.Op ||
		!e.Version.Equal(want.Version) || e.ConfigGeneration != want.ConfigGeneration || e.ContentHash != want.ContentHash ||
		string(e.Payload) != string(want.Payload) || e.Trace != want.Trace {
		t.Fatalf("entry round trip: %+v", e)
	}
	seqs := map[int64]bool{}
	for _, g := range got {
		seqs[g.Seq] = true
	}
	if len(seqs) != 3 {
		t.Fatalf("seqs not distinct: %v", got)
	}
	if cp := must(s.Checkpoint(ctx, "acme", "users"))(t); cp.Walk == nil || cp.Walk.Position != 15 {
		t.Fatalf("walk %+v", cp.Walk)
	}
	// Records for several destinations land in one step.
	q2 := state.QueueRef{Tenant: "acme", Destination: "search", Lane: "default"}
	must(s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{
		{Queue: q, Entries: entries("users", "4")},
		{Queue: q2, Entries: entries("users", "4", "5")},
	}}))(t)
	if d := must(s.Depth(ctx, q2))(t); d.Stream != 2 {
		t.Fatalf("second destination depth %+v", d)
	}
	// A queue of another tenant is refused outright.
	_, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: state.QueueRef{Tenant: "globex", Destination: "db", Lane: "default"}, Entries: entries("users", "x")}}})
	if !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("cross-tenant enqueue: %v", err)
	}
}

func testCommitPageMembers(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	l := acquire(t, s, "acme", "poll", "w1", time.Minute)
	must(s.ResetCheckpoint(ctx, "acme", "b"))(t) // b's generation is now 1
	w := state.Walk{Position: 15}
	res := must(s.CommitPage(ctx, state.PageCommit{
		Lease: l,
		Walks: []state.WalkUpdate{
			{Pipeline: "a", Generation: 0, Walk: w},
			{Pipeline: "b", Generation: 0, Walk: w},
		},
		Enqueue: []state.Enqueue{{Queue: q, Entries: append(entries("a", "1", "2"), entries("b", "1", "2")...)}},
	}))(t)
	if !slices.Equal(res.Applied, []string{"a"}) || !slices.Equal(res.Skipped, []string{"b"}) || res.Enqueued != 2 {
		t.Fatalf("result %+v", res)
	}
	got := claim(t, s, q, "c", 10)
	for _, e := range got {
		if e.Pipeline != "a" {
			t.Fatalf("skipped member's entry enqueued: %+v", e)
		}
	}
	if cp := must(s.Checkpoint(ctx, "acme", "b"))(t); cp.Walk != nil {
		t.Fatalf("skipped member advanced: %+v", cp)
	}
}

func testQueueClaimAck(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "1", "2", "3", "4", "5"))
	a := claim(t, s, q, "c1", 2)
	b := claim(t, s, q, "c2", 10)
	if len(a) != 2 || len(b) != 2 {
		// c1's second claim would return its own pending first; c2 gets the rest.
		if len(a) != 2 || len(b) != 3 {
			t.Fatalf("claims %d and %d", len(a), len(b))
		}
	}
	if got := claim(t, s, q, "c4", 0); len(got) != 0 {
		t.Fatalf("claim of 0 returned %d", len(got))
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 5 || d.Pending != int64(len(a)+len(b)) {
		t.Fatalf("depth %+v", d)
	}
	// After a restart, c1 reads its own pending entries first.
	again := claim(t, s, q, "c1", 10)
	if !slices.Equal(keysOf(again), keysOf(a)) {
		t.Fatalf("own pending %v, want %v", keysOf(again), keysOf(a))
	}
	if n := must(s.Ack(ctx, q, "c1", idsOf(a)))(t); n != 2 {
		t.Fatalf("acked %d", n)
	}
	if n := must(s.Ack(ctx, q, "c1", idsOf(a)))(t); n != 0 {
		t.Fatalf("second ack acked %d", n)
	}
	must(s.Ack(ctx, q, "c2", idsOf(b)))(t)
	if d := must(s.Depth(ctx, q))(t); d.Stream != 5-int64(len(a)+len(b)) || d.Pending != 0 {
		t.Fatalf("depth after ack %+v", d)
	}
	if len(claim(t, s, q, "c3", 10))+len(a)+len(b) != 5 {
		t.Fatal("entries lost")
	}
}

// ackClaim acks ids and claims up to n in one step, with a maxAttempts no
// test entry reaches by redelivery.
func ackClaim(t *testing.T, s state.Store, q state.QueueRef, consumer string, ids []string, n int) (int, []state.Entry) {
	t.Helper()
	acked, c, err := s.AckClaim(ctx, q, consumer, ids, n, 100)
	check(t, err)
	if c.Dead != 0 {
		t.Fatalf("ack and claim sent %d entries to the DLQ", c.Dead)
	}
	return acked, c.Entries
}

// testQueueAckClaim checks that AckClaim acts as Ack then Claim: it acks
// only what the consumer holds, claims its own pending entries first, then
// new ones and due retries, and a queue it empties leaves the ready index.
func testQueueAckClaim(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "1", "2", "3", "4", "5", "6"))
	first := claim(t, s, q, "c1", 2)
	acked, next := ackClaim(t, s, q, "c1", idsOf(first), 2)
	if acked != 2 || !slices.Equal(keysOf(next), []string{"3", "4"}) {
		t.Fatalf("acked %d, claimed %v; want 2 and [3 4]", acked, keysOf(next))
	}
	// c2 cannot ack c1's entries; its claim takes what nobody holds.
	acked, other := ackClaim(t, s, q, "c2", idsOf(next), 10)
	if acked != 0 || !slices.Equal(keysOf(other), []string{"5", "6"}) {
		t.Fatalf("intruder acked %d, claimed %v; want 0 and [5 6]", acked, keysOf(other))
	}
	// A claim of 0 only acks.
	if acked, got := ackClaim(t, s, q, "c2", idsOf(other[:1]), 0); acked != 1 || len(got) != 0 {
		t.Fatalf("ack with a claim of 0: acked %d, claimed %d", acked, len(got))
	}
	// A restarted c1 gets its own pending entries back first.
	if acked, again := ackClaim(t, s, q, "c1", nil, 10); acked != 0 || !slices.Equal(keysOf(again), keysOf(next)) {
		t.Fatalf("acked %d, own pending %v; want 0 and %v", acked, keysOf(again), keysOf(next))
	}
	// A due retry comes back in the claim of the same step.
	fr := must(s.Fail(ctx, q, "c2", []state.Failure{{ID: other[1].ID, Error: "boom"}}, 5))(t)
	if fr.Retried != 1 {
		t.Fatalf("fail %+v", fr)
	}
	acked, retried := ackClaim(t, s, q, "c1", idsOf(next), 10)
	if acked != 2 || !slices.Equal(keysOf(retried), []string{"6"}) || retried[0].Attempts != 1 {
		t.Fatalf("acked %d, claimed %+v; want 2 and the retried 6", acked, retried)
	}
	if !readyHas(t, s, q.Lane, q.Tenant, q.Destination) {
		t.Fatal("a queue with a held entry left the ready index")
	}
	if acked, got := ackClaim(t, s, q, "c1", idsOf(retried), 10); acked != 1 || len(got) != 0 {
		t.Fatalf("last ack: acked %d, claimed %d", acked, len(got))
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 0 || d.Pending != 0 || d.Retry != 0 {
		t.Fatalf("depth after draining %+v", d)
	}
	if readyHas(t, s, q.Lane, q.Tenant, q.Destination) {
		t.Fatal("an emptied queue is still ready")
	}
	if _, _, err := s.AckClaim(ctx, state.QueueRef{Tenant: "acme", Destination: "", Lane: "default"}, "c1", nil, 1, 1); err == nil {
		t.Fatal("a queue without a destination was accepted")
	}
}

// testQueueConcurrentClaimers drains a queue with several consumers at once:
// every entry is delivered to exactly one of them.
func testQueueConcurrentClaimers(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	const total = 120
	keys := make([]string, total)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	enqueue(t, s, q, entries("users", keys...))
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consumer := "c" + strconv.Itoa(c)
			for {
				c, err := s.Claim(ctx, q, consumer, 7, 5)
				es := c.Entries
				if err != nil {
					t.Error(err)
					return
				}
				if len(es) == 0 {
					return
				}
				mu.Lock()
				for _, e := range es {
					seen[e.Key]++
				}
				mu.Unlock()
				if n, err := s.Ack(ctx, q, consumer, idsOf(es)); err != nil || n != len(es) {
					t.Errorf("%s acked %d of %d: %v", consumer, n, len(es), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("delivered %d distinct entries of %d", len(seen), total)
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("entry %s delivered %d times", k, n)
		}
	}
}

func testQueueOwnership(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "1", "2"))
	got := claim(t, s, q, "owner", 10)
	ids := idsOf(got)
	if n := must(s.Ack(ctx, q, "intruder", ids))(t); n != 0 {
		t.Fatalf("intruder acked %d", n)
	}
	if r := must(s.Fail(ctx, q, "intruder", []state.Failure{{ID: ids[0], Error: "x"}}, 5))(t); r != (state.FailResult{}) {
		t.Fatalf("intruder failed %+v", r)
	}
	if n := must(s.Extend(ctx, q, "intruder", ids))(t); n != 0 {
		t.Fatalf("intruder extended %d", n)
	}
	if d := must(s.Depth(ctx, q))(t); d.Pending != 2 || d.Retry != 0 {
		t.Fatalf("depth %+v", d)
	}
	if n := must(s.Ack(ctx, q, "owner", append(ids, "999-0", "bogus")))(t); n != 2 {
		t.Fatalf("owner acked %d", n)
	}
}

func testQueueBatches(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	// Acking every other entry of a batch leaves exactly the others.
	enqueue(t, s, q, entries("users", "0", "1", "2", "3", "4", "5"))
	got := claim(t, s, q, "c", 10)
	var half []string
	for i, e := range got {
		if i%2 == 0 {
			half = append(half, e.ID)
		}
	}
	if n := must(s.Ack(ctx, q, "c", append(half, half[0])))(t); n != 3 {
		t.Fatalf("acked %d of 3 (one id twice)", n)
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 3 || d.Pending != 3 {
		t.Fatalf("depth after half ack %+v", d)
	}
	rest := claim(t, s, q, "c", 10)
	must(s.Ack(ctx, q, "c", idsOf(rest)))(t)
	// Batches larger than any internal page size.
	const total = 2500
	l := acquire(t, s, "acme", "bulk", "w", time.Minute)
	for p := 0; p < total/500; p++ {
		keys := make([]string, 500)
		for i := range keys {
			keys[i] = strconv.Itoa(p*500 + i)
		}
		must(s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: entries("users", keys...)}}}))(t)
	}
	big := claim(t, s, q, "big", total)
	if len(big) != total {
		t.Fatalf("claimed %d of %d", len(big), total)
	}
	if n := must(s.Ack(ctx, q, "big", idsOf(big)))(t); n != total {
		t.Fatalf("acked %d of %d", n, total)
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 0 || d.Pending != 0 {
		t.Fatalf("depth after big ack %+v", d)
	}
}

func testQueueFailRetryDLQ(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "1"))
	first := claim(t, s, q, "c", 10)[0]
	const maxAttempts = 3
	// A long retry delay keeps the entry out of reach.
	r := must(s.Fail(ctx, q, "c", []state.Failure{{ID: first.ID, Error: "boom 1", RetryAfter: time.Hour}}, maxAttempts))(t)
	if r.Retried != 1 {
		t.Fatalf("fail %+v", r)
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 0 || d.Pending != 0 || d.Retry != 1 {
		t.Fatalf("depth after fail %+v", d)
	}
	if got := claim(t, s, q, "c", 10); len(got) != 0 {
		t.Fatalf("claimed a delayed retry: %v", got)
	}
	// Replace it with a due retry by failing a fresh copy: enqueue, fail
	// with no delay, and watch attempts count failed writes.
	enqueue(t, s, q, entries("users", "2"))
	e := claim(t, s, q, "c", 10)[0]
	for attempt := 1; attempt < maxAttempts; attempt++ {
		r := must(s.Fail(ctx, q, "c", []state.Failure{{ID: e.ID, Error: fmt.Sprintf("boom %d", attempt)}}, maxAttempts))(t)
		if r.Retried != 1 {
			t.Fatalf("attempt %d: %+v", attempt, r)
		}
		got := claim(t, s, q, "c", 10)
		if len(got) != 1 {
			t.Fatalf("attempt %d: claimed %d", attempt, len(got))
		}
		e = got[0]
		if e.Key != "2" || e.Attempts != attempt || e.LastError != fmt.Sprintf("boom %d", attempt) || e.Seq == 0 || string(e.Payload) != `{"id":"2"}` {
			t.Fatalf("retried entry %+v", e)
		}
	}
	seq := e.Seq
	r = must(s.Fail(ctx, q, "c", []state.Failure{{ID: e.ID, Error: "final"}}, maxAttempts))(t)
	if r.Dead != 1 {
		t.Fatalf("last fail %+v", r)
	}
	letters, _ := mustLetters(t)(s.DeadLetterList(ctx, "acme", "", 10))
	if len(letters) != 1 {
		t.Fatalf("dlq %v", letters)
	}
	dl := letters[0]
	if dl.Destination != "db" || dl.Reason != "failed" || dl.Entry.Attempts != maxAttempts || dl.Entry.LastError != "final" || dl.Entry.Seq != seq || dl.At.IsZero() {
		t.Fatalf("letter %+v", dl)
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 0 || d.Pending != 0 || d.Dead != 1 {
		t.Fatalf("depth %+v", d)
	}
}

func mustLetters(t *testing.T) func([]state.DeadLetter, string, error) ([]state.DeadLetter, string) {
	return func(l []state.DeadLetter, next string, err error) ([]state.DeadLetter, string) {
		t.Helper()
		check(t, err)
		return l, next
	}
}

func testQueueReclaim(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "1", "2"))
	held := claim(t, s, q, "dead", 10)
	if r := must(s.Reclaim(ctx, q, "live", time.Hour, 10, 5))(t); len(r.Entries) != 0 {
		t.Fatalf("reclaimed busy entries: %+v", r)
	}
	time.Sleep(60 * time.Millisecond)
	r := must(s.Reclaim(ctx, q, "live", 20*time.Millisecond, 10, 5))(t)
	if !slices.Equal(keysOf(r.Entries), keysOf(held)) || r.Dead != 0 {
		t.Fatalf("reclaim %+v", r)
	}
	for _, e := range r.Entries {
		if e.Attempts != 0 {
			t.Fatalf("reclaim counted an attempt: %+v", e)
		}
	}
	if n := must(s.Ack(ctx, q, "dead", idsOf(held)))(t); n != 0 {
		t.Fatalf("the old holder acked %d after reclaim", n)
	}
	if n := must(s.Ack(ctx, q, "live", idsOf(r.Entries)))(t); n != 2 {
		t.Fatalf("the new holder acked %d", n)
	}
}

func testQueueReclaimTooOften(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "poison"))
	const maxAttempts = 1
	claim(t, s, q, "w0", 1) // delivery 1
	dead := 0
	for i := range maxAttempts + 4 {
		time.Sleep(15 * time.Millisecond)
		r := must(s.Reclaim(ctx, q, fmt.Sprintf("w%d", i+1), 5*time.Millisecond, 10, maxAttempts))(t)
		dead += r.Dead
	}
	if dead != 1 {
		t.Fatalf("dead %d", dead)
	}
	letters, _ := mustLetters(t)(s.DeadLetterList(ctx, "acme", "", 10))
	if len(letters) != 1 || letters[0].Reason != "reclaimed too often" || letters[0].Entry.Key != "poison" || letters[0].Entry.Attempts != 0 {
		t.Fatalf("letters %+v", letters)
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 0 || d.Pending != 0 {
		t.Fatalf("depth %+v", d)
	}
}

// testQueueRestartLoop: a worker that crashes on an entry and restarts under
// the same consumer name re-reads it as its own pending entry; past
// maxAttempts+3 deliveries it goes to the DLQ instead of crashing it again.
func testQueueRestartLoop(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "poison"))
	const maxAttempts = 1
	for delivery := 1; delivery <= maxAttempts+3; delivery++ {
		c := must(s.Claim(ctx, q, "w", 10, maxAttempts))(t)
		if len(c.Entries) != 1 || c.Dead != 0 {
			t.Fatalf("delivery %d: %+v", delivery, c)
		}
	}
	c := must(s.Claim(ctx, q, "w", 10, maxAttempts))(t)
	if len(c.Entries) != 0 || c.Dead != 1 {
		t.Fatalf("delivery %d: %+v", maxAttempts+4, c)
	}
	letters, _ := mustLetters(t)(s.DeadLetterList(ctx, "acme", "", 10))
	if len(letters) != 1 || letters[0].Reason != "reclaimed too often" || letters[0].Entry.Key != "poison" {
		t.Fatalf("letters %+v", letters)
	}
	if readyHas(t, s, "default", "acme", "db") {
		t.Fatal("emptied queue still ready")
	}
}

func testQueueExtendAndConsumers(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "1"))
	got := claim(t, s, q, "slow", 1)
	// Idle for a second, then extended: a visibility timeout of that same
	// second would reclaim the entry without the extension, and with it
	// does not, unless the machine stalls for a whole second between the
	// two calls.
	const idle = time.Second
	time.Sleep(idle)
	if n := must(s.Extend(ctx, q, "slow", idsOf(got)))(t); n != 1 {
		t.Fatalf("extended %d", n)
	}
	if r := must(s.Reclaim(ctx, q, "other", idle, 10, 5))(t); len(r.Entries) != 0 {
		t.Fatalf("reclaimed an extended entry: %+v", r)
	}
	if ok := must(s.RemoveConsumer(ctx, q, "slow"))(t); ok {
		t.Fatal("removed a consumer holding entries")
	}
	must(s.Ack(ctx, q, "slow", idsOf(got)))(t)
	if ok := must(s.RemoveConsumer(ctx, q, "slow"))(t); !ok {
		t.Fatal("idle consumer not removed")
	}
}

func readyHas(t *testing.T, s state.Store, lane, tenant, dest string) bool {
	t.Helper()
	for _, r := range must(s.Ready(ctx, lane, 1000))(t) {
		if r.Tenant == tenant && r.Destination == dest {
			return true
		}
	}
	return false
}

func testReadyIndex(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "bulk"}
	if readyHas(t, s, "bulk", "acme", "db") {
		t.Fatal("empty queue is ready")
	}
	enqueue(t, s, q, entries("users", "1"))
	if !readyHas(t, s, "bulk", "acme", "db") {
		t.Fatal("queue with work is not ready")
	}
	if readyHas(t, s, "default", "acme", "db") {
		t.Fatal("ready in the wrong lane")
	}
	e := claim(t, s, q, "c", 10)
	must(s.Fail(ctx, q, "c", []state.Failure{{ID: e[0].ID, Error: "x", RetryAfter: time.Hour}}, 5))(t)
	if readyHas(t, s, "bulk", "acme", "db") {
		t.Fatal("queue with only a delayed retry is ready now")
	}
	enqueue(t, s, q, entries("users", "2"))
	e = claim(t, s, q, "c", 10)
	must(s.Ack(ctx, q, "c", idsOf(e)))(t)
	if readyHas(t, s, "bulk", "acme", "db") {
		t.Fatal("drained queue still ready")
	}
	// The sweep repairs a queue whose index entry went missing.
	check(t, s.SweepReady(ctx, []state.QueueRef{q}))
	if readyHas(t, s, "bulk", "acme", "db") {
		t.Fatal("sweep made a waiting queue ready")
	}
	enqueue(t, s, q, entries("users", "3"))
	check(t, s.SweepReady(ctx, []state.QueueRef{q}))
	if !readyHas(t, s, "bulk", "acme", "db") {
		t.Fatal("sweep lost a ready queue")
	}
}

// testReadyIndexConcurrent races producers against a consumer draining the
// queue: whenever the queue holds entries at the end, it must be listed.
func testReadyIndexConcurrent(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "race"}
	const rounds = 30
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "producer", Owner: "p", TTL: time.Minute})
		if err != nil || !ok {
			t.Errorf("acquire: %v %v", ok, err)
			return
		}
		for i := range rounds {
			if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: entries("users", strconv.Itoa(i))}}}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range rounds * 3 {
			c, err := s.Claim(ctx, q, "c", 3, 5)
			es := c.Entries
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s.Ack(ctx, q, "c", idsOf(es)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	d := must(s.Depth(ctx, q))(t)
	if d.Stream > 0 && !readyHas(t, s, "race", "acme", "db") {
		t.Fatalf("lost wake-up: %d entries but not ready", d.Stream)
	}
	for {
		es := claim(t, s, q, "c", 100)
		if len(es) == 0 {
			break
		}
		must(s.Ack(ctx, q, "c", idsOf(es)))(t)
	}
	if readyHas(t, s, "race", "acme", "db") {
		t.Fatal("drained queue still ready")
	}
}

func testReadyPark(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "park"}
	enqueue(t, s, q, entries("users", "1"))
	check(t, s.Park(ctx, q, time.Hour))
	if !readyHas(t, s, "park", "acme", "db") {
		t.Fatal("parked a queue with undelivered entries")
	}
	held := claim(t, s, q, "busy", 10)
	if !readyHas(t, s, "park", "acme", "db") {
		t.Fatal("a queue with claimed entries left the index before parking")
	}
	check(t, s.Park(ctx, q, time.Hour))
	if readyHas(t, s, "park", "acme", "db") {
		t.Fatal("parked queue listed")
	}
	enqueue(t, s, q, entries("users", "2"))
	if !readyHas(t, s, "park", "acme", "db") {
		t.Fatal("new entries did not wake a parked queue")
	}
	rest := claim(t, s, q, "other", 10)
	must(s.Ack(ctx, q, "busy", idsOf(held)))(t)
	must(s.Ack(ctx, q, "other", idsOf(rest)))(t)
	check(t, s.Park(ctx, q, time.Hour))
	if readyHas(t, s, "park", "acme", "db") {
		t.Fatal("empty queue listed")
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 0 {
		t.Fatalf("depth %+v", d)
	}
}

// testReadyHold: a held queue leaves Ready though it has undelivered
// entries, which stay unclaimed; of two holds, the first is told the
// queue was listed; new entries list it again; an empty queue is not
// held (listed).
func testReadyHold(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "hold"}
	if !must(s.Hold(ctx, q, time.Hour))(t) {
		t.Fatal("empty queue not told listed")
	}
	if readyHas(t, s, "hold", "acme", "db") {
		t.Fatal("held empty queue listed")
	}
	enqueue(t, s, q, entries("users", "1", "2"))
	if !must(s.Hold(ctx, q, time.Hour))(t) {
		t.Fatal("first hold of a ready queue not told it was listed")
	}
	if must(s.Hold(ctx, q, time.Hour))(t) {
		t.Fatal("second hold told the held queue was listed")
	}
	if readyHas(t, s, "hold", "acme", "db") {
		t.Fatal("held queue listed")
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 2 || d.Pending != 0 {
		t.Fatalf("held queue's depth %+v", d)
	}
	enqueue(t, s, q, entries("users", "3"))
	if !readyHas(t, s, "hold", "acme", "db") {
		t.Fatal("new entries did not list a held queue again")
	}
	must(s.Hold(ctx, q, 0))(t)
	if !readyHas(t, s, "hold", "acme", "db") {
		t.Fatal("a hold for nothing hid the queue")
	}
	got := claim(t, s, q, "w", 10)
	if len(got) != 3 {
		t.Fatalf("claimed %d of 3 after the hold", len(got))
	}
	must(s.Ack(ctx, q, "w", idsOf(got)))(t)
}

// testReadyTakesTurns: Ready hands queues out in turn. Queues with a
// backlog that Ready has listed go behind queues that became ready later,
// so a newcomer is listed after at most one turn of the others, however
// long their backlogs.
func testReadyTakesTurns(t *testing.T, s state.Store) {
	const lane, limit = "turns", 3
	var old []state.QueueRef
	for i := range 2 * limit {
		q := state.QueueRef{Tenant: fmt.Sprintf("big%d", i), Destination: "db", Lane: lane}
		enqueue(t, s, q, entries("users", "1", "2", "3"))
		old = append(old, q)
	}
	time.Sleep(2 * time.Millisecond) // a later ready time on any clock
	small := state.QueueRef{Tenant: "small", Destination: "db", Lane: lane}
	enqueue(t, s, small, entries("users", "1"))
	tenants := func(rs []state.ReadyQueue) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Tenant)
		}
		return out
	}
	// Without moving listed queues to the back, every call would list
	// big0..big2 while their backlogs last.
	first := tenants(must(s.Ready(ctx, lane, limit))(t))
	if !slices.Equal(first, []string{"big0", "big1", "big2"}) {
		t.Fatalf("first turn %v", first)
	}
	second := tenants(must(s.Ready(ctx, lane, limit))(t))
	if !slices.Equal(second, []string{"big3", "big4", "big5"}) {
		t.Fatalf("second turn %v", second)
	}
	third := tenants(must(s.Ready(ctx, lane, limit))(t))
	if len(third) != limit || third[0] != "small" || !slices.Contains(first, third[1]) {
		t.Fatalf("third turn %v: the newcomer first, then the first turn's queues again", third)
	}
	// A parked queue stays parked when listed, and a drained one leaves.
	held := claim(t, s, old[0], "c", 10)
	check(t, s.Park(ctx, old[0], time.Hour))
	for _, e := range claim(t, s, old[1], "c", 10) {
		must(s.Ack(ctx, old[1], "c", []string{e.ID}))(t)
	}
	for range 4 {
		for _, r := range must(s.Ready(ctx, lane, 100))(t) {
			if r.Tenant == "big0" || r.Tenant == "big1" {
				t.Fatalf("listed %s", r.Tenant)
			}
		}
	}
	must(s.Ack(ctx, old[0], "c", idsOf(held)))(t)
}

// testQueueNack: a nacked entry is back for any consumer at once, attempts
// and last error unchanged, and only the holder can nack.
func testQueueNack(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "nack"}
	enqueue(t, s, q, entries("users", "1"))
	e := claim(t, s, q, "c", 10)[0]
	must(s.Fail(ctx, q, "c", []state.Failure{{ID: e.ID, Error: "boom"}}, 5))(t)
	got := claim(t, s, q, "c", 10)
	if len(got) != 1 || got[0].Attempts != 1 {
		t.Fatalf("retried %+v", got)
	}
	enqueue(t, s, q, entries("users", "2"))
	got = append(got, claim(t, s, q, "c", 10)...)
	check(t, s.Park(ctx, q, time.Hour))
	if n := must(s.Nack(ctx, q, "other", idsOf(got)))(t); n != 0 {
		t.Fatalf("a consumer that holds nothing nacked %d", n)
	}
	if n := must(s.Nack(ctx, q, "c", idsOf(got)))(t); n != 2 {
		t.Fatalf("nacked %d", n)
	}
	if !readyHas(t, s, "nack", "acme", "db") {
		t.Fatal("a parked queue with nacked entries is not ready")
	}
	if d := must(s.Depth(ctx, q))(t); d.Stream != 2 || d.Pending != 0 || d.Retry != 0 {
		t.Fatalf("depth after nack %+v", d)
	}
	again := claim(t, s, q, "next", 10)
	if !slices.Equal(keysOf(again), []string{"1", "2"}) {
		t.Fatalf("redelivered %+v", again)
	}
	for _, e := range again {
		want := map[string]int{"1": 1, "2": 0}[e.Key]
		if e.Attempts != want || (e.Key == "1" && e.LastError != "boom") || e.Seq == 0 || e.Trace != "00-trace-"+e.Key {
			t.Fatalf("nacked entry changed: %+v", e)
		}
	}
	if n := must(s.Ack(ctx, q, "c", idsOf(got)))(t); n != 0 {
		t.Fatalf("the old holder acked %d after nack", n)
	}
	if n := must(s.Ack(ctx, q, "next", idsOf(again)))(t); n != 2 {
		t.Fatalf("acked %d", n)
	}
	if ok := must(s.RemoveConsumer(ctx, q, "c"))(t); !ok {
		t.Fatal("consumer holding nothing after nack not removed")
	}
}

// failToDLQ puts the entries with the given keys in the tenant's DLQ.
func failToDLQ(t *testing.T, s state.Store, q state.QueueRef, keys ...string) {
	t.Helper()
	enqueue(t, s, q, entries("users", keys...))
	es := claim(t, s, q, "c", 100)
	var fs []state.Failure
	for _, e := range es {
		fs = append(fs, state.Failure{ID: e.ID, Error: "bad " + e.Key})
	}
	if r := must(s.Fail(ctx, q, "c", fs, 1))(t); r.Dead != len(keys) {
		t.Fatalf("fail to dlq: %+v", r)
	}
}

func testDeadLetters(t *testing.T, s state.Store) {
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	keys := []string{"1", "2", "3", "4", "5"}
	failToDLQ(t, s, q, keys...)
	var all []state.DeadLetter
	after := ""
	for {
		page, next := mustLetters(t)(s.DeadLetterList(ctx, "acme", after, 2))
		all = append(all, page...)
		if next == "" {
			break
		}
		after = next
	}
	var got []string
	for _, l := range all {
		got = append(got, l.Entry.Key)
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("paged dlq %v", got)
	}
	one := must(s.DeadLetter(ctx, "acme", all[0].ID))(t)
	if one.Entry.Key != "1" || one.Entry.LastError != "bad 1" {
		t.Fatalf("show %+v", one)
	}
	if _, err := s.DeadLetter(ctx, "acme", "0-1"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("show missing: %v", err)
	}
	n := must(s.Replay(ctx, "acme", "default", []string{all[0].ID, all[1].ID}))(t)
	if n != 2 {
		t.Fatalf("replayed %d", n)
	}
	back := claim(t, s, q, "c2", 10)
	if !slices.Equal(keysOf(back), []string{"1", "2"}) {
		t.Fatalf("replayed entries %v", keysOf(back))
	}
	for _, e := range back {
		orig := all[0].Entry
		if e.Key == "2" {
			orig = all[1].Entry
		}
		if e.Attempts != 0 || e.Seq != orig.Seq || !e.Version.Equal(orig.Version) || e.ConfigGeneration != orig.ConfigGeneration {
			t.Fatalf("replayed %+v from %+v", e, orig)
		}
	}
	if !readyHas(t, s, "default", "acme", "db") {
		t.Fatal("replay did not mark the queue ready")
	}
	if n := must(s.Purge(ctx, "acme", []string{all[2].ID}))(t); n != 1 {
		t.Fatalf("purged %d", n)
	}
	if n := must(s.PurgeAll(ctx, "acme"))(t); n != 2 {
		t.Fatalf("purged all %d", n)
	}
	if l, _ := mustLetters(t)(s.DeadLetterList(ctx, "acme", "", 10)); len(l) != 0 {
		t.Fatalf("after purge %v", l)
	}
}

// testTenantIsolation: ids and names of one tenant reach nothing of another.
func testTenantIsolation(t *testing.T, s state.Store) {
	qa := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	qb := state.QueueRef{Tenant: "globex", Destination: "db", Lane: "default"}
	failToDLQ(t, s, qa, "a1", "a2")
	enqueue(t, s, qa, entries("users", "a3"))
	enqueue(t, s, qb, entries("users", "b1"))
	check(t, s.PutCredential(ctx, "acme", []byte("sealed-a")))
	letters, _ := mustLetters(t)(s.DeadLetterList(ctx, "acme", "", 10))
	ids := []string{letters[0].ID, letters[1].ID}

	if l, _ := mustLetters(t)(s.DeadLetterList(ctx, "globex", "", 10)); len(l) != 0 {
		t.Fatalf("globex sees %v", l)
	}
	if _, err := s.DeadLetter(ctx, "globex", ids[0]); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("globex show: %v", err)
	}
	if n := must(s.Replay(ctx, "globex", "default", ids))(t); n != 0 {
		t.Fatalf("globex replayed %d", n)
	}
	if n := must(s.Purge(ctx, "globex", ids))(t); n != 0 {
		t.Fatalf("globex purged %d", n)
	}
	must(s.PurgeAll(ctx, "globex"))(t)
	if _, err := s.Credential(ctx, "globex"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("globex credential: %v", err)
	}
	// Queue ids of acme mean nothing in globex's queue.
	ea := claim(t, s, qa, "c", 10)
	eb := claim(t, s, qb, "c", 10)
	if n := must(s.Ack(ctx, qb, "c", idsOf(ea)))(t); n != 0 && !sameIDs(ea, eb) {
		t.Fatalf("ack in globex with acme ids acked %d", n)
	}
	if len(eb) != 1 || eb[0].Key != "b1" {
		t.Fatalf("globex queue %v", keysOf(eb))
	}
	// acme is untouched.
	if l, _ := mustLetters(t)(s.DeadLetterList(ctx, "acme", "", 10)); len(l) != 2 {
		t.Fatalf("acme dlq %v", l)
	}
	if d := must(s.Depth(ctx, qa))(t); d.Pending != 1 {
		t.Fatalf("acme depth %+v", d)
	}
	if b := must(s.Credential(ctx, "acme"))(t); string(b) != "sealed-a" {
		t.Fatal("acme credential changed")
	}
	for _, bad := range []string{"", "a{b", "a}b", "a|b", "a b"} {
		if _, err := s.Checkpoint(ctx, bad, "users"); !errors.Is(err, state.ErrInvalid) {
			t.Errorf("tenant %q: %v", bad, err)
		}
	}
}

// sameIDs is true when two tenants' entries happen to share ids (stream ids
// come from one clock); acking by id in the wrong tenant still touches only
// that tenant's queue, which the depth checks prove.
func sameIDs(a, b []state.Entry) bool {
	for _, x := range a {
		for _, y := range b {
			if x.ID == y.ID {
				return true
			}
		}
	}
	return false
}

func testFlags(t *testing.T, s state.Store) {
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	check(t, s.SetFlag(ctx, "acme", state.Flag{Kind: state.FlagDisabled, Reason: "offboarding", By: "ops@x", At: at}))
	check(t, s.SetFlag(ctx, "acme", state.Flag{Kind: state.FlagForbidden, Scope: "users", Reason: "403"}))
	check(t, s.SetFlag(ctx, "acme", state.Flag{Kind: state.FlagPipelinePaused, Scope: "users_db", Reason: "mapping errors 35%"}))
	check(t, s.SetFlag(ctx, "acme", state.Flag{Kind: state.FlagAuthPaused, Reason: "401"}))
	check(t, s.SetFlag(ctx, "globex", state.Flag{Kind: state.FlagAuthPaused, Reason: "401"}))
	fs := must(s.Flags(ctx, "acme"))(t)
	if len(fs) != 4 {
		t.Fatalf("flags %+v", fs)
	}
	for _, f := range fs {
		if f.At.IsZero() {
			t.Fatalf("flag without time %+v", f)
		}
		if f.Kind == state.FlagDisabled && (f.Reason != "offboarding" || f.By != "ops@x" || !f.At.Equal(at)) {
			t.Fatalf("disabled %+v", f)
		}
	}
	check(t, s.ClearFlag(ctx, "acme", state.FlagAuthPaused, ""))
	check(t, s.ClearFlag(ctx, "acme", state.FlagForbidden, "users"))
	if fs := must(s.Flags(ctx, "acme"))(t); len(fs) != 2 || fs[0].Kind != state.FlagDisabled || fs[1].Kind != state.FlagPipelinePaused {
		t.Fatalf("after clear (ordered by kind) %+v", fs)
	}
	if fs := must(s.Flags(ctx, "globex"))(t); len(fs) != 1 {
		t.Fatalf("globex %+v", fs)
	}
}

func testCredentials(t *testing.T, s state.Store) {
	if _, err := s.Credential(ctx, "acme"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	blob := []byte{0, 1, 2, 255, 'x'}
	check(t, s.PutCredential(ctx, "acme", blob))
	if got := must(s.Credential(ctx, "acme"))(t); string(got) != string(blob) {
		t.Fatalf("got %x", got)
	}
	check(t, s.DeleteCredential(ctx, "acme"))
	if _, err := s.Credential(ctx, "acme"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}

func testConfigActivation(t *testing.T, s state.Store) {
	if _, ok := mustConfig(t)(s.ActiveConfig(ctx)); ok {
		t.Fatal("active config in a fresh store")
	}
	v1 := must(s.ActivateConfig(ctx, state.ConfigVersion{Version: 1, Hash: "h1"}, false))(t)
	if v1.Version != 1 || v1.ActivatedAt.IsZero() {
		t.Fatalf("v1 %+v", v1)
	}
	must(s.ActivateConfig(ctx, state.ConfigVersion{Version: 1, Hash: "h1"}, false))(t) // again: no-op
	must(s.ActivateConfig(ctx, state.ConfigVersion{Version: 3, Hash: "h3"}, false))(t)
	for _, v := range []state.ConfigVersion{{Version: 2, Hash: "h2"}, {Version: 1, Hash: "h1"}, {Version: 3, Hash: "other"}} {
		if _, err := s.ActivateConfig(ctx, v, false); !errors.Is(err, state.ErrSuperseded) {
			t.Fatalf("activate %+v: %v", v, err)
		}
	}
	must(s.ActivateConfig(ctx, state.ConfigVersion{Version: 1, Hash: "h1"}, true))(t)
	// h3 was superseded by the forced rollback: a newer number cannot bring
	// it back without force either.
	if _, err := s.ActivateConfig(ctx, state.ConfigVersion{Version: 3, Hash: "h3"}, false); !errors.Is(err, state.ErrSuperseded) {
		t.Fatalf("re-activate superseded: %v", err)
	}
	must(s.ActivateConfig(ctx, state.ConfigVersion{Version: 4, Hash: "h4"}, false))(t)
	if v, ok := mustConfig(t)(s.ActiveConfig(ctx)); !ok || v.Version != 4 || v.Hash != "h4" {
		t.Fatalf("active %+v", v)
	}
}

func sameConfig(a, b state.ConfigVersion) bool {
	return a.Version == b.Version && a.Hash == b.Hash && a.ActivatedAt.Equal(b.ActivatedAt) && string(a.Summary) == string(b.Summary)
}

// testConfigSummary: the summary is stored with the version that
// activates, returned by ActiveConfig, kept when the same config activates
// again, filled in when the active version has none, and replaced with the
// next version's.
func testConfigSummary(t *testing.T, s state.Store) {
	a := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "a"}, false))(t)
	if a.Summary != nil {
		t.Fatalf("activated without a summary: %+v", a)
	}
	filled := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "a", Summary: []byte(`{"n":1}`)}, false))(t)
	if filled.Version != a.Version || string(filled.Summary) != `{"n":1}` {
		t.Fatalf("summary of the active version filled in: %+v", filled)
	}
	kept := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "a", Summary: []byte(`{"n":2}`)}, false))(t)
	if string(kept.Summary) != `{"n":1}` {
		t.Fatalf("the same config again replaced its summary: %+v", kept)
	}
	b := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "b", Summary: []byte(`{"n":3}`)}, false))(t)
	active, ok := mustConfig(t)(s.ActiveConfig(ctx))
	if !ok || !sameConfig(active, b) || string(active.Summary) != `{"n":3}` {
		t.Fatalf("active %+v, want %+v", active, b)
	}
	// A refused activation reports the active summary and stores nothing.
	cur, err := s.ActivateConfig(ctx, state.ConfigVersion{Hash: "a", Summary: []byte(`{"n":4}`)}, false)
	if !errors.Is(err, state.ErrSuperseded) || string(cur.Summary) != `{"n":3}` {
		t.Fatalf("superseded: %+v %v", cur, err)
	}
	c := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "c"}, false))(t)
	if active, _ := mustConfig(t)(s.ActiveConfig(ctx)); active.Summary != nil || !sameConfig(active, c) {
		t.Fatalf("a version without a summary kept the last one's: %+v", active)
	}
}

// testConfigNumbering: a config activated without a version is numbered
// by the store, strictly above every version handed out before, even
// after a forced rollback to a lower explicit version.
func testConfigNumbering(t *testing.T, s state.Store) {
	a := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "a"}, false))(t)
	if a.Version != 1 || a.Hash != "a" || a.ActivatedAt.IsZero() {
		t.Fatalf("first %+v", a)
	}
	if again := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "a"}, false))(t); !sameConfig(again, a) {
		t.Fatalf("again %+v, want %+v", again, a)
	}
	b := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "b"}, false))(t)
	if b.Version != 2 {
		t.Fatalf("second %+v", b)
	}
	cur, err := s.ActivateConfig(ctx, state.ConfigVersion{Hash: "a"}, false)
	if !errors.Is(err, state.ErrSuperseded) || cur.Hash != "b" || cur.Version != 2 {
		t.Fatalf("superseded a: %+v %v", cur, err)
	}
	if a2 := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "a"}, true))(t); a2.Version != 3 {
		t.Fatalf("forced a %+v", a2)
	}
	must(s.ActivateConfig(ctx, state.ConfigVersion{Version: 10, Hash: "c"}, false))(t)
	must(s.ActivateConfig(ctx, state.ConfigVersion{Version: 5, Hash: "d"}, true))(t)
	if e := must(s.ActivateConfig(ctx, state.ConfigVersion{Hash: "e"}, false))(t); e.Version != 11 {
		t.Fatalf("after rollback %+v", e)
	}
	if v, ok := mustConfig(t)(s.ActiveConfig(ctx)); !ok || v.Version != 11 || v.Hash != "e" {
		t.Fatalf("active %+v", v)
	}
}

func mustConfig(t *testing.T) func(state.ConfigVersion, bool, error) (state.ConfigVersion, bool) {
	return func(v state.ConfigVersion, ok bool, err error) (state.ConfigVersion, bool) {
		t.Helper()
		check(t, err)
		return v, ok
	}
}

func testAudit(t *testing.T, s state.Store) {
	check(t, s.AppendAudit(ctx, state.AuditEntry{Tenant: "acme", Who: "ops", Action: "disable", Detail: "offboarding"}))
	check(t, s.AppendAudit(ctx, state.AuditEntry{Who: "ops", Action: "throttle", Detail: "50%"}))
	check(t, s.AppendAudit(ctx, state.AuditEntry{Tenant: "acme", Who: "ops", Action: "enable"}))
	check(t, s.AppendAudit(ctx, state.AuditEntry{Tenant: "globex", Who: "ops", Action: "dlq purge"}))
	mine := auditAll(t, s, "acme")
	if len(mine) != 2 || mine[0].Action != "disable" || mine[1].Action != "enable" || mine[0].At.IsZero() {
		t.Fatalf("acme audit %+v", mine)
	}
	hub := auditAll(t, s, "")
	if len(hub) != 4 || hub[1].Action != "throttle" || hub[0].Tenant != "acme" {
		t.Fatalf("hub audit %+v", hub)
	}
	// A tenant of a region with its own store: the hub log names it, and
	// this store keeps no log of its own for it.
	check(t, s.AppendAudit(ctx, state.AuditEntry{Tenant: "kiez", Region: "eu", Who: "ops", Action: "tenant disable", Detail: "reason: audit"}))
	if own := auditAll(t, s, "kiez"); len(own) != 0 {
		t.Fatalf("an entry with a region wrote the tenant's own log: %+v", own)
	}
	hub = auditAll(t, s, "")
	if e := hub[len(hub)-1]; len(hub) != 5 || e.Tenant != "kiez" || e.Region != "eu" || e.Action != "tenant disable" || e.Detail != "reason: audit" || e.Who != "ops" {
		t.Fatalf("hub audit after a regional tenant's entry %+v", hub)
	}
	if err := s.AppendAudit(ctx, state.AuditEntry{Region: "eu", Who: "ops", Action: "throttle"}); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("an entry with a region and no tenant: %v, want ErrInvalid", err)
	}
	if n := len(auditAll(t, s, "")); n != 5 {
		t.Fatalf("a refused entry reached the hub log: %d entries", n)
	}
}

func auditAll(t *testing.T, s state.Store, tenant string) []state.AuditEntry {
	var out []state.AuditEntry
	after := ""
	for {
		page, next, err := s.Audit(ctx, tenant, after, 1)
		check(t, err)
		out = append(out, page...)
		if next == "" {
			return out
		}
		after = next
	}
}

func testScanIDs(t *testing.T, s state.Store) {
	l := acquire(t, s, "acme", "reconcile-users", "w", time.Minute)
	pages := map[int64][]string{0: {"10", "11", "15"}, 1: {"16", "20"}, 2: {"p/1", "p/2"}}
	for p := range int64(3) {
		must(s.CommitPage(ctx, state.PageCommit{
			Lease: l,
			Walks: []state.WalkUpdate{{Pipeline: "scan-users", Walk: state.Walk{Position: (p + 1) * 15}}},
			Scan:  &state.ScanPage{Resource: "users", ScanID: "s1", Page: p, IDs: pages[p]},
		}))(t)
	}
	if cp := must(s.Checkpoint(ctx, "acme", "scan-users"))(t); cp.Walk == nil || cp.Walk.Position != 45 {
		t.Fatalf("scan progress %+v", cp)
	}
	got := map[int64][]string{}
	check(t, s.ScanPages(ctx, "acme", "users", "s1", func(page int64, ids []string) error {
		got[page] = ids
		return nil
	}))
	for p, want := range pages {
		g := slices.Clone(got[p])
		slices.Sort(g)
		if !slices.Equal(g, want) {
			t.Fatalf("page %d: %v want %v", p, g, want)
		}
	}
	if len(got) != 3 {
		t.Fatalf("pages %v", got)
	}
	check(t, s.ScanPages(ctx, "globex", "users", "s1", func(int64, []string) error {
		t.Fatal("another tenant's scan visible")
		return nil
	}))
	check(t, s.DeleteScan(ctx, "acme", "users", "s1"))
	check(t, s.ScanPages(ctx, "acme", "users", "s1", func(int64, []string) error {
		t.Fatal("deleted scan visible")
		return nil
	}))
	// A fenced scan page stores nothing.
	check(t, s.Release(ctx, l))
	_, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Scan: &state.ScanPage{Resource: "users", ScanID: "s2", IDs: []string{"1"}}})
	if !errors.Is(err, state.ErrFenced) {
		t.Fatalf("fenced scan page: %v", err)
	}
}
