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

// TestFairOrderWeightsLanes: under slot contention premium (weight 3)
// starts three jobs for each standard one, though standard's are due
// earlier; tenants of a lane take turns; nothing is lost or repeated.
func TestFairOrderWeightsLanes(t *testing.T) {
	// Standard's jobs are due first, as the due list gives them.
	due := append(dueJobs("standard", 2, 4), dueJobs("premium", 2, 4)...)
	lr := newLaneRound(map[string]int{"premium": 3, "standard": 1})
	got := fairOrder(due, lr, 8)
	if len(got) != 8 {
		t.Fatalf("picked %d, want 8", len(got))
	}
	lanes := map[string]int{}
	for _, j := range got {
		lanes[j.tenant.Lane]++
	}
	if lanes["premium"] != 6 || lanes["standard"] != 2 {
		t.Errorf("lanes of 8 starts: %v, want premium 6, standard 2", lanes)
	}
	if got[0].tenant.Lane != "premium" {
		t.Errorf("first start is %s's", got[0].tenant.ID)
	}
	// Within a lane the tenants alternate: one tenant's four due jobs do
	// not take the lane's starts ahead of the other tenant.
	var prem []string
	for _, j := range got {
		if j.tenant.Lane == "premium" {
			prem = append(prem, j.tenant.ID)
		}
	}
	for i := 1; i < len(prem); i++ {
		if prem[i] == prem[i-1] {
			t.Errorf("premium starts %v: a tenant went twice in a row", prem)
			break
		}
	}
	// Enough slots: everything in due order, untouched.
	if all := fairOrder(due, lr, len(due)); len(all) != len(due) || all[0].tenant.ID != "standard-0" {
		t.Errorf("with a slot each the due order changed: %d jobs, first %s", len(all), all[0].tenant.ID)
	}
	if none := fairOrder(due, lr, 0); len(none) != 0 {
		t.Errorf("no free slot picked %d", len(none))
	}
}

// TestFairOrderNoStarvation: one slot at a time, a standard tenant among
// many premium ones still starts within a round of the weights.
func TestFairOrderNoStarvation(t *testing.T) {
	due := append(dueJobs("premium", 10, 1), dueJobs("standard", 1, 1)...)
	lr := newLaneRound(map[string]int{"premium": 3, "standard": 1})
	for step := 1; ; step++ {
		got := fairOrder(due, lr, 1)
		if len(got) != 1 {
			t.Fatalf("step %d picked %d", step, len(got))
		}
		if got[0].tenant.Lane == "standard" {
			if step > 4 {
				t.Errorf("standard started at step %d, after more than a round (4)", step)
			}
			return
		}
		// The started job leaves the due list.
		for i, j := range due {
			if j == got[0] {
				due = append(due[:i:i], due[i+1:]...)
				break
			}
		}
	}
}
