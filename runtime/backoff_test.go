package runtime

import (
	"testing"
	"time"
)

func TestBackoffDoublesWithEqualJitter(t *testing.T) {
	r := &Runner{cfg: Config{RetryBackoff: time.Second, MaxRetryBackoff: 10 * time.Second}}
	cases := []struct {
		attempts int
		full     time.Duration // the delay before jitter
	}{{0, time.Second}, {1, 2 * time.Second}, {3, 8 * time.Second}, {4, 10 * time.Second}, {1000, 10 * time.Second}}
	for _, c := range cases {
		if lo := r.backoff(c.attempts, 0); lo != c.full/2 {
			t.Errorf("attempts %d, jitter 0: %v, want %v", c.attempts, lo, c.full/2)
		}
		if mid := r.backoff(c.attempts, 0.5); mid != c.full*3/4 {
			t.Errorf("attempts %d, jitter 0.5: %v, want %v", c.attempts, mid, c.full*3/4)
		}
		if hi := r.backoff(c.attempts, 0.999999); hi > c.full || hi < c.full*99/100 {
			t.Errorf("attempts %d, jitter ~1: %v, want just under %v", c.attempts, hi, c.full)
		}
	}
}

// Batches draw their own jitter: two failed batches do not come back at
// the same instant.
func TestBatchesDrawTheirOwnJitter(t *testing.T) {
	r := &Runner{cfg: Config{RetryBackoff: time.Minute, MaxRetryBackoff: time.Hour}}
	seen := map[time.Duration]bool{}
	for range 20 {
		b := batch{jitter: newJitter()}
		seen[r.backoff(2, b.jitter)] = true
	}
	// 20 draws from a continuum: equal delays mean no jitter at all.
	if len(seen) < 10 {
		t.Fatalf("%d distinct delays in 20 batches", len(seen))
	}
}
