package runtime_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/schedule"
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

// 30% of the users vanish at once (a token of another organization would
// look the same): the safeguard trips, nothing is deleted, the alert is
// raised; --allow-mass-delete then proceeds and clears it.
func TestReconcileMassDeleteSafeguardBbolt(t *testing.T) {
	testReconcileMassDelete(t, "")
}

func TestReconcileMassDeleteSafeguardRedis(t *testing.T) {
	testReconcileMassDelete(t, redistest.Start(t).URL())
}

func testReconcileMassDelete(t *testing.T, store string) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 200, pipeline: volunteers, store: store})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	held := len(h.rows("volunteers")[tenant])
	n, err := h.sim.Vanish(tenant, "users", 0.3)
	if err != nil || n != 60 {
		t.Fatalf("vanish: %d %v", n, err)
	}
	h.sim.ResetCounters()
	rep := h.reconcile(runtime.ReconcileOptions{Tenant: tenant})[0]
	if !rep.MassDelete || rep.Deleted != 0 || rep.Confirmed != 0 || rep.Candidates == 0 || !strings.Contains(rep.MassDeleteReason, "max_delete") {
		t.Errorf("report %+v", rep)
	}
	// Nothing was spent confirming deletions that were not going to be made.
	if gets := h.sim.Counters()[tenant]["GET /v1/users/{id}"]; gets != 0 {
		t.Errorf("%d confirming requests before refusing", gets)
	}
	if got := len(h.rows("volunteers")[tenant]); got != held {
		t.Errorf("%d rows after a refused mass delete, %d before", got, held)
	}
	f := h.flag(tenant, state.FlagMassDelete, "volunteers")
	if f == nil || !strings.Contains(f.Reason, "--allow-mass-delete") {
		t.Fatalf("mass-delete alert: %+v", f)
	}
	rep = h.reconcile(runtime.ReconcileOptions{Tenant: tenant, AllowMassDelete: true})[0]
	if rep.MassDelete || rep.Deleted != rep.Candidates || rep.Deleted == 0 {
		t.Errorf("allowed: report %+v", rep)
	}
	if f := h.flag(tenant, state.FlagMassDelete, "volunteers"); f != nil {
		t.Errorf("alert still raised: %+v", f)
	}
	h.assertExact()
}

// Tightening the filter deletes, at the next reconcile, the records it now
// drops (counted apart, with no 404 check), and nothing else.
func TestReconcileFilterTighteningDeletes(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 150, pipeline: volunteers})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	h.reload(strings.Replace(volunteers, `record.membership_status != "REMOVED"`,
		`record.membership_status != "REMOVED" && record.membership_status != "PENDING"`, 1))
	pending := 0
	for _, u := range h.truth(tenant) {
		if u.Status == "PENDING" {
			pending++
		}
	}
	h.sim.ResetCounters()
	rep := h.reconcile(runtime.ReconcileOptions{Tenant: tenant})[0]
	if pending == 0 || rep.FilteredDeletes != int64(pending) || rep.Deleted != 0 || rep.Candidates != 0 {
		t.Errorf("%d pending users; report %+v", pending, rep)
	}
	if gets := h.sim.Counters()[tenant]["GET /v1/users/{id}"]; gets != 0 {
		t.Errorf("%d GETs for filtered deletes", gets)
	}
	for key := range h.rows("volunteers")[tenant] {
		if h.truth(tenant)[key].Status == "PENDING" {
			t.Errorf("%s: filtered user still held", key)
		}
	}
}

