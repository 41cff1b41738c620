package state

import (
	"slices"
	"strconv"
	"testing"
)

func TestIDBlobRoundTrip(t *testing.T) {
	cases := [][]string{
		{},
		{"42"},
		{"7", "3", "1000000", "18446744073709551615"},
		{"007", "7"},
		{"p1/u2", "p1/u10", "p2/u1", "é"},
		{"a", "a", "ab"},
	}
	for _, ids := range cases {
		got, err := DecodeIDs(EncodeIDs(ids))
		if err != nil {
			t.Fatalf("%q: %v", ids, err)
		}
		want := slices.Clone(ids)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("round trip %q: got %q", want, got)
		}
	}
}

func TestIDBlobIsCompact(t *testing.T) {
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = strconv.Itoa(1_000_000 + i*3)
	}
	if n := len(EncodeIDs(ids)); n > 110 {
		t.Fatalf("100 close ids took %d bytes", n)
	}
}

func FuzzDecodeIDs(f *testing.F) {
	f.Add(EncodeIDs([]string{"1", "2"}))
	f.Add(EncodeIDs([]string{"x", "xy"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = DecodeIDs(b)
	})
}
