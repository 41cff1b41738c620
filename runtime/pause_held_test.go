package runtime

import (
	"fmt"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
)

// pausedQueues counts only the tenants holding something back, and keeps
// counting them right as pipelines are paused and resumed and tenants are
// halted and let go, among many tenants that hold nothing back.
func TestPausedQueuesFollowsPausesAndHalts(t *testing.T) {
	pipes := map[string]*dsl.Pipeline{"users": {Name: "users", Destination: "db"}, "projects": {Name: "projects", Destination: "lake"}}
	active := []string{"users", "projects"}
	plan := &dsl.Plan{}
	r := &Runner{pipelines: pipes, tenants: map[string]*dsl.Tenant{}, pauses: newPauses()}
	for i := range 1000 {
		lane := "standard"
		if i%2 == 1 {
			lane = "premium"
		}
		tn := &dsl.Tenant{ID: fmt.Sprintf("t%04d", i), Lane: lane, Enabled: true, Active: active}
		plan.Tenants = append(plan.Tenants, tn)
		r.tenants[tn.ID] = tn
		r.pauses.note(tn.ID, nil, time.Now())
	}
	r.plan = plan
	paused := func(pipeline string) []state.Flag {
		return []state.Flag{{Kind: state.FlagPipelinePaused, Scope: pipeline}}
	}
	steps := []struct {
		what     string
		do       func()
		std, pre int
	}{
		{"nothing held", func() {}, 0, 0},
		{"t0000's users paused", func() { r.pauses.note("t0000", paused("users"), time.Now()) }, 1, 0},
		{"t0001 halted", func() { r.pauses.halt("t0001", "another organization") }, 1, 2},
		{"t0002's users and projects paused", func() {
			r.pauses.note("t0002", append(paused("users"), paused("projects")...), time.Now())
		}, 3, 2},
		{"t0000 resumed", func() { r.pauses.note("t0000", nil, time.Now()) }, 2, 2},
		{"t0001 let go", func() { r.pauses.resume("t0001") }, 2, 0},
		{"t0001 disabled by an operator", func() {
			r.pauses.note("t0001", []state.Flag{{Kind: state.FlagDisabled, Reason: "offboarding"}}, time.Now())
		}, 2, 2},
		{"t0001 enabled, t0002 resumed", func() {
			r.pauses.note("t0001", nil, time.Now())
			r.pauses.note("t0002", nil, time.Now())
		}, 0, 0},
	}
	for _, s := range steps {
		s.do()
		if std, pre := r.pausedQueues("standard"), r.pausedQueues("premium"); std != s.std || pre != s.pre {
			t.Errorf("%s: %d standard and %d premium queues paused, want %d and %d", s.what, std, pre, s.std, s.pre)
		}
	}
}
