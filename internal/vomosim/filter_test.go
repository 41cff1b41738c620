package vomosim

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// walkIDs reads every page of a list with the given query and returns the ids.
func walkIDs(t *testing.T, base, tok, path string, q url.Values) []int64 {
	t.Helper()
	var ids []int64
	for n := 1; ; n++ {
		q.Set("page", itoa(n))
		p := getPage(t, base+path+"?"+q.Encode(), tok)
		for _, rec := range p.Data {
			ids = append(ids, idOf(rec))
		}
		if p.Links.Next == nil {
			return ids
		}
	}
}

// TestTimeFiltersAreInclusiveToTheMicrosecond checks each time filter at
// its boundary, in each accepted form, against the truth.
func TestTimeFiltersAreInclusiveToTheMicrosecond(t *testing.T) {
	sc := quiet(300)
	sc.Switches.PerPageParam = true
	srv, hs, _ := start(t, sc)
	tok := token(t, srv, "t001")
	tr, err := srv.Truth("t001", "users")
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		id               int64
		created, updated time.Time
	}
	var recs []rec
	for _, raw := range tr.Records {
		var r struct {
			ID        int64  `json:"id"`
			CreatedAt string `json:"created_at"`
			UpdatedAt string `json:"updated_at"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		c, _ := time.Parse(stampLayout, r.CreatedAt)
		u, _ := time.Parse(stampLayout, r.UpdatedAt)
		recs = append(recs, rec{r.ID, c, u})
	}
	pivot := recs[150]
	if pivot.updated.Nanosecond()%int(time.Second) == 0 {
		t.Fatalf("pivot has no fraction; pick another record")
	}
	day := pivot.updated.Truncate(24 * time.Hour)
	us := time.Microsecond
	cases := []struct {
		name, field, value string
		keep               func(r rec) bool
	}{
		{"updated_after exact", "updated_after", pivot.updated.Format(stampLayout), func(r rec) bool { return !r.updated.Before(pivot.updated) }},
		{"updated_after +1µs", "updated_after", pivot.updated.Add(us).Format(stampLayout), func(r rec) bool { return r.updated.After(pivot.updated) }},
		{"updated_before exact", "updated_before", pivot.updated.Format(stampLayout), func(r rec) bool { return !r.updated.After(pivot.updated) }},
		{"updated_before -1µs", "updated_before", pivot.updated.Add(-us).Format(stampLayout), func(r rec) bool { return r.updated.Before(pivot.updated) }},
		{"created_after exact", "created_after", pivot.created.Format(stampLayout), func(r rec) bool { return !r.created.Before(pivot.created) }},
		{"created_before exact", "created_before", pivot.created.Format(stampLayout), func(r rec) bool { return !r.created.After(pivot.created) }},
		{"created_before -1µs", "created_before", pivot.created.Add(-us).Format(stampLayout), func(r rec) bool { return r.created.Before(pivot.created) }},
		{"plain date after", "updated_after", day.Format("2006-01-02"), func(r rec) bool { return !r.updated.Before(day) }},
		{"plain date before is midnight", "updated_before", day.Format("2006-01-02"), func(r rec) bool { return !r.updated.After(day) }},
		{"offset form", "updated_after", pivot.updated.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano), func(r rec) bool { return !r.updated.Before(pivot.updated) }},
		{"space form", "updated_after", pivot.updated.Format("2006-01-02 15:04:05.000000"), func(r rec) bool { return !r.updated.Before(pivot.updated) }},
		{"nanoseconds truncate", "updated_before", pivot.updated.Add(999).Format(time.RFC3339Nano), func(r rec) bool { return !r.updated.After(pivot.updated) }},
		{"empty value is no filter", "updated_after", "", func(rec) bool { return true }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{"per_page": {"100"}}
			q.Set(c.field, c.value)
			got := walkIDs(t, hs.URL, tok, "/v1/users", q)
			var want []int64
			for _, r := range recs {
				if c.keep(r) {
					want = append(want, r.id)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s=%s: got %d ids, want %d", c.field, c.value, len(got), len(want))
			}
		})
	}
	t.Run("combined window and like", func(t *testing.T) {
		q := url.Values{"per_page": {"7"}, "updated_after": {recs[20].updated.Format(stampLayout)},
			"updated_before": {recs[280].updated.Format(stampLayout)}, "name_like": {"AR"}}
		got := walkIDs(t, hs.URL, tok, "/v1/users", q)
		var want []int64
		for i, raw := range tr.Records {
			r := recs[i]
			if r.updated.Before(recs[20].updated) || r.updated.After(recs[280].updated) {
				continue
			}
			var u struct {
				FullName string `json:"full_name"`
			}
			_ = json.Unmarshal(raw, &u)
			if strings.Contains(strings.ToLower(u.FullName), "ar") {
				want = append(want, r.id)
			}
		}
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

// TestProjectTimeFilters: /projects takes the same time filters (assumed in
// VOMO-API.md); other resources ignore them and must be scanned in full.
func TestProjectTimeFilters(t *testing.T) {
	srv, hs, _ := start(t, quiet(400))
	tok := token(t, srv, "t001")
	tr, err := srv.Truth("t001", "projects")
	if err != nil {
		t.Fatal(err)
	}
	var mid struct {
		CreatedAt string `json:"created_at"`
	}
	if err := json.Unmarshal(tr.Records[len(tr.Records)/2], &mid); err != nil {
		t.Fatal(err)
	}
	got := walkIDs(t, hs.URL, tok, "/v1/projects", url.Values{"created_before": {mid.CreatedAt}})
	if len(got) != len(tr.Records)/2+1 {
		t.Errorf("projects created_before the middle one: %d of %d", len(got), len(tr.Records))
	}
	groups := walkIDs(t, hs.URL, tok, "/v1/groups", url.Values{"created_before": {"2000-01-01"}})
	if len(groups) == 0 {
		t.Errorf("/groups applied a time filter it does not have")
	}
}
