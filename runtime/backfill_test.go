package runtime_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// allUsers maps every user, whatever its status, with its creation time,
// so a test can tell which records a capped scan may hold.
const allUsers = `
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  fields = {
    email   = record.email
    created = record.created_at
  }`

// recorder records the list requests a runner sends to the source.
type recorder struct {
	mu   sync.Mutex
	reqs []url.Values
	base http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.URL.Query())
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) take() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// pages are the requests that read a page (the probe for the API's clock
// filters on a window ten years ahead and is left out).
func pages(reqs []url.Values) []url.Values {
	var out []url.Values
	for _, q := range reqs {
		if a := q.Get("updated_after"); a != "" {
			if t, err := vomo.ParseTime(a); err == nil && t.After(time.Now().AddDate(5, 0, 0)) {
				continue
			}
		}
		out = append(out, q)
	}
	return out
}

// truthCreated is the source's users now, with their creation times.
func (h *harness) truthCreated(tenant string) map[string]time.Time {
	h.t.Helper()
	tr, err := h.sim.Truth(tenant, "users")
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]time.Time{}
	for i, raw := range tr.Records {
		var u struct {
			CreatedAt string `json:"created_at"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			h.t.Fatal(err)
		}
		c, err := vomo.ParseTime(u.CreatedAt)
		if err != nil {
			h.t.Fatal(err)
		}
		out[tr.Keys[i]] = c
	}
	return out
}

// assertNoDuplicates checks the destination holds each key once.
func (h *harness) assertNoDuplicates() {
	h.t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(h.dir, "out", "destination.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	var rows, keys int
	if err := db.QueryRow("SELECT count(*), count(DISTINCT tenant || '/' || key) FROM volunteers").Scan(&rows, &keys); err != nil {
		h.t.Fatal(err)
	}
	if rows != keys {
		h.t.Fatalf("%d rows for %d keys", rows, keys)
	}
}

func checkpoint(t *testing.T, h *harness, tenant string) state.Checkpoint {
	t.Helper()
	cp, err := h.store.Checkpoint(context.Background(), tenant, "volunteers")
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func backfillStores(t *testing.T, run func(t *testing.T, store string)) {
	t.Run("bbolt", func(t *testing.T) { run(t, "") })
	t.Run("redis", func(t *testing.T) { run(t, redistest.Start(t).URL()) })
}

// A new pipeline's first poll is a capped full scan: every page asks for
// created_before = the cap fixed before the first request and no
// updated_* filter, so the records created while it runs are left to
// polling, which starts at the cap − overlap and finds them.
func TestBackfillCapsAtCreatedBefore(t *testing.T) {
	backfillStores(t, testBackfillCaps)
}

func testBackfillCaps(t *testing.T, store string) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 300, pipeline: allUsers, churnPerMinute: 300, store: store,
		adjust: func(sc *vomosim.Scenario) {
			sc.Churn.Create, sc.Churn.Update, sc.Churn.EmailChange, sc.Churn.BulkImport = 3, 1, 0, 0
		}})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	rec := &recorder{base: http.DefaultTransport}
	if sum, err := h.runnerWith("a", &http.Client{Transport: rec}).RunOnce(ctx); err != nil || sum.Failed() {
		t.Fatalf("backfill run: %+v %v", sum, err)
	}
	cp := checkpoint(t, h, tenant)
	if cp.Walk != nil || cp.Cursor.IsZero() || cp.LastRecords == 0 {
		t.Fatalf("checkpoint after the backfill: %+v", cp)
	}
	reqs := pages(rec.take())
	if len(reqs) < 20 {
		t.Fatalf("the backfill read %d pages of 300 users", len(reqs))
	}
	for _, q := range reqs {
		if q.Get("created_before") != vomo.FormatTime(cp.Cursor) || q.Has("updated_after") || q.Has("updated_before") {
			t.Fatalf("backfill page %v: want created_before = the cursor %s and no updated_* filter", q, vomo.FormatTime(cp.Cursor))
		}
	}
	rows := h.rows("volunteers", "created")[tenant]
	for key, r := range rows {
		c, err := vomo.ParseTime(r.fields["created"])
		if err != nil {
			t.Fatal(err)
		}
		if c.After(cp.Cursor) {
			t.Errorf("%s created at %s, after the cap %s, came with the backfill", key, c, cp.Cursor)
		}
	}
	created := h.truthCreated(tenant)
	later := 0
	for key, c := range created {
		if c.After(cp.Cursor) {
			later++
		} else if _, ok := rows[key]; !ok {
			t.Errorf("%s created at %s, before the cap, is missing", key, c)
		}
	}
	if later == 0 {
		t.Fatal("the churn created nothing after the cap; the test proves nothing")
	}

	// Polling takes over at the cap minus the overlap.
	ch := h.sim.Scenario().Churn
	ch.Enabled = false
	if err := h.sim.SetChurn(ch); err != nil {
		t.Fatal(err)
	}
	h.waitSim(3 * time.Minute)
	if sum, err := h.runnerWith("b", &http.Client{Transport: rec}).RunOnce(ctx); err != nil || sum.Failed() {
		t.Fatalf("poll run: %+v %v", sum, err)
	}
	reqs = pages(rec.take())
	if len(reqs) == 0 || reqs[0].Get("updated_after") != vomo.FormatTime(cp.Cursor.Add(-2*time.Minute)) || reqs[0].Has("created_before") {
		t.Fatalf("first poll after the backfill: %v, want updated_after = cap − overlap", reqs)
	}
	rows = h.rows("volunteers", "created")[tenant]
	for key := range h.truthCreated(tenant) {
		if _, ok := rows[key]; !ok {
			t.Errorf("%s missing after polling took over", key)
		}
	}
	h.assertNoDuplicates()
}

// A backfill cut in the middle keeps the scan's progress in the store; the
// next run continues the same scan (same cap) from its position, and the
// records deleted meanwhile, which shift later records to earlier
// positions, make it step back instead of skipping them.
func TestBackfillResumesAndStepsBack(t *testing.T) {
	backfillStores(t, testBackfillResume)
}

func testBackfillResume(t *testing.T, store string) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 900, pipeline: allUsers, store: store})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	// The probe, then seven pages of 15.
	cut := &cutAfter{base: http.DefaultTransport}
	cut.n.Store(8)
	if sum, err := h.runnerWith("a", &http.Client{Transport: cut}).RunOnce(ctx); err != nil || !sum.Failed() {
		t.Fatalf("the cut run should have failed: %+v %v", sum, err)
	}
	cut1 := checkpoint(t, h, tenant)
	if cut1.Walk == nil || cut1.Walk.Position != 105 || cut1.Walk.Records != 105 || !cut1.Cursor.IsZero() {
		t.Fatalf("checkpoint after the cut: %+v", cut1)
	}
	var p vomo.Progress
	if err := json.Unmarshal(cut1.Walk.Progress, &p); err != nil || p.Mode != "scan" || !p.Cap.Equal(cut1.Walk.Cap) {
		t.Fatalf("stored progress %s: %v", cut1.Walk.Progress, err)
	}

	// Deletes while the backfill is stopped: about 60 of 900 users, some
	// of them before the stored position.
	before := len(h.truthCreated(tenant))
	ch := h.sim.Scenario().Churn
	ch.Enabled, ch.PerMinute, ch.LateShare = true, 300, 0
	ch.Create, ch.Update, ch.Delete, ch.EmailChange, ch.BulkImport, ch.Project, ch.Group, ch.Form = 0, 0, 1, 0, 0, 0, 0, 0
	if err := h.sim.SetChurn(ch); err != nil {
		t.Fatal(err)
	}
	// The simulator applies churn when it is asked something: once to
	// start the clock of the deletes, once to apply them.
	_, _ = h.sim.Pending(tenant)
	h.waitSim(12 * time.Second)
	_, _ = h.sim.Pending(tenant)
	ch.Enabled = false
	if err := h.sim.SetChurn(ch); err != nil {
		t.Fatal(err)
	}
	h.waitSim(time.Minute) // late commits of the churn
	created := h.truthCreated(tenant)
	if len(created) >= before {
		t.Fatalf("no deletes happened (%d users, were %d)", len(created), before)
	}

	// The cut process died before it could forget the backfill's due
	// time: the run that completes the scan forgets it, so it does not
	// linger past due in the hub's due index.
	if _, err := h.store.ScheduleJob(ctx, tenant, runtime.BackfillJob, h.clk.Now().Add(-time.Hour), true); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{base: http.DefaultTransport}
	if sum, err := h.runnerWith("b", &http.Client{Transport: rec}).RunOnce(ctx); err != nil || sum.Failed() {
		t.Fatalf("resumed run: %+v %v", sum, err)
	}
	if due := dueOf(t, h, tenant, runtime.BackfillJob); !due.IsZero() {
		t.Errorf("the backfill's due time %s lingers after the resumed scan completed", due)
	}
	reqs := pages(rec.take())
	// The same scan goes on: the cut's cap, and its first page is the
	// one holding the stored position, not page 1.
	if len(reqs) == 0 || reqs[0].Get("page") != "8" || reqs[0].Get("created_before") != vomo.FormatTime(cut1.Walk.Cap) {
		t.Fatalf("first request of the resumed backfill: %v", reqs[:min(len(reqs), 1)])
	}
	stepped := false
	for _, q := range reqs[1:] {
		if n, _ := strconv.Atoi(q.Get("page")); n < 8 {
			stepped = true
		}
	}
	if !stepped {
		t.Error("the resumed backfill never stepped back over the deletes")
	}
	cp := checkpoint(t, h, tenant)
	if cp.Walk != nil || !cp.Cursor.Equal(cut1.Walk.Cap) {
		t.Fatalf("checkpoint after the resumed backfill: %+v, want the cursor at the cap %s", cp, cut1.Walk.Cap)
	}
	// Progress continued from the cut: the completed scan counts the
	// records of both runs.
	if cp.LastRecords < int64(len(created)) {
		t.Errorf("completed backfill counted %d records; the source holds %d", cp.LastRecords, len(created))
	}
	rows := h.rows("volunteers", "created")[tenant]
	for key := range created {
		if _, ok := rows[key]; !ok {
			t.Errorf("%s skipped by the resumed backfill", key)
		}
	}
	h.assertNoDuplicates()
}
