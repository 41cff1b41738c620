package vomo

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// stdDecode is what DecodeObject must match: encoding/json's Decoder with
// UseNumber, first value only.
func stdDecode(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	err := dec.Decode(&m)
	return m, err
}

var decodeCases = []string{
	`{"id":1,"name":"Ana","tags":["a",2,true,null,{"x":[]}],"o":{},"f":-0.5e+10,"z":0}`,
	`  {"a" : 1 , "b":[ 1 , 2 ] }  `,
	`{"a":1,"a":2}`,
	`{"s":"tab\tquote\" \u00e9 \ud83d\ude00","\u0069d":3}`,
	`{"s":"Zoë 😀"}`,
	"{\"bad\":\"\xff\xfe\"}",
	"{\"ctl\":\"a\x01b\"}",
	`{"n":01}`, `{"n":1.}`, `{"n":-}`, `{"n":1e}`, `{"n":.5}`,
	`{"t":tru}`, `{"t":truex}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`,
	`{"a":1}{"b":2}`, `{"a":1} trailing`, `{"a":[1,2}`, `{"a":`, `{`, ``, `null`, `[1]`, `"x"`,
	`{"deep":` + deep(150) + `}`,
	`{"s":"\x"}`,
}

func deep(n int) string {
	var b bytes.Buffer
	for range n {
		b.WriteByte('[')
	}
	for range n {
		b.WriteByte(']')
	}
	return b.String()
}

func checkDecode(t *testing.T, raw []byte) {
	t.Helper()
	want, werr := stdDecode(raw)
	got, gerr := DecodeObject(raw)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%q: error %v, encoding/json says %v", raw, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decoded %#v, encoding/json gives %#v", raw, got, want)
	}
}

func TestDecodeObjectMatchesEncodingJSON(t *testing.T) {
	for _, c := range decodeCases {
		checkDecode(t, []byte(c))
	}
	checkDecode(t, userPage(3))
}

func FuzzDecodeObject(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkDecode(t, raw) })
}

// BenchmarkDecodeObject decodes one VOMO user record, as the process
// stage does for every queued record.
func BenchmarkDecodeObject(b *testing.B) {
	p, err := ParsePage(userPage(1), nil)
	if err != nil {
		b.Fatal(err)
	}
	raw := p.Records[0].Raw
	b.ReportAllocs()
	b.Run("DecodeObject", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeObject(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := stdDecode(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
