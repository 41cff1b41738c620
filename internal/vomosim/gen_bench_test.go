package vomosim

import (
	"testing"

	"github.com/siphonhq/siphon/internal/clock"
)

// BenchmarkGenerate100k is the cost of generating one tenant of 100,000
// users with its reference data.
func BenchmarkGenerate100k(b *testing.B) {
	sc := quiet(100000)
	for i := 0; i < b.N; i++ {
		if _, err := New(Options{Clock: clock.NewManual(testEpoch), Scenario: sc}); err != nil {
			b.Fatal(err)
		}
	}
}
