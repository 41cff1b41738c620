package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/state/statetest"
)

var prefixes atomic.Int64

// opener opens a fresh key prefix on a shared server per subtest.
func opener(url string) func(t *testing.T) state.Store {
	return func(t *testing.T) state.Store {
		s, err := state.Open(context.Background(), url, state.Options{Prefix: "t" + strconv.FormatInt(prefixes.Add(1), 10)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	statetest.Run(t, opener(srv.URL()))
}

func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster run skipped in -short")
	}
	c := redistest.StartCluster(t)
	statetest.Run(t, opener(c.URL()))
}

func TestRefusesUndurableServer(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "no", "--maxmemory-policy", "allkeys-lru")
	_, err := state.Open(context.Background(), srv.URL(), state.Options{})
	if !errors.Is(err, state.ErrUnsafeStore) || !strings.Contains(err.Error(), "appendonly") || !strings.Contains(err.Error(), "noeviction") {
		t.Fatalf("open undurable: %v", err)
	}
	s, err := state.Open(context.Background(), srv.URL(), state.Options{Unsafe: true})
	if err != nil {
		t.Fatalf("open with Unsafe: %v", err)
	}
	s.Close()
}

func TestRefusesNewerFormat(t *testing.T) {
	srv := redistest.Start(t)
	s, err := Open(context.Background(), srv.URL(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.HSet(context.Background(), s.k.meta(), "format", state.FormatVersion+1).Err(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), srv.URL(), state.Options{}); !errors.Is(err, state.ErrFormatTooNew) {
		t.Fatalf("open newer store: %v", err)
	}
}

func BenchmarkStore(b *testing.B) {
	srv := redistest.Start(b)
	statetest.Bench(b, func(b *testing.B) (state.Store, *state.Trips) {
		trips := &state.Trips{}
		s, err := state.Open(context.Background(), srv.URL(), state.Options{Trips: trips, Prefix: "b" + strconv.FormatInt(prefixes.Add(1), 10)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, trips
	})
}

// TestRoundTrips pins the counted round trips of the hot paths: a page
// commit takes one (the script and its ready marks in one pipeline), a
// batch claim + ack at most two.
func TestRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	trips := &state.Trips{}
	s, err := state.Open(ctx, srv.URL(), state.Options{Trips: trips})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: "w", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	es := make([]state.Entry, 30)
	for i := range es {
		es[i] = state.Entry{Pipeline: "users", Key: strconv.Itoa(i), Payload: []byte("{}")}
	}
	count := func(what string, max int64, fn func()) {
		t.Helper()
		before := trips.Load()
		fn()
		if n := trips.Load() - before; n > max {
			t.Errorf("%s: %d round trips, want ≤ %d", what, n, max)
		}
	}
	count("commit page", 1, func() {
		if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: "users", Walk: state.Walk{Position: 30}}}, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}); err != nil {
			t.Fatal(err)
		}
	})
	count("claim + ack with a backlog", 2, func() {
		c, err := s.Claim(ctx, q, "c", 10, 5)
		if err != nil {
			t.Fatal(err)
		}
		got := c.Entries
		ids := make([]string, len(got))
		for i, e := range got {
			ids[i] = e.ID
		}
		if _, err := s.Ack(ctx, q, "c", ids); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSurvivesRestart kills Redis (appendfsync always) mid-run: the client
// reconnects and every acknowledged step is still there.
func TestSurvivesRestart(t *testing.T) {
	srv := redistest.Start(t, "--appendfsync", "always")
	ctx := context.Background()
	s, err := state.Open(ctx, srv.URL(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: "w", TTL: time.Hour})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	commit := func(pos int64) {
		t.Helper()
		es := []state.Entry{{Pipeline: "users", Key: strconv.FormatInt(pos, 10), Payload: []byte("{}")}}
		if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: "users", Walk: state.Walk{Position: pos}}}, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}); err != nil {
			t.Fatal(err)
		}
	}
	commit(1)
	srv.Restart()
	// The first command after the restart may meet the dead connection;
	// go-redis retries it on a new one (safe: the scripts are idempotent).
	commit(2)
	cp, err := s.Checkpoint(ctx, "acme", "users")
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Depth(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Walk == nil || cp.Walk.Position != 2 || d.Stream != 2 {
		t.Fatalf("after restart: walk %+v, %d entries", cp.Walk, d.Stream)
	}
}

