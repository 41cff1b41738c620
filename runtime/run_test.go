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
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.runner().Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second) // a bound against hanging, not a timing assertion
	h.waitFor(deadline, "first walks and empty queues", func() bool {
		return h.cursorsAfter(time.Time{}) && h.queuesEmpty()
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.assertExact()
}
