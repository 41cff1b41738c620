// Package clock is the injectable time source shared by the runtime and the
// VOMO simulator, so tests can run both on one fast or fixed clock.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time. Everything that reads the time for sync decisions
// (windows, caps, due times, churn) takes a Clock instead of calling time.Now.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Scaled runs Factor times faster than the wall clock from Origin onwards:
// one real second is Factor simulated seconds. Tests use it to compress
// cadences and settle windows without sleeping for real.
type Scaled struct {
	origin time.Time
	factor float64
	start  time.Time
}

// NewScaled returns a clock that starts at origin and runs factor times faster
// than real time.
func NewScaled(origin time.Time, factor float64) *Scaled {
	return &Scaled{origin: origin, factor: factor, start: time.Now()}
}

// NewScaledSince returns a clock that runs factor times faster than real
// time and reads the wall clock at the real instant epoch. Processes given
// the same epoch and factor share one clock however late each starts, so a
// restarted worker and a simulator started earlier agree on the time.
func NewScaledSince(epoch time.Time, factor float64) *Scaled {
	now := time.Now()
	return &Scaled{origin: epoch.Add(time.Duration(float64(now.Sub(epoch)) * factor)), factor: factor, start: now}
}

// Now returns the scaled time.
func (s *Scaled) Now() time.Time {
	return s.origin.Add(time.Duration(float64(time.Since(s.start)) * s.factor))
}

// Manual is a clock that moves only when told to. It is safe for concurrent use.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a manual clock set to t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the clock's current time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
}

// Set moves the clock to t.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	m.now = t
	m.mu.Unlock()
}
