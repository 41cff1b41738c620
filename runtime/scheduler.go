package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/schedule"
	"github.com/siphonhq/siphon/internal/state"
)

// runJob takes a job's lease and polls it. once: run now whatever the due
// time, unless another process holds the job or ran it after this runner
// started. It returns an error only for store failures; a job that fails
// is counted and logged.
func (r *Runner) runJob(ctx context.Context, j jobRef, once bool) error {
	if j.job.Shape == reconcileShape {
		return r.runReconcileJob(ctx, j) // reconcile_schedule.go
	}
	log := jobLog(r.log, j)
	now := r.clk.Now()
	cadence := j.job.Cadence.D()
	req := state.AcquireRequest{Tenant: j.tenant.ID, Job: j.job.ID, Owner: r.cfg.Owner, TTL: r.cfg.LeaseTTL,
		Now: now, NextDue: nextDue(j.job, now)}
	if once {
		// A run out of schedule moves the due time to its start plus the
		// cadence, off the grid: that is how another --once process
		// started together tells that the job ran after it started (see
		// below). The first scheduled run after it comes back to the grid.
		req.NextDue = now.Add(cadence)
	}
	lease, ok, err := r.st.Acquire(ctx, req)
	if err != nil {
		return fmt.Errorf("lease %s/%s: %w", j.tenant.ID, j.job.ID, err)
	}
	if !ok && once && lease.Owner == "" && lease.Due.Before(r.started.Add(cadence)) {
		// Not due by the stored schedule, but nobody holds it and nobody ran
		// it with --once since this run started (such a run would have set
		// the due time to at least our start plus the cadence): --once
		// runs it anyway and moves the due time itself.
		req.NextDue = time.Time{}
		if lease, ok, err = r.st.Acquire(ctx, req); err != nil {
			return fmt.Errorf("lease %s/%s: %w", j.tenant.ID, j.job.ID, err)
		}
		if ok {
			if _, err := r.st.ScheduleJob(ctx, j.tenant.ID, j.job.ID, now.Add(cadence), true); err != nil {
				_ = r.st.Release(context.WithoutCancel(ctx), lease)
				return fmt.Errorf("schedule %s/%s: %w", j.tenant.ID, j.job.ID, err)
			}
		}
	}
	if !ok {
		r.stats.jobsSkipped.Add(1)
		log.Info("job skipped: held or already run", "holder", lease.Owner, "due", lease.Due)
		return nil
	}
	r.stats.jobsRun.Add(1)
	// One span covers the held lease, so every line of the job (its start,
	// its end, its failure) carries the trace id of the poll inside it.
	jctx, span := r.startSpan(ctx, "job", spanAttrs(j.tenant.ID, j.job.ID)...)
	defer span.End()
	// poll adds the trace id (the same: its span is this one's child) to
	// its own lines, so it takes the logger without it; adding it twice
	// wrote every poll line with two trace_id keys.
	pollLog := log
	log = withTrace(jctx, log)
	// The start and end of every held lease are logged with its fencing
	// token, so the job's runs across processes can be checked (and
	// debugged) as intervals that never overlap while a lease is held: the
	// end is logged before the lease is released.
	started := []any{"owner", r.cfg.Owner, "fence", lease.Token.Counter}
	if !once {
		// The slot this run serves is the grid point the lease's due time
		// was taken at (the one before the due time it moved to), not the
		// one this line happens to be written in: a late start whose
		// Acquire returns past the next slot's boundary still served the
		// slot before it, and the next slot runs on its own.
		started = append(started, "slot", req.NextDue.Add(-cadence).UTC())
	}
	log.Info("job started", started...)
	jctx, cancel := context.WithCancelCause(jctx)
	defer cancel(nil)
	hb := r.heartbeat(jctx, cancel, lease, log)
	perr := r.poll(onceContext(jctx, once), j, hb.current, pollLog)
	hb.stop()
	log.Info("job finished", "owner", r.cfg.Owner, "fence", lease.Token.Counter,
		"lease_lost", errors.Is(context.Cause(jctx), state.ErrLeaseLost))
	if err := r.st.Release(context.WithoutCancel(ctx), hb.current()); err != nil {
		log.Warn("release lease", "err", err)
	}
	if perr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isStoreFailure(perr) {
			// Retried by the caller, which rides out store outages.
			return fmt.Errorf("poll %s/%s: %w", j.tenant.ID, j.job.ID, perr)
		}
		r.stats.pollErrors.Add(1)
		log.Error("poll failed", "err", perr)
	}
	return nil
}

