package schedule

import (
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// In 2026 Chicago springs forward on 8 March (02:00 CST → 03:00 CDT) and
// falls back on 1 November (02:00 CDT → 01:00 CST); Berlin springs forward
// on 29 March (02:00 CET → 03:00 CEST) and falls back on 25 October
// (03:00 CEST → 02:00 CET).
func TestNextDaily(t *testing.T) {
	tests := []struct {
		name, zone, after string
		hour, minute      int
		want              string
	}{
		{"later today", "America/Chicago", "2026-11-26T06:00:00Z", 3, 0, "2026-11-26T09:00:00Z"},
		{"strictly after: tomorrow", "America/Chicago", "2026-11-26T09:00:00Z", 3, 0, "2026-11-27T09:00:00Z"},
		{"local date differs from UTC date", "America/Chicago", "2026-11-27T02:00:00Z", 23, 30, "2026-11-27T05:30:00Z"},
		{"Chicago spring gap: end of the gap", "America/Chicago", "2026-03-07T12:00:00Z", 2, 30, "2026-03-08T08:00:00Z"},
		{"Chicago day after the gap", "America/Chicago", "2026-03-08T08:00:00Z", 2, 30, "2026-03-09T07:30:00Z"},
		{"Chicago autumn overlap: first occurrence", "America/Chicago", "2026-10-31T12:00:00Z", 1, 30, "2026-11-01T06:30:00Z"},
		{"Chicago between the two occurrences: next day", "America/Chicago", "2026-11-01T06:45:00Z", 1, 30, "2026-11-02T07:30:00Z"},
		{"Chicago after the fall back", "America/Chicago", "2026-10-31T12:00:00Z", 3, 0, "2026-11-01T09:00:00Z"},
		{"Berlin spring gap: end of the gap", "Europe/Berlin", "2026-03-28T12:00:00Z", 2, 30, "2026-03-29T01:00:00Z"},
		{"Berlin gap edge 03:00 exists", "Europe/Berlin", "2026-03-28T12:00:00Z", 3, 0, "2026-03-29T01:00:00Z"},
		{"Berlin autumn overlap: first occurrence", "Europe/Berlin", "2026-10-24T12:00:00Z", 2, 30, "2026-10-25T00:30:00Z"},
		{"Berlin winter", "Europe/Berlin", "2026-11-26T09:00:00Z", 3, 0, "2026-11-27T02:00:00Z"},
		{"UTC", "UTC", "2026-11-26T09:00:00Z", 9, 1, "2026-11-26T09:01:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextDaily(mustTime(t, tt.after), mustZone(t, tt.zone), tt.hour, tt.minute)
			if want := mustTime(t, tt.want); !got.Equal(want) {
				t.Errorf("got %s (%s), want %s", got.UTC().Format(time.RFC3339), got.Format(time.RFC3339), tt.want)
			}
			if got.Location().String() != tt.zone {
				t.Errorf("result is in %s, want %s", got.Location(), tt.zone)
			}
		})
	}
}

func TestNextDailyNilLocation(t *testing.T) {
	got := NextDaily(mustTime(t, "2026-11-26T09:00:00Z"), nil, 3, 0)
	if want := mustTime(t, "2026-11-27T03:00:00Z"); !got.Equal(want) {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestNextWeekly(t *testing.T) {
	tests := []struct {
		name, zone, after string
		day               time.Weekday
		hour, minute      int
		want              string
	}{
		{"this week", "America/Chicago", "2026-11-26T09:00:00Z", time.Sunday, 4, 0, "2026-11-29T10:00:00Z"},
		{"today, later", "America/Chicago", "2026-11-26T09:00:00Z", time.Thursday, 5, 0, "2026-11-26T11:00:00Z"},
		{"today, passed: next week", "America/Chicago", "2026-11-26T09:00:00Z", time.Thursday, 3, 0, "2026-12-03T09:00:00Z"},
		{"Chicago spring gap", "America/Chicago", "2026-03-05T00:00:00Z", time.Sunday, 2, 15, "2026-03-08T08:00:00Z"},
		{"Chicago autumn overlap", "America/Chicago", "2026-10-29T00:00:00Z", time.Sunday, 1, 0, "2026-11-01T06:00:00Z"},
		{"Berlin spring gap", "Europe/Berlin", "2026-03-25T00:00:00Z", time.Sunday, 2, 0, "2026-03-29T01:00:00Z"},
		{"Berlin autumn overlap", "Europe/Berlin", "2026-10-20T00:00:00Z", time.Sunday, 2, 59, "2026-10-25T00:59:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextWeekly(mustTime(t, tt.after), mustZone(t, tt.zone), tt.day, tt.hour, tt.minute)
			if want := mustTime(t, tt.want); !got.Equal(want) {
				t.Errorf("got %s (%s), want %s", got.UTC().Format(time.RFC3339), got.Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestNextReconciles(t *testing.T) {
	type want struct{ kind, at string }
	tests := []struct {
		name, zone, after string
		weekly            bool
		want              []want
	}{
		{"weekly replaces the daily on Sunday", "America/Chicago", "2026-11-26T09:00:00Z", true, []want{
			{"daily", "2026-11-27T09:00:00Z"},
			{"daily", "2026-11-28T09:00:00Z"},
			{"weekly", "2026-11-29T10:00:00Z"},
			{"daily", "2026-11-30T09:00:00Z"},
		}},
		{"daily only", "America/Chicago", "2026-11-26T09:00:00Z", false, []want{
			{"daily", "2026-11-27T09:00:00Z"},
			{"daily", "2026-11-28T09:00:00Z"},
			{"daily", "2026-11-29T09:00:00Z"},
			{"daily", "2026-11-30T09:00:00Z"},
		}},
		// Sunday 03:30 local: the weekly at 04:00 is still to come and no
		// daily runs that day.
		{"weekly later on its day", "America/Chicago", "2026-11-29T09:30:00Z", true, []want{
			{"weekly", "2026-11-29T10:00:00Z"},
			{"daily", "2026-11-30T09:00:00Z"},
		}},
		// Sunday 04:30 local: the weekly has passed, and the daily at 03:00
		// was replaced, so the next is Monday's daily.
		{"weekly passed on its day", "America/Chicago", "2026-11-29T10:30:00Z", true, []want{
			{"daily", "2026-11-30T09:00:00Z"},
		}},
		{"Berlin around the autumn change", "Europe/Berlin", "2026-10-23T12:00:00Z", true, []want{
			{"daily", "2026-10-24T01:00:00Z"},
			{"weekly", "2026-10-25T03:00:00Z"},
			{"daily", "2026-10-26T02:00:00Z"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextReconciles(mustTime(t, tt.after), mustZone(t, tt.zone), 3, 0, tt.weekly, time.Sunday, 4, 0, len(tt.want))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d reconciles, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				if got[i].Kind != w.kind || !got[i].At.Equal(mustTime(t, w.at)) {
					t.Errorf("reconcile %d = %s %s, want %s %s", i, got[i].Kind, got[i].At.UTC().Format(time.RFC3339), w.kind, w.at)
				}
			}
		})
	}
	if got := NextReconciles(time.Now(), time.UTC, 3, 0, false, 0, 0, 0, 0); got != nil {
		t.Errorf("n = 0: got %v, want nil", got)
	}
}
