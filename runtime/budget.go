package runtime

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
)

// Stage shares of a tenant's rate budget. Polling keeps changes fresh, so
// it is never limited below the tenant's whole rate; a backfill and a
// reconcile each draw on a capped share of it as well as on the whole, so
// however long they run, at least a quarter of the tenant's requests stay
// free for polling (DESIGN.md §11 "Budgets are planned").
const (
	backfillShare  = 0.5
	reconcileShare = 0.25
)

// throttleEvery is how often the hub's throttle factor is read again: a
// `siphon throttle` reaches every running worker within it.
const throttleEvery = 2 * time.Second

// drainTimeout bounds the store call a 429 makes to drain the tenant's
// budget; the client's own Retry-After wait holds this worker back anyway.
const drainTimeout = 2 * time.Second

// maxBudgetWait is the longest a request waits for its tokens in place,
// as the client waits out at most a 65s Retry-After: a budget drained for
// longer (a long Retry-After seen by another worker) ends the job as rate
// limited instead of holding its poll slot and lease until then; it runs
// again when next due.
const maxBudgetWait = 65 * time.Second

// budgets are the runner's view of the hub-wide budget inputs: the
// throttle factor (cached, read from the hub store) and the lanes that
// share each source's global budget.
type budgets struct {
	mu       sync.Mutex
	factor   float64   // last factor read; 0 before the first read
	readAt   time.Time // real time of the last read (or failed read)
	warnedAt time.Time

	once   sync.Once
	weight int // Σ weights of the lanes that have enabled tenants
}

// throttle returns the hub's throttle factor, reading it from the hub
// store at most every throttleEvery. A failed read keeps the last factor
// (1 before any): the hub token that follows fails on its own if the hub
// store is down.
func (r *Runner) throttle(ctx context.Context) float64 {
	b := &r.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.factor > 0 && time.Since(b.readAt) < throttleEvery {
		return b.factor
	}
	f, err := r.cfg.HubStore.Throttle(ctx)
	b.readAt = time.Now()
	switch {
	case err == nil && f > 0 && f <= 1:
		b.factor = f
	case err != nil && time.Since(b.warnedAt) > time.Minute:
		b.warnedAt = time.Now()
		r.log.Warn("read the hub throttle; keeping the last factor", "factor", max(b.factor, 0), "err", err)
	}
	if b.factor == 0 {
		return 1
	}
	return b.factor
}

// laneWeight is the sum of the weights of the lanes that have enabled
// tenants in the plan: the global budget is split among those lanes only,
// so a lane nobody is in does not hold back a share. It counts every
// tenant of the plan, whatever its region, so every worker of the hub
// splits the global budget the same way.
func (r *Runner) laneWeight() int {
	b := &r.budget
	b.once.Do(func() {
		seen := map[string]bool{}
		// r.plan holds only this runner's region; Config.Plan every tenant.
		for _, t := range r.cfg.Plan.Tenants {
			if t.Enabled && !seen[t.Lane] {
				seen[t.Lane] = true
				b.weight += r.lanes[t.Lane]
			}
		}
	})
	return b.weight
}

// interval is the average spacing of a rate's requests; zero for no rate.
func interval(rate dsl.Rate) time.Duration {
	if rate.N < 1 || rate.Per <= 0 {
		return 0
	}
	return rate.Per.D() / time.Duration(rate.N)
}

// stageShare is the share of the tenant's rate a stage may use on its own
// key; 0 for polling, which has no key of its own.
func stageShare(stage string) float64 {
	switch stage {
	case "backfill":
		return backfillShare
	case "reconcile":
		return reconcileShare
	}
	return 0
}

