package runtime_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// runInBackground runs r until the test ends.
func runInBackground(t *testing.T, r *runtime.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// rowsOnceThere is h.rows of the volunteers object, empty until the
// destination has created it.
func rowsOnceThere(h *harness) map[string]map[string]row {
	db, err := sql.Open("sqlite", filepath.Join(h.dir, "out", "destination.db")+"?mode=ro")
	if err != nil {
		return nil
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'volunteers'`).Scan(&n); err != nil || n == 0 {
		return nil
	}
	return h.rows("volunteers")
}

func disable(t *testing.T, st state.Store, tenant string) {
	t.Helper()
	if err := st.SetFlag(context.Background(), tenant, state.Flag{Kind: state.FlagDisabled, Reason: "test", By: "ops", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// A running hub stops writing a tenant an operator disabled: records
// queued for it afterwards stay queued while another tenant's are
// written, and are written once it is enabled again.
func TestDisableStopsProcessingOfARunningHub(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 10, pipeline: volunteers})
	off, on := h.sim.Tenants()[0].ID, h.sim.Tenants()[1].ID
	for _, id := range []string{off, on} {
		// Backfills due now, not at the tenants' backfill_at.
		if _, err := h.store.ScheduleJob(context.Background(), id, runtime.BackfillJob, h.clk.Now(), true); err != nil {
			t.Fatal(err)
		}
	}
	runInBackground(t, h.runner())
	deadline := time.Now().Add(30 * time.Second)
	h.waitFor(deadline, "the first sync", func() bool {
		rows := rowsOnceThere(h)
		return len(rows[off]) > 0 && len(rows[on]) > 0 && h.queuesEmpty()
	})
	before := len(rowsOnceThere(h)[off])
	disable(t, h.store, off)
	// Long enough for the runner's view of every tenant's flags to be
	// stale, so its next visit to a queue reads them again (a wait for a
	// cache to expire, not a timed assertion).
	time.Sleep(6 * time.Second)
	enqueueFor(t, h, off, "900001", "900002", "900003")
	enqueueFor(t, h, on, "800001")
	h.waitFor(deadline.Add(10*time.Second), "the enabled tenant's record", func() bool { _, ok := rowsOnceThere(h)[on]["800001"]; return ok })
	// One more round of the workers over the ready queues.
	enqueueFor(t, h, on, "800002")
	h.waitFor(deadline.Add(10*time.Second), "the enabled tenant's second record", func() bool { _, ok := rowsOnceThere(h)[on]["800002"]; return ok })
	if n := len(rowsOnceThere(h)[off]); n != before {
		t.Fatalf("rows of the disabled tenant: %d, want %d", n, before)
	}
	d, err := h.store.Depth(context.Background(), h.queue(off))
	if err != nil || d.Stream != 3 {
		t.Fatalf("queue of the disabled tenant: %+v %v, want its 3 entries kept", d, err)
	}
	if err := h.store.ClearFlag(context.Background(), off, state.FlagDisabled, ""); err != nil {
		t.Fatal(err)
	}
	h.waitFor(deadline.Add(20*time.Second), "the records queued while disabled", func() bool {
		return len(rowsOnceThere(h)[off]) == before+3
	})
}

// A job that is running when its tenant is disabled stops at its next
// page instead of reading on: a backfill of hours does not go on for
// hours after the customer asked to stop. Enabled again, it resumes.
func TestDisableStopsARunningJob(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 600, pipeline: volunteers,
		adjust: func(sc *vomosim.Scenario) {
			sc.Faults.Enabled = true
			sc.Faults.Latency = vomosim.Duration(80 * time.Millisecond)
		}})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	if _, err := h.store.ScheduleJob(ctx, tenant, runtime.BackfillJob, h.clk.Now(), true); err != nil {
		t.Fatal(err)
	}
	// 10 records a page: 60 pages at 80ms, about 5 s of reading.
	runInBackground(t, h.runnerAdjusted(func(c *runtime.Config) {
		c.Source = func(c *vomo.Config) { c.PerPage = 10 }
	}))
	deadline := time.Now().Add(30 * time.Second)
	h.waitFor(deadline, "the walk to start", func() bool { return len(rowsOnceThere(h)[tenant]) > 0 })
	disable(t, h.store, tenant)
	disabledAt := time.Now()
	// The job gives its lease back when it stops; taking it proves it has.
	job := h.plan.Tenants[0].Jobs[0].ID
	var lease state.Lease
	h.waitFor(deadline, "the job to stop", func() bool {
		l, ok, err := h.store.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: job, Owner: "test", TTL: time.Minute})
		lease = l
		return err == nil && ok
	})
	t.Logf("the running job stopped %s after the disable", time.Since(disabledAt).Round(10*time.Millisecond))
	cp, err := h.store.Checkpoint(ctx, tenant, "volunteers")
	if err != nil {
		t.Fatal(err)
	}
	if !cp.Cursor.IsZero() || cp.Walk == nil {
		t.Fatalf("checkpoint after the disable: %+v, want the walk stopped part way", cp)
	}
	if err := h.store.Release(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if err := h.store.ClearFlag(ctx, tenant, state.FlagDisabled, ""); err != nil {
		t.Fatal(err)
	}
	truth := 0
	for _, u := range h.truth(tenant) {
		if u.Status != "REMOVED" {
			truth++
		}
	}
	h.waitFor(deadline.Add(30*time.Second), "the resumed backfill", func() bool {
		cp, err := h.store.Checkpoint(ctx, tenant, "volunteers")
		return err == nil && !cp.Cursor.IsZero() && len(rowsOnceThere(h)[tenant]) == truth
	})
}
