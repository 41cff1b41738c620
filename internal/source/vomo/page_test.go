package vomo

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const goodPage = `{"data":[{"type":"user","id":1,"email":"a@example.org","hours":1.5},{"type":"user","id":2}],
"links":{"first":"x?page=1","last":"x?page=9","prev":null,"next":"x?page=2"},
"meta":{"current_page":1,"from":1,"to":2,"last_page":9,"path":"x","per_page":15,"total":131}}`

func TestParsePage(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantErr   string // substring; "" means success
		wantN     int
		wantNext  bool
		wantTotal int
		wantPP    int
	}{
		{name: "reference page", body: goodPage, wantN: 2, wantNext: true, wantTotal: 131, wantPP: 15},
		{name: "null next", body: `{"data":[{"id":1}],"links":{"next":null},"meta":{"current_page":9,"per_page":15,"total":121}}`, wantN: 1, wantTotal: 121, wantPP: 15},
		{name: "null links falls back to meta", body: `{"data":[{"id":1}],"links":null,"meta":{"current_page":1,"per_page":1,"total":2,"last_page":2}}`, wantN: 1, wantNext: true, wantTotal: 2, wantPP: 1},
		{name: "no links, last page", body: `{"data":[],"meta":{"current_page":3,"per_page":15,"total":20,"last_page":2}}`, wantN: 0, wantTotal: 20, wantPP: 15},
		{name: "per_page as a string", body: `{"data":[],"links":{"next":null},"meta":{"current_page":"1","per_page":"100","total":0}}`, wantTotal: 0, wantPP: 100},
		{name: "string id", body: `{"data":[{"id":"ab/c"}],"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":1}}`, wantN: 1, wantTotal: 1, wantPP: 15},
		{name: "truncated", body: goodPage[:120], wantErr: "truncated"},
		{name: "empty body", body: "", wantErr: "empty body"},
		{name: "HTML 502 page", body: "<html><body><h1>502 Bad Gateway</h1></body></html>", wantErr: "HTML"},
		{name: "missing data", body: `{"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":0}}`, wantErr: "no data"},
		{name: "null data", body: `{"data":null,"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":0}}`, wantErr: "no data"},
		{name: "data not a list", body: `{"data":{"id":1},"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":1}}`, wantErr: "malformed"},
		{name: "record not an object", body: `{"data":[null],"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":1}}`, wantErr: "not an object"},
		{name: "record a number", body: `{"data":[5],"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":1}}`, wantErr: "malformed"},
		{name: "record without id", body: `{"data":[{"name":"x"}],"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":1}}`, wantErr: "missing"},
		{name: "missing meta", body: `{"data":[],"links":{"next":null}}`, wantErr: "no meta"},
		{name: "meta without total", body: `{"data":[],"meta":{"current_page":1,"per_page":15}}`, wantErr: "lacks"},
		{name: "total not a number", body: `{"data":[],"meta":{"current_page":1,"per_page":15,"total":"many"}}`, wantErr: "not an integer"},
		{name: "per_page zero", body: `{"data":[],"meta":{"current_page":1,"per_page":0,"total":0}}`, wantErr: "out of range"},
		{name: "more records than per_page", body: `{"data":[{"id":1},{"id":2}],"meta":{"current_page":1,"per_page":1,"total":2}}`, wantErr: "records on a page of"},
		{name: "trailing garbage", body: goodPage + `{"x":1}`, wantErr: "trailing"},
		{name: "array at top", body: `[{"id":1}]`, wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePage([]byte(tt.body), nil)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("want error containing %q, got a page of %d records", tt.wantErr, len(p.Records))
				}
				if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q: want malformed containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Records) != tt.wantN || p.HasNext != tt.wantNext || p.Total != tt.wantTotal || p.PerPage != tt.wantPP {
				t.Fatalf("got n=%d next=%v total=%d per_page=%d", len(p.Records), p.HasNext, p.Total, p.PerPage)
			}
		})
	}
}