// A daily reconcile leaves rows held at the source's version alone; the
// weekly (deep) one compares content hashes and repairs a changed mapping
// and a corrupted row.
func TestReconcileDeepRepairsMappingAndCorruption(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 80, pipeline: volunteers})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	db := h.destDB()
	if _, err := db.Exec(`UPDATE volunteers SET email = 'garbage', content_hash = 'corrupt' WHERE tenant = ? AND key = '9'`, tenant); err != nil {
		t.Fatal(err)
	}
	rep := h.reconcile(runtime.ReconcileOptions{Tenant: tenant})[0]
	if rep.Changed != 0 || rep.Missing+rep.Stale != 0 {
		t.Errorf("daily: report %+v", rep)
	}
	if got := h.rows("volunteers", "email")[tenant]["9"].fields["email"]; got != "garbage" {
		t.Fatalf("the daily reconcile touched the row: %q", got)
	}
	rep = h.reconcile(runtime.ReconcileOptions{Tenant: tenant, Deep: true})[0]
	if rep.Changed != 1 || !rep.Deep {
		t.Errorf("deep: report %+v", rep)
	}
	h.assertExact()

	h.reload(strings.Replace(volunteers, "status = record.membership_status", "status = lower(record.membership_status)", 1))
	rep = h.reconcile(runtime.ReconcileOptions{Tenant: tenant, Deep: true})[0]
	if rep.Changed != rep.Held || rep.Held == 0 {
		t.Errorf("deep after a mapping change: report %+v", rep)
	}
	for key, r := range h.rows("volunteers", "status")[tenant] {
		if s := r.fields["status"]; s != strings.ToLower(s) {
			t.Errorf("%s: status %q not re-mapped", key, s)
		}
	}
}

// A dry run reports what it would do and writes nothing.
func TestReconcileDryRunWritesNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 200, pipeline: volunteers})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	if _, err := h.destDB().Exec(`DELETE FROM volunteers WHERE tenant = ? AND key IN ('3', '5')`, tenant); err != nil {
		t.Fatal(err)
	}
	n, err := h.sim.Vanish(tenant, "users", 0.05)
	if err != nil {
		t.Fatal(err)
	}
	before := h.rows("volunteers")[tenant]
	rep := h.reconcile(runtime.ReconcileOptions{Tenant: tenant, DryRun: true})[0]
	if !rep.DryRun || rep.Missing < 1 || rep.Confirmed < int64(n)-2 || rep.Deleted != rep.Confirmed {
		t.Errorf("%d vanished; report %+v", n, rep)
	}
	ctx := context.Background()
	if d, err := h.store.Depth(ctx, h.queue(tenant)); err != nil || d.Stream+d.Retry != 0 {
		t.Errorf("queue %+v %v", d, err)
	}
	if got := h.rows("volunteers")[tenant]; len(got) != len(before) {
		t.Errorf("%d rows after a dry run, %d before", len(got), len(before))
	}
	if _, err := h.store.Note(ctx, tenant, runtime.ReconcileNote("volunteers")); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("a dry run kept a report: %v", err)
	}
	if cp, err := h.store.Checkpoint(ctx, tenant, "~reconcile-users"); err != nil || cp.Walk != nil || !cp.LastComplete.IsZero() {
		t.Errorf("a dry run recorded progress: %+v %v", cp, err)
	}
	if fs, err := h.store.Flags(ctx, tenant); err != nil || len(fs) != 0 {
		t.Errorf("flags after a dry run: %+v %v", fs, err)
	}
}

// A reconcile during a source outage, or whose 429s never clear, is
// incomplete: it says so and deletes nothing.
func TestReconcileSourceFailureDeletesNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(h *harness)
	}{
		{"outage", func(h *harness) { h.sim.Outage(24 * time.Hour) }},
		{"429 storm", func(h *harness) {
			f := h.sim.Scenario().Faults
			f.Enabled, f.RateLimit, f.RateWindow = true, 1, vomosim.Duration(time.Hour)
			if err := h.sim.SetFaults(f); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{tenants: 1, users: 300, pipeline: volunteers})
			h.once()
			tenant := h.sim.Tenants()[0].ID
			if _, err := h.sim.Vanish(tenant, "users", 0.05); err != nil {
				t.Fatal(err)
			}
			before := len(h.rows("volunteers")[tenant])
			tc.breakIt(h)
			rep := h.reconcile(runtime.ReconcileOptions{Tenant: tenant})[0]
			if rep.Complete || rep.Incomplete == "" || rep.Deleted != 0 || rep.Candidates != 0 {
				t.Errorf("report %+v", rep)
			}
			if got := len(h.rows("volunteers")[tenant]); got != before {
				t.Errorf("%d rows, %d before", got, before)
			}
		})
	}
}

