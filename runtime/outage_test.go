package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
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

// --once rides out a store that comes back within StoreOutage, and gives
// up with a clear error when it does not.
func TestOnceStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	h := newHarness(t, harnessOpts{tenants: 2, users: 30, pipeline: volunteers, store: srv.URL()})
	ctx := context.Background()
	runner := func(outage time.Duration) *runtime.Runner {
		r, err := runtime.New(runtime.Config{Plan: h.plan, Store: h.store, Clock: h.clk, Logger: quietLog(),
			StoreOutage: outage, Credentials: runtime.SealedCredentials{Store: h.store, KMS: h.kms}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close(ctx) })
		return r
	}

	srv.Stop()
	if _, err := runner(300 * time.Millisecond).RunOnce(ctx); err == nil || !strings.Contains(err.Error(), "giving up") {
		t.Fatalf("run against a dead store: %v", err)
	}

	done := make(chan error, 1)
	var sum runtime.Summary
	go func() {
		var err error
		sum, err = runner(time.Minute).RunOnce(ctx)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	srv.Restart()
	if err := <-done; err != nil || sum.Failed() {
		t.Fatalf("run across the outage: %+v %v", sum, err)
	}
	h.assertExact()
}