// budgetLimits are the GCRA limits a request of the tenant's stage against
// the source takes: the tenant's rate_limit (key: the source's name), the
// stage's share of it (key "<source>/<stage>"), the tenant's lane's share
// of the source's global_rate_limit (hub key "<source>/lane/<lane>") and
// the stage's share of that (hub key "<source>/lane/<lane>/<stage>"), so a
// hub-wide backfill or reconcile leaves polling the rest of the lane as
// the tenant's stage share leaves it the rest of the tenant's rate. The
// lane's stage share is a cap (state.Limit.Cap): many tenants' stage
// requests reserving slots ahead at the share's spacing would move the
// lane's next slot past every one of them and leave the slots in between
// unused, so polling would queue behind them all; instead a stage request
// the share holds back waits without a reservation. Burst is 1 unless the source configures one
// (rate_limit_burst, global_rate_limit_burst): a burst on top of the full
// rate can double the source's fixed window and earn 429s (DESIGN.md §11).
// A share of a rate gets the same share of its burst, at least 1: the
// shares' bursts add up to the whole's, except where that floor of 1
// rounds a share up (three lanes under a global burst of 2 hold 3 at
// once), which a burst of at least one request per key needs.
func (r *Runner) budgetLimits(t *dsl.Tenant, src *dsl.Source, stage string) (tenant, hubs []state.Limit) {
	tb, gb := src.Bursts()
	if iv := interval(t.RateLimits[src.Name]); iv > 0 {
		tenant = append(tenant, state.Limit{Key: src.Name, Interval: iv, Burst: tb})
		if share := stageShare(stage); share > 0 {
			tenant = append(tenant, state.Limit{Key: src.Name + "/" + stage,
				Interval: time.Duration(float64(iv) / share), Burst: shareBurst(tb, share)})
		}
	}
	if src.GlobalRateLimit != nil {
		if iv, total := interval(*src.GlobalRateLimit), r.laneWeight(); iv > 0 && total > 0 {
			w := max(r.lanes[t.Lane], 1)
			lane, laneShare := time.Duration(float64(iv)*float64(total)/float64(w)), float64(w)/float64(total)
			key := src.Name + "/lane/" + t.Lane
			hubs = append(hubs, state.Limit{Key: key, Interval: lane, Burst: shareBurst(gb, laneShare)})
			if share := stageShare(stage); share > 0 {
				hubs = append(hubs, state.Limit{Key: key + "/" + stage,
					Interval: time.Duration(float64(lane) / share), Burst: shareBurst(gb, laneShare*share), Cap: true})
			}
		}
	}
	return tenant, hubs
}

// lendLimits are the other lanes' shares of the source's
// global_rate_limit, in lane name order, that the tenant's requests may
// borrow when their own lane's would make them wait (state.TakeRequest
// Lend): a lane with no busy callers lends its share, so the hub's budget
// is not left unused while another lane waits, and a busy lane keeps its
// share first. Only lanes with enabled tenants have a share.
func (r *Runner) lendLimits(t *dsl.Tenant, src *dsl.Source) []state.Limit {
	if src.GlobalRateLimit == nil {
		return nil
	}
	iv, total := interval(*src.GlobalRateLimit), r.laneWeight()
	if iv <= 0 || total <= 0 {
		return nil
	}
	_, gb := src.Bursts()
	var out []state.Limit
	for _, lane := range r.busyLanes() {
		if lane == t.Lane {
			continue
		}
		w := max(r.lanes[lane], 1)
		out = append(out, state.Limit{Key: src.Name + "/lane/" + lane,
			Interval: time.Duration(float64(iv) * float64(total) / float64(w)), Burst: shareBurst(gb, float64(w)/float64(total))})
	}
	return out
}

// busyLanes are the lanes that have enabled tenants in the plan, by name.
func (r *Runner) busyLanes() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range r.cfg.Plan.Tenants {
		if t.Enabled && !seen[t.Lane] {
			seen[t.Lane] = true
			out = append(out, t.Lane)
		}
	}
	slices.Sort(out)
	return out
}

// shareBurst is a share's part of a burst: rounded down, at least 1.
func shareBurst(burst int, share float64) int {
	return max(int(float64(burst)*share+1e-9), 1)
}