// nextDue is the job's first slot strictly after t on its epoch-aligned,
// staggered grid: the function plan shows next runs with, so what plan
// prints is what run does, and a late start does not shift later slots.
func nextDue(j *dsl.Job, t time.Time) time.Time {
	if runs := schedule.NextRuns(t, j.Cadence.D(), j.Stagger.D(), 1); len(runs) == 1 {
		return runs[0]
	}
	// The language refuses cadences under 30s, so only a hand-built plan
	// gets here; a minute keeps such a job from spinning.
	return t.Add(time.Minute)
}

// heartbeat renews a job's lease at a third of its TTL; when the lease is
// lost the job's context is cancelled so the walk stops before its next
// page (the fence would refuse that page anyway).
type heartbeat struct {
	mu      sync.Mutex
	lease   state.Lease
	done    chan struct{}
	stopped chan struct{}
}

func (r *Runner) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, l state.Lease, log *slog.Logger) *heartbeat {
	h := &heartbeat{lease: l, done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(h.stopped)
		t := time.NewTicker(max(r.cfg.LeaseTTL/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			nl, err := r.st.Renew(ctx, h.current(), r.cfg.LeaseTTL)
			switch {
			case errors.Is(err, state.ErrLeaseLost):
				log.Warn("lease lost; stopping the job", "err", err)
				cancel(err)
				return
			case err != nil:
				log.Warn("renew lease", "err", err)
			default:
				h.mu.Lock()
				h.lease = nl
				h.mu.Unlock()
			}
		}
	}()
	return h
}

// current is the latest renewed lease: pages are committed under it.
func (h *heartbeat) current() state.Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lease
}

func (h *heartbeat) stop() {
	close(h.done)
	<-h.stopped
}

// scheduleAll records every job's first due time when it has none: its
// first slot after now on the grid plan shows (epoch-aligned, offset by
// the job's stagger).
func (r *Runner) scheduleAll(ctx context.Context) error {
	now := r.clk.Now()
	var reqs []dueReq
	for _, t := range r.plan.Tenants {
		for _, j := range t.Jobs {
			reqs = append(reqs, dueReq{tenant: t.ID, job: j.ID, due: nextDue(j, now)})
		}
	}
	if err := r.scheduleJobs(ctx, reqs); err != nil {
		return err
	}
	return r.scheduleReconciles(ctx, now)
}

// dueReq is a job's first due time, recorded when the job has none.
type dueReq struct {
	tenant, job string
	due         time.Time
}

// scheduleParallel is how many first due times are recorded at once.
const scheduleParallel = 32

// scheduleJobs records first due times many at a time: at thousands of
// tenants, one round trip after another kept a starting runner from its
// first job for minutes, while concurrent calls share Redis's connection
// pool and bbolt's batched commits. It stops at the first error.
func (r *Runner) scheduleJobs(ctx context.Context, reqs []dueReq) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan dueReq)
	var wg sync.WaitGroup
	for range min(scheduleParallel, len(reqs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range work {
				if _, err := r.st.ScheduleJob(ctx, q.tenant, q.job, q.due, false); err != nil {
					cancel(fmt.Errorf("schedule %s/%s: %w", q.tenant, q.job, err))
				}
			}
		}()
	}
