package vomo

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzParsePage checks that no body makes the parser panic, that a body it
// accepts is a consistent page, and that a body it rejects is reported as
// malformed (never as an empty page).
func FuzzParsePage(f *testing.F) {
	f.Add([]byte(goodPage))
	f.Add([]byte(`{"data":[],"links":{"next":null},"meta":{"current_page":1,"per_page":"15","total":0}}`))
	f.Add([]byte(`{"data":[{"id":"a/b","user_id":3}],"meta":{"current_page":2,"per_page":1,"total":5,"last_page":5}}`))
	f.Add([]byte(`<html>502</html>`))
	f.Add([]byte(`{"data":[{"id":1},`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePage(body, nil)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error not marked malformed: %v", err)
			}
			if p != nil {
				t.Fatal("a page returned with an error")
			}
			return
		}
		if p.CurrentPage < 1 || p.PerPage < 1 || p.Total < 0 || len(p.Records) > p.PerPage || p.Start() < 0 {
			t.Fatalf("inconsistent page accepted: %+v", p)
		}
		for _, r := range p.Records {
			f, err := r.Fields()
			if r.Key == "" || err != nil || f == nil {
				t.Fatalf("record without key or fields: %+v (%v)", r, err)
			}
			if !json.Valid(r.Raw) {
				t.Fatalf("record %s: raw bytes are not JSON: %q", r.Key, r.Raw)
			}
			for name, want := range f {
				got, ok, err := r.Field(name)
				if err != nil || !ok || !reflect.DeepEqual(got, want) {
					t.Fatalf("record %s: Field(%q) = %#v, %v, %v; Fields has %#v", r.Key, name, got, ok, err, want)
				}
			}
			parts, err := SplitKey(r.Key)
			if err != nil || JoinKey(parts...) != r.Key {
				t.Fatalf("key %q does not round-trip", r.Key)
			}
		}
	})
}
