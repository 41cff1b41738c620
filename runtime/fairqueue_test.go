package runtime

import (
	"fmt"
	"testing"

	"github.com/siphonhq/siphon/dsl"
)

func dueJobs(lane string, tenants, jobs int) []jobRef {
	var out []jobRef
	for i := range tenants {
		t := &dsl.Tenant{ID: fmt.Sprintf("%s-%d", lane, i), Lane: lane}
		for k := range jobs {
			out = append(out, jobRef{tenant: t, job: &dsl.Job{ID: fmt.Sprintf("j%d", k)}})
		}
	}
	return out
}

// A look's fair queue, taken a slot at a time as jobs end, hands out its
// jobs in fair order under contention: lanes by weight (premium 3,
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

// Several slots taken at once (the scheduler takes every free slot) go in
// the same fair order: premium (weight 3) starts three jobs for each
// standard one, though standard's are due earlier, and its tenants take
// turns. No free slot takes nothing.
func TestFairQueueTakesSeveralInFairOrder(t *testing.T) {
	// Standard's jobs are due first, as the due list gives them.
	due := append(dueJobs("standard", 2, 4), dueJobs("premium", 2, 4)...)
	q := newFairQueue(due, newLaneRound(map[string]int{"premium": 3, "standard": 1}))
	if none := q.take(0); len(none) != 0 || q.left != len(due) {
		t.Fatalf("no free slot took %d jobs, %d left", len(none), q.left)
	}
	got := q.take(8)
	if len(got) != 8 || q.left != len(due)-8 {
		t.Fatalf("took %d, %d left; want 8 and %d", len(got), q.left, len(due)-8)
	}
	lanes := map[string]int{}
	var prem []string
	for _, j := range got {
		lanes[j.tenant.Lane]++
		if j.tenant.Lane == "premium" {
			prem = append(prem, j.tenant.ID)
		}
	}
	if lanes["premium"] != 6 || lanes["standard"] != 2 {
		t.Errorf("lanes of 8 starts: %v, want premium 6, standard 2", lanes)
	}
	if got[0].tenant.Lane != "premium" {
		t.Errorf("first start is %s's", got[0].tenant.ID)
	}
	// One tenant's four due jobs do not take its lane's starts ahead of
	// the other tenant.
	for i := 1; i < len(prem); i++ {
		if prem[i] == prem[i-1] {
			t.Errorf("premium starts %v: a tenant went twice in a row", prem)
			break
		}
	}
}

// One slot at a time, a standard tenant among many premium ones still
// starts within a round of the weights.
func TestFairQueueNoStarvation(t *testing.T) {
	due := append(dueJobs("premium", 10, 1), dueJobs("standard", 1, 1)...)
	q := newFairQueue(due, newLaneRound(map[string]int{"premium": 3, "standard": 1}))
	for step := 1; ; step++ {
		got := q.take(1)
		if len(got) != 1 {
			t.Fatalf("step %d took %d", step, len(got))
		}
		if got[0].tenant.Lane == "standard" {
			if step > 4 {
				t.Errorf("standard started at step %d, after more than a round (4)", step)
			}
			return
		}
	}
}