feed:
	for _, q := range reqs {
		select {
		case work <- q:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// scheduleLoop starts due jobs as they come due on a bounded pool of poll
// slots (Config.PollSlots): a job takes a slot for as long as it runs, so
// one long walk (a big tenant's first sync) holds one slot and every other
// tenant's due jobs go on starting beside it. A job still running in this
// process is not started again, even when its next slot comes while it
// runs. When ctx ends, running jobs stop at their next page and hand their
// leases back; the loop returns once they have.
func (r *Runner) scheduleLoop(ctx context.Context) error {
	jobs := r.reconcileJobRefs()
	for _, t := range r.plan.Tenants {
		for _, j := range t.Jobs {
			jobs[[2]string{t.ID, j.ID}] = jobRef{tenant: t, job: j}
		}
	}
	slots := make(chan struct{}, r.cfg.PollSlots)
	// freed wakes the loop when a job ends, so a due job waiting for a
	// slot starts then rather than at the next tick.
	freed := make(chan struct{}, 1)
	var mu sync.Mutex
	running := map[[2]string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	// tried holds the jobs started since the last tick: the due index can
	// list a job that another process holds past its due time, and without
	// this a refused job would end, wake the loop and be tried again at
	// once, round and round.
	tried := map[[2]string]bool{}
	// The loop looks at the due index on each whole second of the
	// scheduler's clock, where every slot lies (staggers are whole seconds
	// of whole-second cadences), so a job starts within moments of its
	// slot rather than up to a second after it.
	tick := time.NewTimer(untilNextSecond(r.clk.Now()))
	defer tick.Stop()
	r.sweep(ctx, jobs)
	// The periodic sweep runs beside the loop: at thousands of tenants it
	// takes long enough to make every job due meanwhile late.
	var sweeping atomic.Bool
	// lanes carries the weighted round-robin across dispatches, so under
	// contention each lane's share of job starts follows its weight.
	lanes := newLaneRound(r.lanes)
	// due is the last look at the due index, and waiting its jobs that
	// this loop could start and has not yet; query says whether to look
	// again. A slot freed by a job's end goes to the next of waiting, in
	// fair order; the index is read again only when waiting is used up and
	// the look was cut at its limit (more are due), since jobs that come
	// due meanwhile do so on a whole second, when the tick looks. At
	// thousands of jobs a minute, a look per job end was most of the
	// loop's work, and so was sorting every waiting job again. (A job that
	// overran its cadence and ends meanwhile starts for its missed slot at
	// the next tick.)
	var due []state.JobRef
	waiting := newFairQueue(nil, lanes)
	query := true
	base := 2*r.cfg.PollSlots + 100
	// passed is how many entries of the last look were no job of this loop
	// (below); the next look reads past as many, so a crowd of them (every
	// new tenant's backfill due at once) cannot hide the jobs behind them.
	passed := 0
	for n := 1; ; {
		// Jobs running here that overran their cadence stay at the head of
		// the due list, so it is long enough to see past them.
		limit := base + passed
		if query {
			var err error
			if due, err = r.st.DueJobs(ctx, r.clk.Now(), limit); err != nil && ctx.Err() == nil {
				r.log.Warn("list due jobs", "err", err)
			}
			var ready []spreadJob
			seen := passed
			passed = 0
			for _, d := range due {
				key := [2]string{d.Tenant, d.Job}
				// A tenant's BackfillJob due time is listed too; it is no poll
				// job (not in jobs), so it is passed over here: the poll jobs
				// start the backfills once it is due, then forget it.
				j, ok := jobs[key]
				if !ok {
					passed++
					continue
				}
				mu.Lock()
				busy := running[key]
				mu.Unlock()
				if j.tenant.Enabled && !busy && !tried[key] {
					ready = append(ready, spreadJob{j: j, due: d.Due.Unix(), order: spreadOrder(r.cfg.Owner, key)})
				}
			}
			if len(due) >= limit && passed > seen {
				// The look was cut short by entries to pass over: look again,
				// further, at once.
				continue
			}
			waiting = newFairQueue(spread(ready), lanes)
		}
		// Only this loop takes slots, so as many as are free now stay free
		// until it takes them.
		for _, j := range waiting.take(cap(slots) - len(slots)) {
			key := [2]string{j.tenant.ID, j.job.ID}
			slots <- struct{}{}
			tried[key] = true
			mu.Lock()
			running[key] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.runJob(ctx, j, false); err != nil && ctx.Err() == nil {
					jobLog(r.log, j).Warn("job stopped by a store failure; it runs again when due", "err", err)
				}
				mu.Lock()
				delete(running, key)
				mu.Unlock()
				<-slots
				select {
				case freed <- struct{}{}:
				default:
				}
			}()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			tick.Reset(untilNextSecond(r.clk.Now()))
			clear(tried)
			query = true
			if n++; n%sweepEvery == 0 && sweeping.CompareAndSwap(false, true) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer sweeping.Store(false)
					r.sweep(ctx, jobs)
				}()
			}
		case <-freed:
			query = waiting.left == 0 && len(due) >= limit
		}
	}
}

