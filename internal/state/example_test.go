package state_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	_ "github.com/siphonhq/siphon/internal/state/local" // registers file: and bare paths
)

// A poll job commits each page with its walk progress, and a process worker
// claims, writes and acks.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "state-example")
	defer os.RemoveAll(dir)
	s, err := state.Open(ctx, filepath.Join(dir, "siphon.db"), state.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	// Scheduler: take the job's lease for its due slot.
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	lease, ok, err := s.Acquire(ctx, state.AcquireRequest{
		Tenant: "acme", Job: "poll-users", Owner: "host-1/worker-3", TTL: 30 * time.Second,
		Now: now, NextDue: now.Add(10 * time.Minute),
	})
	if err != nil || !ok {
		panic(fmt.Sprint("not ours this time: ", err))
	}

	// Poll: read the checkpoint, walk the window, commit each page.
	cp, _ := s.Checkpoint(ctx, "acme", "users_db")
	window := state.Walk{After: cp.Cursor.Add(-time.Minute), Cap: now.Add(-30 * time.Second)}
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	page := []state.Entry{
		{Pipeline: "users_db", Key: "17", Op: "upsert", Version: now.Add(-time.Hour), Payload: []byte(`{"id":17}`)},
		{Pipeline: "users_db", Key: "18", Op: "upsert", Version: now.Add(-time.Hour), Payload: []byte(`{"id":18}`)},
	}
	window.Position, window.Total = 2, 2
	res, err := s.CommitPage(ctx, state.PageCommit{
		Lease:   lease,
		Walks:   []state.WalkUpdate{{Pipeline: "users_db", Generation: cp.Generation, Walk: window, Complete: true}},
		Enqueue: []state.Enqueue{{Queue: q, Entries: page}},
	})
	if err != nil { // errors.Is(err, state.ErrFenced): the lease moved on, stop walking
		panic(err)
	}
	fmt.Println("applied", res.Applied, "enqueued", res.Enqueued)
	_ = s.Release(ctx, lease)

	// Process: pick a ready queue, claim a batch, write, ack or fail.
	ready, _ := s.Ready(ctx, "default", 10)
	for _, r := range ready {
		q := state.QueueRef{Tenant: r.Tenant, Destination: r.Destination, Lane: "default"}
		batch, _ := s.Claim(ctx, q, "host-1/worker-3", 500, 5)
		var ok []string
		var failed []state.Failure
		for _, e := range batch.Entries {
			if e.Key == "18" { // the destination refused this one
				failed = append(failed, state.Failure{ID: e.ID, Error: "constraint violation", RetryAfter: time.Minute})
				continue
			}
			ok = append(ok, e.ID)
		}
		acked, _ := s.Ack(ctx, q, "host-1/worker-3", ok)
		fr, _ := s.Fail(ctx, q, "host-1/worker-3", failed, 5)
		fmt.Println(r.Tenant, r.Destination, "acked", acked, "retrying", fr.Retried)
	}
	cp, _ = s.Checkpoint(ctx, "acme", "users_db")
	fmt.Println("cursor at cap:", cp.Cursor.Equal(window.Cap))
	// Output:
	// applied [users_db] enqueued 2
	// acme db acked 1 retrying 1
	// cursor at cap: true
}