// A reconcile cut short mid-scan resumes where it stopped: the same scan
// goes on (same cap, pages not read again) and completes.
func TestReconcileResumesAfterInterrupt(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 600, pipeline: volunteers})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	n, err := h.sim.Vanish(tenant, "users", 0.02)
	if err != nil || n == 0 {
		t.Fatal(n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = h.runner().Reconcile(ctx, runtime.ReconcileOptions{Tenant: tenant, Progress: func(p runtime.ReconcileProgress) {
		if p.Pages == 10 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted reconcile: %v", err)
	}
	cp, err := h.store.Checkpoint(context.Background(), tenant, "~reconcile-users")
	if err != nil || cp.Walk == nil || cp.Walk.Position == 0 || cp.Walk.Total == 0 {
		t.Fatalf("progress after the interruption: %+v %v", cp.Walk, err)
	}
	h.sim.ResetCounters()
	rep := h.reconcile(runtime.ReconcileOptions{Tenant: tenant})[0]
	if !rep.Resumed || !rep.Complete || rep.Deleted != int64(n) || rep.Scanned < cp.Walk.Total {
		t.Errorf("%d vanished; resumed report %+v", n, rep)
	}
	// The resumed scan reads the pages after the stored position (and the
	// one it stands on), not the whole list again.
	perPage := h.sim.Scenario().PerPage
	left := (cp.Walk.Total-cp.Walk.Position)/int64(perPage) + 2
	if pages := h.sim.Counters()[tenant]["GET /v1/users"]; pages > left {
		t.Errorf("the resumed scan asked for %d pages; %d were left after position %d of %d", pages, left, cp.Walk.Position, cp.Walk.Total)
	}
	h.assertExact()
}

// Edits during the scan never cause a delete (the scan is capped by
// created_before, not by updated_*); users deleted before it are found, and
// so are users deleted while it runs: those the scan had not reached yet by
// this reconcile (absent from its id set, and GET answers 404), those it
// had already read by the next one. A user the scan read alive is in its id
// set, so no candidate this run (§11: only keys absent from the complete
// scan are); that is the rule, not a miss.
func TestReconcileEditsDuringScanNeverDelete(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 400, pipeline: volunteers, churnPerMinute: 30, adjust: func(sc *vomosim.Scenario) {
		withDeletes(0.3)(sc)
		sc.PerPage = 15
	}})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	h.waitSim(5 * time.Minute)
	t0 := h.truth(tenant)
	r0 := h.rows("volunteers")[tenant]
	// during holds the users held at the destination that the source
	// deleted between the scan's 5th and 6th pages.
	during := map[string]bool{}
	var duringAt int64
	progress := func(p runtime.ReconcileProgress) {
		if p.Phase != "scan" || p.Pages != 5 || duringAt != 0 {
			return
		}
		before := h.truth(tenant)
		if n, err := h.sim.Vanish(tenant, "users", 0.04); err != nil || n == 0 {
			t.Errorf("vanish mid-scan: %d %v", n, err)
		}
		after := h.truth(tenant)
		for key := range before {
			if _, ok := after[key]; !ok {
				if _, held := r0[key]; held {
					during[key] = true
				}
			}
		}
		duringAt = p.Records
	}
	r := h.runnerAdjusted(func(c *runtime.Config) { c.Source = nil }) // 15 a page: the scan spans minutes of churn
	reps, err := r.Reconcile(context.Background(), runtime.ReconcileOptions{Tenant: tenant, Drain: true, Progress: progress})
	if err != nil || len(reps) != 1 {
		t.Fatal(reps, err)
	}
	t.Logf("report %+v", reps[0])
	t1 := h.truth(tenant)
	r1 := h.rows("volunteers")[tenant]
	edited, removed, goneBefore := 0, 0, 0
	for key, u := range t1 {
		if u0, ok := t0[key]; ok && u0.UpdatedAt != u.UpdatedAt {
			edited++
		}
	}
	for key := range r0 {
		_, now := r1[key]
		u, atSource := t1[key]
		if !now {
			removed++
			if atSource && u.Status != "REMOVED" {
				t.Errorf("%s: deleted at the destination, still at the source", key)
			}
		}
		if _, ok := t0[key]; !ok {
			goneBefore++
			if now {
				t.Errorf("%s: deleted at the source before the scan, still held", key)
			}
		}
	}
	if edited == 0 || goneBefore == 0 || !reps[0].Complete || len(during) == 0 {
		t.Fatalf("the test proves nothing: %d edited during the scan, %d deleted before it, %d deleted during it, complete %v",
			edited, goneBefore, len(during), reps[0].Complete)
	}
	foundNow := 0
	for key := range during {
		if _, held := r1[key]; !held {
			foundNow++
		}
	}
	// Vanish spreads over the whole id range and struck after 5 of ~27
	// pages: most of its users lay ahead of the scan.
	if foundNow == 0 {
		t.Errorf("none of the %d users deleted during the scan (after %d records) was deleted by it", len(during), duringAt)
	}
	t.Logf("%d edited during the scan, %d removed, %d deleted before it, %d deleted during it after %d records (%d found by this scan)",
		edited, removed, goneBefore, len(during), duringAt, foundNow)

	// The next reconcile finds the rest: the users the first scan had read
	// before the source deleted them.
	reps, err = r.Reconcile(context.Background(), runtime.ReconcileOptions{Tenant: tenant, Drain: true})
	if err != nil || len(reps) != 1 || !reps[0].Complete {
		t.Fatal(reps, err)
	}
	t.Logf("second report %+v", reps[0])
	t2 := h.truth(tenant)
	r2 := h.rows("volunteers")[tenant]
	for key := range during {
		if _, held := r2[key]; held {
			t.Errorf("%s: deleted at the source during the first scan, still held after the second", key)
		}
	}
	for key := range r0 {
		if _, now := r2[key]; now {
			continue
		}
		if u, ok := t2[key]; ok && u.Status != "REMOVED" {
			t.Errorf("%s: deleted at the destination, still at the source", key)
		}
	}
}

// Where the source has no GET by id (forms, and child lists), a candidate
// is deleted only when two complete scans agree it is gone. Children are
// scanned per parent.
func TestReconcileTwoScansConfirm(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 30, pipeline: volunteers, extra: formsHCL,
		tenantPipelines: "[pipeline.volunteers, pipeline.forms, pipeline.answers]"})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	db := h.destDB()
	// A form and an answer the source deleted (rows it never had, held at
	// an old version).
	for _, table := range []string{"forms", "form_answers"} {
		for _, q := range []string{
			`CREATE TEMP TABLE x AS SELECT * FROM ` + table + ` LIMIT 1`,
			`UPDATE x SET key = '999999', source_updated_at = '2020-01-01T00:00:00.000000Z'`,
			`INSERT INTO ` + table + ` SELECT * FROM x`,
			`DROP TABLE x`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	run := func() map[string]runtime.ReconcileReport {
		reps, err := h.runner().Reconcile(context.Background(), runtime.ReconcileOptions{Tenant: tenant,
			Pipelines: []string{"forms", "answers"}, Drain: true})
		if err != nil || len(reps) != 2 {
			t.Fatalf("reconcile: %+v %v", reps, err)
		}
		out := map[string]runtime.ReconcileReport{}
		for _, r := range reps {
			out[r.Pipeline] = r
		}
		return out
	}
	h.sim.ResetCounters()
	for p, rep := range run() {
		if !rep.Complete || rep.Candidates != 1 || rep.Confirmed != 0 || rep.Unconfirmed != 1 || rep.Deleted != 0 {
			t.Errorf("first scan, %s: %+v", p, rep)
		}
	}
	if len(h.rows("forms")[tenant]) == 0 || len(h.rows("form_answers")[tenant]) == 0 {
		t.Fatal("rows gone")
	}
	for p, rep := range run() {
		if !rep.Complete || rep.Confirmed != 1 || rep.Deleted != 1 {
			t.Errorf("second scan, %s: %+v", p, rep)
		}
	}
	for _, table := range []string{"forms", "form_answers"} {
		if _, ok := h.rows(table)[tenant]["999999"]; ok {
			t.Errorf("%s: the row two scans did not see is still held", table)
		}
	}
	for endpoint := range h.sim.Counters()[tenant] {
		if strings.Contains(endpoint, "{") && !strings.Contains(endpoint, "completions") {
			t.Errorf("a GET by id on a resource without one: %s", endpoint)
		}
	}
}

// Reconciles fall on the tenant's local wall time across DST changes; the
// weekly replaces the daily on its day; the start is staggered in the hour.
func TestReconcileDueAcrossDST(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 1, pipeline: volunteers + `
  reconcile {
    daily  = "02:30"
    weekly = "sun 04:00"
  }`})
	tenants := `tenant "chi" {
  timezone  = "America/Chicago"
  pipelines = [pipeline.volunteers]
}
tenant "ber" {
  timezone  = "Europe/Berlin"
  pipelines = [pipeline.volunteers]
}
`
	for name, src := range map[string]string{"tenants.hcl": tenants} {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := dsl.Load(h.dir, dsl.Options{Mode: dsl.ModeRun, Now: h.clk.Now()})
	if res.Plan == nil {
		t.Fatalf("plan: %v", res.Diagnostics)
	}
	h.plan = res.Plan
	r := h.runner()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		tenant, after, want string
		deep                bool // the run due at or before after
	}{
		// Chicago springs forward on Sun 8 Mar 2026 (02:00 → 03:00): the
		// weekly 04:00 CDT is 09:00 UTC; Monday's 02:30 CDT is 07:30 UTC.
		{"chi", "2026-03-07T09:00:00Z", "2026-03-08T09:00:00Z", false},
		{"chi", "2026-03-08T10:00:00Z", "2026-03-09T07:30:00Z", true},
		// Sat 7 Mar, still CST: 02:30 CST is 08:30 UTC.
		{"chi", "2026-03-06T09:00:00Z", "2026-03-07T08:30:00Z", false},
		// Falls back on Sun 1 Nov 2026: Saturday's 02:30 CDT is 07:30 UTC,
		// Monday's 02:30 CST 08:30 UTC.
		{"chi", "2026-10-31T00:00:00Z", "2026-10-31T07:30:00Z", false},
		{"chi", "2026-11-01T12:00:00Z", "2026-11-02T08:30:00Z", true},
		// Berlin springs forward on Sun 29 Mar 2026 (02:00 → 03:00): the
		// daily on Saturday is 02:30 CET = 01:30 UTC; Sunday's weekly 04:00
		// CEST = 02:00 UTC; Monday 02:30 CEST = 00:30 UTC.
		{"ber", "2026-03-27T12:00:00Z", "2026-03-28T01:30:00Z", false},
		{"ber", "2026-03-28T12:00:00Z", "2026-03-29T02:00:00Z", false},
		{"ber", "2026-03-29T12:00:00Z", "2026-03-30T00:30:00Z", true},
		// and falls back on Sun 25 Oct 2026: Monday 02:30 CET = 01:30 UTC.
		{"ber", "2026-10-25T12:00:00Z", "2026-10-26T01:30:00Z", true},
	} {
		stagger := schedule.Stagger(tc.tenant, "reconcile-users", time.Hour)
		// The slot's instant plus the stagger: "after" is moved by the
		// stagger too, so the case reads in wall-clock terms.
		due, deep, ok := r.ReconcileDue(tc.tenant, "reconcile-users", utc(tc.after).Add(stagger))
		if !ok {
			t.Fatalf("%s: no reconcile job", tc.tenant)
		}
		if want := utc(tc.want).Add(stagger); !due.Equal(want) || deep != tc.deep {
			t.Errorf("%s after %s: due %s deep %v, want %s deep %v", tc.tenant, tc.after, due.UTC(), deep, want, tc.deep)
		}
		if stagger < 0 || stagger >= time.Hour {
			t.Errorf("stagger %v", stagger)
		}
	}
}

