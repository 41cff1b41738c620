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
// commit and a batch claim + ack each take at most two.
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
	count("commit page", 2, func() {
		if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: "users", Walk: state.Walk{Position: 30}}}, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}); err != nil {
			t.Fatal(err)
		}
	})
	count("claim + ack with a backlog", 2, func() {
		got, err := s.Claim(ctx, q, "c", 10)
		if err != nil {
			t.Fatal(err)
		}
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
