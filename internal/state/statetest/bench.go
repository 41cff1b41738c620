package statetest

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// Bench runs the store benchmarks. open returns a fresh store and the round
// trip counter it was opened with. Each reports round trips per operation
// (counted by the backend's hook, not estimated) and records/s.
func Bench(b *testing.B, open func(b *testing.B) (state.Store, *state.Trips)) {
	for _, n := range []int{15, 100} {
		b.Run(fmt.Sprintf("CommitPage/%d", n), func(b *testing.B) { benchCommitPage(b, open, n) })
	}
	b.Run("ClaimAck/500", func(b *testing.B) { benchClaimAck(b, open, 500) })
	b.Run("CommitPageParallel/15", func(b *testing.B) { benchCommitPageParallel(b, open, 15) })
}

// benchCommitPageParallel commits pages from many pollers at once, each
// its own tenant, as one hub process does.
func benchCommitPageParallel(b *testing.B, open func(b *testing.B) (state.Store, *state.Trips), n int) {
	s, _ := open(b)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tenant := "bench" + strconv.FormatInt(next.Add(1), 10)
		l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "poll", Owner: "bench", TTL: time.Hour})
		if err != nil || !ok {
			b.Errorf("acquire: %v %v", ok, err)
			return
		}
		q := state.QueueRef{Tenant: tenant, Destination: "db", Lane: "default"}
		es := benchEntries(0, n)
		for i := 1; pb.Next(); i++ {
			if _, err := s.CommitPage(ctx, state.PageCommit{
				Lease:   l,
				Walks:   []state.WalkUpdate{{Pipeline: "users", Walk: state.Walk{Position: int64(i * n)}}},
				Enqueue: []state.Enqueue{{Queue: q, Entries: es}},
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// payload is a VOMO-sized user record.
var payload = []byte(`{"id":123456,"email":"volunteer@example.org","first_name":"Ada","last_name":"Lovelace",` +
	`"status":"ACTIVE","phone":"+44 20 7946 0000","created_at":"2025-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z",` +
	`"tags":["weekend","driver"],"address":{"city":"London","postcode":"N1 9GU"},"notes":"` + strings.Repeat("x", 120) + `"}`)

func benchEntries(page, n int) []state.Entry {
	es := make([]state.Entry, n)
	for i := range es {
		es[i] = state.Entry{
			Pipeline: "users", Key: strconv.Itoa(page*n + i), Op: "upsert", Version: time.Now(),
			ConfigGeneration: 1, ContentHash: "0123456789abcdef", Payload: payload, Trace: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		}
	}
	return es
}

func benchCommitPage(b *testing.B, open func(b *testing.B) (state.Store, *state.Trips), n int) {
	s, trips := open(b)
	l := acquireB(b, s, "bench", "poll", time.Hour)
	q := state.QueueRef{Tenant: "bench", Destination: "db", Lane: "default"}
	es := benchEntries(0, n)
	b.ReportAllocs()
	b.ResetTimer()
	start := trips.Load()
	for i := 0; i < b.N; i++ {
		if _, err := s.CommitPage(ctx, state.PageCommit{
			Lease:   l,
			Walks:   []state.WalkUpdate{{Pipeline: "users", Walk: state.Walk{Position: int64((i + 1) * n)}}},
			Enqueue: []state.Enqueue{{Queue: q, Entries: es}},
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(trips.Load()-start)/float64(b.N), "trips/op")
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// benchClaimAck claims and acks batches from a queue that keeps a backlog
// (the steady state under load); refilling is not timed or counted.
func benchClaimAck(b *testing.B, open func(b *testing.B) (state.Store, *state.Trips), batch int) {
	s, trips := open(b)
	l := acquireB(b, s, "bench", "poll", time.Hour)
	q := state.QueueRef{Tenant: "bench", Destination: "db", Lane: "default"}
	fill := func(page int) {
		for p := 0; p < batch/100; p++ {
			if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: benchEntries(page*batch+p, 100)}}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill(0)
	b.ReportAllocs()
	b.ResetTimer()
	var counted int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fill(i + 1)
		before := trips.Load()
		b.StartTimer()
		c, err := s.Claim(ctx, q, "worker", batch, 5)
		if err != nil {
			b.Fatal(err)
		}
		es := c.Entries
		ids := make([]string, len(es))
		for j, e := range es {
			ids[j] = e.ID
		}
		n, err := s.Ack(ctx, q, "worker", ids)
		if err != nil || n != batch {
			b.Fatalf("acked %d of %d: %v", n, batch, err)
		}
		b.StopTimer()
		counted += trips.Load() - before
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(counted)/float64(b.N), "trips/op")
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "records/s")
}

func acquireB(b *testing.B, s state.Store, tenant, job string, ttl time.Duration) state.Lease {
	l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: job, Owner: "bench", TTL: ttl})
	if err != nil || !ok {
		b.Fatalf("acquire: %v %v", ok, err)
	}
	return l
}
