package runtime

import (
	"testing"
)

// A look's fair queue, taken a slot at a time as jobs end, keeps the
// order fairOrder gives under contention: lanes by weight (premium 3,
// standard 1), the tenants of a lane in turn (one with several due jobs
// does not take its lane's starts back to back), every job once; and
// slots for all that is left take it all.
func TestFairQueueTakesInFairOrder(t *testing.T) {
	due := append(dueJobs("standard", 2, 3), dueJobs("premium", 3, 4)...)
	weights := map[string]int{"premium": 3, "standard": 1}
	q := newFairQueue(due, newLaneRound(weights))
	seen := map[jobRef]bool{}
	var lanes string
	last := map[string]string{} // lane → tenant of its last start
	for i := range 8 {
		pick := q.take(1)
		if len(pick) != 1 {
			t.Fatalf("pick %d: %d jobs", i, len(pick))
		}
		j := pick[0]
		if seen[j] {
			t.Fatalf("pick %d: %s/%s again", i, j.tenant.ID, j.job.ID)
		}
		seen[j] = true
		lanes += j.tenant.Lane[:1]
		if last[j.tenant.Lane] == j.tenant.ID {
			t.Errorf("pick %d: %s started twice in a row in its lane", i, j.tenant.ID)
		}
		last[j.tenant.Lane] = j.tenant.ID
	}
	if lanes != "ppspppsp" {
		t.Errorf("lanes of the first 8 starts %q, want ppspppsp", lanes)
	}
	rest := q.take(len(due))
	for _, j := range rest {
		if seen[j] {
			t.Errorf("%s/%s handed out twice", j.tenant.ID, j.job.ID)
		}
		seen[j] = true
	}
	if len(seen) != len(due) || q.left != 0 || len(q.take(1)) != 0 {
		t.Errorf("handed out %d of %d jobs, %d left", len(seen), len(due), q.left)
	}
}
