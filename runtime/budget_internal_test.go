package runtime

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
	_ "github.com/siphonhq/siphon/internal/state/local"
)

// TestBudgetLimitsByStageAndLane: polling takes the tenant's whole rate;
// backfill and reconcile also take their capped shares; the hub limit is
// the lane's weight share of global_rate_limit among the lanes that have
// enabled tenants; and the store accepts every key.
func TestBudgetLimitsByStageAndLane(t *testing.T) {
	minute := dsl.Duration(time.Minute)
	src := &dsl.Source{Name: "vomo", GlobalRateLimit: &dsl.Rate{N: 120, Per: minute}}
	rate := map[string]dsl.Rate{"vomo": {N: 60, Per: minute}}
	prem := &dsl.Tenant{ID: "acme", Lane: "premium", Enabled: true, RateLimits: rate}
	std := &dsl.Tenant{ID: "globex", Lane: "standard", Enabled: true, RateLimits: rate}
	// A lane whose only tenant is disabled holds no share back.
	idle := &dsl.Tenant{ID: "initech", Lane: "bulk", Enabled: false, RateLimits: rate}
	plan := &dsl.Plan{Tenants: []*dsl.Tenant{prem, std, idle}}
	r := &Runner{cfg: Config{Plan: plan}, plan: plan,
		lanes: map[string]int{"premium": 3, "standard": 1, "bulk": 4}}

	keys := func(ls []state.Limit) (out []string) {
		for _, l := range ls {
			out = append(out, l.Key+"@"+l.Interval.String())
		}
		return out
	}
	for _, c := range []struct {
		stage string
		want  []string
	}{
		{"poll", []string{"vomo@1s"}},
		{"backfill", []string{"vomo@1s", "vomo/backfill@2s"}},
		{"reconcile", []string{"vomo@1s", "vomo/reconcile@4s"}},
	} {
		ls, hub := r.budgetLimits(prem, src, c.stage)
		if got := keys(ls); !slices.Equal(got, c.want) {
			t.Errorf("%s: tenant limits %v, want %v", c.stage, got, c.want)
		}
		// 120/1m is 500ms; premium has 3 of the 4 weights in use.
		if hub == nil || hub.Key != "vomo/lane/premium" || hub.Interval != 500*time.Millisecond*4/3 || hub.Burst != 1 {
			t.Errorf("%s: hub limit %+v", c.stage, hub)
		}
	}
	if _, hub := r.budgetLimits(std, src, "poll"); hub == nil || hub.Key != "vomo/lane/standard" || hub.Interval != 2*time.Second {
		t.Errorf("standard's hub limit %+v, want vomo/lane/standard every 2s", hub)
	}
	if _, hub := r.budgetLimits(prem, &dsl.Source{Name: "vomo"}, "poll"); hub != nil {
		t.Errorf("no global_rate_limit, yet a hub limit %+v", hub)
	}
	if lim := r.limiter(&dsl.Tenant{ID: "x", Lane: "standard"}, &dsl.Source{Name: "vomo"}, "poll"); lim != nil {
		t.Errorf("no budget configured, yet a limiter %+v", lim)
	}

	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ls, hub := r.budgetLimits(prem, src, "backfill")
	res, err := st.Take(context.Background(), state.TakeRequest{Tenant: prem.ID, Limits: ls, Hub: hub, N: 1, Factor: 1})
	if err != nil || !res.Granted {
		t.Fatalf("take %v: %+v %v", keys(ls), res, err)
	}
	// The backfill share is spent for 2s; polling's own limit for 1s.
	res, err = st.Take(context.Background(), state.TakeRequest{Tenant: prem.ID, Limits: ls, N: 1, Factor: 1})
	if err != nil || res.Granted || res.Wait <= time.Second {
		t.Errorf("second backfill take at once: %+v %v, want a wait over 1s", res, err)
	}
}