// TestSweepsRepairLostIndexUpdates drops index entries behind the store's
// back (as a crash between the tenant step and the index step would) and
// checks that the sweeps put them back.
func TestSweepsRepairLostIndexUpdates(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s, err := Open(ctx, srv.URL(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if _, err := s.ScheduleJob(ctx, "acme", "poll", t0, false); err != nil {
		t.Fatal(err)
	}
	m := state.Member("acme", "poll")
	s.rdb.ZRem(ctx, s.k.dueShardOf(m), m)
	if jobs, _ := s.DueJobs(ctx, t0, 10); len(jobs) != 0 {
		t.Fatalf("index still has %v", jobs)
	}
	if n, err := s.RepairDue(ctx, []state.JobRef{{Tenant: "acme", Job: "poll"}}); err != nil || n != 1 {
		t.Fatalf("repair: %d %v", n, err)
	}
	if jobs, _ := s.DueJobs(ctx, t0, 10); len(jobs) != 1 || !jobs[0].Due.Equal(t0) {
		t.Fatalf("after repair %v", jobs)
	}

	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	l, _, _ := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "other", Owner: "w", TTL: time.Minute})
	if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: []state.Entry{{Pipeline: "users", Key: "1"}}}}}); err != nil {
		t.Fatal(err)
	}
	rm := state.Member("acme", "db")
	s.rdb.ZRem(ctx, s.k.readyShardOf("default", rm), rm)
	if r, _ := s.Ready(ctx, "default", 10); len(r) != 0 {
		t.Fatalf("ready still has %v", r)
	}
	if err := s.SweepReady(ctx, []state.QueueRef{q}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Ready(ctx, "default", 10); len(r) != 1 {
		t.Fatalf("after sweep %v", r)
	}
}

// TestCommitPageMarks checks the ready marks sent with a page commit: they
// list the queue, they survive a server that lost its scripts, and the
// mark sent with a fenced commit leaves nothing behind once a worker looked.
func TestCommitPageMarks(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	st, err := Open(ctx, srv.URL(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, ok, err := st.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: "w", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	page := func(l state.Lease, key string) (state.CommitResult, error) {
		return st.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: []state.Entry{{Pipeline: "users", Key: key}}}}})
	}

	// A server that lost its scripts: the commit sends their bodies.
	if err := st.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := page(l, "1"); err != nil || res.Enqueued != 1 {
		t.Fatalf("commit after SCRIPT FLUSH: %+v %v", res, err)
	}
	if r, err := st.Ready(ctx, "default", 10); err != nil || len(r) != 1 || r[0].Destination != "db" {
		t.Fatalf("ready after the commit: %v %v", r, err)
	}
	if d, _ := st.Depth(ctx, q); d.Stream != 1 {
		t.Fatalf("stream holds %d entries, want 1", d.Stream)
	}

	// Drain the queue so that it leaves the index.
	c, err := st.Claim(ctx, q, "c", 10, 5)
	if err != nil || len(c.Entries) != 1 {
		t.Fatalf("claim: %+v %v", c, err)
	}
	if _, err := st.Ack(ctx, q, "c", []string{c.Entries[0].ID}); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Ready(ctx, "default", 10); len(r) != 0 {
		t.Fatalf("a drained queue is still ready: %v", r)
	}

	// A stale lease is refused; its mark lists the empty queue, and the
	// worker's empty claim and park drop it again.
	stale := l
	stale.Token.Counter--
	if _, err := page(stale, "2"); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("stale commit: %v, want fenced", err)
	}
	if d, _ := st.Depth(ctx, q); d.Stream != 0 {
		t.Fatalf("a fenced commit enqueued %d entries", d.Stream)
	}
	if c, err := st.Claim(ctx, q, "c", 10, 5); err != nil || len(c.Entries) != 0 {
		t.Fatalf("claim of the empty queue: %+v %v", c, err)
	}
	if err := st.Park(ctx, q, time.Second); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Ready(ctx, "default", 10); len(r) != 0 {
		t.Fatalf("the fenced commit's mark stayed: %v", r)
	}
}
