package destpb

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestFieldsRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	in := map[string]any{
		"null":   nil,
		"yes":    true,
		"no":     false,
		"int":    int64(-1 << 60),
		"min":    int64(math.MinInt64),
		"max":    int64(math.MaxInt64),
		"float":  1.5,
		"whole":  float64(3),
		"text":   "héllo",
		"at":     at,
		"list":   []any{int64(1), "two", []any{}},
		"object": map[string]any{"a": int64(1), "b": map[string]any{}},
	}
	b, err := EncodeFields(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeFields(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %#v\nout %#v", in, out)
	}
}

func TestFieldsWiden(t *testing.T) {
	b, err := EncodeFields(map[string]any{"i": 7, "f": float32(0.5), "s": []string{"x"}, "b": []byte("y")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeFields(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"i": int64(7), "f": 0.5, "s": []any{"x"}, "b": "y"}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("got %#v, want %#v", out, want)
	}
}

func TestFieldsUnsupported(t *testing.T) {
	if _, err := EncodeFields(map[string]any{"c": make(chan int)}); err == nil {
		t.Fatal("a channel encoded without error")
	}
}

func FuzzDecodeFields(f *testing.F) {
	b, _ := EncodeFields(map[string]any{"a": []any{int64(1), "x", 2.5, time.Unix(1, 2)}, "m": map[string]any{"k": nil}})
	f.Add(b)
	f.Add([]byte{tagMap, 200})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeFields(data)
		if err != nil {
			return
		}
		again, err := EncodeFields(m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeFields(again); err != nil {
			t.Fatalf("decode of re-encoded: %v", err)
		}
	})
}