// spreadJob is a due job with the second it is due in and its place
// among the jobs due in that second for this process.
type spreadJob struct {
	j     jobRef
	due   int64 // Unix seconds
	order uint64
}

// spread orders due jobs by the second they are due in, and those of one
// second in an order of this process's own. Jobs due in the same second
// are equally due (every slot is a whole second), so nothing is started
// later for it; but several processes sharing a store go after different
// jobs first, instead of every one racing for the same jobs in the same
// order, where each race cost every loser an Acquire and a poll slot
// (three of four, with four processes).
func spread(js []spreadJob) []jobRef {
	slices.SortStableFunc(js, func(a, b spreadJob) int {
		if c := cmp.Compare(a.due, b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	out := make([]jobRef, len(js))
	for i, s := range js {
		out[i] = s.j
	}
	return out
}

// spreadOrder is a job's place among the jobs due in the same second for
// the process named owner: a hash of both, so each process has its own.
func spreadOrder(owner string, job [2]string) uint64 {
	h := fnv.New64a()
	for _, s := range []string{owner, job[0], job[1]} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// untilNextSecond is how long the loop sleeps to wake just past the next
// whole second of the scheduler's clock. It is a real duration: under a
// test's faster clock the loop wakes at most a second of real time apart,
// as it did before it kept to whole seconds.
func untilNextSecond(now time.Time) time.Duration {
	return now.Truncate(time.Second).Add(time.Second).Sub(now) + time.Millisecond
}

// sweepEvery is how many scheduler ticks pass between repair sweeps.
const sweepEvery = 30

// sweep repairs the hub-wide indexes, which are updated as their own step
// after each tenant's step and so can miss an update when a worker dies in
// between: the due index from the jobs' authoritative due times, and the
// ready index from the queues.
func (r *Runner) sweep(ctx context.Context, jobs map[[2]string]jobRef) {
	refs := make([]state.JobRef, 0, len(jobs))
	for k := range jobs {
		refs = append(refs, state.JobRef{Tenant: k[0], Job: k[1]})
	}
	if _, err := r.st.RepairDue(ctx, refs); err != nil {
		r.log.Warn("repair the due index", "err", err)
	}
	var qs []state.QueueRef
	for _, t := range r.plan.Tenants {
		for _, d := range r.tenantDestinations(t) {
			qs = append(qs, r.queueRef(t, d))
		}
	}
	if err := r.st.SweepReady(ctx, qs); err != nil {
		r.log.Warn("repair the ready index", "err", err)
	}
}

// jobLog labels a job's log lines with its tenant and pipeline (pipelines,
// for a job that polls several).
func jobLog(log *slog.Logger, j jobRef) *slog.Logger {
	log = log.With("tenant", j.tenant.ID, "job", j.job.ID)
	if len(j.job.Pipelines) == 1 {
		return log.With("pipeline", j.job.Pipelines[0])
	}
	return log.With("pipelines", j.job.Pipelines)
}