// run --once reconciles only what FlagReconcileRequested asks for, and
// clears the flag; `siphon run` runs a requested reconcile at the next
// chance (its scheduled path) and clears the flag too.
func TestReconcileRequestedByFlag(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 50, pipeline: volunteers})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	h.once()
	if _, err := h.store.Note(ctx, tenant, runtime.ReconcileNote("volunteers")); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("run --once reconciled unasked: %v", err)
	}
	request := func() {
		if err := h.store.SetFlag(ctx, tenant, state.Flag{Kind: state.FlagReconcileRequested, Scope: "volunteers", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	request()
	if _, err := h.sim.Vanish(tenant, "users", 0.1); err != nil {
		t.Fatal(err)
	}
	h.once()
	if h.flag(tenant, state.FlagReconcileRequested, "volunteers") != nil {
		t.Error("the request outlived the reconcile")
	}
	h.assertExact()
	// The requested run took the place of the job's due slot: the next is
	// the daily one, not now again.
	r := h.runner()
	due, _, _ := r.ReconcileDue(tenant, "reconcile-users", h.clk.Now())
	if l, ok, err := h.store.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "reconcile-users", Owner: "probe", TTL: time.Second,
		Now: h.clk.Now(), NextDue: due}); err != nil || ok || !l.Due.Equal(due) {
		t.Fatalf("the reconcile job's due time after a requested run: %v (granted %v, want %v) %v", l.Due, ok, due, err)
	}

	if err := h.store.DeleteNote(ctx, tenant, runtime.ReconcileNote("volunteers")); err != nil {
		t.Fatal(err)
	}
	request()
	if _, err := h.sim.Vanish(tenant, "users", 0.1); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.runner().Run(rctx) }()
	h.waitFor(time.Now().Add(20*time.Second), "the requested reconcile", func() bool {
		_, err := h.store.Note(ctx, tenant, runtime.ReconcileNote("volunteers"))
		return err == nil && h.flag(tenant, state.FlagReconcileRequested, "volunteers") == nil && h.queuesEmpty()
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.assertExact()
}

// A pipeline that never synced is not reconciled (its backfill comes
// first): nothing is read or queued for it.
func TestReconcileWaitsForTheFirstSync(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 50, pipeline: volunteers})
	tenant := h.sim.Tenants()[0].ID
	reps, err := h.runner().Reconcile(context.Background(), runtime.ReconcileOptions{Tenant: tenant, Drain: true})
	if err != nil || len(reps) != 0 {
		t.Fatalf("reconcile before the first sync: %+v %v", reps, err)
	}
	if n := h.sim.Counters()[tenant]["GET /v1/users"]; n != 0 {
		t.Errorf("%d list requests", n)
	}
	if d, err := h.store.Depth(context.Background(), h.queue(tenant)); err != nil || d.Stream != 0 {
		t.Errorf("queued %+v %v", d, err)
	}
}

