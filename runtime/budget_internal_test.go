package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
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
		stage      string
		want, hubs []string
	}{
		// 120/1m is 500ms; premium has 3 of the 4 weights in use: 666ms.
		{"poll", []string{"vomo@1s"}, []string{"vomo/lane/premium@666.666666ms"}},
		{"backfill", []string{"vomo@1s", "vomo/backfill@2s"}, []string{"vomo/lane/premium@666.666666ms", "vomo/lane/premium/backfill@1.333333332s"}},
		{"reconcile", []string{"vomo@1s", "vomo/reconcile@4s"}, []string{"vomo/lane/premium@666.666666ms", "vomo/lane/premium/reconcile@2.666666664s"}},
	} {
		ls, hubs := r.budgetLimits(prem, src, c.stage)
		if got := keys(ls); !slices.Equal(got, c.want) {
			t.Errorf("%s: tenant limits %v, want %v", c.stage, got, c.want)
		}
		if got := keys(hubs); !slices.Equal(got, c.hubs) {
			t.Errorf("%s: hub limits %v, want %v", c.stage, got, c.hubs)
		}
		for _, h := range hubs {
			if h.Burst != 1 {
				t.Errorf("%s: hub limit %+v, want burst 1", c.stage, h)
			}
		}
	}
	if _, hubs := r.budgetLimits(std, src, "poll"); len(hubs) != 1 || hubs[0].Key != "vomo/lane/standard" || hubs[0].Interval != 2*time.Second {
		t.Errorf("standard's hub limits %+v, want vomo/lane/standard every 2s", hubs)
	}
	if _, hubs := r.budgetLimits(prem, &dsl.Source{Name: "vomo"}, "poll"); len(hubs) != 0 {
		t.Errorf("no global_rate_limit, yet hub limits %+v", hubs)
	}
	if lim := r.limiter(&dsl.Tenant{ID: "x", Lane: "standard"}, &dsl.Source{Name: "vomo"}, "poll"); lim != nil {
		t.Errorf("no budget configured, yet a limiter %+v", lim)
	}

	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ls, hubs := r.budgetLimits(prem, src, "backfill")
	res, err := st.Take(context.Background(), state.TakeRequest{Tenant: prem.ID, Limits: ls, Hubs: hubs, N: 1, Factor: 1})
	if err != nil || !res.Granted {
		t.Fatalf("take %v: %+v %v", keys(ls), res, err)
	}
	// The backfill share is spent for 2s; polling's own limit for 1s.
	res, err = st.Take(context.Background(), state.TakeRequest{Tenant: prem.ID, Limits: ls, N: 1, Factor: 1})
	if err != nil || res.Granted || res.Wait <= time.Second {
		t.Errorf("second backfill take at once: %+v %v, want a wait over 1s", res, err)
	}
}

// budgetStores opens a tenant store and, apart, a hub store (bbolt files).
func budgetStores(t *testing.T) (tenant, hub state.Store) {
	t.Helper()
	open := func(name string) state.Store {
		st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), name), state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return open("tenant.db"), open("hub.db")
}

