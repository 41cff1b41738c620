package statetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

func testNotes(t *testing.T, s state.Store) {
	if _, err := s.Note(ctx, "acme", "org"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("missing note: %v", err)
	}
	check(t, s.PutNote(ctx, "acme", "org", []byte(`{"id":"o-1"}`)))
	check(t, s.PutNote(ctx, "acme2", "org", []byte(`{"id":"o-2"}`)))
	if got := must(s.Note(ctx, "acme", "org"))(t); string(got) != `{"id":"o-1"}` {
		t.Fatalf("note %q", got)
	}
	check(t, s.PutNote(ctx, "acme", "org", []byte(`{"id":"o-3"}`)))
	if got := must(s.Note(ctx, "acme", "org"))(t); string(got) != `{"id":"o-3"}` {
		t.Fatalf("replaced note %q", got)
	}
	if got := must(s.Note(ctx, "acme2", "org"))(t); string(got) != `{"id":"o-2"}` {
		t.Fatalf("another tenant's note %q", got)
	}
	if _, err := s.Note(ctx, "globex", "org"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("globex sees a note: %v", err)
	}
	full := bytes.Repeat([]byte{0, 'x', 255}, state.MaxNoteSize/3+1)[:state.MaxNoteSize]
	check(t, s.PutNote(ctx, "acme", "reconcile/users", full))
	if got := must(s.Note(ctx, "acme", "reconcile/users"))(t); !bytes.Equal(got, full) {
		t.Fatalf("64 KiB binary note came back as %d bytes", len(got))
	}
	if err := s.PutNote(ctx, "acme", "big", append(full, 'x')); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("note over 64 KiB: %v", err)
	}
	if _, err := s.Note(ctx, "acme", "big"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("refused note stored: %v", err)
	}
	check(t, s.PutNote(ctx, "acme", "empty", nil))
	if got, err := s.Note(ctx, "acme", "empty"); err != nil || len(got) != 0 {
		t.Fatalf("empty note %q %v", got, err)
	}
	for _, bad := range []string{"", "a b", "a|b", "{x}"} {
		if err := s.PutNote(ctx, "acme", bad, []byte("x")); !errors.Is(err, state.ErrInvalid) {
			t.Fatalf("note name %q: %v", bad, err)
		}
	}
	if err := s.PutNote(ctx, "a b", "org", []byte("x")); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("tenant name: %v", err)
	}
	check(t, s.DeleteNote(ctx, "acme", "org"))
	check(t, s.DeleteNote(ctx, "acme", "org")) // already gone: fine
	if _, err := s.Note(ctx, "acme", "org"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("deleted note: %v", err)
	}
	if got := must(s.Note(ctx, "acme2", "org"))(t); string(got) != `{"id":"o-2"}` {
		t.Fatalf("delete reached another tenant: %q", got)
	}
}

var purgeLimit = state.Limit{Key: "vomo", Interval: time.Hour}