// A parent that vanishes mid-scan (its child list answers 404) is skipped,
// and no deletion is inferred for the children this run, though a child
// row the source never had is held.
func TestReconcileParentGoneInfersNoChildDeletes(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 30, pipeline: volunteers, extra: formsHCL,
		tenantPipelines: "[pipeline.volunteers, pipeline.forms, pipeline.answers]"})
	h.once()
	tenant := h.sim.Tenants()[0].ID
	db := h.destDB()
	for _, q := range []string{
		`CREATE TEMP TABLE x AS SELECT * FROM form_answers LIMIT 1`,
		`UPDATE x SET key = '999999', source_updated_at = '2020-01-01T00:00:00.000000Z'`,
		`INSERT INTO form_answers SELECT * FROM x`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	held := len(h.rows("form_answers")[tenant])
	vanished := false
	reps, err := h.runner().Reconcile(context.Background(), runtime.ReconcileOptions{Tenant: tenant, Pipelines: []string{"answers"},
		Drain: true, Progress: func(p runtime.ReconcileProgress) {
			if p.Pages >= 1 && !vanished {
				vanished = true
				if _, err := h.sim.Vanish(tenant, "forms", 1); err != nil {
					t.Error(err)
				}
			}
		}})
	if err != nil || len(reps) != 1 {
		t.Fatalf("reconcile: %+v %v", reps, err)
	}
	rep := reps[0]
	t.Logf("report %+v", rep)
	if rep.ParentsGone == 0 || rep.Candidates != 0 || rep.Deleted != 0 || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "vanished") {
		t.Errorf("report %+v", rep)
	}
	if got := len(h.rows("form_answers")[tenant]); got != held {
		t.Errorf("%d answer rows, %d before", got, held)
	}
}

