package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
)

// Tenant control (DESIGN.md §11 "Pauses"). A tenant is halted when an
// operator disabled it (`siphon tenant disable`, which wins over the
// configuration's enabled = true until `siphon tenant enable`) or when its
// token answers for another organization than the one recorded at
// onboarding (org.go). A halted tenant is not polled, its queues are not
// processed (their entries stay queued), and a job of it that is running
// when the halt is set stops at its next page.

// haltWatch is how often a running job reads its tenant's flags to see a
// halt set meanwhile: a backfill can run for hours, and an operator who
// disables a customer expects the reads to stop within seconds.
const haltWatch = 2 * time.Second

// halted reports whether the whole tenant is held back, and why.
func (c control) halted() (string, bool) {
	for _, f := range c.flags {
		switch f.Kind {
		case state.FlagDisabled:
			return "disabled by an operator: " + f.Reason, true
		case state.FlagOrgMismatch:
			return f.Reason, true
		}
	}
	return "", false
}

// halted is why this process holds the tenant back ("" when it does not).
func (p *pauses) halted(tenant string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tp := p.tenants[tenant]; tp != nil {
		return tp.halted
	}
	return ""
}

// halt holds the tenant back in this process at once (the organization
// check found a mismatch), ahead of the next read of its flags.
func (p *pauses) halt(tenant, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tp := p.tenants[tenant]
	if tp == nil {
		tp = &tenantPauses{read: time.Now()}
	}
	tp.halted, tp.tripped = reason, time.Now()
	p.set(tenant, tp)
}

// resume forgets this process's halt of the tenant (its token answers for
// the recorded organization again), so its queues are processed without
// waiting for the next read of its flags.
func (p *pauses) resume(tenant string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tp := p.tenants[tenant]; tp != nil {
		tp.halted = ""
		p.set(tenant, tp)
	}
}

// haltedError is the cause of a job's context ended by a halt.
type haltedError struct{ tenant, reason string }

func (e *haltedError) Error() string { return fmt.Sprintf("tenant %s halted: %s", e.tenant, e.reason) }

// admit is the last gate of a poll before it reads anything: the
// organization check, then a watch that ends the returned context (and so
// the job, at its next page) when the tenant is halted while it runs.
func (pr *pollRun) admit(ctx context.Context, ctl control) (context.Context, error) {
	if err := pr.verifyOrg(ctx, ctl); err != nil {
		return ctx, err
	}
	return pr.r.watchTenant(ctx, pr.t.ID, pr.log), nil
}

// watchTenant returns a context that ends, with a *haltedError cause, once
// the tenant's flags show it halted; they are read every haltWatch until
// ctx ends (the job's context ends when the job does).
func (r *Runner) watchTenant(ctx context.Context, tenant string, log *slog.Logger) context.Context {
	wctx, cancel := context.WithCancelCause(ctx)
	go func() {
		defer cancel(nil)
		tick := time.NewTicker(haltWatch)
		defer tick.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			start := time.Now()
			fs, err := r.st.Flags(wctx, tenant)
			if err != nil {
				continue // the job meets the failing store itself
			}
			r.pauses.note(tenant, fs, start)
			if reason, off := (control{flags: fs}).halted(); off {
				log.Warn("tenant halted while its job ran; stopping the job at its next page", "reason", reason)
				cancel(&haltedError{tenant: tenant, reason: reason})
				return
			}
		}
	}()
	return wctx
}

// stopped is what a job returns when its context ended: nothing when its
// tenant was halted meanwhile (a decision already logged, not a failure
// of the job), else the context's error.
func stopped(ctx context.Context) error {
	var h *haltedError
	if errors.As(context.Cause(ctx), &h) {
		return nil
	}
	return ctx.Err()
}

// TenantJobs lists the ids of every job a runner schedules for the
// tenant: its poll jobs, its reconcile jobs and its backfill. st is the
// tenant's store (nothing is written to it).
func TenantJobs(ctx context.Context, plan *dsl.Plan, st state.Store, tenant string) ([]string, error) {
	var t *dsl.Tenant
	for _, x := range plan.Tenants {
		if x.ID == tenant {
			t = x
		}
	}
	if t == nil {
		return nil, fmt.Errorf("no tenant %q in the configuration", tenant)
	}
	region := t.Region
	if InRegion(plan, t, HubTenants) {
		region = HubTenants
	}
	r, err := New(Config{Plan: plan, Store: st, Region: region, Logger: slog.New(slog.DiscardHandler),
		MeterProvider: noop.NewMeterProvider()})
	if err != nil {
		return nil, err
	}
	defer r.Close(context.WithoutCancel(ctx))
	var ids []string
	for _, j := range r.tenant(tenant).Jobs {
		ids = append(ids, j.ID)
	}
	for _, j := range r.reconcileJobs(r.tenant(tenant)) {
		ids = append(ids, j.id)
	}
	if !slices.Contains(ids, BackfillJob) {
		ids = append(ids, BackfillJob)
	}
	return ids, nil
}

