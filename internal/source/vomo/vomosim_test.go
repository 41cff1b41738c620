package vomo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/vomosim"
)

// tick moves the shared manual clock before every request, so the
// simulator's churn lands between the pages of a walk.
type tick struct {
	clk  *clock.Manual
	step time.Duration
}

func (t tick) RoundTrip(r *http.Request) (*http.Response, error) {
	t.clk.Advance(t.step)
	return http.DefaultTransport.RoundTrip(r)
}

// replica is what a destination would hold for one tenant: the newest
// version of every record, by canonical key.
type replica struct {
	mu   sync.Mutex
	recs map[string]map[string]any
}

func (r *replica) upsert(recs []Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		f, err := rec.Fields()
		if err != nil {
			return err
		}
		if held, ok := r.recs[rec.Key]; ok && held["updated_at"].(string) > f["updated_at"].(string) {
			continue // an older version read later (inside the overlap)
		}
		r.recs[rec.Key] = f
	}
	return nil
}

func decodeNumbers(t testing.TB, b []byte) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAgainstVomosim syncs several tenants of the adversarial scenario
// (count-then-select drift, per_page flips, 429s, 5xx, truncated pages,
// late-visible writes, second-resolution ties, a skewed API clock) the way
// the runtime does: a backfill scan, polls that walk capped windows from
// checkpoint − overlap, then, after churn stops and settle + overlap have
// passed, one more poll and a reconcile scan whose absentees are confirmed
// with Get. Each tenant's replica must then equal the simulator's truth,
// record for record. The reconcile here only removes confirmed deletions,
// so every record and every latest version was delivered by the backfill
// and the polls.
func TestAgainstVomosim(t *testing.T) {
	if testing.Short() {
		t.Skip("integration against the simulator")
	}
	for _, honour := range []bool{false, true} {
		t.Run(map[bool]string{false: "platform page size", true: "per_page honoured"}[honour], func(t *testing.T) {
			runAgainstVomosim(t, honour)
		})
	}
}