// A record missing at the destination whose same version sits in the DLQ
// is not queued again: it would only fail again.
func TestReconcileSkipsDeadLetteredVersion(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 60, pipeline: volunteers})
	h.once()
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	tr, err := h.sim.Truth(tenant, "users")
	if err != nil {
		t.Fatal(err)
	}
	key, raw := "", []byte(nil)
	for i, k := range tr.Keys {
		if h.truth(tenant)[k].Status != "REMOVED" {
			key, raw = k, tr.Records[i]
			break
		}
	}
	version, err := time.Parse(time.RFC3339Nano, h.truth(tenant)[key].UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.destDB().Exec(`DELETE FROM volunteers WHERE tenant = ? AND key = ?`, tenant, key); err != nil {
		t.Fatal(err)
	}
	// The record's write failed for good at this version: to the DLQ.
	lease, ok, err := h.store.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "dlq-test", Owner: "test", TTL: time.Minute, Now: h.clk.Now()})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	q := h.queue(tenant)
	if _, err := h.store.CommitPage(ctx, state.PageCommit{Lease: lease, Enqueue: []state.Enqueue{{Queue: q, Entries: []state.Entry{
		{Pipeline: "volunteers", Key: key, Op: "upsert", Version: version.UTC(), Payload: raw}}}}}); err != nil {
		t.Fatal(err)
	}
	c, err := h.store.Claim(ctx, q, "test", 10, 1)
	if err != nil || len(c.Entries) != 1 {
		t.Fatal(c, err)
	}
	if fr, err := h.store.Fail(ctx, q, "test", []state.Failure{{ID: c.Entries[0].ID, Error: "refused"}}, 1); err != nil || fr.Dead != 1 {
		t.Fatal(fr, err)
	}
	rep := h.reconcile(runtime.ReconcileOptions{Tenant: tenant})[0]
	if rep.DeadLettered != 1 || rep.Missing != 0 {
		t.Errorf("report %+v", rep)
	}
	if _, ok := h.rows("volunteers")[tenant][key]; ok {
		t.Errorf("%s: written although its version is dead-lettered", key)
	}
}