// populate gives a tenant something of every kind the store keeps: a
// cursor and a walk in progress, a held lease and a due time, queue
// entries new, claimed, waiting for a retry and dead, flags, a credential,
// notes, a scan, a spent budget and audit entries.
func populate(t *testing.T, s state.Store, tenant string) {
	t.Helper()
	q := state.QueueRef{Tenant: tenant, Destination: "db", Lane: "default"}
	q2 := state.QueueRef{Tenant: tenant, Destination: "crm", Lane: "premium"}
	must(s.SetCursor(ctx, tenant, "users", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))(t)
	must(s.ScheduleJob(ctx, tenant, "poll-users", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true))(t)
	l := acquire(t, s, tenant, "reconcile-users", "w", time.Hour)
	must(s.CommitPage(ctx, state.PageCommit{
		Lease:   l,
		Walks:   []state.WalkUpdate{{Pipeline: "users", Generation: 1, Walk: state.Walk{Position: 15, Total: 40}}},
		Enqueue: []state.Enqueue{{Queue: q, Entries: entries("users", "1", "2", "3", "4")}, {Queue: q2, Entries: entries("users", "5")}},
		Scan:    &state.ScanPage{Resource: "users", ScanID: "s1", IDs: []string{"1", "2"}},
	}))(t)
	es := claim(t, s, q, "c", 3)
	must(s.Fail(ctx, q, "c", []state.Failure{{ID: es[0].ID, Error: "x", RetryAfter: time.Hour}}, 5))(t)
	must(s.Fail(ctx, q, "c", []state.Failure{{ID: es[1].ID, Error: "x"}}, 1))(t)
	check(t, s.SetFlag(ctx, tenant, state.Flag{Kind: state.FlagDisabled, Reason: "offboarding"}))
	check(t, s.SetFlag(ctx, tenant, state.Flag{Kind: state.FlagMassDelete, Scope: "users_db"}))
	check(t, s.PutCredential(ctx, tenant, []byte("sealed")))
	check(t, s.PutNote(ctx, tenant, "org", []byte("o")))
	check(t, s.PutNote(ctx, tenant, "reconcile/users", []byte("r")))
	granted(t, s, state.TakeRequest{Tenant: tenant, Limits: limits(purgeLimit)})
	check(t, s.AppendAudit(ctx, state.AuditEntry{Tenant: tenant, Who: "ops", Action: "disable"}))
}

// present reports, for each kind of state populate writes, whether the
// tenant still has it.
func present(t *testing.T, s state.Store, tenant string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	cp := must(s.Checkpoint(ctx, tenant, "users"))(t)
	got["checkpoint"] = cp.Generation != 0 || !cp.Cursor.IsZero() || cp.Walk != nil
	for _, q := range []state.QueueRef{{Tenant: tenant, Destination: "db", Lane: "default"}, {Tenant: tenant, Destination: "crm", Lane: "premium"}} {
		d := must(s.Depth(ctx, q))(t)
		got["queue "+q.Destination] = d.Stream != 0 || d.Pending != 0 || d.Retry != 0
		got["dlq"] = got["dlq"] || d.Dead != 0
		for _, rq := range must(s.Ready(ctx, q.Lane, 0))(t) {
			if rq.Tenant == tenant {
				got["ready "+q.Lane] = true
			}
		}
	}
	letters, _ := mustLetters(t)(s.DeadLetterList(ctx, tenant, "", 10))
	got["dlq list"] = len(letters) != 0
	got["flags"] = len(must(s.Flags(ctx, tenant))(t)) != 0
	_, err := s.Credential(ctx, tenant)
	got["credential"] = !errors.Is(err, state.ErrNotFound)
	for _, name := range []string{"org", "reconcile/users"} {
		_, err := s.Note(ctx, tenant, name)
		got["note "+name] = !errors.Is(err, state.ErrNotFound)
	}
	check(t, s.ScanPages(ctx, tenant, "users", "s1", func(int64, []string) error {
		got["scan"] = true
		return nil
	}))
	for _, j := range must(s.DueJobs(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 0))(t) {
		if j.Tenant == tenant {
			got["due "+j.Job] = true
		}
	}
	got["audit"] = len(auditAll(t, s, tenant)) != 0
	// A spent budget refuses; a purged one is full again. (This takes its
	// token, so it is checked last.)
	r := take(t, s, state.TakeRequest{Tenant: tenant, Limits: limits(purgeLimit)})
	got["budget"] = !r.Granted
	// The lease is held: nobody else can take it until it is purged.
	l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "reconcile-users", Owner: "other", TTL: time.Minute})
	check(t, err)
	got["lease"] = !ok
	if ok {
		check(t, s.Release(ctx, l))
	}
	return got
}

var stateKinds = []string{"checkpoint", "queue db", "queue crm", "dlq", "ready default", "ready premium", "dlq list", "flags",
	"credential", "note org", "note reconcile/users", "scan", "due poll-users", "audit", "budget", "lease"}

