package vomo

import (
	"encoding/json"
	"reflect"
	"testing"
)

// pageOf wraps records (a JSON list's inside) in a one-page envelope.
func pageOf(records string) []byte {
	return []byte(`{"data":[` + records + `],"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":3}}`)
}

func TestRecordKeepsRawBytes(t *testing.T) {
	recs := []string{
		`{"id":1,"email":"a\u00e9@example.org","tags":["x","}"],"address":{"id":99,"city":"Porto"}}`,
		`{"type":"user","id":"ab/c","note":"say \"hi\" <b>","hours":1.10}`,
	}
	p, err := ParsePage(pageOf(recs[0]+","+recs[1]), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"1", "ab%2Fc"} {
		r := p.Records[i]
		if r.Key != want {
			t.Errorf("record %d key %q, want %q (a nested id must not count)", i, r.Key, want)
		}
		// The queue payload is the record as sent: escapes, key order and
		// number text included.
		if string(r.Raw) != recs[i] {
			t.Errorf("record %d raw %s, want %s", i, r.Raw, recs[i])
		}
		var m map[string]any
		if err := decodeStrict([]byte(recs[i]), &m); err != nil {
			t.Fatal(err)
		}
		got, err := r.Fields()
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("record %d Fields() = %#v, %v; want %#v", i, got, err, m)
		}
	}
}

func TestRecordCompactsAnIndentedPage(t *testing.T) {
	body := "{\"data\": [\n  {\n    \"id\" : 7,\n    \"name\": \"a b\",\n    \"roles\": [ 1, 2 ]\n  }\n],\n\"meta\": {\"current_page\": 1, \"per_page\": 15, \"total\": 1}}"
	p, err := ParsePage([]byte(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Records[0]; r.Key != "7" || string(r.Raw) != `{"id":7,"name":"a b","roles":[1,2]}` {
		t.Fatalf("got key %q raw %s", r.Key, r.Raw)
	}
}

func TestRecordFieldDecodesLikeAMap(t *testing.T) {
	// A repeated name counts once, last; an escaped name is its text.
	raw := `{"id":1,"updated_at":"2026-01-01T00:00:00Z","\u0069d":2,"updated_at":"2026-02-02T00:00:00Z","n":null,"b":false,"o":{"updated_at":"x"},"s":"a\nb","big":9007199254740993}`
	p, err := ParsePage(pageOf(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Records[0]
	if r.Key != "2" {
		t.Fatalf("key %q, want the last id, 2", r.Key)
	}
	m, err := r.Fields()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"id", "updated_at", "n", "b", "o", "s", "big"} {
		v, ok, err := r.Field(name)
		if err != nil || !ok || !reflect.DeepEqual(v, m[name]) {
			t.Errorf("Field(%q) = %#v, %v, %v; the map holds %#v", name, v, ok, err, m[name])
		}
	}
	if v, ok, err := r.Field("missing"); ok || err != nil || v != nil {
		t.Errorf("Field(missing) = %#v, %v, %v; want absent", v, ok, err)
	}
	if v, _, _ := r.Field("big"); v != json.Number("9007199254740993") {
		t.Errorf("big = %#v, want the exact json.Number", v)
	}
}

func TestRecordCompositeKeyFromRaw(t *testing.T) {
	p, err := ParsePage(pageOf(`{"org":"a/b","user_id":3.0,"id":5}`), []string{"org", "user_id"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Records[0].Key; got != "a%2Fb/3" {
		t.Fatalf("key %q, want a%%2Fb/3", got)
	}
	if _, err := ParsePage(pageOf(`{"org":"a","user_id":{"x":1}}`), []string{"org", "user_id"}); err == nil {
		t.Fatal("an object key part was accepted")
	}
}