// budgetLimiter makes each request of one (tenant, source, stage) wait for
// its tokens: the tenant's first, in the tenant's store, then the hub's,
// in the hub store. Each take reserves the request's slot (Reserve), so
// callers queue at exact slots instead of racing for each one after a
// refusal and losing any lateness past it; only a stage's hub share, a
// cap, refuses instead, and the request sleeps that wait and asks again.
// A request its own lane would make wait may borrow an idle lane's token
// (lend). The budgets are kept in the store's clock (Redis server time, or the local wall clock), so a
// reservation's wait is real time whatever clock the runner schedules by.
type budgetLimiter struct {
	r      *Runner
	tenant string
	limits []state.Limit
	hubs   []state.Limit
	// lend: other lanes' shares to borrow when the own lane's would make
	// a request wait.
	lend []state.Limit
	// split: the hub store is not the tenant's store, so the tenant's and
	// the hub's tokens are taken in two calls (see reserve).
	split bool
	sleep func(ctx context.Context, d time.Duration) error
}

// limiter returns the budget limiter of the tenant's requests of the stage
// against the source, or nil when no budget applies.
func (r *Runner) limiter(t *dsl.Tenant, src *dsl.Source, stage string) *budgetLimiter {
	limits, hubs := r.budgetLimits(t, src, stage)
	if len(limits) == 0 && len(hubs) == 0 {
		return nil
	}
	var lend []state.Limit
	if len(hubs) > 0 {
		lend = r.lendLimits(t, src)
	}
	return &budgetLimiter{r: r, tenant: t.ID, limits: limits, hubs: hubs, lend: lend,
		split: len(hubs) > 0 && r.cfg.HubStore != r.st, sleep: sleepReal}
}

// Wait reserves one token of every limit and sleeps until the reserved
// slot. A slot more than maxBudgetWait away ends the request as rate
// limited, with nothing reserved. A store error fails the request as a
// store failure, so the job is retried whole rather than counted as the
// source's fault. A context that ends during the sleep forfeits the slot:
// nobody else gets it, which only lowers the rate, never raises it.
//
// A 429 another worker saw while this one slept drains the tenant's
// budget after the slot was reserved, so a request that slept asks the
// store for drains before it goes and waits them out too.
func (b *budgetLimiter) Wait(ctx context.Context) error {
	var wait time.Duration
	for slept := time.Duration(0); ; {
		w, granted, err := b.reserve(ctx)
		if err != nil {
			return err
		}
		if granted {
			wait = w
			break
		}
		// A refusal within maxBudgetWait is a capped share's (its next
		// token comes before the slot the request could reserve, so it
		// reserves none): sleep until the share has a token and ask again.
		if slept += w; slept > maxBudgetWait {
			return b.drained(w)
		}
		if err := b.sleep(ctx, w); err != nil {
			return err
		}
	}
	if wait <= 0 {
		return nil
	}
	if err := b.sleep(ctx, wait); err != nil {
		return err
	}
	if len(b.limits) == 0 {
		return nil
	}
	for slept := time.Duration(0); ; {
		res, err := b.r.st.Take(ctx, state.TakeRequest{Tenant: b.tenant, Limits: b.limits, Drained: true})
		if err != nil {
			return storeErr(fmt.Errorf("rate budget of %s: %w", b.tenant, err))
		}
		if res.Granted {
			return nil
		}
		if slept += res.Wait; slept > maxBudgetWait {
			return b.drained(res.Wait)
		}
		if err := b.sleep(ctx, res.Wait); err != nil {
			return err
		}
	}
}

