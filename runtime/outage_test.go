package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state/redistest"
)

// Run rides out a store outage (Redis killed and restarted from its AOF)
// and ends exact once the source has settled.
func TestRunRidesOutAStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	h := newHarness(t, harnessOpts{tenants: 3, users: 100, pipeline: volunteers, churnPerMinute: 30, store: srv.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.runner().Run(ctx) }()
	deadline := time.Now().Add(90 * time.Second) // a bound against hanging, not a timing assertion
	h.waitFor(deadline, "first walks", func() bool { return h.cursorsAfter(time.Time{}) })

	srv.Stop()
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	select {
	case err := <-done:
		t.Fatalf("run ended during the outage: %v", err)
	default:
	}

	ch := h.sim.Scenario().Churn
	ch.Enabled = false
	if err := h.sim.SetChurn(ch); err != nil {
		t.Fatal(err)
	}
	quiet := h.sim.APINow()
	h.waitFor(deadline, "walks past the end of churn and empty queues", func() bool {
		return h.cursorsAfter(quiet) && h.queuesEmpty()
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.assertExact()
}
