package runtime_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

// dueOf is a job's indexed due time, zero when it has none.
func dueOf(t *testing.T, h *harness, tenant, job string) time.Time {
	t.Helper()
	refs, err := h.store.DueJobs(context.Background(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if r.Tenant == tenant && r.Job == job {
			return r.Due
		}
	}
	return time.Time{}
}

// siphon run starts a new tenant's backfill at its backfill_at in its own
// time zone: before that its pipelines wait without a request to the
// source, and every worker reads the same due time from the store; once
// the backfill has started the due time is forgotten.
func TestBackfillWaitsForBackfillAt(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 50, pipeline: allUsers,
		tenantAttrs: "timezone = \"America/Chicago\"\n  backfill_at = \"02:00\""})
	tenant := h.sim.Tenants()[0].ID
	// 01:00 in Chicago (CST), the day after the simulator's clock, so the
	// backfill's cap lies after every record the simulator made.
	clk := clock.NewManual(time.Date(2026, 3, 5, 7, 0, 0, 0, time.UTC))
	r := h.runnerAdjusted(func(c *runtime.Config) { c.Clock = clk; c.Source = func(c *vomo.Config) { c.PerPage = 100 } })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	// 02:00 CST plus the tenant's stagger within the hour.
	want := time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC).Add(runtime.BackfillStagger(tenant))
	deadline := time.Now().Add(20 * time.Second)
	job := h.plan.Tenants[0].Jobs[0].ID
	h.waitFor(deadline, "the poll job's first slot", func() bool { return !dueOf(t, h, tenant, job).IsZero() })
	clk.Set(dueOf(t, h, tenant, job).Add(time.Second))
	h.waitFor(deadline, "the backfill's due time", func() bool { return !dueOf(t, h, tenant, runtime.BackfillJob).IsZero() })
	if got := dueOf(t, h, tenant, runtime.BackfillJob); !got.Equal(want) {
		t.Fatalf("backfill due %s, want 02:00 in Chicago plus the stagger (%s)", got, want)
	}
	// Another worker asking later gets the same time, not its own.
	if got, err := h.store.ScheduleJob(context.Background(), tenant, runtime.BackfillJob, want.Add(24*time.Hour), false); err != nil || !got.Equal(want) {
		t.Fatalf("second worker's due: %s %v", got, err)
	}
	if n := h.sim.Counters()[tenant]["GET /v1/users"]; n != 0 {
		t.Fatalf("%d requests to the source before the backfill was due", n)
	}
	if cp := checkpoint(t, h, tenant); cp.Walk != nil || !cp.Cursor.IsZero() {
		t.Fatalf("checkpoint before the backfill: %+v", cp)
	}

	clk.Set(want.Add(5*time.Minute + time.Second)) // the poll job's first slot after the due time
	h.waitFor(deadline, "the backfill", func() bool { return !checkpoint(t, h, tenant).Cursor.IsZero() })
	// The destination is first opened by the writers (the tenant has no
	// rows to rebuild from), so its rows are read once the queue is empty.
	h.waitFor(deadline, "the backfill's rows to be written", h.queuesEmpty)
	if got, want := len(h.rows("volunteers")[tenant]), len(h.truthCreated(tenant)); got != want {
		t.Fatalf("%d rows after the backfill, source has %d", got, want)
	}
	h.waitFor(deadline, "the due time to be forgotten", func() bool { return dueOf(t, h, tenant, runtime.BackfillJob).IsZero() })
}

// run --once backfills a new tenant at once, whatever its backfill_at.
func TestOnceBackfillsAtOnce(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 40, pipeline: allUsers, tenantAttrs: `backfill_at = "02:00"`})
	tenant := h.sim.Tenants()[0].ID
	runOnce(t, h.runner())
	if cp := checkpoint(t, h, tenant); cp.Cursor.IsZero() || cp.Walk != nil {
		t.Fatalf("checkpoint after run --once: %+v", cp)
	}
	if got, want := len(h.rows("volunteers")[tenant]), len(h.truthCreated(tenant)); got != want {
		t.Fatalf("%d rows, source has %d", got, want)
	}
}

