package vomo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"
)

func TestWalkWindowAndURLs(t *testing.T) {
	f := newFake(t, 40)
	f.bogusNext = true
	c := f.client(t, nil)
	c.Offset().Set(-time.Minute) // the API is a minute behind us
	checkpoint := f.clk.Now().Add(-48*time.Hour + 10*time.Minute)
	p, err := c.NewWalk(context.Background(), usersRes, checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	wantCap := f.clk.Now().Add(-time.Minute - 30*time.Second)
	if !p.Cap.Equal(wantCap) || !p.After.Equal(checkpoint.Add(-2*time.Minute)) {
		t.Fatalf("window %v..%v", p.After, p.Cap)
	}
	f.clk.Advance(time.Hour) // the cap stays where NewWalk fixed it
	var col collector
	res, err := c.Walk(context.Background(), usersRes, p, col.fn)
	if err != nil || !res.Complete {
		t.Fatalf("res %+v, err %v", res, err)
	}
	want := idSet(f.live(func(r fakeRec) bool { return !r.updated.Before(p.After) && !r.updated.After(p.Cap) }))
	if m := missing(want, col.ids); len(m) > 0 || len(col.ids) != len(want) {
		t.Fatalf("missing %v; got %d of %d", m, len(col.ids), len(want))
	}
	if len(want) != 32 || len(f.urls) != 3 {
		t.Fatalf("%d records in the window, %d requests", len(want), len(f.urls))
	}
	last := col.pages[len(col.pages)-1]
	if !last.Done || !last.Progress.Done || !last.Progress.Cap.Equal(wantCap) {
		t.Fatalf("last page %+v", last.Progress)
	}
	for i, raw := range f.urls {
		u, _ := url.Parse(raw)
		q := u.Query()
		if u.Path != "/v1/users" {
			t.Fatalf("request %d went to %s (links.next followed?)", i, u.Path)
		}
		if q.Get("updated_after") != "2026-03-02T12:08:00.000000Z" || q.Get("updated_before") != FormatTime(wantCap) || q.Get("created_before") != "" {
			t.Fatalf("request %d filters: %s", i, u.RawQuery)
		}
		if q.Get("page") != fmt.Sprint(i+1) {
			t.Fatalf("request %d asked page %s", i, q.Get("page"))
		}
	}
	// per_page=100 was asked once, not honoured, and not asked again.
	if q0, _ := url.ParseQuery(mustURL(f.urls[0]).RawQuery); q0.Get("per_page") != "100" {
		t.Fatalf("first request did not ask for per_page: %s", f.urls[0])
	}
	if q1, _ := url.ParseQuery(mustURL(f.urls[1]).RawQuery); q1.Get("per_page") != "" {
		t.Fatalf("per_page asked again after being refused: %s", f.urls[1])
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestWalkKeepsHonouredPerPage(t *testing.T) {
	f := newFake(t, 250)
	f.honourPerPage, f.maxPerPage = true, 100
	c := f.client(t, nil)
	c.Offset().Set(0)
	p, _ := c.NewWalk(context.Background(), usersRes, time.Time{})
	var col collector
	if _, err := c.Walk(context.Background(), usersRes, p, col.fn); err != nil {
		t.Fatal(err)
	}
	if len(f.urls) != 3 || len(col.ids) != 250 {
		t.Fatalf("%d requests for 250 records at 100 a page; got %d ids", len(f.urls), len(col.ids))
	}
	for _, u := range f.urls {
		if mustURL(u).Query().Get("per_page") != "100" {
			t.Fatalf("per_page not kept: %s", u)
		}
	}
}

func TestWalkEmptyWindow(t *testing.T) {
	f := newFake(t, 3)
	c := f.client(t, nil)
	c.Offset().Set(0)
	cp := f.clk.Now().Add(time.Minute) // a checkpoint past the cap
	p, err := c.NewWalk(context.Background(), usersRes, cp)
	if err != nil || !p.Done || !p.Cap.Equal(cp) {
		t.Fatalf("%+v %v", p, err)
	}
	var col collector
	res, err := c.Walk(context.Background(), usersRes, p, col.fn)
	if err != nil || !res.Complete || len(col.pages) != 1 || !col.pages[0].Done || f.n != 0 {
		t.Fatalf("res %+v err %v pages %d requests %d", res, err, len(col.pages), f.n)
	}
}

func TestNewWalkProbesUnknownOffset(t *testing.T) {
	f := newFake(t, 3)
	f.skew = -5 * time.Minute
	c := f.client(t, nil)
	p, err := c.NewWalk(context.Background(), usersRes, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if f.n != 1 {
		t.Fatalf("%d requests, want one probe", f.n)
	}
	// The API is 5 minutes behind: the cap is API now − settle (within the
	// Date header's second).
	apiNow := f.now()
	if d := apiNow.Add(-30 * time.Second).Sub(p.Cap); d < 0 || d > time.Second {
		t.Fatalf("cap %v vs API now %v", p.Cap, apiNow)
	}
	if _, err := c.NewWalk(context.Background(), usersRes, time.Time{}); err != nil || f.n != 1 {
		t.Fatalf("second NewWalk probed again: %d requests", f.n)
	}
}

// deleteBefore deletes the live record at list position pos (in the
// unfiltered id order) when there is one.
func (f *fakeAPI) deleteAt(pos int) {
	live := 0
	for i := range f.recs {
		if f.recs[i].gone {
			continue
		}
		if live == pos {
			f.recs[i].gone = true
			return
		}
		live++
	}
}

func TestWalkDriftStepBack(t *testing.T) {
	tests := []struct {
		name string
		// change runs inside request n: before its count, or between
		// count and select (the drop then shows one page late).
		late bool
		at   map[int][]int // request -> positions to delete
	}{
		{name: "delete before count", at: map[int][]int{3: {0, 5}, 5: {1}}},
		{name: "delete between count and select", late: true, at: map[int][]int{3: {0, 5}, 5: {1}}},
		{name: "delete on the last page, late", late: true, at: map[int][]int{7: {2, 3, 4}}},
		{name: "mass delete", late: true, at: map[int][]int{4: {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, 100)
			f.perPage = 15
			hook := func(f *fakeAPI, n int) {
				for _, pos := range tt.at[n] {
					f.deleteAt(pos)
				}
			}
			if tt.late {
				f.between = hook
			} else {
				f.before = hook
			}
			c := f.client(t, nil)
			c.Offset().Set(0)
			p, _ := c.NewScan(context.Background(), usersRes)
			startSet := idSet(f.live(nil))
			var col collector
			res, err := c.Scan(context.Background(), usersRes, p, col.fn)
			if err != nil || !res.Complete {
				t.Fatalf("res %+v err %v", res, err)
			}
			want := intersect(startSet, idSet(f.live(nil)))
			if m := missing(want, col.ids); len(m) > 0 {
				t.Fatalf("lost %v (step-backs %d, requests %d)", m, res.Progress.StepBacks, res.Progress.Requests)
			}
			if res.Progress.StepBacks == 0 {
				t.Fatal("no step-back taken")
			}
			for id, n := range col.ids {
				if n > 1 {
					t.Fatalf("id %s emitted %d times", id, n)
				}
			}
		})
	}
}

func intersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

// TestWalkChurnProperty runs many walks and scans against random churn
// (deletes, updates moving records past the cap, late creates outside the
// window) landing before counts and between count and select, with page
// sizes that change between requests. Every record in the window at the
// start and still in it at the end must be yielded.
var raceEnabled bool

func TestWalkChurnProperty(t *testing.T) {
	seeds := 120
	if testing.Short() || raceEnabled {
		seeds = 20
	}
	for seed := range seeds {
		for _, scan := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			f := newFake(t, 50+rng.IntN(200))
			f.perPage = []int{5, 10, 15}[rng.IntN(3)]
			if rng.IntN(3) == 0 {
				f.sizeFor = func(int) int {
					if rng.IntN(4) == 0 {
						return []int{7, 10, 15, 20}[rng.IntN(4)]
					}
					return 0
				}
			}
			churn := func(f *fakeAPI, n int) {
				for range rng.IntN(3) {
					live := 0
					for _, r := range f.recs {
						if !r.gone {
							live++
						}
					}
					if live == 0 {
						return
					}
					switch rng.IntN(3) {
					case 0:
						f.deleteAt(rng.IntN(live))
					case 1: // an update moves a record past the cap
						id := f.recs[rng.IntN(len(f.recs))].id
						f.touch(id, f.now())
					case 2: // a new record, created now: outside both caps
						f.add(f.now(), f.now())
					}
				}
			}
			if rng.IntN(2) == 0 {
				f.between = churn
			} else {
				f.before = churn
			}
			c := f.client(t, func(c *Config) { c.PerPage = -1 })
			c.Offset().Set(0)
			ctx := context.Background()
			var p Progress
			var inWindow func(r fakeRec) bool
			if scan {
				p, _ = c.NewScan(ctx, usersRes)
				inWindow = func(r fakeRec) bool { return !r.created.After(p.Cap) }
			} else {
				p, _ = c.NewWalk(ctx, usersRes, f.clk.Now().Add(-48*time.Hour+time.Duration(rng.IntN(60))*time.Minute))
				inWindow = func(r fakeRec) bool { return !r.updated.Before(p.After) && !r.updated.After(p.Cap) }
			}
			start := idSet(f.live(inWindow))
			f.clk.Advance(time.Second)
			var col collector
			var res Result
			var err error
			if scan {
				res, err = c.Scan(ctx, usersRes, p, col.fn)
			} else {
				res, err = c.Walk(ctx, usersRes, p, col.fn)
			}
			if err != nil || !res.Complete {
				t.Fatalf("seed %d scan %v: res %+v err %v", seed, scan, res, err)
			}
			want := intersect(start, idSet(f.live(inWindow)))
			if m := missing(want, col.ids); len(m) > 0 {
				t.Fatalf("seed %d scan %v: lost %v (step-backs %d)", seed, scan, m, res.Progress.StepBacks)
			}
		}
	}
}

func TestWalkPerPageChangesMidWalk(t *testing.T) {
	for _, sizes := range [][]int{{15, 15, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}, {10, 25, 25, 25, 25}, {15, 7, 20, 3, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15}} {
		f := newFake(t, 80)
		f.sizeFor = func(n int) int {
			if n-1 < len(sizes) {
				return sizes[n-1]
			}
			return 0
		}
		c := f.client(t, func(c *Config) { c.PerPage = -1 })
		c.Offset().Set(0)
		p, _ := c.NewScan(context.Background(), usersRes)
		var col collector
		res, err := c.Scan(context.Background(), usersRes, p, col.fn)
		if err != nil || !res.Complete {
			t.Fatalf("sizes %v: %+v %v", sizes, res, err)
		}
		if m := missing(idSet(f.live(nil)), col.ids); len(m) > 0 {
			t.Fatalf("sizes %v: lost %v", sizes, m)
		}
	}
}

func TestWalkResume(t *testing.T) {
	f := newFake(t, 100)
	f.perPage = 10
	c := f.client(t, func(c *Config) { c.PerPage = -1 })
	c.Offset().Set(0)
	ctx := context.Background()
	p, _ := c.NewWalk(ctx, usersRes, f.clk.Now().Add(-72*time.Hour))
	start := idSet(f.live(nil))

	// The first run commits 4 pages, then the process dies.
	first := collector{failAfter: 4}
	_, err := c.Walk(ctx, usersRes, p, first.fn)
	if !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	saved := first.pages[len(first.pages)-1].Progress
	if saved.Next != 40 || saved.Done {
		t.Fatalf("saved progress %+v", saved)
	}
	if r, _ := c.Walk(ctx, usersRes, saved, (&collector{failAfter: -1}).fn); r.Progress.Next != 40 {
		t.Fatalf("a page fn refused moved the progress: %+v", r.Progress)
	}
	// The saved progress survives a JSON round trip, as the store keeps it.
	saved = roundTrip(t, saved)

	// While down: 6 records before the saved position vanish.
	f.mu.Lock()
	for range 6 {
		f.deleteAt(3)
	}
	f.mu.Unlock()
	f.clk.Advance(10 * time.Minute)

	c2 := f.client(t, func(c *Config) { c.PerPage = -1 })
	c2.Offset().Set(0)
	var second collector
	res, err := c2.Walk(ctx, usersRes, saved, second.fn)
	if err != nil || !res.Complete {
		t.Fatalf("%+v %v", res, err)
	}
	if !res.Progress.Cap.Equal(p.Cap) || !res.Progress.After.Equal(p.After) {
		t.Fatal("the resumed walk changed its window")
	}
	all := map[string]int{}
	for k, v := range first.ids {
		all[k] += v
	}
	for k, v := range second.ids {
		all[k] += v
	}
	want := intersect(start, idSet(f.live(nil)))
	if m := missing(want, all); len(m) > 0 {
		t.Fatalf("lost %v over the crash (step-backs %d)", m, res.Progress.StepBacks)
	}
	if res.Progress.StepBacks == 0 {
		t.Fatal("the resume did not step back over the records lost meanwhile")
	}
}

func TestProgressMismatch(t *testing.T) {
	f := newFake(t, 3)
	c := f.client(t, nil)
	c.Offset().Set(0)
	ctx := context.Background()
	scan, _ := c.NewScan(ctx, usersRes)
	if _, err := c.Walk(ctx, usersRes, scan, (&collector{}).fn); err == nil {
		t.Fatal("a scan's progress was walked")
	}
	other := usersRes
	other.Path = "/projects"
	if _, err := c.Scan(ctx, other, scan, (&collector{}).fn); err == nil {
		t.Fatal("progress of /users used for /projects")
	}
	if _, err := c.NewWalk(ctx, Resource{Path: "/forms"}, time.Time{}); err == nil {
		t.Fatal("walked a cursorless resource")
	}
}

func TestWalkStopsOnCallbackError(t *testing.T) {
	f := newFake(t, 50)
	c := f.client(t, nil)
	c.Offset().Set(0)
	ctx := context.Background()
	p, _ := c.NewScan(ctx, usersRes)
	boom := errors.New("store down")
	res, err := c.Scan(ctx, usersRes, p, func(context.Context, Page) error { return boom })
	if !errors.Is(err, boom) || res.Complete || f.n != 1 {
		t.Fatalf("%+v %v %d", res, err, f.n)
	}
}

func TestResumeAfterPerPageHonoured(t *testing.T) {
	f := newFake(t, 120)
	f.honourPerPage, f.maxPerPage = true, 100
	ctx := context.Background()
	c1 := f.client(t, func(c *Config) { c.PerPage = -1 })
	c1.Offset().Set(0)
	p, _ := c1.NewScan(ctx, usersRes)
	first := collector{failAfter: 2}
	if _, err := c1.Scan(ctx, usersRes, p, first.fn); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	saved := roundTrip(t, first.pages[1].Progress)
	// The next worker asks for per_page=100 and gets it.
	c2 := f.client(t, nil)
	c2.Offset().Set(0)
	var second collector
	res, err := c2.Scan(ctx, usersRes, saved, second.fn)
	if err != nil || !res.Complete || res.Progress.PerPage != 100 {
		t.Fatalf("%+v %v", res, err)
	}
	all := map[string]int{}
	for k := range first.ids {
		all[k]++
	}
	for k := range second.ids {
		all[k]++
	}
	if m := missing(idSet(f.live(nil)), all); len(m) > 0 {
		t.Fatalf("lost %v", m)
	}
}
