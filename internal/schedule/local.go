package schedule

import "time"

// NextDaily returns the first instant strictly after `after` at which the
// wall clock in loc reads hour:minute. On a day when that wall time does not
// exist (the spring DST gap) it is the first instant after the gap; on a
// day when it occurs twice (autumn) only its first occurrence counts, so a
// reconcile runs once a day whatever the zone does. A nil loc is UTC.
func NextDaily(after time.Time, loc *time.Location, hour, minute int) time.Time {
	loc = orUTC(loc)
	y, m, d := after.In(loc).Date()
	for i := 0; ; i++ {
		if at := wallInstant(y, m, d+i, hour, minute, loc); at.After(after) {
			return at
		}
	}
}

// NextWeekly is NextDaily restricted to local dates that fall on day.
func NextWeekly(after time.Time, loc *time.Location, day time.Weekday, hour, minute int) time.Time {
	loc = orUTC(loc)
	y, m, d := after.In(loc).Date()
	for i := 0; ; i++ {
		if localWeekday(y, m, d+i) != day {
			continue
		}
		if at := wallInstant(y, m, d+i, hour, minute, loc); at.After(after) {
			return at
		}
	}
}

// Reconcile is one scheduled reconcile: Kind is "daily" or "weekly".
type Reconcile struct {
	Kind string
	At   time.Time
}

// NextReconciles returns the next n reconciles strictly after `after`: a
// daily one at dailyH:dailyM each local date, except that with weekly set
// the weekly one at wH:wM replaces the daily on wDay's local date (a weekly
// reconcile does everything a daily one does, and two full scans on one day
// would spend the tenant's budget twice). Times follow NextDaily's DST rules.
func NextReconciles(after time.Time, loc *time.Location, dailyH, dailyM int, weekly bool, wDay time.Weekday, wH, wM int, n int) []Reconcile {
	if n <= 0 {
		return nil
	}
	loc = orUTC(loc)
	y, m, d := after.In(loc).Date()
	out := make([]Reconcile, 0, n)
	for i := 0; len(out) < n; i++ {
		r := Reconcile{Kind: "daily", At: wallInstant(y, m, d+i, dailyH, dailyM, loc)}
		if weekly && localWeekday(y, m, d+i) == wDay {
			r = Reconcile{Kind: "weekly", At: wallInstant(y, m, d+i, wH, wM, loc)}
		}
		if r.At.After(after) {
			out = append(out, r)
		}
	}
	return out
}

// wallInstant resolves the local wall time y-m-d hour:minute in loc to an
// instant: its first occurrence when the zone repeats it, the end of the
// gap when the zone skips it. time.Date leaves both cases unspecified, so
// the offsets in force around the date are tried one by one.
func wallInstant(y int, m time.Month, d, hour, minute int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, hour, minute, 0, 0, time.UTC)
	var first time.Time
	var offsets []int
	for _, probe := range []time.Duration{-36 * time.Hour, 0, 36 * time.Hour} {
		_, off := wall.Add(probe).In(loc).Zone()
		offsets = append(offsets, off)
	}
	for _, off := range offsets {
		at := wall.Add(-time.Duration(off) * time.Second)
		if !sameWall(at.In(loc), wall) {
			continue
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	if !first.IsZero() {
		return first.In(loc)
	}
	// A gap: read with the larger (later) offset the wall time lands before
	// the transition, whose instant is where that offset's zone period ends.
	late := offsets[0]
	for _, off := range offsets {
		late = max(late, off)
	}
	_, end := wall.Add(-time.Duration(late) * time.Second).In(loc).ZoneBounds()
	if end.IsZero() {
		return wall.In(loc)
	}
	return end.In(loc)
}

func sameWall(local, wall time.Time) bool {
	y1, m1, d1 := local.Date()
	y2, m2, d2 := wall.Date()
	return y1 == y2 && m1 == m2 && d1 == d2 && local.Hour() == wall.Hour() && local.Minute() == wall.Minute()
}

// localWeekday is the weekday of a (possibly unnormalized) calendar date.
func localWeekday(y int, m time.Month, d int) time.Weekday {
	return time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}
