package runtime_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
)

// cutAfter is a transport that lets n requests through and then fails
// every request, as a network cut in the middle of a walk would.
type cutAfter struct {
	n    atomic.Int64
	base http.RoundTripper
}

func (c *cutAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.n.Add(-1) < 0 {
		return nil, errors.New("network cut by the test")
	}
	return c.base.RoundTrip(r)
}

// A walk cut in the middle keeps its progress in the store; the next run
// resumes that window where it stopped instead of starting over, and the
// destination ends exact.
func TestCutWalkResumesFromStoredProgress(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 900, pipeline: volunteers})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	// The probe for the API's clock, then four pages (the calm scenario
	// serves 15 records a page whatever per_page asks).
	cut := &cutAfter{base: http.DefaultTransport}
	cut.n.Store(5)
	sum, err := h.runnerWith("worker-a", &http.Client{Transport: cut}).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Failed() || sum.Enqueued == 0 {
		t.Fatalf("the cut run should have enqueued some pages and failed: %+v", sum)
	}
	cp, err := h.store.Checkpoint(ctx, tenant, "volunteers")
	if err != nil {
		t.Fatal(err)
	}
	if cp.Walk == nil || cp.Walk.Position == 0 || len(cp.Walk.Progress) == 0 || !cp.Cursor.IsZero() {
		t.Fatalf("checkpoint after the cut: %+v", cp)
	}
	h.sim.ResetCounters()
	sum, err = h.runnerWith("worker-b", nil).RunOnce(ctx)
	if err != nil || sum.Failed() {
		t.Fatalf("resumed run: %+v %v", sum, err)
	}
	total := int64(len(h.truth(tenant)))
	// A walk from the start needs a probe and ⌈total/15⌉ pages; the cut
	// run read four of them. The resumed walk continues from the client's
	// stored progress, at the page size it was reading at, so it reads
	// exactly the rest: no probe, no page again.
	if resumed := h.sim.Counters()[tenant]["GET /v1/users"]; resumed != (total+14)/15-4 {
		t.Errorf("resumed walk made %d requests for %d records, want %d", resumed, total, (total+14)/15-4)
	}
	cp, err = h.store.Checkpoint(ctx, tenant, "volunteers")
	if err != nil || cp.Walk != nil || cp.Cursor.IsZero() {
		t.Fatalf("checkpoint after the resumed walk: %+v %v", cp, err)
	}
	// The completed walk counts the records of both runs, none twice.
	if cp.LastComplete.IsZero() || cp.LastRecords != total {
		t.Errorf("completed walk recorded %d records at %v, want %d", cp.LastRecords, cp.LastComplete, total)
	}
	h.assertExact()
}

// A walk cut while the source churns resumes from the client's stored
// progress; records updated or deleted meanwhile shrink the window's
// total, and the resumed walk steps back by that drop (DESIGN.md §11) so
// that no record shifts past it: after quiescence the destination is
// exact.
func TestCutWalkResumesUnderChurn(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 600, pipeline: volunteers, churnPerMinute: 120})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	cut := &cutAfter{base: http.DefaultTransport}
	cut.n.Store(8)
	if sum, err := h.runnerWith("worker-a", &http.Client{Transport: cut}).RunOnce(ctx); err != nil || !sum.Failed() {
		t.Fatalf("the cut run should have failed: %+v %v", sum, err)
	}
	cp, err := h.store.Checkpoint(ctx, tenant, "volunteers")
	if err != nil || cp.Walk == nil || len(cp.Walk.Progress) == 0 {
		t.Fatalf("checkpoint after the cut: %+v %v", cp, err)
	}
	h.waitSim(2 * time.Minute)
	if sum, err := h.runnerWith("worker-b", nil).RunOnce(ctx); err != nil || sum.Failed() {
		t.Fatalf("resumed run: %+v %v", sum, err)
	}
	if cp, err := h.store.Checkpoint(ctx, tenant, "volunteers"); err != nil || cp.Walk != nil || cp.Cursor.IsZero() {
		t.Fatalf("checkpoint after the resumed walk: %+v %v", cp, err)
	}
	ch := h.sim.Scenario().Churn
	ch.Enabled = false
	if err := h.sim.SetChurn(ch); err != nil {
		t.Fatal(err)
	}
	h.waitSim(30*time.Second + 2*time.Minute + 10*time.Second)
	if sum, err := h.runner().RunOnce(ctx); err != nil || sum.Failed() {
		t.Fatalf("final run: %+v %v", sum, err)
	}
	h.assertExact()
}

// Several processes running --once on one store run each job once between
// them, and together leave the destination exact.
func TestConcurrentOnceRunsEachJobOnce(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 6, users: 200, pipeline: volunteers, store: redistest.Start(t).URL()})
	ctx := context.Background()
	runners := []*runtime.Runner{h.runnerWith("host-a", nil), h.runnerWith("host-b", nil), h.runnerWith("host-c", nil)}
	var wg sync.WaitGroup
	sums := make([]runtime.Summary, len(runners))
	errs := make([]error, len(runners))
	for i, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = r.RunOnce(ctx)
		}()
	}
	wg.Wait()
	ran, skipped := 0, 0
	for i := range runners {
		if errs[i] != nil || sums[i].Failed() {
			t.Fatalf("runner %d: %+v %v", i, sums[i], errs[i])
		}
		ran += sums[i].JobsRun
		skipped += sums[i].JobsSkipped
	}
	if ran != 6 || skipped != 12 {
		t.Fatalf("jobs run %d, skipped %d; want each of 6 jobs run once", ran, skipped)
	}
	h.waitSim(40 * time.Second)
	if _, err := h.runner().RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	h.assertExact()
}
