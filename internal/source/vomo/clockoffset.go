package vomo

import (
	"net/http"
	"sync"
	"time"
)

// ClockOffset is a source's clock offset: API time − local time, taken
// from the Date header of every response. Share one per source among the
// clients of all its tenants. Safe for concurrent use.
//
// A Date header has second resolution and is written while the request is
// served, so the API time at the moment the response arrived lies in
// [Date, Date + 1s + latency). The sample kept is Date − local arrival
// time, the lower end: it never overstates the API's present, which is the
// safe side for a cap. Samples are plain wall-clock differences (monotonic
// readings stripped); each response replaces the last one, so a local clock
// step (NTP) is corrected by the next response.
type ClockOffset struct {
	mu     sync.Mutex
	offset time.Duration
	known  bool
}

// Observe records a sample: the API's time (from a Date header) seen at
// local time local.
func (o *ClockOffset) Observe(api, local time.Time) {
	d := api.Round(0).Sub(local.Round(0))
	o.mu.Lock()
	o.offset, o.known = d, true
	o.mu.Unlock()
}

// Offset returns the last sample and whether there is one.
func (o *ClockOffset) Offset() (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.offset, o.known
}

// Set fixes the offset (for tests and for an offset carried over from a
// previous run).
func (o *ClockOffset) Set(d time.Duration) {
	o.mu.Lock()
	o.offset, o.known = d, true
	o.mu.Unlock()
}

// APITime converts a local time to the API's clock (local + offset).
func (o *ClockOffset) APITime(local time.Time) time.Time {
	d, _ := o.Offset()
	return local.Round(0).Add(d)
}

// Cap is the upper bound of a window fixed at local time now:
// now + min(offset, 0) − settle, truncated to the API's microseconds. A
// local clock ahead of the API therefore cannot push the cap past the
// API's present; one behind it only makes the cap earlier.
func Cap(now time.Time, offset, settle time.Duration) time.Time {
	return now.Round(0).UTC().Add(min(offset, 0) - settle).Truncate(time.Microsecond)
}

// observeDate feeds a response's Date header to the offset.
func (o *ClockOffset) observeDate(h http.Header, local time.Time) (time.Time, bool) {
	v := h.Get("Date")
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, false
	}
	o.Observe(t, local)
	return t, true
}