func testPurgeTenant(t *testing.T, s state.Store) {
	// acme2 and acm share a prefix with acme; neither may lose anything.
	for _, tenant := range []string{"acme", "acme2", "acm"} {
		populate(t, s, tenant)
	}
	hubBefore := len(auditAll(t, s, ""))
	n := must(s.PurgeTenant(ctx, "acme"))(t)
	if n < len(stateKinds) {
		t.Fatalf("purge removed %d keys or records", n)
	}
	gone := present(t, s, "acme")
	for _, k := range stateKinds {
		if gone[k] {
			t.Errorf("acme still has its %s after the purge", k)
		}
	}
	for _, tenant := range []string{"acme2", "acm"} {
		kept := present(t, s, tenant)
		for _, k := range stateKinds {
			if !kept[k] {
				t.Errorf("purging acme took %s's %s", tenant, k)
			}
		}
	}
	if hub := len(auditAll(t, s, "")); hub != hubBefore {
		t.Errorf("hub audit went from %d to %d entries", hubBefore, hub)
	}
	// A second purge finds what present() wrote back (a budget, a released
	// lease's fence counter), and a third finds nothing at all.
	must(s.PurgeTenant(ctx, "acme"))(t)
	if n := must(s.PurgeTenant(ctx, "acme"))(t); n != 0 {
		t.Fatalf("third purge removed %d", n)
	}
	// The tenant can start over.
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	enqueue(t, s, q, entries("users", "9"))
	if es := claim(t, s, q, "c", 10); len(es) != 1 || es[0].Key != "9" {
		t.Fatalf("after purge, queue gave %v", keysOf(es))
	}
	if !readyHas(t, s, "default", "acme2", "db") {
		t.Fatal("acme2's queue left the ready index")
	}
	if _, err := s.PurgeTenant(ctx, "a{b"); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("purge bad name: %v", err)
	}
}

