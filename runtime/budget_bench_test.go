package runtime_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
)

// BenchmarkBudgetRate is the request rate the runtime achieves against
// the configured one (goal: within 2%), on Redis and the real clock: one
// tenant polling under its rate_limit, and twenty tenants under a
// global_rate_limit far below their own. Each runs about eleven seconds.
func BenchmarkBudgetRate(b *testing.B) {
	cases := []struct {
		name         string
		tenants      int
		rate, global string
		configured   float64 // requests/s the binding budget allows
		perTenant    bool
	}{
		{name: "tenant_5_per_s", tenants: 1, rate: "5/1s", configured: 5},
		{name: "tenant_10_per_s", tenants: 1, rate: "10/1s", configured: 10},
		{name: "hub_50_per_s", tenants: 20, rate: "1000/1s", global: "50/1s", configured: 50},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var achieved float64
			for range b.N {
				h := newBudgetHarness(b, budgetOpts{tenants: c.tenants, users: 5000, rate: c.rate, global: c.global,
					store: redistest.Start(b).URL()})
				log := &requestLog{}
				r := h.budgetRunner(log, 10, nil)
				ctx, cancel := context.WithCancel(context.Background())
				wait := runAll(ctx, b, r)
				// The first second warms up (clients, connections); the rate is
				// taken over the next ten.
				time.Sleep(time.Second)
				from := time.Now()
				time.Sleep(10 * time.Second)
				to := time.Now()
				cancel()
				wait()
				var starts []time.Time
				for _, rq := range log.of("", from, to.Add(time.Second)) {
					if !rq.start.Before(from) && rq.start.Before(to) {
						starts = append(starts, rq.start)
					}
				}
				if len(starts) < 2 {
					b.Fatalf("%d requests", len(starts))
				}
				achieved = float64(len(starts)) / to.Sub(from).Seconds()
			}
			b.ReportMetric(c.configured, "configured_req/s")
			b.ReportMetric(achieved, "achieved_req/s")
			b.ReportMetric(100*(achieved-c.configured)/c.configured, "error_%")
		})
	}
}

// BenchmarkBudgetFairness is a small tenant's sync latency (from its
// poll's first request to its last record in the destination) alone, and
// beside a big tenant whose queue already holds a large backlog when the
// small tenant's poll starts, with the same workers and poll slots (goal:
// with ≤ 2 × alone).
func BenchmarkBudgetFairness(b *testing.B) {
	const small, big, backlog = 1000, 30000, 10000
	var alone, with time.Duration
	var queued int64
	for range b.N {
		alone, _ = smallTenantLatency(b, 0, small, 0)
		with, queued = smallTenantLatency(b, big, small, backlog)
	}
	b.ReportMetric(float64(queued), "neighbour_backlog")
	b.ReportMetric(alone.Seconds(), "alone_s")
	b.ReportMetric(with.Seconds(), "with_neighbour_s")
	b.ReportMetric(with.Seconds()/alone.Seconds(), "ratio")
}

// smallTenantLatency runs a hub of one small tenant and, when big > 0, a
// big one polled first until its queue holds backlog entries (or its walk
// is done, whatever the workers drained meanwhile); then the small
// tenant's job falls due. It returns how long from the small tenant's
// first request until every one of its records is in the destination, and
// the big tenant's queue depth when the small tenant's job fell due.
func smallTenantLatency(b *testing.B, big, small int, backlog int64) (time.Duration, int64) {
	h := newBudgetHarness(b, budgetOpts{tenants: 1, users: small, rate: "100000/1m", big: big,
		store: redistest.Start(b).URL()})
	tenant := h.sim.Tenants()[0].ID
	ctx := context.Background()
	schedule := func(tenantID string, due time.Time) {
		for _, t := range h.plan.Tenants {
			if t.ID != tenantID {
				continue
			}
			for _, j := range t.Jobs {
				if _, err := h.store.ScheduleJob(ctx, t.ID, j.ID, due, true); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for _, t := range h.plan.Tenants {
		schedule(t.ID, time.Now().Add(time.Hour)) // nothing runs before it is asked to
	}
	log := &requestLog{}
	r := h.budgetRunner(log, 100, func(c *runtime.Config) { c.Workers = 4 })
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	var queued int64
	if big > 0 {
		bigID := h.sim.Tenants()[1].ID
		schedule(bigID, time.Now().Add(-time.Second))
		h.waitFor(time.Now().Add(10*time.Minute), "the big tenant's backlog", func() bool {
			d, err := h.store.Depth(ctx, h.queue(bigID))
			cp, cerr := h.store.Checkpoint(ctx, bigID, "users0")
			queued = d.Stream
			return err == nil && cerr == nil && (d.Stream >= backlog || cp.Cursor.Year() > 2000)
		})
	}
	schedule(tenant, time.Now().Add(-time.Second))
	db, err := sql.Open("sqlite", filepath.Join(h.dir, "out", "destination.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	want := len(h.truth(tenant))
	var finished time.Time
	h.waitFor(time.Now().Add(10*time.Minute), "the small tenant's records", func() bool {
		var n int
		if db.QueryRow("SELECT count(*) FROM users0 WHERE tenant = ?", tenant).Scan(&n) != nil || n < want {
			return false
		}
		finished = time.Now()
		return true
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		b.Fatalf("run: %v", err)
	}
	reqs := log.of(tenant, time.Time{}, finished)
	if len(reqs) == 0 {
		b.Fatal("the small tenant made no request")
	}
	return finished.Sub(reqs[0].start), queued
}
