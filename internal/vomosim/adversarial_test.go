package vomosim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
)

// tickingTransport moves the shared manual clock forward before every
// request, so the simulator's churn lands between the pages of a walk.
type tickingTransport struct {
	clk  *clock.Manual
	step time.Duration
}

func (tt tickingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tt.clk.Advance(tt.step)
	return http.DefaultTransport.RoundTrip(r)
}

// syncClient is what both test clients share: a base URL, a token and a
// local copy of the users they synced, keyed by id.
type syncClient struct {
	t        *testing.T
	http     *http.Client
	base     string
	tok      string
	clk      *clock.Manual
	store    map[int64]map[string]any
	requests int
}

func (c *syncClient) get(rawURL string) (page, http.Header, int) {
	c.t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.tok)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	c.requests++
	var p page
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			c.t.Fatalf("GET %s: %v", rawURL, err)
		}
	}
	return p, resp.Header, resp.StatusCode
}

// upsert keeps the newest version of a record (a later read of the same
// updated_at is the later state).
func (c *syncClient) upsert(rec map[string]any) {
	id := idOf(rec)
	if held, ok := c.store[id]; ok && held["updated_at"].(string) > rec["updated_at"].(string) {
		return
	}
	c.store[id] = rec
}

// naiveClient is the client VOMO-API.md warns against: a strict ">"
// cursor on updated_at, no overlap, no cap, links.next followed blindly,
// drift ignored, deletions never looked for.
type naiveClient struct {
	syncClient
	cursor string
}

func (n *naiveClient) sync() {
	next := n.base + "/v1/users"
	if n.cursor != "" {
		ts, err := time.Parse(stampLayout, n.cursor)
		if err != nil {
			n.t.Fatal(err)
		}
		// Strictly after the cursor: one microsecond later.
		next += "?updated_after=" + url.QueryEscape(ts.Add(time.Microsecond).Format(stampLayout))
	}
	for next != "" {
		p, _, status := n.get(next)
		if status != http.StatusOK {
			n.t.Fatalf("naive: %s: %d", next, status)
		}
		for _, rec := range p.Data {
			n.upsert(rec)
			if u := rec["updated_at"].(string); u > n.cursor {
				n.cursor = u
			}
		}
		next = ""
		if p.Links.Next != nil {
			next = *p.Links.Next
		}
	}
}

// carefulClient is the reference walk of VOMO-API.md and DESIGN.md §11:
// inclusive updated_after = checkpoint - overlap, a window capped at API
// time - settle (API time from the Date header), positions rather than page
// numbers, a step back when meta.total drops, and a full ID scan with
// created_before = cap whose absentees are confirmed with GET /users/{id}.
type carefulClient struct {
	syncClient
	settle, overlap time.Duration
	offset          time.Duration // API clock minus ours, from Date headers
	checkpoint      time.Time     // API time; zero before the backfill
	stepBacks       int
	deleted         int
}

func (c *carefulClient) request(u string) page {
	for {
		p, h, status := c.get(u)
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			c.offset = d.Sub(c.clk.Now())
		}
		if status == http.StatusOK {
			return p
		}
		c.t.Fatalf("careful: %s: %d", u, status)
	}
}

// capNow is the walk's upper bound, fixed before its first request.
func (c *carefulClient) capNow() time.Time {
	return c.clk.Now().Add(min(c.offset, 0)).Add(-c.settle).UTC().Truncate(time.Microsecond)
}

// walk reads every record of a filtered list, by position.
func (c *carefulClient) walk(filters url.Values, each func(map[string]any)) {
	pos, perPage, lastTotal, prevStart := 0, 15, -1, 0
	for guard := 0; guard < 100000; guard++ {
		q := url.Values{}
		for k, v := range filters {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(pos/perPage+1))
		p := c.request(c.base + "/v1/users?" + q.Encode())
		perPage = p.Meta.PerPage
		start := (p.Meta.CurrentPage - 1) * perPage
		for _, rec := range p.Data {
			each(rec)
		}
		end := start + len(p.Data)
		switch {
		case start > pos:
			// The page size changed under us: positions pos..start were
			// not read. Ask again with the new size.
			continue
		case lastTotal >= 0 && p.Meta.Total < lastTotal:
			// Drift: k records before us vanished, and the count may show
			// it one page late.
			k := lastTotal - p.Meta.Total
			pos = max(0, min(prevStart, start)-k)
			c.stepBacks++
		case len(p.Data) < perPage && end < p.Meta.Total:
			// A short page that the count says is not the end: records
			// vanished between the count and the select.
			k := p.Meta.Total - end
			pos = max(0, min(prevStart, start)-k)
			c.stepBacks++
		case len(p.Data) < perPage || p.Links.Next == nil && end >= p.Meta.Total:
			return
		default:
			pos = max(pos, end)
		}
		lastTotal, prevStart = p.Meta.Total, start
	}
	c.t.Fatal("careful: walk did not end")
}

