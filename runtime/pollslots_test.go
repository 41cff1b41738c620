package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
)

// The default poll slots follow the plan's job starts per second (a slot
// for every start a second brings, Little's law with a second per job),
// at least 8 and at most 1024; disabled tenants' jobs do not count, and a
// configured number stays as given.
func TestPollSlotsDefaultFollowsThePlan(t *testing.T) {
	hub := func(tenants int, cadence time.Duration, disabled int) *dsl.Plan {
		p := &dsl.Plan{}
		for i := range tenants {
			jobs := []*dsl.Job{
				{ID: "every-1m", Cadence: dsl.Duration(cadence)},
				{ID: "pipeline-projects", Cadence: dsl.Duration(cadence)},
			}
			p.Tenants = append(p.Tenants, &dsl.Tenant{ID: fmt.Sprintf("t%05d", i), Enabled: i >= disabled, Jobs: jobs})
		}
		return p
	}
	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		what string
		plan *dsl.Plan
		set  int
		want int
	}{
		// 20,000 starts a minute are 333.3 a second.
		{"10,000 tenants × 2 jobs a minute", hub(10000, time.Minute, 0), 0, 334},
		{"half of them disabled", hub(10000, time.Minute, 5000), 0, 167},
		{"every 5 minutes", hub(10000, 5*time.Minute, 0), 0, 67},
		{"a small hub", hub(100, time.Minute, 0), 0, 8},
		{"no tenants", hub(0, time.Minute, 0), 0, 8},
		{"a hub past the cap", hub(40000, 30*time.Second, 0), 0, 1024},
		{"configured", hub(10000, time.Minute, 0), 16, 16},
	} {
		r, err := New(Config{Plan: c.plan, Store: st, PollSlots: c.set})
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if r.cfg.PollSlots != c.want {
			t.Errorf("%s: %d poll slots, want %d", c.what, r.cfg.PollSlots, c.want)
		}
		_ = r.Close(context.Background())
	}
}
