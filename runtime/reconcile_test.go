package runtime_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// withDeletes lets the churn delete users too (the harness turns deletes
// off because polling alone cannot see them).
func withDeletes(share float64) func(*vomosim.Scenario) {
	return func(sc *vomosim.Scenario) {
		sc.Churn.Create, sc.Churn.Update, sc.Churn.Delete = 1, 2, share
		sc.Churn.EmailChange, sc.Churn.BulkImport, sc.Churn.Project, sc.Churn.Group, sc.Churn.Form = 0, 0, 0, 0, 0
	}
}

// stopChurn quiesces the source and lets settle and overlap pass.
func (h *harness) stopChurn() {
	h.t.Helper()
	ch := h.sim.Scenario().Churn
	ch.Enabled = false
	if err := h.sim.SetChurn(ch); err != nil {
		h.t.Fatal(err)
	}
	h.waitSim(30*time.Second + 2*time.Minute + 10*time.Second)
}

// once runs --once and fails the test on any failure.
func (h *harness) once() runtime.Summary {
	h.t.Helper()
	sum, err := h.runner().RunOnce(context.Background())
	if err != nil || sum.Failed() {
		h.t.Fatalf("run --once: %+v %v", sum, err)
	}
	return sum
}

// reconcile runs a reconcile of one tenant with its queues drained.
func (h *harness) reconcile(opts runtime.ReconcileOptions) []runtime.ReconcileReport {
	h.t.Helper()
	opts.Drain = !opts.DryRun
	reps, err := h.runner().Reconcile(context.Background(), opts)
	if err != nil {
		h.t.Fatalf("reconcile %s: %v", opts.Tenant, err)
	}
	if len(reps) != 1 {
		h.t.Fatalf("reconcile %s: %d reports, want 1: %+v", opts.Tenant, len(reps), reps)
	}
	h.t.Logf("reconcile %s: %+v", opts.Tenant, reps[0])
	return reps
}

func (h *harness) flag(tenant string, kind state.FlagKind, scope string) *state.Flag {
	h.t.Helper()
	fs, err := h.store.Flags(context.Background(), tenant)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range fs {
		if f.Kind == kind && f.Scope == scope {
			return &f
		}
	}
	return nil
}

// With churn that deletes, polling leaves deleted users behind; after a
// reconcile the destination equals the source's truth exactly.
func TestReconcileConvergesWithDeletesBbolt(t *testing.T) {
	testReconcileConverges(t, "")
}

func TestReconcileConvergesWithDeletesRedis(t *testing.T) {
	testReconcileConverges(t, redistest.Start(t).URL())
}

func testReconcileConverges(t *testing.T, store string) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 300, pipeline: volunteers, churnPerMinute: 40, store: store,
		adjust: withDeletes(0.4)})
	for range 3 {
		h.once()
		h.waitSim(90 * time.Second)
	}
	h.stopChurn()
	h.once()
	ctx := context.Background()
	for _, ti := range h.sim.Tenants() {
		truth := h.truth(ti.ID)
		gone := 0
		for key := range h.rows("volunteers")[ti.ID] {
			if _, ok := truth[key]; !ok {
				gone++
			}
		}
		if gone == 0 {
			t.Fatalf("%s: the churn deleted nothing polling kept; the test proves nothing", ti.ID)
		}
		rep := h.reconcile(runtime.ReconcileOptions{Tenant: ti.ID})[0]
		if !rep.Complete || rep.Deleted != int64(gone) || rep.Confirmed != int64(gone) || rep.Missing+rep.Stale != 0 {
			t.Errorf("%s: report %+v; %d rows were deleted at the source", ti.ID, rep, gone)
		}
		var stored runtime.ReconcileReport
		b, err := h.store.Note(ctx, ti.ID, runtime.ReconcileNote("volunteers"))
		if err != nil || json.Unmarshal(b, &stored) != nil || stored.Deleted != rep.Deleted {
			t.Errorf("%s: stored report %s (%v)", ti.ID, b, err)
		}
		cp, err := h.store.Checkpoint(ctx, ti.ID, "~reconcile-users")
		if err != nil || cp.Walk != nil {
			t.Errorf("%s: the reconcile's progress outlived it: %+v %v", ti.ID, cp, err)
		}
		n := 0
		if err := h.store.ScanPages(ctx, ti.ID, "users", "reconcile-users", func(int64, []string) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("%s: %d scan pages left (%v)", ti.ID, n, err)
		}
	}
	h.assertExact()
}

// A user the destination lost (a row deleted by hand, a failed write long
// gone) is missing; one held at an older version is stale: both are queued
// again and written.
func TestReconcileRepairsMissingAndStale(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 120, pipeline: volunteers})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	db := h.destDB()
	if _, err := db.Exec(`DELETE FROM volunteers WHERE tenant = ? AND key IN ('3', '5')`, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE volunteers SET source_updated_at = '2001-01-01T00:00:00.000000Z', email = 'old' WHERE tenant = ? AND key = '7'`, tenant); err != nil {
		t.Fatal(err)
	}
	rep := h.reconcile(runtime.ReconcileOptions{Tenant: tenant})[0]
	if rep.Missing != 2 || rep.Stale != 1 || rep.Deleted != 0 || !rep.Complete {
		t.Errorf("report %+v", rep)
	}
	h.assertExact()
}

func (h *harness) destDB() *sql.DB {
	h.t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(h.dir, "out", "destination.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	return db
}

var _ = errors.New
var _ = strings.Contains
