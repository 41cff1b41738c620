package vomosim

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func setSwitches(t *testing.T, srv *Server, fn func(sw *Switches)) {
	t.Helper()
	sw := srv.Scenario().Switches
	fn(&sw)
	if err := srv.SetSwitches(sw); err != nil {
		t.Fatal(err)
	}
}

// TestPerPageSwitches: the per_page parameter honoured or not, capped, and
// the page size changing under a walk.
func TestPerPageSwitches(t *testing.T) {
	srv, hs, _ := start(t, quiet(300))
	tok := token(t, srv, "t001")
	cases := []struct {
		name    string
		sw      func(sw *Switches)
		query   string
		perPage int
	}{
		{"ignored by default", func(sw *Switches) {}, "per_page=50", 15},
		{"honoured", func(sw *Switches) { sw.PerPageParam = true }, "per_page=50", 50},
		{"capped", func(sw *Switches) { sw.PerPageParam, sw.MaxPerPage = true, 100 }, "per_page=500", 100},
		{"invalid falls back", func(sw *Switches) { sw.PerPageParam = true }, "per_page=abc", 15},
		{"flipped", func(sw *Switches) { sw.PerPageAlt, sw.PerPageFlip = 20, 1 }, "", 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setSwitches(t, srv, func(sw *Switches) { *sw = DefaultScenario().Switches; c.sw(sw) })
			p := getPage(t, hs.URL+"/v1/users?page=2&"+c.query, tok)
			if p.Meta.PerPage != c.perPage || len(p.Data) != c.perPage || *p.Meta.From != c.perPage+1 {
				t.Errorf("per_page %d, %d records, from %d; want %d", p.Meta.PerPage, len(p.Data), *p.Meta.From, c.perPage)
			}
		})
	}
}

// TestListShapeSwitches: links without filters, descending order, second
// resolution.
func TestListShapeSwitches(t *testing.T) {
	srv, hs, _ := start(t, quiet(100))
	tok := token(t, srv, "t001")
	q := "/v1/users?updated_after=" + url.QueryEscape("2020-01-01T00:00:00.000000Z")

	p := getPage(t, hs.URL+q, tok)
	if !strings.Contains(*p.Links.Next, "updated_after=") || !strings.HasSuffix(*p.Links.Next, "&page=2") {
		t.Errorf("links keep the filters by default: %s", *p.Links.Next)
	}
	setSwitches(t, srv, func(sw *Switches) { sw.LinksDropFilters = true })
	p = getPage(t, hs.URL+q, tok)
	if *p.Links.Next != hs.URL+"/v1/users?page=2" {
		t.Errorf("links.next with filters dropped: %s", *p.Links.Next)
	}

	setSwitches(t, srv, func(sw *Switches) { sw.Order = "id_desc" })
	p = getPage(t, hs.URL+"/v1/users", tok)
	if idOf(p.Data[0]) != 100 || idOf(p.Data[1]) != 99 {
		t.Errorf("id_desc starts with %d, %d", idOf(p.Data[0]), idOf(p.Data[1]))
	}

	setSwitches(t, srv, func(sw *Switches) { sw.SecondResolution = true })
	_, _, b := call(t, "POST", hs.URL+"/v1/users", tok, `{"email":"s@example.com","first_name":"S","last_name":"R"}`)
	if !strings.Contains(string(b), `.000000Z"}}`) {
		t.Errorf("second resolution: %s", b)
	}
}

// TestCountQueryDrift shows Laravel's two queries: with count_query
// "before", deletes that land between the count and the select shift the
// page at once but show in meta.total only on the next page.
func TestCountQueryDrift(t *testing.T) {
	for _, mode := range []string{"same", "before", "after"} {
		t.Run(mode, func(t *testing.T) {
			sc := quiet(200)
			sc.Churn = Churn{Enabled: true, PerMinute: 600, Delete: 1, BulkMin: 1, BulkMax: 1}
			sc.Switches.CountQuery = mode
			sc.Switches.CountGap = Duration(5 * time.Second)
			srv, hs, clk := start(t, sc)
			tok := token(t, srv, "t001")
			p1 := getPage(t, hs.URL+"/v1/users?page=1", tok)
			clk.Advance(3 * time.Second) // about 30 deletes come due
			p2 := getPage(t, hs.URL+"/v1/users?page=2", tok)
			tr, err := srv.Truth("t001", "users")
			if err != nil {
				t.Fatal(err)
			}
			now := len(tr.Records)
			if now >= p1.Meta.Total {
				t.Fatalf("no deletes happened (%d -> %d)", p1.Meta.Total, now)
			}
			// The page itself always reflects the deletes: positions shifted.
			switch mode {
			case "same", "after":
				if p2.Meta.Total != now {
					t.Errorf("page 2 total %d, truth %d", p2.Meta.Total, now)
				}
			case "before":
				if p2.Meta.Total != p1.Meta.Total {
					t.Errorf("page 2 total %d should still be the old %d", p2.Meta.Total, p1.Meta.Total)
				}
				c := srv.Scenario().Churn
				c.Enabled = false
				_ = srv.SetChurn(c)
				clk.Advance(time.Second)
				if p3 := getPage(t, hs.URL+"/v1/users?page=3", tok); p3.Meta.Total != now {
					t.Errorf("page 3 total %d, want the drop to %d", p3.Meta.Total, now)
				}
			}
			t.Logf("%s: page 1 total %d, page 2 total %d, truth %d", mode, p1.Meta.Total, p2.Meta.Total, now)
		})
	}
}

// TestLateVisibleWrites: a write stamped T shows up only later, inside a
// window a client may already have read.
func TestLateVisibleWrites(t *testing.T) {
	sc := quiet(300)
	sc.Churn = Churn{Enabled: true, PerMinute: 600, Update: 1, BulkMin: 1, BulkMax: 1, LateShare: 1, LateMax: Duration(10 * time.Second)}
	srv, hs, clk := start(t, sc)
	tok := token(t, srv, "t001")
	t0 := srv.APINow()
	clk.Advance(5 * time.Second)
	window := "/v1/users?updated_after=" + url.QueryEscape(t0.Format(stampLayout)) +
		"&updated_before=" + url.QueryEscape(t0.Add(5*time.Second).Format(stampLayout))
	early := getPage(t, hs.URL+window, tok).Meta.Total
	pending, err := srv.Pending("t001")
	if err != nil || pending == 0 {
		t.Fatalf("no writes in flight (%d, %v)", pending, err)
	}
	c := srv.Scenario().Churn
	c.Enabled = false
	if err := srv.SetChurn(c); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	late := getPage(t, hs.URL+window, tok).Meta.Total
	if late <= early {
		t.Errorf("the window [t0, t0+5s] held %d records at t0+5s and %d later; late writes should add to it", early, late)
	}
	if p, _ := srv.Pending("t001"); p != 0 {
		t.Errorf("%d writes still in flight after late_max", p)
	}
	t.Logf("window read at t0+5s: %d records; read again after late_max: %d", early, late)
}