// newestRow is the newest source version the destination holds.
func newestRow(h *harness, tenant string) time.Time {
	var newest time.Time
	for _, r := range h.rows("volunteers")[tenant] {
		if r.version.After(newest) {
			newest = r.version
		}
	}
	return newest
}

// A reset checkpoint is rebuilt from the destination: the next walk starts
// at the newest source_updated_at it holds minus the overlap, a reconcile
// is requested to catch what that misses, and the source is asked for a
// fraction of what a backfill costs.
func TestResetCheckpointRebuildsFromDestination(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 600, pipeline: allUsers})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	runOnce(t, h.runner())
	backfill := h.sim.Counters()[tenant]["GET /v1/users"]
	if _, err := h.store.ResetCheckpoint(ctx, tenant, "volunteers"); err != nil {
		t.Fatal(err)
	}
	newest := newestRow(h, tenant)
	rec := &recorder{base: http.DefaultTransport}
	runOnce(t, h.runnerWith("", &http.Client{Transport: rec}))
	reqs := pages(rec.take())
	if len(reqs) == 0 || reqs[0].Get("updated_after") != vomo.FormatTime(newest.Add(-2*time.Minute)) || reqs[0].Has("created_before") {
		t.Fatalf("first request after the rebuild: %v; want updated_after = newest row %s − overlap", reqs, newest)
	}
	// The poll reads the window after the rebuilt cursor (one page here);
	// the rest of the run is the reconcile the rebuild asked for.
	polled := 0
	for _, q := range reqs {
		if q.Has("updated_after") {
			polled++
		}
	}
	if polled*10 > int(backfill) {
		t.Fatalf("the rebuilt checkpoint's poll made %d requests; the backfill made %d", polled, backfill)
	}
	assertReconciled(t, reqs)
	if cp := checkpoint(t, h, tenant); cp.Cursor.IsZero() || cp.Walk != nil {
		t.Fatalf("checkpoint after the rebuilt walk: %+v", cp)
	}
}

// assertReconciled checks that the run went on to the reconcile a
// rebuilt checkpoint requests (run --once runs requested reconciles): a
// full scan, capped by created_before, after the poll's walk.
func assertReconciled(t *testing.T, reqs []url.Values) {
	t.Helper()
	walked := false
	for _, q := range reqs {
		if q.Has("updated_after") {
			walked = true
		}
		if walked && q.Has("created_before") && !q.Has("updated_after") {
			return
		}
	}
	t.Fatalf("no reconcile scan after the rebuilt walk: %v", reqs)
}

// A cursor past the source's present (corrupt) is rebuilt from the
// destination like a lost one; left alone it would never move again.
func TestCorruptCursorRebuildsFromDestination(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 100, pipeline: allUsers})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	runOnce(t, h.runner())
	corrupt := h.clk.Now().Add(30 * 24 * time.Hour)
	if _, err := h.store.SetCursor(ctx, tenant, "volunteers", corrupt); err != nil {
		t.Fatal(err)
	}
	newest := newestRow(h, tenant)
	rec := &recorder{base: http.DefaultTransport}
	runOnce(t, h.runnerWith("", &http.Client{Transport: rec}))
	reqs := pages(rec.take())
	if len(reqs) == 0 || reqs[0].Get("updated_after") != vomo.FormatTime(newest.Add(-2*time.Minute)) {
		t.Fatalf("first request after the corrupt cursor: %v; want updated_after = newest row %s − overlap", reqs, newest)
	}
	assertReconciled(t, reqs)
	if cp := checkpoint(t, h, tenant); !cp.Cursor.Before(corrupt) || cp.Cursor.IsZero() {
		t.Fatalf("cursor after the rebuild: %s", cp.Cursor)
	}
}