func TestParsePageKeepsNumbersExact(t *testing.T) {
	body := `{"data":[{"id":9007199254740993,"hours":1.10}],"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":1}}`
	p, err := ParsePage([]byte(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Records[0]
	if r.Key != "9007199254740993" {
		t.Fatalf("key %q: a float64 would have rounded it", r.Key)
	}
	f, err := r.Fields()
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := f["hours"].(json.Number); !ok || h.String() != "1.10" {
		t.Fatalf("hours = %#v, want json.Number 1.10", f["hours"])
	}
	if v, ok, err := r.Field("hours"); err != nil || !ok || v != json.Number("1.10") {
		t.Fatalf("Field(hours) = %#v, %v, %v; want json.Number 1.10", v, ok, err)
	}
}

func TestKeyOf(t *testing.T) {
	tests := []struct {
		name string
		rec  string
		pk   []string
		want string
		err  bool
	}{
		{name: "integer id", rec: `{"id":42}`, pk: []string{"id"}, want: "42"},
		{name: "whole float", rec: `{"id":42.0}`, pk: []string{"id"}, want: "42"},
		{name: "exponent", rec: `{"id":4.2e1}`, pk: []string{"id"}, want: "42"},
		{name: "big id exact", rec: `{"id":123456789012345678901}`, pk: []string{"id"}, want: "123456789012345678901"},
		{name: "string", rec: `{"email":"a@example.org"}`, pk: []string{"email"}, want: "a@example.org"},
		{name: "composite", rec: `{"project_date_id":7001,"user_id":12}`, pk: []string{"project_date_id", "user_id"}, want: "7001/12"},
		{name: "slash escaped", rec: `{"a":"x/y","b":"z"}`, pk: []string{"a", "b"}, want: "x%2Fy/z"},
		{name: "percent escaped", rec: `{"a":"50%","b":"%2F"}`, pk: []string{"a", "b"}, want: "50%25/%252F"},
		{name: "single part escaped too", rec: `{"id":"a/b"}`, pk: []string{"id"}, want: "a%2Fb"},
		{name: "bool", rec: `{"a":true,"b":1}`, pk: []string{"a", "b"}, want: "true/1"},
		{name: "missing", rec: `{"id":1}`, pk: []string{"id", "user_id"}, err: true},
		{name: "null", rec: `{"id":null}`, pk: []string{"id"}, err: true},
		{name: "empty string", rec: `{"id":""}`, pk: []string{"id"}, err: true},
		{name: "object", rec: `{"id":{"x":1}}`, pk: []string{"id"}, err: true},
		{name: "no key fields", rec: `{"id":1}`, pk: nil, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec map[string]any
			dec := json.NewDecoder(strings.NewReader(tt.rec))
			dec.UseNumber()
			if err := dec.Decode(&rec); err != nil {
				t.Fatal(err)
			}
			got, err := KeyOf(rec, tt.pk)
			if tt.err {
				if err == nil {
					t.Fatalf("want error, got %q", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("KeyOf = %q, %v; want %q", got, err, tt.want)
			}
			parts, err := SplitKey(got)
			if err != nil {
				t.Fatal(err)
			}
			if JoinKey(parts...) != got {
				t.Fatalf("JoinKey(SplitKey(%q)) = %q", got, JoinKey(parts...))
			}
		})
	}
	// float64 records (decoded without UseNumber) give the same text.
	if k, _ := KeyOf(map[string]any{"id": float64(42)}, []string{"id"}); k != "42" {
		t.Fatalf("float64 id: %q", k)
	}
	if _, err := SplitKey("a%zz"); err == nil {
		t.Fatal("bad escape accepted")
	}
}

func TestTimestamps(t *testing.T) {
	want := time.Date(2026, 3, 4, 15, 22, 10, 0, time.UTC)
	for _, s := range []string{"2026-03-04T15:22:10.000000Z", "2026-03-04T15:22:10Z", "2026-03-04T16:22:10+01:00", "2026-03-04 15:22:10"} {
		got, err := ParseTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v", s, got, err)
		}
	}
	if got, err := ParseTime("2026-03-04"); err != nil || !got.Equal(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date: %v %v", got, err)
	}
	if got, _ := ParseTime("2026-03-04T15:22:10.123456Z"); got.Nanosecond() != 123456000 {
		t.Errorf("micros lost: %v", got)
	}
	for _, s := range []string{"", "yesterday", "2026-13-01"} {
		if _, err := ParseTime(s); err == nil {
			t.Errorf("ParseTime(%q) accepted", s)
		}
	}
	loc := time.FixedZone("x", -5*3600)
	if got := FormatTime(time.Date(2026, 3, 4, 10, 22, 10, 123456789, loc)); got != "2026-03-04T15:22:10.123456Z" {
		t.Errorf("FormatTime = %s", got)
	}
	if got := FormatTime(want); got != "2026-03-04T15:22:10.000000Z" {
		t.Errorf("FormatTime = %s", got)
	}
}