// TestBudgetWaitReservesSlots: concurrent requests of one tenant are
// given consecutive slots and sleep until theirs, none refused; one whose
// slot is past maxBudgetWait is rate limited at once.
func TestBudgetWaitReservesSlots(t *testing.T) {
	st, _ := budgetStores(t)
	r := &Runner{cfg: Config{HubStore: st}, st: st, log: slog.Default()}
	b := &budgetLimiter{r: r, tenant: "acme", limits: []state.Limit{{Key: "vomo", Interval: 20 * time.Second, Burst: 1}},
		hubs: []state.Limit{{Key: "vomo/lane/default", Interval: 10 * time.Second, Burst: 1}}}
	var mu sync.Mutex
	var slept []time.Duration
	// The sleep is recorded, not slept: the slots are what is checked.
	b.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Wait(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	slices.Sort(slept)
	// The first goes at once (no sleep); then 20s, 40s, 60s, less the
	// time the takes took.
	if len(slept) != 3 {
		t.Fatalf("slept %v, want three reserved waits", slept)
	}
	for i, d := range slept {
		if slot := time.Duration(i+1) * 20 * time.Second; d > slot || d < slot-5*time.Second {
			t.Fatalf("slept %v: #%d is not at its slot %v", slept, i+1, slot)
		}
	}
	// The next slot is 80s away, past maxBudgetWait.
	if err := b.Wait(context.Background()); !errors.Is(err, vomo.ErrRateLimited) {
		t.Fatalf("a slot past maxBudgetWait: %v, want rate limited", err)
	}
	res, err := st.Take(context.Background(), state.TakeRequest{Tenant: "acme", Limits: b.limits, Reserve: time.Hour})
	if err != nil || res.Wait < 75*time.Second || res.Wait > 80*time.Second {
		t.Fatalf("the refused request reserved something: next slot %+v %v, want about 80s", res, err)
	}
}

// TestBudgetSplitHubRefusalGivesBack: with the hub budget in another
// store, a request the hub refuses (its slot past maxBudgetWait) gives the
// tenant's reservation back, so the tenant's next slot is not pushed out
// by a request never made.
func TestBudgetSplitHubRefusalGivesBack(t *testing.T) {
	st, hubSt := budgetStores(t)
	r := &Runner{cfg: Config{HubStore: hubSt}, st: st, log: slog.Default()}
	b := &budgetLimiter{r: r, tenant: "acme", limits: []state.Limit{{Key: "vomo", Interval: 30 * time.Second, Burst: 1}},
		hubs: []state.Limit{{Key: "vomo/lane/default", Interval: time.Hour, Burst: 1}}, split: true}
	b.sleep = func(context.Context, time.Duration) error { return nil }
	if err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The tenant's slot is 30s out, the hub's an hour.
	if err := b.Wait(context.Background()); !errors.Is(err, vomo.ErrRateLimited) {
		t.Fatalf("hub slot an hour out: %v, want rate limited", err)
	}
	res, err := st.Take(context.Background(), state.TakeRequest{Tenant: "acme", Limits: b.limits, Reserve: time.Hour})
	if err != nil || res.Wait < 25*time.Second || res.Wait > 30*time.Second {
		t.Fatalf("tenant's next slot %+v %v, want about 30s (the refused request's given back)", res, err)
	}
}

// TestBudgetBurstConfigured: a source's rate_limit_burst lets that many
// requests of a tenant go at once, its stage shares and lane shares get
// their part of the bursts, and without one the second request waits.
func TestBudgetBurstConfigured(t *testing.T) {
	minute := dsl.Duration(time.Minute)
	rate := map[string]dsl.Rate{"vomo": {N: 60, Per: minute}, "hub": {N: 60, Per: minute}}
	prem := &dsl.Tenant{ID: "acme", Lane: "premium", Enabled: true, RateLimits: rate}
	std := &dsl.Tenant{ID: "globex", Lane: "standard", Enabled: true, RateLimits: rate}
	plan := &dsl.Plan{Tenants: []*dsl.Tenant{prem, std}}
	st, _ := budgetStores(t)
	r := &Runner{cfg: Config{Plan: plan, HubStore: st}, plan: plan, st: st, log: slog.Default(),
		lanes: map[string]int{"premium": 3, "standard": 1}}

	// immediate counts the requests that go without sleeping before one
	// has to wait for its slot.
	immediate := func(tn *dsl.Tenant, src *dsl.Source, stage string) int {
		lim := r.limiter(tn, src, stage)
		waited := false
		lim.sleep = func(context.Context, time.Duration) error { waited = true; return nil }
		for n := 0; n < 100; n++ {
			if err := lim.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if waited {
				return n
			}
		}
		t.Fatalf("%s/%s: 100 requests at once", tn.ID, stage)
		return 0
	}
	burst := &dsl.Source{Name: "vomo", RateLimitBurst: 5}
	if n := immediate(prem, burst, "poll"); n != 5 {
		t.Errorf("rate_limit_burst 5: %d requests at once, want 5", n)
	}
	if n := immediate(std, &dsl.Source{Name: "vomo"}, "poll"); n != 1 {
		t.Errorf("no burst configured: %d requests at once, want 1", n)
	}
	// The hub's burst of 20 splits 15/5 between the lanes; the tenants'
	// own bursts (30) are not what holds them back. Premium borrows the
	// idle standard lane's 5 too: the hub's whole burst goes at once, and
	// no more.
	global := &dsl.Source{Name: "hub", RateLimitBurst: 30, GlobalRateLimit: &dsl.Rate{N: 600, Per: dsl.Duration(time.Hour)}, GlobalRateLimitBurst: 20}
	for _, c := range []struct {
		tn    *dsl.Tenant
		burst int
	}{{prem, 15}, {std, 5}} {
		if _, hubs := r.budgetLimits(c.tn, global, "poll"); len(hubs) != 1 || hubs[0].Burst != c.burst {
			t.Errorf("%s's hub limits %+v, want a burst of %d", c.tn.Lane, hubs, c.burst)
		}
	}
	if n := immediate(prem, global, "poll"); n != 20 {
		t.Errorf("global_rate_limit_burst 20: premium sent %d requests at once, want 20 (15 its own, 5 lent)", n)
	}
	if n := immediate(std, global, "poll"); n != 0 {
		t.Errorf("global_rate_limit_burst 20, all of it sent: standard sent %d requests at once, want none", n)
	}
	// A backfill's share of the tenant's burst of 5 is 2.
	if ls, _ := r.budgetLimits(prem, burst, "backfill"); len(ls) != 2 || ls[0].Burst != 5 || ls[1].Burst != 2 {
		t.Errorf("backfill limits %+v, want bursts 5 and 2", ls)
	}
}

// paced runs each limiter's requests back to back (real sleeps to the
// reserved slots) until span has passed and counts the requests each let
// go, and returns the span they really took (first start to last slot).
func paced(t *testing.T, lims map[string][]*budgetLimiter, span time.Duration) (map[string]int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), span)
	defer cancel()
	var mu sync.Mutex
	counts := map[string]int{}
	start := time.Now()
	var last time.Time
	var wg sync.WaitGroup
	for name, ls := range lims {
		for _, lim := range ls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if err := lim.Wait(ctx); err != nil {
						if ctx.Err() == nil {
							t.Error(err)
						}
						return
					}
					mu.Lock()
					counts[name]++
					last = time.Now()
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return counts, last.Sub(start)
}

