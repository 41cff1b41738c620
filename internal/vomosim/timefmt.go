package vomosim

import (
	"errors"
	"time"

	"github.com/siphonhq/siphon/internal/vomotime"
)

// stampLayout is how VOMO (Laravel) writes timestamps: UTC, microseconds.
const stampLayout = vomotime.StampLayout

// micros converts a time to the simulator's stored form, microseconds since
// the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// appendStamp writes a stored timestamp in VOMO's form. It formats by hand
// because every record carries two of them and time.Format is the largest
// cost of a page.
func appendStamp(b []byte, us int64) []byte {
	t := time.UnixMicro(us).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, stampLayout)
	}
	b = appendDigits(b, y, 4)
	b = append(b, '-')
	b = appendDigits(b, int(mo), 2)
	b = append(b, '-')
	b = appendDigits(b, d, 2)
	b = append(b, 'T')
	b = appendDigits(b, h, 2)
	b = append(b, ':')
	b = appendDigits(b, mi, 2)
	b = append(b, ':')
	b = appendDigits(b, s, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits writes v zero-padded to n digits.
func appendDigits(b []byte, v, n int) []byte {
	var buf [8]byte
	for i := n - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:n]...)
}

// appendDate writes a day number (days since the Unix epoch) as 2006-01-02.
func appendDate(b []byte, day int32) []byte {
	return time.Unix(int64(day)*86400, 0).UTC().AppendFormat(b, "2006-01-02")
}

// errBadTime is returned for a filter value that is not a date.
var errBadTime = errors.New("not a valid date")

// parseFilterTime reads a time filter value. VOMO accepts its own timestamp
// form (2026-03-04T15:22:10.000000Z), RFC 3339 with any offset or fraction,
// "2026-03-04 15:22:10" and a plain date. A plain date is midnight UTC, as a
// database compares a date string with a timestamp column: at the _before
// end it therefore excludes the rest of that day. Fractions finer than a
// microsecond are truncated.
func parseFilterTime(s string) (int64, error) {
	t, ok := vomotime.Parse(s)
	if !ok {
		return 0, errBadTime
	}
	return t.Truncate(time.Microsecond).UnixMicro(), nil
}

// parseDate reads a plain date (birthday, project dates) into a day number.
func parseDate(s string) (int32, bool) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil || t.Year() < 1900 || t.Year() > 2200 {
		return 0, false
	}
	return int32(t.Unix() / 86400), true
}