// testCrossTenantIDs: one tenant's operations never read, write, ack or
// purge another's keys, even when given the other's ids and names.
func testCrossTenantIDs(t *testing.T, s state.Store) {
	qa := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	qb := state.QueueRef{Tenant: "globex", Destination: "db", Lane: "default"}
	// acme's entries are held by another consumer, so consumer c holds
	// nothing in acme whatever the ids say.
	enqueue(t, s, qa, entries("users", "a1", "a2"))
	claim(t, s, qa, "other", 10)
	enqueue(t, s, qb, entries("users", "b1", "b2", "b3"))
	eb := claim(t, s, qb, "c", 10)
	idsB := idsOf(eb)
	if n := must(s.Ack(ctx, qa, "c", idsB))(t); n != 0 {
		t.Fatalf("acme acked %d of globex's entries", n)
	}
	if r := must(s.Fail(ctx, qa, "c", []state.Failure{{ID: idsB[0], Error: "x"}}, 1))(t); r != (state.FailResult{}) {
		t.Fatalf("acme failed globex's entry: %+v", r)
	}
	if n := must(s.Nack(ctx, qa, "c", idsB))(t); n != 0 {
		t.Fatalf("acme nacked %d of globex's entries", n)
	}
	if n := must(s.Extend(ctx, qa, "c", idsB))(t); n != 0 {
		t.Fatalf("acme extended %d of globex's entries", n)
	}
	n, c := ackClaim(t, s, qa, "c", idsB, 10)
	if n != 0 || len(c) != 0 {
		t.Fatalf("acme ack-claim with globex's ids: acked %d, claimed %v", n, keysOf(c))
	}
	if !must(s.RemoveConsumer(ctx, qa, "c"))(t) {
		t.Fatal("consumer c holds nothing in acme")
	}
	if d := must(s.Depth(ctx, qb))(t); d.Stream != 3 || d.Pending != 3 || d.Retry != 0 || d.Dead != 0 {
		t.Fatalf("globex depth after acme's calls %+v", d)
	}
	if d := must(s.Depth(ctx, qa))(t); d.Stream != 2 || d.Pending != 2 {
		t.Fatalf("acme depth %+v", d)
	}
	if n := must(s.Ack(ctx, qb, "c", idsB))(t); n != 3 {
		t.Fatalf("globex acked %d of its own", n)
	}

	// DLQ: globex's letters are not acme's to show, replay or purge.
	failToDLQ(t, s, qb, "d1", "d2")
	letters, _ := mustLetters(t)(s.DeadLetterList(ctx, "globex", "", 10))
	lids := []string{letters[0].ID, letters[1].ID}
	if _, err := s.DeadLetter(ctx, "acme", lids[0]); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("acme shows globex's letter: %v", err)
	}
	if n := must(s.Replay(ctx, "acme", "default", lids))(t); n != 0 {
		t.Fatalf("acme replayed %d of globex's letters", n)
	}
	if n := must(s.Purge(ctx, "acme", lids))(t); n != 0 {
		t.Fatalf("acme purged %d of globex's letters", n)
	}
	if n := must(s.PurgeAll(ctx, "acme"))(t); n != 0 {
		t.Fatalf("acme purge-all removed %d", n)
	}
	if l, _ := mustLetters(t)(s.DeadLetterList(ctx, "globex", "", 10)); len(l) != 2 {
		t.Fatalf("globex dlq after acme's calls %v", l)
	}

	// Names: acme's checkpoint, scan, flag, credential and note calls leave
	// globex's of the same name alone.
	cb := must(s.SetCursor(ctx, "globex", "users", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)))(t)
	must(s.SetCursor(ctx, "acme", "users", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)))(t)
	must(s.ResetCheckpoint(ctx, "acme", "users"))(t)
	if got := must(s.Checkpoint(ctx, "globex", "users"))(t); !got.Cursor.Equal(cb.Cursor) || got.Generation != cb.Generation {
		t.Fatalf("globex checkpoint %+v, want %+v", got, cb)
	}
	l := acquire(t, s, "globex", "reconcile", "w", time.Minute)
	must(s.CommitPage(ctx, state.PageCommit{Lease: l, Scan: &state.ScanPage{Resource: "users", ScanID: "s", IDs: []string{"7"}}}))(t)
	check(t, s.DeleteScan(ctx, "acme", "users", "s"))
	pages := 0
	check(t, s.ScanPages(ctx, "globex", "users", "s", func(int64, []string) error { pages++; return nil }))
	if pages != 1 {
		t.Fatalf("globex scan pages %d", pages)
	}
	// A lease of globex cannot commit into acme's queue.
	if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: qa, Entries: entries("users", "x")}}}); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("commit into another tenant's queue: %v", err)
	}
	if _, err := s.Renew(ctx, state.Lease{Tenant: "acme", Job: "reconcile", Owner: "w", Token: l.Token}, time.Minute); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("globex's token renewed acme's job: %v", err)
	}
	check(t, s.SetFlag(ctx, "globex", state.Flag{Kind: state.FlagDisabled}))
	check(t, s.ClearFlag(ctx, "acme", state.FlagDisabled, ""))
	check(t, s.PutCredential(ctx, "globex", []byte("g")))
	check(t, s.DeleteCredential(ctx, "acme"))
	check(t, s.PutNote(ctx, "globex", "org", []byte("g")))
	check(t, s.DeleteNote(ctx, "acme", "org"))
	if fs := must(s.Flags(ctx, "globex"))(t); len(fs) != 1 {
		t.Fatalf("globex flags %+v", fs)
	}
	if b := must(s.Credential(ctx, "globex"))(t); string(b) != "g" {
		t.Fatal("globex credential changed")
	}
	if b := must(s.Note(ctx, "globex", "org"))(t); string(b) != "g" {
		t.Fatal("globex note changed")
	}
	// Parking acme's queue of the same name leaves globex's listed.
	enqueue(t, s, qb, entries("users", "b4"))
	check(t, s.Park(ctx, qa, time.Hour))
	if !readyHas(t, s, "default", "globex", "db") {
		t.Fatal("parking acme hid globex's queue")
	}
	if got := must(s.Ready(ctx, "default", 0))(t); !slices.ContainsFunc(got, func(r state.ReadyQueue) bool { return r.Tenant == "globex" }) {
		t.Fatalf("ready %+v", got)
	}
}