// ParkedDue is where a disabled tenant's jobs are parked: a due time no
// scheduler reaches, so a halted tenant's jobs are not even leased, and
// `siphon run` (which schedules only jobs that have no due time) does not
// bring back the state of an offboarded tenant. It is early enough for
// every backend's encoding of due times.
var ParkedDue = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// ParkedNote is the note holding the due times a disable parked: job id →
// its due time before (absent when it had none).
const ParkedNote = "parked-jobs"

// ParkJobs parks the tenant's jobs at ParkedDue and remembers their due
// times in ParkedNote, keeping those remembered by an earlier park (a
// second disable must not forget the first one's). It returns the jobs it
// parked.
func ParkJobs(ctx context.Context, st state.Store, tenant string, jobs []string) ([]string, error) {
	before, err := parkedNote(ctx, st, tenant)
	if err != nil {
		return nil, err
	}
	for _, id := range jobs {
		// With replace off, ScheduleJob reads the due time, or sets
		// ParkedDue when there is none: either way nothing runs.
		due, err := st.ScheduleJob(ctx, tenant, id, ParkedDue, false)
		if err != nil {
			return nil, fmt.Errorf("park %s/%s: %w", tenant, id, err)
		}
		if _, known := before[id]; !known {
			if due.Equal(ParkedDue) {
				before[id] = time.Time{}
			} else {
				before[id] = due
			}
		}
	}
	b, err := json.Marshal(before)
	if err != nil {
		return nil, err
	}
	// The note is written before the jobs move: a failure in between
	// leaves due times that are remembered, never lost ones.
	if err := st.PutNote(ctx, tenant, ParkedNote, b); err != nil {
		return nil, fmt.Errorf("park %s: remember the due times: %w", tenant, err)
	}
	for _, id := range jobs {
		if _, err := st.ScheduleJob(ctx, tenant, id, ParkedDue, true); err != nil {
			return nil, fmt.Errorf("park %s/%s: %w", tenant, id, err)
		}
	}
	return jobs, nil
}

// UnparkJobs gives the tenant's parked jobs back their due times: the one
// each had before (a past one runs at once), now for a job the scheduler
// expects to find scheduled that had none, and none for the backfill
// (whose absence means "not scheduled"). A job parked for lack of a due
// time and not in jobs (it left the configuration) is unscheduled. It
// returns the jobs it rescheduled.
func UnparkJobs(ctx context.Context, st state.Store, tenant string, jobs []string, now time.Time) ([]string, error) {
	before, err := parkedNote(ctx, st, tenant)
	if err != nil {
		return nil, err
	}
	var out []string
	for id, due := range before {
		switch {
		case !due.IsZero():
		case id != BackfillJob && slices.Contains(jobs, id):
			due = now
		default:
			if err := st.UnscheduleJob(ctx, tenant, id); err != nil {
				return nil, fmt.Errorf("unpark %s/%s: %w", tenant, id, err)
			}
			continue
		}
		if _, err := st.ScheduleJob(ctx, tenant, id, due, true); err != nil {
			return nil, fmt.Errorf("unpark %s/%s: %w", tenant, id, err)
		}
		out = append(out, id)
	}
	if err := st.DeleteNote(ctx, tenant, ParkedNote); err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, fmt.Errorf("unpark %s: %w", tenant, err)
	}
	slices.Sort(out)
	return out, nil
}

func parkedNote(ctx context.Context, st state.Store, tenant string) (map[string]time.Time, error) {
	m := map[string]time.Time{}
	b, err := st.Note(ctx, tenant, ParkedNote)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return m, nil
	case err != nil:
		return nil, fmt.Errorf("parked jobs of %s: %w", tenant, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parked jobs of %s: the note does not decode: %w", tenant, err)
	}
	return m, nil
}
