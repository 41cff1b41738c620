package runtime

import "testing"

func TestLaneRoundIsWeighted(t *testing.T) {
	lr := newLaneRound(map[string]int{"premium": 3, "standard": 1})
	counts := map[string]int{}
	var seq []string
	for range lr.size() * 5 {
		l := lr.next()
		counts[l]++
		seq = append(seq, l)
	}
	if counts["premium"] != 15 || counts["standard"] != 5 {
		t.Fatalf("visits %v", counts)
	}
	// Smooth: standard never waits more than one round.
	gap := 0
	for _, l := range seq {
		if l == "standard" {
			gap = 0
			continue
		}
		if gap++; gap > 3 {
			t.Fatalf("standard starved in %v", seq)
		}
	}
}