func runAgainstVomosim(t *testing.T, honourPerPage bool) {
	clk := clock.NewManual(time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC))
	sc, err := vomosim.LoadScenario("adversarial")
	if err != nil {
		t.Fatal(err)
	}
	// CI-sized: the adversarial switches and faults as they are, churn at a
	// quarter of the scenario's rate so a walk's window stays small.
	sc.Tenants, sc.Users = 3, 500
	sc.Churn.PerMinute = 30
	if raceEnabled {
		sc.Tenants, sc.Users = 2, 200
	}
	sc.Switches.PerPageParam = honourPerPage
	sc.Faults.Timeout = vomosim.Duration(2 * time.Second) // real time: keep hangs short
	sc.Faults.LatencyJitter = 0
	sim, err := vomosim.New(vomosim.Options{Clock: clk, Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	users := Resource{Path: "/users", CursorParam: "updated_after", CreatedBeforeParam: "created_before",
		Overlap: 2 * time.Minute, Settle: 30 * time.Second}
	offset := &ClockOffset{} // one per source, shared by the tenants
	hc := &http.Client{Transport: tick{clk: clk, step: 200 * time.Millisecond}}
	ctx := context.Background()

	type tenantRun struct {
		id         string
		c          *Client
		rep        *replica
		checkpoint time.Time
		requests   int
	}
	var runs []*tenantRun
	for _, ti := range sim.Tenants() {
		tr := &tenantRun{id: ti.ID, rep: &replica{recs: map[string]map[string]any{}}}
		tr.c, err = New(Config{
			BaseURL: srv.URL + "/v1", Tenant: ti.ID, Token: StaticToken(ti.Token), HTTPClient: hc,
			Timeout: 500 * time.Millisecond, Clock: clk, Offset: offset,
			Retry: Retry{Attempts: 8, Backoff: time.Second, MaxBackoff: 10 * time.Second},
			Sleep: func(ctx context.Context, d time.Duration) error { clk.Advance(d); return ctx.Err() },
			Hooks: Hooks{OnRequest: func(RequestInfo) { tr.requests++ }},
		})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, tr)
	}
	upsertFn := func(tr *tenantRun) func(context.Context, Page) error {
		return func(_ context.Context, p Page) error { return tr.rep.upsert(p.Records) }
	}
	each := func(fn func(tr *tenantRun) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(runs))
		for i, tr := range runs {
			wg.Go(func() { errs[i] = fn(tr) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}

	// Backfill: a capped full scan; polling then starts at its cap.
	each(func(tr *tenantRun) error {
		p, err := tr.c.NewScan(ctx, users)
		if err != nil {
			return err
		}
		res, err := tr.c.Scan(ctx, users, p, upsertFn(tr))
		if err != nil {
			return err
		}
		if !res.Complete {
			return errors.New("backfill incomplete")
		}
		t.Logf("%s: backfill %d requests, %d step-backs, total %d", tr.id, res.Progress.Requests, res.Progress.StepBacks, res.Progress.LastTotal)
		tr.checkpoint = res.Progress.Cap
		return nil
	})
	poll := func(tr *tenantRun) error {
		p, err := tr.c.NewWalk(ctx, users, tr.checkpoint)
		if err != nil {
			return err
		}
		res, err := tr.c.Walk(ctx, users, p, upsertFn(tr))
		if err != nil {
			return err
		}
		if !res.Complete {
			return errors.New("walk incomplete")
		}
		t.Logf("%s: poll %d requests, %d step-backs, total %d", tr.id, res.Progress.Requests, res.Progress.StepBacks, res.Progress.LastTotal)
		if res.Progress.Cap.Before(tr.checkpoint) {
			return errors.New("checkpoint would move backwards")
		}
		tr.checkpoint = res.Progress.Cap
		return nil
	}
	for range 3 {
		clk.Advance(3 * time.Minute)
		each(poll)
	}
	// Quiesce: churn stops, late writes land, settle + overlap pass.
	quiet := sim.Scenario().Churn
	quiet.Enabled = false
	if err := sim.SetChurn(quiet); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15 * time.Second)
	for _, tr := range runs {
		if n, _ := sim.Pending(tr.id); n != 0 {
			t.Fatalf("%s: %d writes still in flight", tr.id, n)
		}
	}
	clk.Advance(3 * time.Minute)
	each(poll)

	// Reconcile: a complete capped scan; absentees confirmed with Get.
	each(func(tr *tenantRun) error {
		p, err := tr.c.NewScan(ctx, users)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		res, err := tr.c.Scan(ctx, users, p, func(_ context.Context, pg Page) error {
			for _, r := range pg.Records {
				seen[r.Key] = true
			}
			return nil
		})
		if err != nil || !res.Complete {
			return errors.Join(err, errors.New("reconcile scan incomplete"))
		}
		for key := range tr.rep.recs {
			if seen[key] {
				continue
			}
			_, found, err := tr.c.Get(ctx, users, key)
			if err != nil {
				return err
			}
			if !found {
				delete(tr.rep.recs, key)
			}
		}
		return nil
	})

	for _, tr := range runs {
		truth, err := sim.Truth(tr.id, "users")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]map[string]any{}
		for i, k := range truth.Keys {
			want[k] = decodeNumbers(t, truth.Records[i])
		}
		var lost, stale, extra []string
		for k, rec := range want {
			got, ok := tr.rep.recs[k]
			switch {
			case !ok:
				lost = append(lost, k)
			case !reflect.DeepEqual(got, rec):
				stale = append(stale, k)
			}
		}
		for k := range tr.rep.recs {
			if want[k] == nil {
				extra = append(extra, k)
			}
		}
		sort.Strings(lost)
		sort.Strings(stale)
		sort.Strings(extra)
		if len(lost)+len(stale)+len(extra) > 0 {
			t.Errorf("%s: %d records at the source; lost %v, stale %v, extra %v", tr.id, len(want), lost, stale, extra)
		}
		t.Logf("%s: %d records exact after %d requests", tr.id, len(want), tr.requests)
	}
	counters := sim.Counters()
	t.Logf("simulator counters: %v", counters)
}

