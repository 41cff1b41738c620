package vomosim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/siphonhq/siphon/internal/clock"
)

// FuzzListQuery feeds arbitrary query strings to a list endpoint: the
// answer is always a 200 envelope or a 422, never a panic, and the envelope
// is consistent.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"page=2&updated_after=2026-03-04T15:22:10.000000Z",
		"updated_before=2026-03-04&created_after=2025-01-01 00:00:00",
		"page=99999999999999999999&per_page=-5",
		"per_page=100000&name_like=%25&email_like=_",
		"updated_after=2026-03-04T15:22:10.123456789%2B02:00",
		"created_before=9999-12-31T23:59:59.999999Z&page=0",
		"updated_after=&updated_before=2026-13-45",
		"%zz=1&page=%",
	} {
		f.Add(s)
	}
	sc := quiet(50)
	sc.Switches.PerPageParam = true
	srv, err := New(Options{Clock: clock.NewManual(testEpoch), Scenario: sc})
	if err != nil {
		f.Fatal(err)
	}
	tok := srv.Tenants()[0].Token
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/users", RawQuery: raw}, Host: "vomo.test",
			Header: http.Header{"Authorization": {"Bearer " + tok}}}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			var p page
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("%q: %v", raw, err)
			}
			if len(p.Data) > p.Meta.PerPage || p.Meta.Total < 0 || p.Meta.LastPage < 1 ||
				(len(p.Data) > 0) != (p.Meta.From != nil) {
				t.Fatalf("%q: inconsistent envelope %+v", raw, p.Meta)
			}
		case 422:
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%q: 422 body not JSON", raw)
			}
		default:
			t.Fatalf("%q: status %d", raw, w.Code)
		}
	})
}

// FuzzParseFilterTime: any accepted value formats back to the same instant.
func FuzzParseFilterTime(f *testing.F) {
	for _, s := range []string{"2026-03-04T15:22:10.000000Z", "2026-03-04", "2026-03-04 15:22:10", "2026-03-04T15:22:10+02:00", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		us, err := parseFilterTime(s)
		if err != nil {
			return
		}
		again, err := parseFilterTime(string(appendStamp(nil, us)))
		if err != nil || again != us {
			t.Fatalf("%q -> %d -> %s -> %d (%v)", s, us, appendStamp(nil, us), again, err)
		}
	})
}
