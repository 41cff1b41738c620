// Package layout holds what the built-in destinations share about rows: the
// bookkeeping columns and names every table has, how object and field names
// are quoted, how mapped values are checked against a field's type, and the
// order in which a batch's records are applied.
package layout

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// TombstoneTable is the side table (or directory) holding deleted keys.
const TombstoneTable = "siphon_tombstones"

// TombstoneRetention is how long a tombstone blocks late older upserts
// before it is purged.
const TombstoneRetention = 30 * 24 * time.Hour

// PurgeEvery is how often a destination purges expired tombstones while it
// writes.
const PurgeEvery = time.Hour

// PurgeClock paces a destination's tombstone purges to one per PurgeEvery;
// the zero value is due at once. The destination's lock guards it.
type PurgeClock struct{ last time.Time }

// Due reports whether a purge is due at now, and if so counts it as done.
func (c *PurgeClock) Due(now time.Time) bool {
	if now.Sub(c.last) < PurgeEvery {
		return false
	}
	c.last = now
	return true
}

// Reserved are the bookkeeping columns of every object's table, in table
// order; a mapped field may not use these names.
var Reserved = []string{"tenant", "key", "source_updated_at", "content_hash", "synced_at", "siphon_generation", "siphon_seq"}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// CheckObject reports whether name can be an object (a table or file name).
func CheckObject(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("object name %q must match [a-z][a-z0-9_-]*", name)
	}
	if name == TombstoneTable {
		return fmt.Errorf("object name %q is reserved", name)
	}
	return nil
}

// CheckField reports whether name can be a mapped field's column.
func CheckField(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("field name %q must match [a-z][a-z0-9_-]*", name)
	}
	if IsReserved(name) {
		return fmt.Errorf("field name %q is reserved", name)
	}
	return nil
}

// IsReserved reports whether name is one of the bookkeeping columns.
func IsReserved(name string) bool {
	return slices.Contains(Reserved, name)
}

// Quote quotes an SQL identifier (names may hold hyphens, and the quote
// character is doubled so no name can escape).
func Quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// TimeText is the text form of a timestamp in sqlite and jsonl: UTC with
// exactly six fractional digits, so text order is time order.
const TimeText = "2006-01-02T15:04:05.000000Z"

// FormatTime renders t as TimeText.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeText) }

// ParseTime reads a timestamp written by FormatTime (or any RFC 3339 text).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// CheckKey rejects key text no database can store: invalid UTF-8 or a NUL.
func CheckKey(key string) error {
	if !utf8.ValidString(key) {
		return fmt.Errorf("key %q is not valid UTF-8", key)
	}
	if strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("key %q holds a NUL character", key)
	}
	return nil
}
