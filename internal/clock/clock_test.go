package clock

import (
	"testing"
	"time"
)

// Clocks made at different moments from one epoch and factor read the
// same scaled time: it is bounded by the scaled readings of the real
// instants just before and just after each read.
func TestScaledSinceSharesOneClock(t *testing.T) {
	epoch := time.Now().Add(-10 * time.Second)
	scaled := func(real time.Time) time.Time {
		return epoch.Add(time.Duration(float64(real.Sub(epoch)) * 60))
	}
	for range 3 {
		before := time.Now()
		got := NewScaledSince(epoch, 60).Now()
		after := time.Now()
		if got.Before(scaled(before)) || got.After(scaled(after)) {
			t.Fatalf("scaled clock reads %s, want between %s and %s", got, scaled(before), scaled(after))
		}
		if got.Sub(epoch) < 10*time.Minute {
			t.Fatalf("10 real seconds after the epoch at 60x read only %s", got.Sub(epoch))
		}
	}
}
