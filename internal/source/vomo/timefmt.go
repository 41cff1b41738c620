package vomo

import (
	"fmt"
	"strings"
	"time"

	"github.com/siphonhq/siphon/internal/vomotime"
)

// StampLayout is VOMO's (Laravel's) timestamp form: UTC with microseconds.
const StampLayout = vomotime.StampLayout

// FormatTime writes t as a filter value: a full timestamp in UTC with
// microseconds. A plain date is never sent, because its meaning at the
// _before end of a range is unclear.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(StampLayout)
}

// ParseTime reads a VOMO timestamp: Laravel's 2026-03-04T15:22:10.000000Z,
// second resolution (2026-03-04T15:22:10Z), RFC 3339 with an offset, the
// SQL form "2026-03-04 15:22:10" (read as UTC) or a plain date (midnight
// UTC). The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	t, ok := vomotime.Parse(s)
	if !ok {
		return time.Time{}, fmt.Errorf("timestamp %q: not a VOMO timestamp", strings.TrimSpace(s))
	}
	return t, nil
}
