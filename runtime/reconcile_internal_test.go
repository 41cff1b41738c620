package runtime

import "testing"

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
