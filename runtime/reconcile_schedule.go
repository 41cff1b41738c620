package runtime

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/schedule"
	"github.com/siphonhq/siphon/internal/state"
)

// Scheduling. Each reconcile job runs at its pipelines' `daily` time in the
// tenant's zone (weekly: the weekly replaces the daily that day and also
// compares content hashes), started at a stable offset within the hour (a
// hash of tenant and job) so a hub's tenants in one zone do not all scan at
// once. The job's authoritative due time lives in the store like any
// job's, so many workers agree, and its lease makes one run at a time.
//
// `run --once` does not reconcile on schedule: it is meant to be fast (CI,
// cron), and a full scan of a big tenant takes hours of budget. It runs
// only the reconciles FlagReconcileRequested asks for (a checkpoint rebuilt
// from the destination), as `siphon run` does at the job's next chance.

// reconcileStagger is the job's start offset within its hour.
func reconcileStagger(t *dsl.Tenant, j *reconcileJob) time.Duration {
	return schedule.Stagger(t.ID, j.id, time.Hour)
}

// reconcileSlots returns the job's next n runs strictly after `after`,
// staggered, with their kind ("daily" or "weekly").
func reconcileSlots(t *dsl.Tenant, j *reconcileJob, after time.Time, n int) []schedule.Reconcile {
	off := reconcileStagger(t, j)
	pol := j.policy
	var w dsl.Weekly
	if pol.Weekly != nil {
		w = *pol.Weekly
	}
	slots := schedule.NextReconciles(after.Add(-off), t.Location, pol.Daily.Hour, pol.Daily.Minute,
		pol.Weekly != nil, w.Day, w.At.Hour, w.At.Minute, n)
	for i := range slots {
		slots[i].At = slots[i].At.Add(off)
	}
	return slots
}

// reconcileNext is the job's next due time after t.
func reconcileNext(t *dsl.Tenant, j *reconcileJob, after time.Time) time.Time {
	return reconcileSlots(t, j, after, 1)[0].At
}

// reconcileDeep reports whether the job's latest slot at or before now is
// the weekly one (a run that starts late keeps its slot's kind).
func reconcileDeep(t *dsl.Tenant, j *reconcileJob, now time.Time) bool {
	deep := false
	for _, s := range reconcileSlots(t, j, now.Add(-8*24*time.Hour), 10) {
		if s.At.After(now) {
			break
		}
		deep = s.Kind == "weekly"
	}
	return deep
}

// scheduleReconciles records every reconcile job's first due time when it
// has none.
func (r *Runner) scheduleReconciles(ctx context.Context, now time.Time) error {
	var reqs []dueReq
	for _, t := range r.plan.Tenants {
		for _, j := range r.reconcileJobs(t) {
			reqs = append(reqs, dueReq{tenant: t.ID, job: j.id, due: reconcileNext(t, j, now)})
		}
	}
	return r.scheduleJobs(ctx, reqs)
}

// reconcileJobRefs are the reconcile jobs as the scheduler's job table
// holds them.
func (r *Runner) reconcileJobRefs() map[[2]string]jobRef {
	out := map[[2]string]jobRef{}
	for _, t := range r.plan.Tenants {
		for _, j := range r.reconcileJobs(t) {
			out[[2]string{t.ID, j.id}] = jobRef{tenant: t, job: j.dslJob()}
		}
	}
	return out
}

// findReconcileJob returns the tenant's reconcile job of that id.
func (r *Runner) findReconcileJob(t *dsl.Tenant, id string) *reconcileJob {
	for _, j := range r.reconcileJobs(t) {
		if j.id == id {
			return j
		}
	}
	return nil
}

// reconcileLimit bounds how many scheduled reconciles one process runs at
// once: a reconcile holds a poll slot for as long as its scan takes (hours
// for a big tenant), and at 03:00 local a zone's tenants all come due, so
// without a bound they would take every slot and stop polling. A quarter
// of the poll slots (at least one) is theirs; a due reconcile that finds
// none free waits, still due, for the next tick.
type reconcileLimit struct {
	once sync.Once
	ch   chan struct{}
}

func (s *reconcileLimit) take(pollSlots int) (release func(), ok bool) {
	s.once.Do(func() { s.ch = make(chan struct{}, max(1, pollSlots/4)) })
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch }, true
	default:
		return nil, false
	}
}

// runReconcileJob runs a due reconcile job under its lease, moving its due
// time to the next slot. It returns an error only for store failures.
func (r *Runner) runReconcileJob(ctx context.Context, jr jobRef) error {
	t := jr.tenant
	j := r.findReconcileJob(t, jr.job.ID)
	if j == nil {
		return nil
	}
	release, ok := r.reconciling.take(r.cfg.PollSlots)
	if !ok {
		return nil
	}
	defer release()
	log := r.log.With("tenant", t.ID, "job", j.id)
	now := r.clk.Now()
	lease, ok, err := r.st.Acquire(ctx, state.AcquireRequest{Tenant: t.ID, Job: j.id, Owner: r.cfg.Owner, TTL: r.cfg.LeaseTTL,
		Now: now, NextDue: reconcileNext(t, j, now)})
	if err != nil {
		return fmt.Errorf("lease %s/%s: %w", t.ID, j.id, err)
	}
	if !ok {
		r.stats.jobsSkipped.Add(1)
		return nil
	}
	r.stats.jobsRun.Add(1)
	_, err = r.reconcileLeased(ctx, t, j, ReconcileOptions{Tenant: t.ID, Deep: reconcileDeep(t, j, now)}, lease, log)
	if err != nil {
		if isStoreFailure(err) {
			return err
		}
		if ctx.Err() == nil {
			log.Warn("reconcile did not run", "err", err)
		}
	}
	return nil
}

// requestedReconciles makes the reconcile jobs of pipelines whose
// reconcile was requested (FlagReconcileRequested) due now, so `siphon run`
// runs them at their next chance. It costs nothing when no flag is set.
func (r *Runner) requestedReconciles(ctx context.Context, t *dsl.Tenant, ctl control) {
	var jobs []*reconcileJob
	for _, f := range ctl.flags {
		if f.Kind != state.FlagReconcileRequested {
			continue
		}
		if jobs == nil {
			jobs = r.reconcileJobs(t)
		}
		for _, j := range jobs {
			if slices.ContainsFunc(j.pipelines, func(p *dsl.Pipeline) bool { return p.Name == f.Scope }) {
				if _, err := r.st.ScheduleJob(ctx, t.ID, j.id, r.clk.Now(), true); err != nil {
					r.log.Warn("schedule a requested reconcile", "tenant", t.ID, "job", j.id, "err", err)
				}
			}
		}
	}
}

// reconcileRequested runs, for `run --once`, the reconciles that flags
// request on enabled tenants. A job another process holds is left to it.
func (r *Runner) reconcileRequested(ctx context.Context) error {
	for _, t := range r.plan.Tenants {
		if !t.Enabled {
			continue
		}
		fs, err := r.st.Flags(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("flags of %s: %w", t.ID, err)
		}
		var want []string
		for _, f := range fs {
			if f.Kind == state.FlagReconcileRequested && slices.Contains(t.Active, f.Scope) {
				want = append(want, f.Scope)
			}
		}
		if len(want) == 0 {
			continue
		}
		if _, err := r.Reconcile(ctx, ReconcileOptions{Tenant: t.ID, Pipelines: want}); err != nil {
			if isStoreFailure(err) {
				return err
			}
			r.log.Warn("requested reconcile did not run", "tenant", t.ID, "pipelines", want, "err", err)
		}
	}
	return nil
}
