package layout

import (
	"sort"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// Normalize returns a copy of the records with their versions at the
// precision the destinations store (microseconds, UTC), so the version rule
// compares a record with what a destination read back on equal terms.
func Normalize(recs []sdk.Record) []sdk.Record {
	out := make([]sdk.Record, len(recs))
	for i, r := range recs {
		r.Version.Source = Micro(r.Version.Source)
		if r.Expect != nil {
			e := *r.Expect
			e.Version.Source = Micro(e.Version.Source)
			r.Expect = &e
		}
		out[i] = r
	}
	return out
}

// Micro truncates t to microseconds in UTC.
func Micro(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// ApplyOrder returns the indexes of recs in the order they are applied:
// ascending Version, batch order among equals. Writes of different keys do
// not interact, so this is exactly "the same key twice in one batch: the
// later in Version order wins".
func ApplyOrder(recs []sdk.Record) []int {
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return recs[idx[a]].Version.Compare(recs[idx[b]].Version) < 0
	})
	return idx
}