// TestBudgetHubStageKeepsPollingsLane: a hub-wide backfill (several
// tenants backfilling at once, in one lane) takes at most the backfill's
// share of the lane, so polling in that lane keeps the rest; without the
// lane's stage key the backfills' reservations take most of its slots.
func TestBudgetHubStageKeepsPollingsLane(t *testing.T) {
	second := dsl.Duration(time.Second)
	rate := map[string]dsl.Rate{"vomo": {N: 1000, Per: second}}
	var tenants []*dsl.Tenant
	for i := range 5 {
		tenants = append(tenants, &dsl.Tenant{ID: fmt.Sprintf("t%d", i), Lane: "standard", Enabled: true, RateLimits: rate})
	}
	plan := &dsl.Plan{Tenants: tenants}
	st, _ := budgetStores(t)
	r := &Runner{cfg: Config{Plan: plan, HubStore: st}, plan: plan, st: st, log: slog.Default(),
		lanes: map[string]int{"standard": 1}}
	// 25/s: the lane's slots are 40ms apart, the backfill's share's 80ms.
	src := &dsl.Source{Name: "vomo", GlobalRateLimit: &dsl.Rate{N: 25, Per: second}}
	lims := map[string][]*budgetLimiter{"poll": {r.limiter(tenants[0], src, "poll")}}
	for _, tn := range tenants[1:] {
		lims["backfill"] = append(lims["backfill"], r.limiter(tn, src, "backfill"))
	}
	counts, span := paced(t, lims, 2*time.Second)
	if allowed := gcraMax(span, 80*time.Millisecond) + 1; counts["backfill"] > allowed {
		t.Errorf("backfills made %d requests in %s; their share of the lane allows %d", counts["backfill"], span, allowed)
	}
	if allowed := gcraMax(span, 40*time.Millisecond) + 1; counts["poll"]+counts["backfill"] > allowed {
		t.Errorf("the lane made %d requests in %s; it allows %d", counts["poll"]+counts["backfill"], span, allowed)
	}
	// Polling, one caller against four backfilling, keeps well over the
	// fifth of the lane it would get by arrival order.
	if counts["poll"]*3 < counts["backfill"] {
		t.Errorf("polling made %d requests beside the backfills' %d, want at least a third as many", counts["poll"], counts["backfill"])
	}
	t.Logf("in %s: polling %d, backfills %d", span, counts["poll"], counts["backfill"])
}