// A token of another organization answers 404 to every GET by id, so
// candidates under max_delete_min would all be "confirmed" gone. Here the
// wrong token is stored before the reconcile and the organization is
// recorded while it scans (an onboarding meanwhile): the check run before
// the GETs finds the mismatch, the tenant is paused and nothing is deleted.
func TestReconcileWrongOrgTokenConfirmsNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 12, pipeline: volunteers})
	ctx := context.Background()
	h.once()
	a, b := h.sim.Tenants()[0], h.sim.Tenants()[1]
	before := h.rows("volunteers")[a.ID]
	if len(before) == 0 || len(before) > 25 {
		t.Fatalf("%d rows of %s, want some, at most max_delete_min", len(before), a.ID)
	}
	h.setToken(a.ID, b.Token)
	h.sim.ResetCounters()
	recorded := false
	_, err := h.runner().Reconcile(ctx, runtime.ReconcileOptions{Tenant: a.ID, Drain: true, Progress: func(p runtime.ReconcileProgress) {
		if p.Phase == "scan" && !recorded {
			recordOrg(t, h.store, a.ID, a.OrganizationID)
			recorded = true
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "no deletions confirmed") {
		t.Fatalf("reconcile with another organization's token: %v", err)
	}
	if !recorded {
		t.Fatal("the scan reported no page; the test proves nothing")
	}
	if got := h.rows("volunteers")[a.ID]; len(got) != len(before) {
		t.Errorf("%d rows of %s after the reconcile, %d before", len(got), a.ID, len(before))
	}
	if f := h.flag(a.ID, state.FlagOrgMismatch, ""); f == nil {
		t.Error("the tenant was not paused for the organization mismatch")
	}
	c := h.sim.Counters()[b.ID] // requests made with B's token
	for endpoint, n := range c {
		if strings.Contains(endpoint, "{") {
			t.Errorf("%d GETs by id with another organization's token: %s", n, endpoint)
		}
	}
	if c["GET /v1/organizations"] != 1 {
		t.Errorf("requests with the wrong token: %v, want one organization check", c)
	}
}

// An operator's reconcile of one tenant writes that tenant's repairs and
// leaves every other tenant's queue as it was.
func TestReconcileDrainsOnlyTheTenantsQueues(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 40, pipeline: volunteers})
	ctx := context.Background()
	h.once()
	a, b := h.sim.Tenants()[0], h.sim.Tenants()[1]
	n, err := h.sim.Vanish(a.ID, "users", 0.1)
	if err != nil || n == 0 {
		t.Fatal(n, err)
	}
	enqueueFor(t, h, b.ID, "900001", "900002")
	rep := h.reconcile(runtime.ReconcileOptions{Tenant: a.ID})[0]
	if rep.Deleted != int64(n) {
		t.Errorf("%d vanished; report %+v", n, rep)
	}
	if d, err := h.store.Depth(ctx, h.queue(a.ID)); err != nil || d.Stream != 0 {
		t.Errorf("queue of %s after its reconcile: %+v %v, want drained", a.ID, d, err)
	}
	if d, err := h.store.Depth(ctx, h.queue(b.ID)); err != nil || d.Stream != 2 {
		t.Errorf("queue of %s after another tenant's reconcile: %+v %v, want its 2 entries", b.ID, d, err)
	}
	for _, k := range []string{"900001", "900002"} {
		if _, ok := h.rows("volunteers")[b.ID][k]; ok {
			t.Errorf("%s of %s written by another tenant's reconcile", k, b.ID)
		}
	}
}

