package runtime

import (
	"testing"

	"github.com/siphonhq/siphon/dsl"
)

// Scheduled reconciles take at most a quarter of the poll slots (at least
// one), so polling keeps the rest however many come due at 03:00.
func TestReconcileLimit(t *testing.T) {
	for _, tc := range []struct{ slots, want int }{{8, 2}, {3, 1}, {1, 1}, {20, 5}} {
		var l reconcileLimit
		var releases []func()
		for {
			rel, ok := l.take(tc.slots)
			if !ok {
				break
			}
			releases = append(releases, rel)
		}
		if len(releases) != tc.want {
			t.Errorf("%d poll slots: %d reconciles at once, want %d", tc.slots, len(releases), tc.want)
		}
		releases[0]()
		if _, ok := l.take(tc.slots); !ok {
			t.Errorf("%d poll slots: a released slot was not taken again", tc.slots)
		}
	}
}

// The mass-delete safeguard trips only above both max_delete and
// max_delete_min; a count equal to either limit does not trip, including
// where the percent times the held count is not exact in floating point.
func TestOverSafeguardBoundary(t *testing.T) {
	for _, tc := range []struct {
		pct     float64
		min     int
		n, held int64
		want    bool
	}{
		{0.10, 25, 20, 100, false},    // above the percent, not above min
		{0.10, 25, 30, 1000, false},   // above min, not above the percent
		{0.10, 25, 26, 100, true},     // above both
		{0.10, 25, 25, 100, false},    // equal to min
		{0.10, 25, 100, 1000, false},  // equal to the percent
		{0.10, 25, 101, 1000, true},   // just above both
		{0.29, 0, 29, 100, false},     // 0.29*100 is 28.999999999999996
		{0.07, 0, 7, 100, false},      // 0.07*100 is 7.000000000000001
		{0.07, 0, 8, 100, true},       //
		{0.10, 25, 26, 0, true},       // nothing held: any count over min is over the percent
		{0.10, 25, 0, 0, false},       //
		{1.00, 0, 1000, 1000, false},  // 100% allows everything
		{0.00, 0, 1, 1000, true},      // 0% with no min trips on one
		{0.50, 25, 499, 1000, false},  //
		{0.50, 600, 599, 1000, false}, // above the percent, under min
	} {
		pol := dsl.Reconcile{MaxDeletePercent: tc.pct, MaxDeleteMin: tc.min}
		got, why := overSafeguard(pol, tc.n, tc.held)
		if got != tc.want || (got && why == "") || (!got && why != "") {
			t.Errorf("%d of %d at %g/%d: trips %v (%q), want %v", tc.n, tc.held, tc.pct, tc.min, got, why, tc.want)
		}
	}
}