// reserve takes the tokens with a reservation of at most maxBudgetWait
// and returns how long to sleep, or, refused, how long until asking again
// may be granted. In one store, the store takes the tenant's and the
// hubs' together and agrees their slots. With a separate hub store the
// tenant's are reserved first; when the hub then refuses, the tenant's
// are given back, so no tenant token is spent without a request. The
// request goes at the later of the two slots; when that is the hub's, the
// tenant's budget counted it somewhat earlier than it goes (the hub store
// cannot move the tenant's budget).
func (b *budgetLimiter) reserve(ctx context.Context) (wait time.Duration, granted bool, err error) {
	factor := b.r.throttle(ctx)
	if !b.split {
		res, err := b.r.st.Take(ctx, state.TakeRequest{Tenant: b.tenant, Limits: b.limits, Hubs: b.hubs, Lend: b.lend, N: 1, Factor: factor, Reserve: maxBudgetWait})
		if err != nil {
			return 0, false, storeErr(fmt.Errorf("rate budget of %s: %w", b.tenant, err))
		}
		return res.Wait, res.Granted, nil
	}
	var tenantWait time.Duration
	if len(b.limits) > 0 {
		res, err := b.r.st.Take(ctx, state.TakeRequest{Tenant: b.tenant, Limits: b.limits, N: 1, Factor: factor, Reserve: maxBudgetWait})
		if err != nil {
			return 0, false, storeErr(fmt.Errorf("rate budget of %s: %w", b.tenant, err))
		}
		if !res.Granted {
			return res.Wait, false, nil
		}
		tenantWait = res.Wait
	}
	hreq := state.TakeRequest{Tenant: b.tenant, Hubs: b.hubs, N: 1, Factor: factor, Reserve: maxBudgetWait}
	if tenantWait == 0 {
		// A loan is for a request the tenant's own budget lets go now.
		hreq.Lend = b.lend
	}
	res, err := b.r.cfg.HubStore.Take(ctx, hreq)
	if err == nil && res.Granted {
		return max(tenantWait, res.Wait), true, nil
	}
	if len(b.limits) > 0 {
		// No request follows: the tenant's reservation goes back, on a
		// context of its own so a job ending now still returns it.
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
		defer cancel()
		if _, gerr := b.r.st.Take(gctx, state.TakeRequest{Tenant: b.tenant, Limits: b.limits, N: 1, Factor: factor, GiveBack: true}); gerr != nil {
			b.r.log.Warn("give back the tenant's rate budget after the hub's", "tenant", b.tenant, "err", gerr)
		}
	}
	if err != nil {
		return 0, false, storeErr(fmt.Errorf("hub rate budget of %s: %w", b.tenant, err))
	}
	return res.Wait, false, nil
}

// drained is the error of a request whose slot is more than maxBudgetWait
// away.
func (b *budgetLimiter) drained(wait time.Duration) error {
	return fmt.Errorf("rate budget of %s: drained, next request allowed in %s: %w", b.tenant, wait.Round(time.Second), vomo.ErrRateLimited)
}

// onRateLimited drains the tenant's budget of the source for the 429's
// Retry-After, so every worker of the hub holds back that tenant, not only
// the one whose request was refused.
func (r *Runner) onRateLimited(t *dsl.Tenant, src *dsl.Source, next func(time.Duration)) func(time.Duration) {
	return func(retryAfter time.Duration) {
		if next != nil {
			next(retryAfter)
		}
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		if err := r.st.DrainBudget(ctx, t.ID, src.Name, retryAfter); err != nil {
			r.log.Warn("drain the rate budget after a 429", "tenant", t.ID, "source", src.Name, "retry_after", retryAfter, "err", err)
		}
	}
}

// withBudget plugs the tenant's budget for the stage into a client config:
// the limiter before every request and the 429 drain.
func (r *Runner) withBudget(cfg *vomo.Config, t *dsl.Tenant, src *dsl.Source, stage string) {
	if cfg.Limiter == nil {
		if lim := r.limiter(t, src, stage); lim != nil {
			cfg.Limiter = lim
		}
	}
	cfg.Hooks.OnRateLimited = r.onRateLimited(t, src, cfg.Hooks.OnRateLimited)
}

// sleepReal waits d of real time or until ctx ends.
func sleepReal(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