// FlagBackfillRequested makes a pipeline with a cursor run a new capped
// scan instead of its walk; the flag is cleared when the scan completes
// and the cursor becomes the new scan's cap.
func TestBackfillRequestedRescans(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 100, pipeline: allUsers})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	runOnce(t, h.runner())
	before := checkpoint(t, h, tenant).Cursor
	if err := h.store.SetFlag(ctx, tenant, state.Flag{Kind: state.FlagBackfillRequested, Scope: "volunteers", By: "test"}); err != nil {
		t.Fatal(err)
	}
	h.waitSim(time.Minute)
	rec := &recorder{base: http.DefaultTransport}
	runOnce(t, h.runnerWith("", &http.Client{Transport: rec}))
	reqs := pages(rec.take())
	after := checkpoint(t, h, tenant).Cursor
	if !after.After(before) {
		t.Fatalf("cursor %s after the new backfill, was %s", after, before)
	}
	if len(reqs) < 7 {
		t.Fatalf("the new backfill read %d pages of 100 users", len(reqs))
	}
	for _, q := range reqs {
		if q.Get("created_before") != vomo.FormatTime(after) || q.Has("updated_after") {
			t.Fatalf("request %v of the requested backfill; want created_before = the new cursor", q)
		}
	}
	flags, err := h.store.Flags(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(flags, func(f state.Flag) bool { return f.Kind == state.FlagBackfillRequested }) {
		t.Fatalf("the backfill request stayed: %+v", flags)
	}
}

// A pipeline on an object that already holds another pipeline's rows (a
// rollout moving the tenant to a new variant) gets its own capped backfill,
// not a cursor rebuilt from those rows: its mapping must reach every
// record (DESIGN.md §11). Once it has completed, a reset of it rebuilds
// from the destination.
func TestNewPipelineOnSyncedObjectBackfills(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 150, pipeline: allUsers})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	runOnce(t, h.runner())
	if len(h.rows("volunteers")[tenant]) == 0 {
		t.Fatal("the first pipeline wrote no rows")
	}

	// The rollout moves the tenant to a second variant on the same object.
	const second = "volunteers_v2"
	files := map[string]string{
		"pipeline.hcl": "flag \"v2\" {\n  stages = [\"0%\", \"100%\"]\n  stage  = \"100%\"\n}\n" +
			"pipeline \"volunteers\" {\n  rollout = !flag.v2\n" + allUsers + "\n}\n" +
			"pipeline \"" + second + "\" {\n  rollout = flag.v2\n" + allUsers + "\n}\n",
		"tenants.hcl": "tenant \"" + tenant + "\" {\n  pipelines = [pipeline.volunteers, pipeline." + second +
			"]\n  backfill_at = \"now\"\n}\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := dsl.Load(h.dir, dsl.Options{Mode: dsl.ModeRun, Now: h.clk.Now()})
	if res.Plan == nil {
		t.Fatalf("plan: %v", res.Diagnostics)
	}
	h.plan = res.Plan
	h.waitSim(time.Minute)

	rec := &recorder{base: http.DefaultTransport}
	runOnce(t, h.runnerWith("", &http.Client{Transport: rec}))
	reqs := pages(rec.take())
	cp, err := h.store.Checkpoint(ctx, tenant, second)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) < 2 || reqs[0].Has("updated_after") || reqs[0].Get("created_before") == "" ||
		reqs[0].Get("created_before") != vomo.FormatTime(cp.Cursor) || cp.Walk != nil {
		t.Fatalf("the new pipeline was not backfilled: first request %v, checkpoint %+v", reqs[:min(len(reqs), 1)], cp)
	}
	if b, err := h.store.Note(ctx, tenant, runtime.SyncedNote(second)); err != nil || !strings.Contains(string(b), `"backfill"`) {
		t.Fatalf("synced note after the backfill: %s %v", b, err)
	}

	// Reset, it rebuilds from the rows instead of scanning again.
	if _, err := h.store.ResetCheckpoint(ctx, tenant, second); err != nil {
		t.Fatal(err)
	}
	runOnce(t, h.runnerWith("", &http.Client{Transport: rec}))
	reqs = pages(rec.take())
	if len(reqs) == 0 || !reqs[0].Has("updated_after") || reqs[0].Has("created_before") {
		t.Fatalf("first request after the reset: %v; want a walk from the rebuilt cursor", reqs[:min(len(reqs), 1)])
	}
	assertReconciled(t, reqs)
	if cp, err := h.store.Checkpoint(ctx, tenant, second); err != nil || cp.Cursor.IsZero() || cp.Walk != nil {
		t.Fatalf("checkpoint after the rebuild: %+v %v", cp, err)
	}
}