// TestVomosimChildrenAndPauses scans a cursorless parent (/forms) and its
// child lists (/forms/{id}/completions) and compares them with the
// simulator's truth; a vanished parent is reported, not an error; a
// revoked token and a missing scope map to the errors that pause a tenant
// or a resource, leaving the other tenant untouched.
func TestVomosimChildrenAndPauses(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC))
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users = 2, 300
	sc.Churn.Enabled = false
	sc.Faults.Enabled = false
	sim, err := vomosim.New(vomosim.Options{Clock: clk, Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	tenants := sim.Tenants()
	client := func(ti vomosim.TenantInfo) *Client {
		c, err := New(Config{BaseURL: srv.URL + "/v1", Tenant: ti.ID, Token: StaticToken(ti.Token), Clock: clk,
			Sleep: func(ctx context.Context, d time.Duration) error { clk.Advance(d); return ctx.Err() }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client(tenants[0]), client(tenants[1])

	org, err := a.Organization(ctx)
	if err != nil || org.ID != strconv.FormatInt(tenants[0].OrganizationID, 10) {
		t.Fatalf("organization %+v, %v; want %d", org, err, tenants[0].OrganizationID)
	}

	forms := Resource{Path: "/forms"}
	p, err := a.NewScan(ctx, forms)
	if err != nil {
		t.Fatal(err)
	}
	var formIDs []string
	res, err := a.Scan(ctx, forms, p, func(_ context.Context, pg Page) error {
		for _, r := range pg.Records {
			formIDs = append(formIDs, r.Key)
		}
		return nil
	})
	if err != nil || !res.Complete || res.Capped || len(formIDs) == 0 {
		t.Fatalf("forms: %+v, %v, %d forms", res, err, len(formIDs))
	}
	got := map[string]bool{}
	for _, fid := range append(formIDs, "999999999") {
		child := Resource{Path: "/forms/{form_id}/completions", Parent: fid}
		p, err := a.NewScan(ctx, child)
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Scan(ctx, child, p, func(_ context.Context, pg Page) error {
			for _, r := range pg.Records {
				got[JoinKey(fid, r.Key)] = true
			}
			return nil
		})
		if err != nil {
			t.Fatalf("form %s: %v", fid, err)
		}
		if gone := fid == "999999999"; res.ParentGone != gone || res.Complete == gone {
			t.Fatalf("form %s: %+v", fid, res)
		}
	}
	truth, err := sim.Truth(tenants[0].ID, "form_completions")
	if err != nil {
		t.Fatal(err)
	}
	if len(truth.Keys) != len(got) {
		t.Fatalf("%d completions read, truth has %d", len(got), len(truth.Keys))
	}
	for _, k := range truth.Keys {
		if !got[k] {
			t.Fatalf("completion %s not read", k)
		}
	}

	users := Resource{Path: "/users", CursorParam: "updated_after", CreatedBeforeParam: "created_before", Settle: 30 * time.Second}
	est, err := a.Estimate(ctx, users)
	if ut, _ := sim.Truth(tenants[0].ID, "users"); err != nil || est.Total != len(ut.Keys) {
		t.Fatalf("estimate %+v, %v; truth %d", est, err, len(ut.Keys))
	}

	if err := sim.Forbid(tenants[0].ID, "users", true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Estimate(ctx, users); !errors.Is(err, ErrForbidden) {
		t.Fatalf("forbidden users: %v", err)
	}
	if _, err := a.Estimate(ctx, forms); err != nil {
		t.Fatalf("a 403 on users spilled over to forms: %v", err)
	}
	if err := sim.Revoke(tenants[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err = a.Estimate(ctx, forms)
	var e *Error
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &e) || e.Tenant != tenants[0].ID || e.Attempts != 1 {
		t.Fatalf("revoked token: %v", err)
	}
	if strings.Contains(err.Error(), tenants[0].Token) {
		t.Fatal("token in error")
	}
	if _, err := b.Estimate(ctx, users); err != nil {
		t.Fatalf("the other tenant was affected: %v", err)
	}
}
