package vomo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
)

// fakeAPI is a small VOMO for tests: one tenant's /users with the list
// filters, Laravel's count-then-select, a Date header from a manual clock
// and hooks to change data between (and inside) requests.
type fakeAPI struct {
	mu    sync.Mutex
	t     testing.TB
	clk   *clock.Manual
	skew  time.Duration // API time = clock + skew
	token string

	recs    []fakeRec // ascending id
	nextID  int64
	perPage int
	// honour per_page up to maxPerPage when set
	honourPerPage bool
	maxPerPage    int
	// sizeFor overrides the page size of request n (1-based), 0 = default
	sizeFor func(n int) int
	// before runs before the count of request n; between runs after the
	// count and before the select (Laravel's two queries).
	before, between func(f *fakeAPI, n int)
	// fault, when it returns true, has written the response itself.
	fault func(w http.ResponseWriter, r *http.Request, n int) bool
	// bogusNext makes links.next point somewhere a client must not go.
	bogusNext bool

	n    int
	urls []string
	srv  *httptest.Server
}

type fakeRec struct {
	id               int64
	created, updated time.Time
	gone             bool
}

func newFake(t testing.TB, n int) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, clk: clock.NewManual(time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)), token: "s3cr3t-token-XYZ", perPage: 15, nextID: 1}
	base := f.clk.Now().Add(-48 * time.Hour)
	for i := 0; i < n; i++ {
		f.add(base.Add(time.Duration(i)*time.Minute), base.Add(time.Duration(i)*time.Minute))
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) add(created, updated time.Time) int64 {
	id := f.nextID
	f.nextID++
	f.recs = append(f.recs, fakeRec{id: id, created: created.Truncate(time.Microsecond), updated: updated.Truncate(time.Microsecond)})
	return id
}

func (f *fakeAPI) now() time.Time { return f.clk.Now().Add(f.skew) }

// live returns the ids of records that exist and match pred.
func (f *fakeAPI) live(pred func(r fakeRec) bool) map[int64]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int64]bool{}
	for _, r := range f.recs {
		if !r.gone && (pred == nil || pred(r)) {
			out[r.id] = true
		}
	}
	return out
}

func (f *fakeAPI) del(id int64) {
	for i := range f.recs {
		if f.recs[i].id == id {
			f.recs[i].gone = true
		}
	}
}

func (f *fakeAPI) touch(id int64, t time.Time) {
	for i := range f.recs {
		if f.recs[i].id == id {
			f.recs[i].updated = t.Truncate(time.Microsecond)
		}
	}
}

func (f *fakeAPI) client(t testing.TB, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL: f.srv.URL + "/v1",
		Tenant:  "acme",
		Token:   StaticToken(f.token),
		Clock:   f.clk,
		Sleep: func(ctx context.Context, d time.Duration) error {
			f.clk.Advance(d)
			return ctx.Err()
		},
		Jitter: func(d time.Duration) time.Duration { return d / 2 },
		Retry:  Retry{Attempts: 4, Backoff: time.Second, MaxBackoff: 8 * time.Second},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.urls = append(f.urls, r.URL.String())
	w.Header().Set("Date", f.now().UTC().Format(http.TimeFormat))
	if f.fault != nil && f.fault(w, r, n) {
		f.mu.Unlock()
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		f.mu.Unlock()
		writeJSON(w, 401, map[string]any{"message": "Unauthenticated."})
		return
	}
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	switch {
	case path == "/users":
		f.list(w, r, n)
	case strings.HasPrefix(path, "/users/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(path, "/users/"), 10, 64)
		for _, rec := range f.recs {
			if rec.id == id && !rec.gone {
				writeJSON(w, 200, map[string]any{"data": f.render(rec)})
				return
			}
		}
		writeJSON(w, 404, map[string]any{"message": "No query results for model [User]."})
	case path == "/organizations":
		writeJSON(w, 200, map[string]any{"data": []any{map[string]any{"id": 77, "name": "Acme Volunteers"}},
			"links": map[string]any{"next": nil}, "meta": map[string]any{"current_page": 1, "per_page": 15, "total": 1}})
	default:
		writeJSON(w, 404, map[string]any{"message": "Not Found"})
	}
}

func (f *fakeAPI) render(r fakeRec) map[string]any {
	return map[string]any{"type": "user", "id": r.id, "email": fmt.Sprintf("u%d@example.org", r.id),
		"created_at": r.created.Format(StampLayout), "updated_at": r.updated.Format(StampLayout)}
}

func (f *fakeAPI) selectRecs(q map[string]time.Time) []fakeRec {
	var out []fakeRec
	for _, r := range f.recs {
		if r.gone {
			continue
		}
		if t, ok := q["updated_after"]; ok && r.updated.Before(t) {
			continue
		}
		if t, ok := q["updated_before"]; ok && r.updated.After(t) {
			continue
		}
		if t, ok := q["created_before"]; ok && r.created.After(t) {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request, n int) {
	q := map[string]time.Time{}
	for _, k := range []string{"updated_after", "updated_before", "created_before"} {
		if v := r.URL.Query().Get(k); v != "" {
			t, err := ParseTime(v)
			if err != nil {
				writeJSON(w, 422, map[string]any{"message": "bad filter", "errors": map[string][]string{k: {"not a date"}}})
				return
			}
			q[k] = t
		}
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	size := f.perPage
	if pp, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && f.honourPerPage && pp > 0 {
		size = min(pp, f.maxPerPage)
	}
	if f.sizeFor != nil {
		if s := f.sizeFor(n); s > 0 {
			size = s
		}
	}
	if f.before != nil {
		f.before(f, n)
	}
	total := len(f.selectRecs(q))
	if f.between != nil {
		f.between(f, n)
	}
	all := f.selectRecs(q)
	lo := min((page-1)*size, len(all))
	hi := min(lo+size, len(all))
	data := make([]any, 0, hi-lo)
	for _, rec := range all[lo:hi] {
		data = append(data, f.render(rec))
	}
	last := max(1, (total+size-1)/size)
	var next any
	if page < last {
		next = "http://example.invalid/v1/users?page=" + strconv.Itoa(page+1)
		if f.bogusNext {
			next = "http://example.invalid/elsewhere?page=999"
		}
	}
	writeJSON(w, 200, map[string]any{
		"data":  data,
		"links": map[string]any{"first": "…?page=1", "last": "…?page=" + strconv.Itoa(last), "prev": nil, "next": next},
		"meta":  map[string]any{"current_page": page, "per_page": size, "total": total, "last_page": last, "path": "/users"},
	})
}

// collect runs fn-style pages into a set and keeps the progress of each.
type collector struct {
	ids   map[string]int
	pages []Page
	// failAfter makes the callback fail after that many pages (a crash);
	// negative fails at once.
	failAfter int
}

func (c *collector) fn(_ context.Context, p Page) error {
	if c.failAfter < 0 || c.failAfter > 0 && len(c.pages) >= c.failAfter {
		return errCrash
	}
	if c.ids == nil {
		c.ids = map[string]int{}
	}
	for _, r := range p.Records {
		c.ids[r.Key]++
	}
	c.pages = append(c.pages, p)
	return nil
}

var errCrash = fmt.Errorf("simulated crash")

func idSet(m map[int64]bool) map[string]bool {
	out := map[string]bool{}
	for id := range m {
		out[strconv.FormatInt(id, 10)] = true
	}
	return out
}

// missing returns the ids of want not in got.
func missing(want map[string]bool, got map[string]int) []string {
	var out []string
	for id := range want {
		if got[id] == 0 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
