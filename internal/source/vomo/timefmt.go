package vomo

import (
	"fmt"
	"strings"
	"time"
)

// StampLayout is VOMO's (Laravel's) timestamp form: UTC with microseconds.
const StampLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime writes t as a filter value: a full timestamp in UTC with
// microseconds. A plain date is never sent, because its meaning at the
// _before end of a range is unclear.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(StampLayout)
}

var parseLayouts = []string{
	time.RFC3339Nano, // 2026-03-04T15:22:10.000000Z, 2026-03-04T15:22:10Z, offsets
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02",
}

// ParseTime reads a VOMO timestamp: Laravel's 2026-03-04T15:22:10.000000Z,
// second resolution (2026-03-04T15:22:10Z), RFC 3339 with an offset, the
// SQL form "2026-03-04 15:22:10" (read as UTC) or a plain date (midnight
// UTC). The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return time.Time{}, fmt.Errorf("timestamp %q: not a VOMO timestamp", s)
	}
	for _, l := range parseLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q: not a VOMO timestamp", s)
}