// gcraMax is the most requests a budget of interval iv (burst 1) lets go
// over span: one at its start, then one per interval.
func gcraMax(span, iv time.Duration) int { return int(span/iv) + 1 }

// lendRunner is a runner over a bbolt store whose plan has prem premium
// (weight 3) and std standard (weight 1) tenants, and a source of
// global_rate_limit 20/s: premium's share is a request every 66.7ms,
// standard's every 200ms.
func lendRunner(t *testing.T, prem, std int) (*Runner, *dsl.Source, []*dsl.Tenant, []*dsl.Tenant) {
	second := dsl.Duration(time.Second)
	rate := map[string]dsl.Rate{"vomo": {N: 1000, Per: second}}
	var ps, ss []*dsl.Tenant
	for i := range prem {
		ps = append(ps, &dsl.Tenant{ID: fmt.Sprintf("p%d", i), Lane: "premium", Enabled: true, RateLimits: rate})
	}
	for i := range std {
		ss = append(ss, &dsl.Tenant{ID: fmt.Sprintf("s%d", i), Lane: "standard", Enabled: true, RateLimits: rate})
	}
	plan := &dsl.Plan{Tenants: append(slices.Clip(ps), ss...)}
	st, _ := budgetStores(t)
	r := &Runner{cfg: Config{Plan: plan, HubStore: st}, plan: plan, st: st, log: slog.Default(),
		lanes: map[string]int{"premium": 3, "standard": 1}}
	return r, &dsl.Source{Name: "vomo", GlobalRateLimit: &dsl.Rate{N: 20, Per: second}}, ps, ss
}

// TestBudgetLendIdleLane: with only the standard lane busy, it borrows
// the idle premium lane's share: it gets well over its own quarter of
// the global budget, and the hub keeps to the whole of it.
func TestBudgetLendIdleLane(t *testing.T) {
	r, src, _, ss := lendRunner(t, 1, 4)
	lims := map[string][]*budgetLimiter{}
	for _, tn := range ss {
		lims["standard"] = append(lims["standard"], r.limiter(tn, src, "poll"))
	}
	counts, span := paced(t, lims, 2*time.Second)
	n := counts["standard"]
	// Sends go exactly at their slots, so the span measured here may be
	// a hair short of the slots it holds: allow the one grant that costs.
	if allowed := gcraMax(span, 50*time.Millisecond) + 1; n > allowed {
		t.Errorf("standard made %d requests in %s; the global budget allows %d", n, span, allowed)
	}
	if own := gcraMax(span, 200*time.Millisecond) + 1; n < 2*own {
		t.Errorf("standard made %d requests in %s beside an idle premium lane; its own share allows %d, want at least twice that", n, span, own)
	}
	t.Logf("standard alone: %d requests in %s (own share %d, global %d)", n, span, gcraMax(span, 200*time.Millisecond), gcraMax(span, 50*time.Millisecond))
}

// TestBudgetLendBusyLanesKeepWeights: with both lanes busy, premium
// lends nothing beyond what it has at once, and the requests keep the
// lanes' 3:1 split within the global budget.
func TestBudgetLendBusyLanesKeepWeights(t *testing.T) {
	r, src, ps, ss := lendRunner(t, 2, 2)
	lims := map[string][]*budgetLimiter{}
	for _, tn := range ps {
		lims["premium"] = append(lims["premium"], r.limiter(tn, src, "poll"))
	}
	for _, tn := range ss {
		lims["standard"] = append(lims["standard"], r.limiter(tn, src, "poll"))
	}
	counts, span := paced(t, lims, 2*time.Second)
	p, s := counts["premium"], counts["standard"]
	if allowed := gcraMax(span, 50*time.Millisecond) + 1; p+s > allowed {
		t.Errorf("the hub made %d requests in %s; the global budget allows %d", p+s, span, allowed)
	}
	if p < 2*s {
		t.Errorf("premium made %d requests, standard %d: premium should keep about three times as many", p, s)
	}
	t.Logf("both busy: premium %d, standard %d in %s", p, s, span)
}
