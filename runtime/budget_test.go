package runtime_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// Rate budgets are kept in the store's clock, which is real time, so
// these tests run the simulator and the runtime on the real clock and
// count requests against what GCRA allows over the real time they took:
// with a burst of 1, n requests of one budget of interval T span at least
// (n−1)·T, however slow the machine. No test asserts that anything was
// fast.

// budgetOpts describe a budget scenario.
type budgetOpts struct {
	tenants, users int
	// lanes gives tenant i (by position) lane lanes[i%len]; weights are the
	// lane blocks' weights.
	lanes   []string
	weights map[string]int
	// rate is the source's rate_limit, global its global_rate_limit ("" none).
	rate, global string
	store        string // "" bbolt
	// cadences: one pipeline per cadence on users, so a tenant has a job per
	// cadence (two jobs can then read the same tenant at once).
	cadences []string
	faults   *vomosim.Faults
	// big adds one more tenant with that many users (0: none).
	big int
}

// newBudgetHarness starts the simulator on the real clock and loads a
// configuration of budgetOpts. Every pipeline writes to a sqlite
// destination, as the main harness's do.
func newBudgetHarness(t testing.TB, o budgetOpts) *harness {
	t.Helper()
	clk := clock.Real{}
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users = o.tenants, o.users
	sc.Churn.Enabled = false
	if o.faults != nil {
		sc.Faults = *o.faults
	}
	sim, err := vomosim.New(vomosim.Options{Clock: clk, Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	if o.big > 0 {
		if _, err := sim.AddTenant(o.big); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	dir := t.TempDir()

	global := ""
	if o.global != "" {
		global = fmt.Sprintf("global_rate_limit = %q", o.global)
	}
	var lanes strings.Builder
	for name, w := range o.weights {
		fmt.Fprintf(&lanes, "lane %q {\n  weight = %d\n}\n", name, w)
	}
	cadences := o.cadences
	if len(cadences) == 0 {
		cadences = []string{"5m"}
	}
	var pipelines, list strings.Builder
	for i, c := range cadences {
		name := fmt.Sprintf("users%d", i)
		fmt.Fprintf(&pipelines, "pipeline %q {\n  resource = resource.users\n  destination = destination.db\n  cadence = %q\n  fields = { email = record.email }\n}\n", name, c)
		if i > 0 {
			list.WriteString(", ")
		}
		list.WriteString("pipeline." + name)
	}
	var tenants strings.Builder
	for i, ti := range sim.Tenants() {
		lane := ""
		if len(o.lanes) > 0 {
			lane = fmt.Sprintf("lane = %q", o.lanes[i%len(o.lanes)])
		}
		fmt.Fprintf(&tenants, "tenant %q {\n  pipelines = [%s]\n  %s\n}\n", ti.ID, list.String(), lane)
	}
	allow := ""
	if o.store != "" {
		allow = "allow_single_node = true"
	}
	src := fmt.Sprintf(`source "vomo" {
  kind       = "vomo"
  base_url   = %q
  rate_limit = %q
  %s
  retry {
    attempts    = 30
    backoff     = "10ms"
    max_backoff = "100ms"
  }
}
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "5m"
  cursor {
    field   = "updated_at"
    param   = "updated_after"
    overlap = "2m"
    settle  = "1s"
  }
}
destination "db" {
  plugin = "sqlite"
  config = { path = "out/destination.db" }
  batch_size = 200
  %s
}
`, hs.URL+"/v1", o.rate, global, allow)
	files := map[string]string{"source.hcl": src, "pipeline.hcl": pipelines.String(), "tenants.hcl": tenants.String() + lanes.String()}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := dsl.Load(dir, dsl.Options{Mode: dsl.ModeRun, Now: clk.Now()})
	if res.Plan == nil || res.Diagnostics.HasErrors() {
		t.Fatalf("plan: %v", res.Diagnostics)
	}
	url := o.store
	if url == "" {
		url = filepath.Join(dir, ".siphon", "state.db")
		if err := os.MkdirAll(filepath.Dir(url), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	st, err := state.Open(context.Background(), url, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kms, err := secrets.NewMasterKey(key)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clk: clk, sim: sim, url: hs.URL + "/v1", dir: dir, plan: res.Plan, store: st, kms: kms}
	for _, ti := range sim.Tenants() {
		h.setToken(ti.ID, ti.Token)
		// A cursor before every record makes the first walk a poll, not a
		// backfill (which has its own, smaller share): these tests measure
		// the tenant's whole rate.
		for _, p := range res.Plan.Pipelines {
			if _, err := st.SetCursor(context.Background(), ti.ID, p.Name, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return h
}

// request is one attempt as the client reported it, in real time.
type request struct {
	tenant     string
	start, end time.Time
	status     int
}

// requestLog records every attempt of the runners it is plugged into.
type requestLog struct {
	mu   sync.Mutex
	reqs []request
}

func (l *requestLog) hook(c *vomo.Config, perPage int) {
	c.PerPage = perPage
	c.Hooks.OnRequest = func(ri vomo.RequestInfo) {
		end := time.Now()
		l.mu.Lock()
		l.reqs = append(l.reqs, request{tenant: ri.Tenant, start: end.Add(-ri.Duration), end: end, status: ri.Status})
		l.mu.Unlock()
	}
}

// of returns the requests of the tenant ("" every tenant) ended in
// [from, to), in order of their end.
func (l *requestLog) of(tenant string, from, to time.Time) []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []request
	for _, r := range l.reqs {
		if (tenant == "" || r.tenant == tenant) && !r.end.Before(from) && r.end.Before(to) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].end.Before(out[j].end) })
	return out
}

func (l *requestLog) count(tenant string, from, to time.Time, status int) int {
	n := 0
	for _, r := range l.of(tenant, from, to) {
		if status == 0 || r.status == status {
			n++
		}
	}
	return n
}

// gcraMax is the most requests a budget of interval iv grants in a span
// of real time: one at once, then one per interval.
func gcraMax(span, iv time.Duration) int { return int(span/iv) + 1 }

// budgetRunner makes a runner on the harness's store logging requests.
func (h *harness) budgetRunner(log *requestLog, perPage int, adjust func(*runtime.Config)) *runtime.Runner {
	h.t.Helper()
	return h.runnerAdjusted(func(c *runtime.Config) {
		c.Source = func(vc *vomo.Config) { log.hook(vc, perPage) }
		c.PollSlots = 8
		if adjust != nil {
			adjust(c)
		}
	})
}

// runAll starts RunOnce on each runner; the returned func waits for them
// (they end when ctx does or their work is done).
func runAll(ctx context.Context, t testing.TB, rs ...*runtime.Runner) func() {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("run: %v", err)
			}
		}()
	}
	return wg.Wait
}

// TestBudgetLimitsTenantRate: a tenant's requests, retries included, keep
// to its rate_limit; and two tenants each get their own budget.
func TestBudgetLimitsTenantRate(t *testing.T) {
	h := newBudgetHarness(t, budgetOpts{tenants: 2, users: 3000, rate: "20/1s"})
	log := &requestLog{}
	r := h.budgetRunner(log, 10, nil)
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	wait := runAll(ctx, t, r)
	time.Sleep(2 * time.Second)
	cancel()
	wait()
	end := time.Now()
	const iv = 50 * time.Millisecond
	total := 0
	for _, ti := range h.sim.Tenants() {
		reqs := log.of(ti.ID, start, end)
		n := len(reqs)
		total += n
		if n < 2 {
			t.Fatalf("tenant %s made %d requests in %s; the walk did not run", ti.ID, n, end.Sub(start))
		}
		// Every request started after the first's start plus a whole
		// interval per request before it. Reserving takes send each
		// request exactly at its slot, so the span measured here, away
		// from the store's clock, may come out a hair short of the slots
		// it holds (a first request that set out late): allow the one
		// grant that rounding can cost, as TestBudgetLaneShares does.
		span := reqs[n-1].end.Sub(reqs[0].start)
		if allowed := gcraMax(span, iv) + 1; n > allowed {
			t.Errorf("tenant %s: %d requests in %s; a 20/1s budget allows %d", ti.ID, n, span, allowed)
		}
	}
	// TestBudgetTenantsDoNotShare shows the budgets are separate; here the
	// sum only goes to the log.
	t.Logf("%d requests from 2 tenants in %s", total, end.Sub(start))
}

// TestBudgetTenantsDoNotShare: draining one tenant's budget (as a 429
// does) holds that tenant back and not the other, which syncs in full. A
// drain longer than a request waits in place ends the held tenant's job
// as rate limited rather than holding its poll slot.
func TestBudgetTenantsDoNotShare(t *testing.T) {
	h := newBudgetHarness(t, budgetOpts{tenants: 2, users: 100, rate: "100/1s"})
	held, free := h.sim.Tenants()[0].ID, h.sim.Tenants()[1].ID
	if err := h.store.DrainBudget(context.Background(), held, "vomo", time.Hour); err != nil {
		t.Fatal(err)
	}
	log := &requestLog{}
	r := h.budgetRunner(log, 100, nil)
	sum, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := log.count(held, time.Time{}, time.Now(), 0); n != 0 {
		t.Errorf("the drained tenant made %d requests", n)
	}
	if sum.PollErrors != 1 {
		t.Errorf("%d poll errors, want the drained tenant's one", sum.PollErrors)
	}
	flags, err := h.store.Flags(context.Background(), held)
	if err != nil {
		t.Fatal(err)
	}
	limited := false
	for _, f := range flags {
		limited = limited || (f.Kind == state.FlagLastError && strings.Contains(f.Reason, "rate limited"))
	}
	if !limited {
		t.Errorf("the drained tenant's flags %+v name no rate limit", flags)
	}
	if got, want := len(h.rows("users0")[free]), len(h.truth(free)); got != want {
		t.Errorf("the other tenant synced %d of %d records", got, want)
	}
}

// TestBudgetThrottleHalvesRate: `siphon throttle 50%` (the hub store's
// factor) halves a tenant's allowed requests, and a runner already
// running picks the new factor up within seconds.
func TestBudgetThrottleHalvesRate(t *testing.T) {
	h := newBudgetHarness(t, budgetOpts{tenants: 1, users: 3000, rate: "20/1s"})
	tenant := h.sim.Tenants()[0].ID
	log := &requestLog{}
	r := h.budgetRunner(log, 10, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	wait := runAll(ctx, t, r)
	time.Sleep(time.Second)
	if err := h.store.SetThrottle(context.Background(), 0.5); err != nil {
		t.Fatal(err)
	}
	set := time.Now()
	// The runner reads the factor again within 2s.
	time.Sleep(2*time.Second + 200*time.Millisecond)
	t1 := time.Now()
	time.Sleep(2 * time.Second)
	cancel()
	wait()

	full := log.of(tenant, t0, set)
	if n := len(full); n < 2 || n > gcraMax(full[n-1].end.Sub(full[0].start), 50*time.Millisecond) {
		t.Fatalf("before the throttle: %d requests; the walk did not run or overran 20/1s", n)
	}
	var after []request
	for _, rq := range log.of(tenant, t1, time.Now()) {
		if rq.start.After(t1) {
			after = append(after, rq)
		}
	}
	if len(after) < 2 {
		t.Fatalf("after the throttle: %d requests; the walk stopped", len(after))
	}
	// At 50% the interval is 100ms; one grant may have been made just
	// before t1 at the old rate.
	span := after[len(after)-1].start.Sub(t1)
	if allowed := gcraMax(span, 100*time.Millisecond) + 1; len(after) > allowed {
		t.Errorf("throttled to 50%%: %d requests in %s; 10/1s allows %d", len(after), span, allowed)
	}
	t.Logf("full rate: %d requests in %s; throttled: %d in %s", len(full), set.Sub(t0), len(after), span)
}

// TestBudgetLaneShares: under contention for the source's global budget,
// a premium tenant (lane weight 3) gets three times the requests of a
// standard one (weight 1), and together they keep to the global budget.
func TestBudgetLaneShares(t *testing.T) {
	h := newBudgetHarness(t, budgetOpts{tenants: 2, users: 3000, rate: "1000/1s", global: "8/1s",
		lanes: []string{"premium", "standard"}, weights: map[string]int{"premium": 3}})
	premium, standard := h.sim.Tenants()[0].ID, h.sim.Tenants()[1].ID
	log := &requestLog{}
	r := h.budgetRunner(log, 10, nil)
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	wait := runAll(ctx, t, r)
	time.Sleep(4 * time.Second)
	cancel()
	wait()
	end := time.Now()
	count := func(tenant string, iv time.Duration) int {
		reqs := log.of(tenant, start, end)
		n := len(reqs)
		if n < 2 {
			t.Fatalf("tenant %s made %d requests", tenant, n)
		}
		// Reserving takes send each request exactly at its slot, so the
		// span measured here, away from the store's clock, may come out a
		// hair short of the slots it holds: allow the one grant that
		// rounding can cost, as the hub count below does.
		if allowed := gcraMax(reqs[n-1].end.Sub(reqs[0].start), iv) + 1; n > allowed {
			t.Errorf("tenant %s: %d requests, its lane's share allows %d", tenant, n, allowed)
		}
		return n
	}
	// 8/1s is 125ms; premium's share is 3/4 of it (every 166.7ms),
	// standard's 1/4 (every 500ms): slow enough that neither walk is held
	// back by anything but its share on a loaded machine.
	p := count(premium, 125*time.Millisecond*4/3)
	s := count(standard, 500*time.Millisecond)
	if p < 2*s {
		t.Errorf("premium made %d requests, standard %d: premium should get about three times as many", p, s)
	}
	all := log.of("", start, end)
	if allowed := gcraMax(all[len(all)-1].end.Sub(all[0].start), 125*time.Millisecond) + 1; len(all) > allowed {
		t.Errorf("the hub made %d requests; the global budget allows %d", len(all), allowed)
	}
	t.Logf("premium %d, standard %d requests in %s", p, s, end.Sub(start))
}

// splitRunners makes two runners on the harness's store, each holding
// the tenants' jobs of one cadence: two workers reading the same tenants
// at once, as two `siphon run` processes would.
func (h *harness) splitRunners(log *requestLog, perPage int) (*runtime.Runner, *runtime.Runner) {
	h.t.Helper()
	half := func(k int) *dsl.Plan {
		p := *h.plan
		p.Tenants = nil
		for _, t := range h.plan.Tenants {
			c := *t
			c.Jobs = []*dsl.Job{t.Jobs[k]}
			p.Tenants = append(p.Tenants, &c)
		}
		return &p
	}
	a := h.budgetRunner(log, perPage, func(c *runtime.Config) { c.Plan, c.Owner = half(0), "a" })
	b := h.budgetRunner(log, perPage, func(c *runtime.Config) { c.Plan, c.Owner = half(1), "b" })
	return a, b
}

// TestBudget429DrainsEveryWorker: a 429 one worker sees drains the
// tenant's budget in the store, so the other worker, polling the same
// tenant for another job, also waits out the Retry-After.
func TestBudget429DrainsEveryWorkerBbolt(t *testing.T) { testBudget429Drains(t, "") }

func testBudget429Drains(t *testing.T, store string) {
	h := newBudgetHarness(t, budgetOpts{tenants: 1, users: 3000, rate: "20/1s", store: store, cadences: []string{"5m", "10m"},
		faults: &vomosim.Faults{Enabled: true, RateLimit: 8, RateWindow: vomosim.Duration(2 * time.Second), Timeout: vomosim.Duration(30 * time.Second)}})
	tenant := h.sim.Tenants()[0].ID
	log := &requestLog{}
	a, b := h.splitRunners(log, 10)
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAll(ctx, t, a, b)
	time.Sleep(5 * time.Second)
	cancel()
	wait()
	reqs := log.of(tenant, time.Time{}, time.Now())
	limited := 0
	for _, rq := range reqs {
		if rq.status != 429 {
			continue
		}
		limited++
		// Retry-After is at least 1s: the drain holds every request of the
		// tenant back for that long after the 429 (half of it checked, so
		// the store call's own time cannot matter).
		for _, o := range reqs {
			if o.start.After(rq.end.Add(20*time.Millisecond)) && o.start.Before(rq.end.Add(500*time.Millisecond)) {
				t.Errorf("a request started %s after a 429, inside its Retry-After", o.start.Sub(rq.end))
			}
		}
	}
	if limited == 0 {
		t.Fatalf("no 429 in %d requests; the test did not exercise the drain", len(reqs))
	}
	t.Logf("%d requests, %d of them 429", len(reqs), limited)
}

// TestBudgetWeightedPollingOrder: with one poll slot and every job due,
// jobs start lane by lane by weight (premium 3, standard 1) though the
// standard tenants' jobs are due earlier, and tenants of a lane take turns.
func TestBudgetWeightedPollingOrder(t *testing.T) {
	// A daily cadence: a job that ran is not due again while the test
	// runs (a 5m cadence on the scaled clock comes round in seconds).
	h := newHarness(t, harnessOpts{tenants: 8, users: 20, pipeline: volunteers + "\n  cadence = \"24h\""})
	h.plan.Lanes = append(h.plan.Lanes, &dsl.Lane{Name: "premium", Weight: 3})
	lane := map[string]string{}
	now := h.clk.Now()
	for i, tn := range h.plan.Tenants {
		tn.Lane = "standard"
		due := now.Add(-2*time.Hour + time.Duration(i)*time.Minute)
		if i%2 == 1 {
			tn.Lane = "premium"
			due = now.Add(-time.Hour + time.Duration(i)*time.Minute)
		}
		lane[tn.ID] = tn.Lane
		for _, j := range tn.Jobs {
			if _, err := h.store.ScheduleJob(context.Background(), tn.ID, j.ID, due, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	var logs logCapture
	r := h.runnerAdjusted(func(c *runtime.Config) {
		c.Logger = logs.logger()
		c.PollSlots = 1
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var starts []string
	h.waitFor(time.Now().Add(60*time.Second), "eight job starts", func() bool {
		starts = starts[:0]
		for _, l := range logs.lines(t) {
			if l["msg"] == "job started" {
				starts = append(starts, l["tenant"].(string))
			}
		}
		return len(starts) >= 8
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v", err)
	}
	var lanes []string
	for _, s := range starts[:8] {
		lanes = append(lanes, lane[s])
	}
	// Smooth weighted round-robin of 3:1 is premium, premium, standard,
	// premium; then premium's fourth tenant and the standard ones.
	want := []string{"premium", "premium", "standard", "premium", "premium", "standard", "standard", "standard"}
	if !slices.Equal(lanes, want) {
		t.Errorf("start order by lane %v, want %v (tenants %v)", lanes, want, starts[:8])
	}
	if len(uniq(starts[:8])) != 8 {
		t.Errorf("a tenant started twice among the first eight: %v", starts[:8])
	}
}

func uniq(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func TestBudget429DrainsEveryWorkerRedis(t *testing.T) {
	testBudget429Drains(t, redistest.Start(t).URL())
}

// TestBudget429Storm: two workers on one Redis poll three tenants; the
// source starts answering 429 to all but a few requests a second per
// tenant. The hub's request rate falls well under its budget while the
// storm lasts, every tenant still gets requests through, and the rate
// recovers once the storm passes.
func TestBudget429Storm(t *testing.T) {
	h := newBudgetHarness(t, budgetOpts{tenants: 3, users: 3000, rate: "20/1s", global: "60/1s",
		store: redistest.Start(t).URL(), cadences: []string{"5m", "10m"}})
	log := &requestLog{}
	a, b := h.splitRunners(log, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := runAll(ctx, t, a, b)
	time.Sleep(1500 * time.Millisecond)
	storm := time.Now()
	const allowed = 3 // per tenant per 1s window
	if err := h.sim.SetFaults(vomosim.Faults{Enabled: true, RateLimit: allowed, RateWindow: vomosim.Duration(time.Second),
		Timeout: vomosim.Duration(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	calm := time.Now()
	if err := h.sim.SetFaults(vomosim.Faults{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	end := time.Now()
	cancel()
	wait()

	rate := func(from, to time.Time, status int) float64 {
		return float64(log.count("", from, to, status)) / to.Sub(from).Seconds()
	}
	before := rate(storm.Add(-time.Second), storm, 0)
	// The first second of the storm is the source's first window: the
	// workers learn of the storm from its first 429s.
	during := rate(storm.Add(time.Second), calm, 0)
	limited := log.count("", storm, calm, 429)
	// Retry-After is at most a second; the recovery is measured after it.
	after := rate(calm.Add(1500*time.Millisecond), end, 200)
	t.Logf("hub requests/s: %.1f before, %.1f during the storm (%d answered 429), %.1f answered 200 after", before, during, limited, after)
	if limited == 0 {
		t.Fatal("no 429 during the storm")
	}
	// The hub's budget is 60/s; through the storm the source lets 3/s per
	// tenant through (9/s), and the hub, holding each tenant back until
	// its Retry-After passes, asks little more than that.
	if during > 20 {
		t.Errorf("%.1f requests/s during the storm; the hub should fall well under its 60/s budget", during)
	}
	for _, ti := range h.sim.Tenants() {
		if n := log.count(ti.ID, storm, calm, 200); n == 0 {
			t.Errorf("tenant %s got no request through during the storm", ti.ID)
		}
		if n := log.count(ti.ID, calm.Add(1500*time.Millisecond), end, 200); n == 0 {
			t.Errorf("tenant %s made no request after the storm", ti.ID)
		}
	}
	if after <= during {
		t.Errorf("the rate did not recover: %.1f/s after the storm, %.1f/s during", after, during)
	}
}
