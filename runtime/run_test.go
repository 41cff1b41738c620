package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Run keeps polling due jobs and processing queues until cancelled: the
// first jobs come due within one cadence (their stagger), and the rows
// arrive without any --once pass.
func TestRunPollsDueJobsContinuously(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 40, pipeline: volunteers})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.runner().Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second) // a bound against hanging, not a timing assertion
	synced := func() bool {
		cps := 0
		for _, ti := range h.sim.Tenants() {
			cp, err := h.store.Checkpoint(context.Background(), ti.ID, "volunteers")
			if err == nil && !cp.Cursor.IsZero() {
				cps++
			}
		}
		return cps == len(h.sim.Tenants())
	}
	for !synced() {
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting for both tenants' first walks")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The walks completed; wait for the queues to drain, then stop.
	for {
		left := int64(0)
		for _, ti := range h.sim.Tenants() {
			d, err := h.store.Depth(context.Background(), h.queue(ti.ID))
			if err != nil {
				t.Fatal(err)
			}
			left += d.Stream + d.Retry
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting for the queues to drain")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.assertExact()
}