// poll is an incremental read of the capped window.
func (c *carefulClient) poll() {
	capT := c.capNow()
	f := url.Values{}
	f.Set("updated_after", c.checkpoint.Add(-c.overlap).Format(stampLayout))
	f.Set("updated_before", capT.Format(stampLayout))
	c.walk(f, c.upsert)
	c.checkpoint = capT
}

// reconcile is a full scan: created_before = cap, no updated_* filter, and
// deletions only for held keys that are absent and answer 404.
func (c *carefulClient) reconcile() {
	capT := c.capNow()
	held := make(map[int64]bool, len(c.store))
	for id := range c.store {
		held[id] = true
	}
	seen := map[int64]bool{}
	f := url.Values{}
	f.Set("created_before", capT.Format(stampLayout))
	c.walk(f, func(rec map[string]any) {
		seen[idOf(rec)] = true
		c.upsert(rec)
	})
	for id := range held {
		if seen[id] {
			continue
		}
		if _, _, status := c.get(c.base + "/v1/users/" + strconv.FormatInt(id, 10)); status == http.StatusNotFound {
			delete(c.store, id)
			c.deleted++
		}
	}
	if c.checkpoint.IsZero() {
		c.checkpoint = capT // a backfill hands over to polling at its cap
	}
}

// diff compares a client's users with the truth.
func diff(t *testing.T, srv *Server, store map[int64]map[string]any) (missing, stale, extra int) {
	t.Helper()
	tr, err := srv.Truth("t001", "users")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]bool{}
	for _, raw := range tr.Records {
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		id := idOf(rec)
		want[id] = true
		got, ok := store[id]
		switch {
		case !ok:
			missing++
		case !reflect.DeepEqual(got, rec):
			stale++
		}
	}
	for id := range store {
		if !want[id] {
			extra++
		}
	}
	return missing, stale, extra
}

// TestNaiveClientLosesRecordsCarefulWalkDoesNot is the proof that the
// simulator is adversarial: under the same churn, the naive client ends
// with missing, stale or undeleted records, while the careful walk ends
// exactly equal to the truth, and its polls alone delivered every change.
func TestNaiveClientLosesRecordsCarefulWalkDoesNot(t *testing.T) {
	t.Parallel()
	sc := quiet(2000)
	sc.Churn.Enabled = true
	sc.Churn.PerMinute = 300
	sc.Churn.BulkImport = 0.05
	sc.Churn.LateShare = 0.1
	sc.Churn.LateMax = Duration(5 * time.Second)
	sc.Switches.CountQuery = "before"
	sc.Switches.CountGap = Duration(time.Second)
	sc.Switches.SecondResolution = true
	sc.Switches.PerPageAlt = 20
	sc.Switches.PerPageFlip = 0.05
	sc.Switches.ClockSkew = Duration(-7 * time.Second)
	srv, hs, clk := start(t, sc)
	tok := token(t, srv, "t001")
	hc := &http.Client{Transport: tickingTransport{clk: clk, step: 100 * time.Millisecond}}
	base := func() syncClient {
		return syncClient{t: t, http: hc, base: hs.URL, tok: tok, clk: clk, store: map[int64]map[string]any{}}
	}
	naive := &naiveClient{syncClient: base()}
	careful := &carefulClient{syncClient: base(), settle: 10 * time.Second, overlap: 2 * time.Second}

	careful.request(hs.URL + "/v1/organizations") // learn the API's clock
	naive.sync()
	careful.reconcile()
	for cycle := 1; cycle <= 16; cycle++ {
		clk.Advance(20 * time.Second)
		naive.sync()
		careful.poll()
		if cycle%8 == 0 {
			careful.reconcile()
		}
	}
	// Quiesce: stop changes, wait out late writes and the settle window,
	// then one more pass each.
	ch := srv.Scenario().Churn
	ch.Enabled = false
	if err := srv.SetChurn(ch); err != nil {
		t.Fatal(err)
	}
	clk.Advance(careful.settle + sc.Churn.LateMax.D() + 2*time.Second)
	naive.sync()
	careful.poll()
	pm, ps, pe := diff(t, srv, careful.store)
	careful.reconcile()

	nm, ns, ne := diff(t, srv, naive.store)
	cm, cs, ce := diff(t, srv, careful.store)
	t.Logf("naive:   missing %d, stale %d, deleted-but-kept %d (%d requests)", nm, ns, ne, naive.requests)
	t.Logf("careful: missing %d, stale %d, deleted-but-kept %d (%d requests, %d drift step-backs, %d deletions confirmed by 404)",
		cm, cs, ce, careful.requests, careful.stepBacks, careful.deleted)
	t.Logf("careful before its final reconcile (polling alone): missing %d, stale %d, deleted-but-kept %d", pm, ps, pe)
	if nm+ns == 0 {
		t.Errorf("the naive client lost nothing: the simulator is not adversarial enough")
	}
	if cm+cs+ce != 0 {
		t.Errorf("careful walk differs from the truth: missing %d, stale %d, extra %d", cm, cs, ce)
	}
	if pm+ps != 0 {
		t.Errorf("polling alone missed changes: missing %d, stale %d", pm, ps)
	}
	if careful.stepBacks == 0 {
		t.Errorf("no drift was seen: churn did not land during walks")
	}
}
