// Package vomotime holds VOMO's (Laravel's) timestamp forms, shared by the
// client and the simulator so the two read and write them alike.
package vomotime

import (
	"strings"
	"time"
)

// StampLayout is VOMO's timestamp form: UTC with microseconds.
const StampLayout = "2006-01-02T15:04:05.000000Z"

var parseLayouts = []string{
	time.RFC3339Nano, // 2026-03-04T15:22:10.000000Z, 2026-03-04T15:22:10Z, offsets
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02",
}

// Parse reads a timestamp in any form VOMO accepts: Laravel's
// 2026-03-04T15:22:10.000000Z, second resolution (2026-03-04T15:22:10Z),
// RFC 3339 with an offset, the SQL form "2026-03-04 15:22:10" (read as UTC)
// or a plain date (midnight UTC). The result is in UTC; ok is false for
// anything else, including an empty or over-long value.
func Parse(s string) (t time.Time, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return time.Time{}, false
	}
	for _, l := range parseLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
