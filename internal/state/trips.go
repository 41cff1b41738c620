package state

import "sync/atomic"

// Trips counts store round trips (a Redis command or pipeline sent, a bbolt
// transaction) so benchmarks report measured figures, not estimates.
type Trips struct{ n atomic.Int64 }

// Add counts one round trip; safe on a nil *Trips.
func (t *Trips) Add() {
	if t != nil {
		t.n.Add(1)
	}
}

// Load returns the count so far.
func (t *Trips) Load() int64 {
	if t == nil {
		return 0
	}
	return t.n.Load()
}