// Deletions confirmed by GET for a tenant with no recorded organization go
// on as before, and the run says once that no organization check guarded
// them; with the organization recorded and the right token they go on
// without that warning.
func TestReconcileConfirmsWithoutOrgLogsOnce(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 60, pipeline: volunteers})
	h.once()
	a := h.sim.Tenants()[0]
	const warning = "without an organization check"
	for _, withOrg := range []bool{false, true} {
		if withOrg {
			recordOrg(t, h.store, a.ID, a.OrganizationID)
		}
		n, err := h.sim.Vanish(a.ID, "users", 0.05)
		if err != nil || n == 0 {
			t.Fatal(n, err)
		}
		before := len(h.rows("volunteers")[a.ID])
		var logs logCapture
		r := h.runnerAdjusted(func(c *runtime.Config) { c.Logger = logs.logger() })
		reps, err := r.Reconcile(context.Background(), runtime.ReconcileOptions{Tenant: a.ID, Drain: true})
		after := len(h.rows("volunteers")[a.ID])
		if err != nil || len(reps) != 1 || reps[0].Deleted == 0 || reps[0].Deleted != int64(before-after) {
			t.Fatalf("org recorded %v: %d vanished, rows %d then %d; %+v %v", withOrg, n, before, after, reps, err)
		}
		warned := 0
		for _, l := range logs.lines(t) {
			if msg, _ := l["msg"].(string); strings.Contains(msg, warning) {
				warned++
			}
		}
		if want := map[bool]int{false: 1, true: 0}[withOrg]; warned != want {
			t.Errorf("org recorded %v: the warning logged %d times, want %d", withOrg, warned, want)
		}
	}
}
