package vomo

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func roundTrip(t *testing.T, p Progress) Progress {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Progress
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	return q
}

func TestScanFiltersAndTotalRose(t *testing.T) {
	f := newFake(t, 60)
	f.perPage = 10
	// A late-visible create, stamped before the cap, lands mid-scan.
	f.before = func(f *fakeAPI, n int) {
		if n == 3 {
			f.add(f.now().Add(-time.Hour), f.now().Add(-time.Hour))
		}
	}
	c := f.client(t, func(c *Config) { c.PerPage = -1 })
	c.Offset().Set(0)
	ctx := context.Background()
	p, _ := c.NewScan(ctx, usersRes)
	var col collector
	res, err := c.Scan(ctx, usersRes, p, col.fn)
	if err != nil || !res.Complete || !res.Capped {
		t.Fatalf("%+v %v", res, err)
	}
	if !res.Progress.TotalRose || res.Progress.FirstTotal != 60 {
		t.Fatalf("progress %+v", res.Progress)
	}
	for _, u := range f.urls {
		q := mustURL(u).Query()
		if q.Get("created_before") != FormatTime(p.Cap) || q.Get("updated_after") != "" || q.Get("updated_before") != "" {
			t.Fatalf("scan filters: %s", u)
		}
	}
	if len(col.ids) < 60 {
		t.Fatalf("%d ids", len(col.ids))
	}
}

func TestScanUncapped(t *testing.T) {
	f := newFake(t, 5)
	c := f.client(t, nil)
	c.Offset().Set(0)
	res := Resource{Path: "/users"}
	p, _ := c.NewScan(context.Background(), res)
	r, err := c.Scan(context.Background(), res, p, (&collector{}).fn)
	if err != nil || !r.Complete || r.Capped {
		t.Fatalf("%+v %v", r, err)
	}
	if strings.Contains(f.urls[0], "created_before") {
		t.Fatal(f.urls[0])
	}
}

func TestChildren(t *testing.T) {
	f := newFake(t, 0)
	f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch r.URL.EscapedPath() {
		case "/v1/forms/12/completions":
			writeJSON(w, 200, map[string]any{"data": []any{map[string]any{"id": 1200001}, map[string]any{"id": 1200002}},
				"links": map[string]any{"next": nil}, "meta": map[string]any{"current_page": 1, "per_page": 15, "total": 2}})
		case "/v1/forms/a%2Fb/completions":
			writeJSON(w, 200, map[string]any{"data": []any{}, "links": map[string]any{"next": nil}, "meta": map[string]any{"current_page": 1, "per_page": 15, "total": 0}})
		default:
			writeJSON(w, 404, map[string]any{"message": "No query results for model [Form]."})
		}
		return true
	}
	c := f.client(t, nil)
	c.Offset().Set(0)
	ctx := context.Background()
	for _, tt := range []struct {
		parent string
		n      int
		gone   bool
	}{{"12", 2, false}, {"a/b", 0, false}, {"13", 0, true}} {
		res := Resource{Path: "/forms/{form_id}/completions", Parent: tt.parent}
		p, err := c.NewScan(ctx, res)
		if err != nil {
			t.Fatal(err)
		}
		var col collector
		r, err := c.Scan(ctx, res, p, col.fn)
		if err != nil {
			t.Fatalf("parent %s: %v", tt.parent, err)
		}
		if r.ParentGone != tt.gone || r.Complete == tt.gone || len(col.ids) != tt.n {
			t.Fatalf("parent %s: %+v, %d ids", tt.parent, r, len(col.ids))
		}
	}
	if _, err := c.NewScan(ctx, Resource{Path: "/forms/{form_id}/completions"}); err == nil {
		t.Fatal("child scan without a parent")
	}
}

func TestGetOrganizationEstimate(t *testing.T) {
	f := newFake(t, 31)
	c := f.client(t, nil)
	ctx := context.Background()
	rec, found, err := c.Get(ctx, usersRes, "7")
	if err != nil || !found || rec["email"] != "u7@example.org" {
		t.Fatalf("%v %v %v", rec, found, err)
	}
	f.mu.Lock()
	f.del(7)
	f.mu.Unlock()
	if _, found, err := c.Get(ctx, usersRes, "7"); err != nil || found {
		t.Fatalf("deleted record: found %v err %v", found, err)
	}
	org, err := c.Organization(ctx)
	if err != nil || org.ID != "77" || org.Name != "Acme Volunteers" {
		t.Fatalf("%+v %v", org, err)
	}
	est, err := c.Estimate(ctx, usersRes)
	if err != nil || est.Total != 30 || est.PerPage != 15 || est.Pages != 2 {
		t.Fatalf("%+v %v", est, err)
	}
}
