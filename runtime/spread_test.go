package runtime

import (
	"fmt"
	"testing"

	"github.com/siphonhq/siphon/dsl"
)

// Jobs due in the same second go in an order of each process's own, so
// two processes sharing a store start different jobs first; a job due a
// second earlier still comes before them all, in every process.
func TestSpreadOrdersEachSecondPerProcess(t *testing.T) {
	look := func(owner string) []jobRef {
		var js []spreadJob
		for i := range 40 {
			tn := &dsl.Tenant{ID: fmt.Sprintf("t%02d", i), Lane: "standard"}
			j := jobRef{tenant: tn, job: &dsl.Job{ID: "every-1m"}}
			due := int64(1000)
			if i == 39 {
				due = 999 // listed last, due a second earlier
			}
			js = append(js, spreadJob{j: j, due: due, order: spreadOrder(owner, [2]string{tn.ID, j.job.ID})})
		}
		return spread(js)
	}
	a, b, a2 := look("worker-a/1"), look("worker-b/1"), look("worker-a/1")
	for _, o := range [][]jobRef{a, b} {
		if o[0].tenant.ID != "t39" {
			t.Errorf("first job %s, want t39, due a second before the others", o[0].tenant.ID)
		}
	}
	// The first quarter of each process's starts (four processes would
	// each take about that much) overlap little.
	first := map[string]bool{}
	for _, j := range a[1:11] {
		first[j.tenant.ID] = true
	}
	both := 0
	for _, j := range b[1:11] {
		if first[j.tenant.ID] {
			both++
		}
	}
	if both > 5 {
		t.Errorf("%d of the first 10 jobs are the same in both processes", both)
	}
	for i := range a {
		if a[i].tenant.ID != a2[i].tenant.ID {
			t.Fatalf("one process's order changed between looks at %d", i)
		}
	}
}