// Automatic backfills are staggered within the hour after backfill_at by
// a stable hash of the tenant, so a zone's new tenants do not all start
// their scans at once; "now" is not staggered.
func TestNextBackfillStaggered(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 5, 1, 0, 0, 0, chicago) // 01:00 CST
	offsets := map[time.Duration]bool{}
	for i := range 20 {
		tn := &dsl.Tenant{ID: "tenant-" + strconv.Itoa(i), Location: chicago, BackfillAt: dsl.Clock{Hour: 2}}
		off := runtime.BackfillStagger(tn.ID)
		if off < 0 || off >= time.Hour || off != runtime.BackfillStagger(tn.ID) {
			t.Fatalf("stagger of %s: %s", tn.ID, off)
		}
		offsets[off] = true
		want := time.Date(2026, 3, 5, 2, 0, 0, 0, chicago).Add(off)
		if got := runtime.NextBackfill(tn, at); !got.Equal(want) {
			t.Fatalf("%s: due %s, want %s", tn.ID, got, want)
		}
		// Asked after 02:00 but before its staggered time: still today's.
		if off > time.Second {
			if got := runtime.NextBackfill(tn, want.Add(-time.Second)); !got.Equal(want) {
				t.Fatalf("%s asked a second before its slot: due %s, want %s", tn.ID, got, want)
			}
		}
		// Asked at its slot: tomorrow's.
		if got := runtime.NextBackfill(tn, want); !got.Equal(want.AddDate(0, 0, 1)) {
			t.Fatalf("%s asked at its slot: due %s, want tomorrow's", tn.ID, got)
		}
		tn.BackfillAt = dsl.Clock{Now: true}
		if got := runtime.NextBackfill(tn, at); !got.Equal(at) {
			t.Fatalf("backfill_at = now: due %s, want %s", got, at)
		}
	}
	if len(offsets) < 10 {
		t.Fatalf("20 tenants share %d offsets", len(offsets))
	}
}

// Past-due backfill due times of many tenants (each listed until its
// pipelines' backfills start) fill more than a look at the due index;
// they are no poll jobs, and the scheduler must look past them, or no
// poll job behind them ever starts, and with them the backfills that
// would clear them.
func TestBackfillDueTimesDoNotCrowdPolls(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 30, pipeline: allUsers})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	// A look reads 2 × PollSlots + 100 entries: twice as many others,
	// all due before any poll job.
	const slots = 2
	for i := range 2 * (2*slots + 100) {
		if _, err := h.store.ScheduleJob(ctx, "waiting-"+strconv.Itoa(i), runtime.BackfillJob, h.clk.Now().Add(-time.Hour), true); err != nil {
			t.Fatal(err)
		}
	}
	r := h.runnerAdjusted(func(c *runtime.Config) { c.PollSlots = slots })
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
	}()
	h.waitFor(time.Now().Add(20*time.Second), "the tenant's poll job to run (its backfill)", func() bool {
		return !checkpoint(t, h, tenant).Cursor.IsZero()
	})
}
