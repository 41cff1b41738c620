package layout

import (
	"math"
	"sort"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

func TestCoerce(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))
	cases := []struct {
		ft      sdk.FieldType
		in      any
		want    any
		wantErr bool
	}{
		{sdk.TypeString, "a", "a", false},
		{sdk.TypeString, int64(5), "5", false},
		{sdk.TypeString, 2.5, "2.5", false},
		{sdk.TypeString, true, "true", false},
		{sdk.TypeString, []any{"x"}, nil, true},
		{sdk.TypeString, "nul\x00", nil, true},
		{sdk.TypeString, "\xff", nil, true},
		{sdk.TypeNumber, int64(1) << 60, int64(1) << 60, false},
		{sdk.TypeNumber, 1.5, 1.5, false},
		{sdk.TypeNumber, math.NaN(), nil, true},
		{sdk.TypeNumber, "1", nil, true},
		{sdk.TypeBool, false, false, false},
		{sdk.TypeBool, int64(1), nil, true},
		{sdk.TypeTimestamp, ts, time.Date(2026, 1, 2, 2, 4, 5, 6000, time.UTC), false},
		{sdk.TypeTimestamp, "2026-01-02T03:04:05Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{sdk.TypeTimestamp, "yesterday", nil, true},
		{sdk.TypeJSON, map[string]any{"a": []any{1.0, "b"}}, `{"a":[1,"b"]}`, false},
		{sdk.TypeJSON, "text", `"text"`, false},
		{sdk.TypeJSON, "nul\x00", nil, true},
		{sdk.TypeJSON, math.Inf(1), nil, true},
		{sdk.TypeString, nil, nil, false},
		{"decimal", "1", nil, true},
	}
	for _, c := range cases {
		got, err := Coerce("f", c.ft, c.in)
		if b, ok := got.([]byte); ok {
			got = string(b)
		}
		if (err != nil) != c.wantErr {
			t.Errorf("Coerce(%s, %#v): error %v, want error %v", c.ft, c.in, err, c.wantErr)
			continue
		}
		if gt, ok := got.(time.Time); ok {
			if !gt.Equal(c.want.(time.Time)) || gt.Location() != time.UTC {
				t.Errorf("Coerce(%s, %#v) = %v, want %v", c.ft, c.in, gt, c.want)
			}
			continue
		}
		if err == nil && got != c.want {
			t.Errorf("Coerce(%s, %#v) = %#v, want %#v", c.ft, c.in, got, c.want)
		}
	}
}

// Text order of FormatTime is time order, also within one second.
func TestFormatTimeOrders(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 59, 0, time.UTC)
	times := []time.Time{base.Add(time.Second), base, base.Add(time.Microsecond), base.Add(999999 * time.Microsecond), base.Add(-time.Hour)}
	texts := make([]string, len(times))
	for i, tm := range times {
		texts[i] = FormatTime(tm)
	}
	sort.Strings(texts)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := range times {
		back, err := ParseTime(texts[i])
		if err != nil || !back.Equal(times[i]) {
			t.Errorf("%d: %s reads back as %v (%v), want %v", i, texts[i], back, err, times[i])
		}
	}
}

func TestApplyOrder(t *testing.T) {
	at := func(s, g, q int64) sdk.Record {
		return sdk.Record{Version: sdk.Version{Source: time.Unix(s, 0), Generation: g, Seq: q}}
	}
	recs := []sdk.Record{at(2, 1, 1), at(1, 5, 5), at(2, 1, 1), at(1, 5, 4), at(2, 0, 9)}
	got := ApplyOrder(recs)
	want := []int{3, 1, 4, 0, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"a": `"a"`, "project-dates": `"project-dates"`, `x"y`: `"x""y"`} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"users", "project-dates", "a1_b"} {
		if CheckObject(ok) != nil || CheckField(ok) != nil {
			t.Errorf("%q rejected", ok)
		}
	}
	for _, bad := range []string{"", "Users", "1a", "a b", `a"`, "a;b"} {
		if CheckObject(bad) == nil || CheckField(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if CheckObject(TombstoneTable) == nil {
		t.Error("tombstone table accepted as an object")
	}
	for _, r := range Reserved {
		if CheckField(r) == nil {
			t.Errorf("reserved %q accepted as a field", r)
		}
	}
}
