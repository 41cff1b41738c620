package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
)

// Reconciliation (DESIGN.md §11 "Deletions", "Filters", "Keys"): a capped
// full scan of a (tenant, resource), shared by the tenant's pipelines on
// it, compared page by page with what each pipeline's destination holds.
// Records missing or older there are queued again; records the filter now
// drops are versioned deletes; after a complete scan, the scan's ids are
// merged against the destination's keys to find deletions, each confirmed
// before it is queued, under the mass-delete safeguard.
//
// A reconcile's progress is a walk of its own, on a reserved checkpoint of
// the job ("~" + job id, a name no pipeline can take), committed with each
// page's ids and repairs in one atomic step under the job's lease, so any
// worker resumes it where it stopped.

// ReconcileOptions says what Reconcile runs.
type ReconcileOptions struct {
	Tenant string
	// Pipelines limits the reconcile to these pipelines (empty: every
	// active pipeline of the tenant).
	Pipelines []string
	// Deep also compares content hashes (the weekly reconcile).
	Deep bool
	// DryRun reads the source and the destination and reports what it
	// would do, writing nothing: no queue entries, no deletes, no flags,
	// no progress, no report note.
	DryRun bool
	// AllowMassDelete proceeds with deletions over the safeguard and clears
	// the pipeline's mass-delete alert.
	AllowMassDelete bool
	// Drain processes the tenant's queues (no other tenant's) after the
	// reconcile, so the repairs it queued are in the destination when
	// Reconcile returns.
	Drain bool
	// Progress, when set, is called after every page.
	Progress func(ReconcileProgress)
}

// ReconcileProgress is where a running reconcile of one resource stands.
type ReconcileProgress struct {
	Tenant, Resource string
	Pipelines        []string
	Records, Total   int64
	Pages            int64
	Phase            string // "scan", "merge", "done"
	Done, Failed     bool
	Note             string
}

// ReconcileReport is what one reconcile did for one pipeline. It is kept as
// the pipeline's last reconcile note (ReconcileNote) for `siphon status`.
type ReconcileReport struct {
	Tenant   string `json:"tenant"`
	Pipeline string `json:"pipeline"`
	Resource string `json:"resource"`
	Job      string `json:"job"`
	Deep     bool   `json:"deep"`
	DryRun   bool   `json:"dry_run,omitempty"`
	// Resumed: the scan continued one an earlier run had begun.
	Resumed         bool      `json:"resumed,omitempty"`
	Started         time.Time `json:"started"`
	Finished        time.Time `json:"finished"`
	DurationSeconds float64   `json:"duration_seconds"`
	// Complete: the scan reached the end of every list cleanly, so
	// deletions could be inferred; Incomplete says why not.
	Complete   bool   `json:"complete"`
	Incomplete string `json:"incomplete,omitempty"`
	// Scanned counts the source records the scan read for the pipeline.
	Scanned int64 `json:"scanned"`
	// Missing: not held at the destination; Stale: held at an older
	// version; Changed (deep, or resources without a version field): held
	// at the same version with another content hash. All three were queued
	// again.
	Missing   int64 `json:"missing"`
	Stale     int64 `json:"stale"`
	Changed   int64 `json:"changed"`
	Unchanged int64 `json:"unchanged"`
	// FilteredDeletes are records the source still has that the filter
	// drops and the destination still held: queued as versioned deletes.
	FilteredDeletes int64 `json:"filtered_deletes"`
	// DeadLettered: out of date at the destination, but the same version
	// sits in the dead-letter queue; not queued again.
	DeadLettered int64 `json:"dead_lettered"`
	// Held is how many records the destination held for the pipeline;
	// Candidates those absent from the complete scan and held at or before
	// its cap; Confirmed those the source confirmed gone (404, or absent
	// from two complete scans); Unconfirmed the rest; Deleted the deletes
	// queued.
	Held        int64 `json:"held"`
	Candidates  int64 `json:"candidates"`
	Confirmed   int64 `json:"confirmed"`
	Unconfirmed int64 `json:"unconfirmed"`
	Deleted     int64 `json:"deleted"`
	// MassDelete: the deletions passed max_delete and max_delete_min and
	// were not made; MassDeleteReason says by how much.
	MassDelete       bool   `json:"mass_delete,omitempty"`
	MassDeleteReason string `json:"mass_delete_reason,omitempty"`
	// ParentsGone counts parents (of a child resource) that answered 404
	// mid-scan; their children's deletions are not inferred this run.
	ParentsGone int `json:"parents_gone,omitempty"`
	// Requests counts source requests: list pages and confirming GETs.
	Requests int      `json:"requests"`
	Notes    []string `json:"notes,omitempty"`
}

// ReconcileNote is the name of the note holding a pipeline's last reconcile
// report.
func ReconcileNote(pipeline string) string { return "reconcile-" + pipeline }

// reconcileJob is one reconcile job of a tenant: the tenant's active
// pipelines on one resource with one schedule, reconciled by one shared scan.
type reconcileJob struct {
	id        string
	resource  *dsl.Resource
	pipelines []*dsl.Pipeline
	policy    dsl.Reconcile // the schedule (and the safeguard of the first)
}

// reconcileShape marks the synthetic dsl.Job the scheduler runs a
// reconcile job as.
const reconcileShape = "reconcile"

// reconcileJobs groups the tenant's active pipelines into reconcile jobs:
// one per resource, or more when its pipelines keep different schedules.
func (r *Runner) reconcileJobs(t *dsl.Tenant) []*reconcileJob {
	var out []*reconcileJob
	for _, name := range t.Active {
		p := r.pipelines[name]
		if p == nil || r.resources[p.Resource] == nil {
			continue
		}
		var joined bool
		for _, j := range out {
			if j.resource.Name == p.Resource && sameSchedule(j.policy, p.Reconcile) {
				j.pipelines = append(j.pipelines, p)
				joined = true
				break
			}
		}
		if joined {
			continue
		}
		id := "reconcile-" + p.Resource
		if slices.ContainsFunc(out, func(j *reconcileJob) bool { return j.resource.Name == p.Resource }) {
			id += "-" + p.Name
		}
		out = append(out, &reconcileJob{id: id, resource: r.resources[p.Resource], pipelines: []*dsl.Pipeline{p}, policy: p.Reconcile})
	}
	return out
}

func sameSchedule(a, b dsl.Reconcile) bool {
	if a.Daily != b.Daily || (a.Weekly == nil) != (b.Weekly == nil) {
		return false
	}
	return a.Weekly == nil || *a.Weekly == *b.Weekly
}

// checkpointName is the reserved checkpoint holding the job's progress.
func (j *reconcileJob) checkpointName() string { return "~" + j.id }

// dslJob is the job as the scheduler's job table holds it.
func (j *reconcileJob) dslJob() *dsl.Job {
	names := make([]string, len(j.pipelines))
	for i, p := range j.pipelines {
		names[i] = p.Name
	}
	return &dsl.Job{ID: j.id, Shape: reconcileShape, Pipelines: names,
		Fetches: []dsl.Fetch{{Resource: j.resource.Name, Pipelines: names, Parent: j.resource.Parent}}}
}

// Reconcile runs the tenant's reconciles now, in this process, each under
// its job's lease (a dry run takes none: it writes nothing), and returns
// one report per pipeline. A job another process holds is an error naming
// the holder. With opts.Drain the tenant's queues are drained afterwards,
// so what the reconcile queued is written before it returns.
func (r *Runner) Reconcile(ctx context.Context, opts ReconcileOptions) ([]ReconcileReport, error) {
	if r.config.Version == 0 {
		if err := r.activate(ctx, r.cfg.StoreOutage); err != nil {
			return nil, err
		}
	}
	t := r.tenant(opts.Tenant)
	if t == nil {
		return nil, fmt.Errorf("reconcile: no tenant %q in the configuration", opts.Tenant)
	}
	for _, name := range opts.Pipelines {
		if !slices.Contains(t.Active, name) {
			return nil, fmt.Errorf("reconcile %s: pipeline %q is not active for the tenant", t.ID, name)
		}
	}
	var reports []ReconcileReport
	var errs []error
	for _, j := range r.reconcileJobs(t) {
		if len(opts.Pipelines) > 0 {
			kept := j.pipelines[:0:0]
			for _, p := range j.pipelines {
				if slices.Contains(opts.Pipelines, p.Name) {
					kept = append(kept, p)
				}
			}
			if len(kept) == 0 {
				continue
			}
			j = &reconcileJob{id: j.id, resource: j.resource, pipelines: kept, policy: j.policy}
		}
		reps, err := r.reconcileHeld(ctx, t, j, opts)
		reports = append(reports, reps...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if opts.Drain && !opts.DryRun && ctx.Err() == nil {
		if err := r.drainTenant(ctx, t); err != nil {
			errs = append(errs, err)
		}
	}
	return reports, errors.Join(errs...)
}

// reconcileHeld runs one job under its lease, taken whatever its due time
// (an operator's reconcile, or one a flag requested).
func (r *Runner) reconcileHeld(ctx context.Context, t *dsl.Tenant, j *reconcileJob, opts ReconcileOptions) ([]ReconcileReport, error) {
	log := r.log.With("tenant", t.ID, "job", j.id)
	if opts.DryRun {
		return r.reconcileJob(ctx, t, j, opts, nil, log)
	}
	lease, ok, err := r.st.Acquire(ctx, state.AcquireRequest{Tenant: t.ID, Job: j.id, Owner: r.cfg.Owner, TTL: r.cfg.LeaseTTL, Now: r.clk.Now()})
	if err != nil {
		return nil, fmt.Errorf("reconcile %s/%s: lease: %w", t.ID, j.id, err)
	}
	if !ok {
		return nil, fmt.Errorf("reconcile %s/%s: another process holds the job (%s); try again when it is done", t.ID, j.id, lease.Owner)
	}
	// This run takes the place of a due (or requested) slot: the job's
	// next run is its next slot, not a second one now.
	if _, err := r.st.ScheduleJob(ctx, t.ID, j.id, reconcileNext(t, j, r.clk.Now()), true); err != nil {
		_ = r.st.Release(context.WithoutCancel(ctx), lease)
		return nil, fmt.Errorf("reconcile %s/%s: schedule: %w", t.ID, j.id, err)
	}
	return r.reconcileLeased(ctx, t, j, opts, lease, log)
}

// reconcileLeased runs a job under a lease it was granted, renewing it, and
// gives the lease back.
func (r *Runner) reconcileLeased(ctx context.Context, t *dsl.Tenant, j *reconcileJob, opts ReconcileOptions, lease state.Lease, log *slog.Logger) ([]ReconcileReport, error) {
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	log.Info("reconcile started", "owner", r.cfg.Owner, "fence", lease.Token.Counter, "deep", opts.Deep)
	hb := r.heartbeat(jctx, cancel, lease, log)
	reps, err := r.reconcileJob(jctx, t, j, opts, hb.current, log)
	hb.stop()
	if errors.Is(context.Cause(jctx), state.ErrLeaseLost) && err == nil {
		err = fmt.Errorf("reconcile %s/%s: %w", t.ID, j.id, state.ErrLeaseLost)
	}
	if rerr := r.st.Release(context.WithoutCancel(ctx), hb.current()); rerr != nil {
		log.Warn("release lease", "err", rerr)
	}
	log.Info("reconcile finished", "owner", r.cfg.Owner, "fence", lease.Token.Counter, "err", err)
	return reps, err
}

// reconcileState is a reconcile's progress, stored as the reserved
// checkpoint's walk progress with every page.
type reconcileState struct {
	Phase   string    `json:"phase"` // "scan" or "merge"
	Deep    bool      `json:"deep"`
	Started time.Time `json:"started"`
	// Cap is the scan's created_before, fixed before its first request.
	Cap time.Time `json:"cap"`
	// Source is the client's progress in the current list.
	Source *vomo.Progress `json:"source,omitempty"`
	// Parents are a child resource's parent ids, in scan order; Parent is
	// the index of the one being scanned.
	Parents     []string `json:"parents,omitempty"`
	Parent      int      `json:"parent,omitempty"`
	ParentsGone int      `json:"parents_gone,omitempty"`
	// Page numbers the scan's stored id pages; IDs counts the ids stored,
	// so a merge can tell that none went missing.
	Page     int64 `json:"page"`
	IDs      int64 `json:"ids"`
	Records  int64 `json:"records"`
	Requests int   `json:"requests"`
	// Counts are the per-pipeline tallies so far.
	Counts map[string]*ReconcileReport `json:"counts"`
}

func newReconcileState(j *reconcileJob, deep bool, now time.Time) *reconcileState {
	st := &reconcileState{Phase: "scan", Deep: deep, Started: now, Counts: map[string]*ReconcileReport{}}
	for _, p := range j.pipelines {
		st.Counts[p.Name] = &ReconcileReport{}
	}
	return st
}

// decodeReconcileState reads a stored progress back; ok is false when it is
// not one this job can resume (another job's members, a corrupt value).
func decodeReconcileState(w *state.Walk, j *reconcileJob) (*reconcileState, bool) {
	if w == nil || len(w.Progress) == 0 {
		return nil, false
	}
	var st reconcileState
	if err := json.Unmarshal(w.Progress, &st); err != nil || st.Counts == nil || st.Cap.IsZero() {
		return nil, false
	}
	for _, p := range j.pipelines {
		if st.Counts[p.Name] == nil {
			return nil, false
		}
	}
	return &st, true
}

// drainTenant processes the tenant's queues until none holds an entry to
// write or a retry to come, as drain does for every queue of the plan: an
// operator's reconcile of one tenant writes that tenant's repairs, not
// every other tenant's backlog.
func (r *Runner) drainTenant(ctx context.Context, t *dsl.Tenant) error {
	var queues []state.QueueRef
	for _, dest := range r.tenantDestinations(t) {
		queues = append(queues, r.queueRef(t, dest))
	}
	errs := make(chan error, r.cfg.Workers)
	for i := range r.cfg.Workers {
		go func() { errs <- r.drainQueues(ctx, r.consumer(i), queues) }()
	}
	var err error
	for range r.cfg.Workers {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		return fmt.Errorf("reconcile %s: write the queued repairs: %w", t.ID, err)
	}
	return nil
}

// drainQueues is one worker of drainTenant; store failures are ridden out
// for Config.StoreOutage, as processLoop does for --once.
func (r *Runner) drainQueues(ctx context.Context, consumer string, queues []state.QueueRef) error {
	return r.workLoop(ctx, consumer,
		func(w *worker) (bool, error) { return r.drainRound(ctx, w, queues) },
		func() (bool, error) { return r.queuesOutstanding(ctx, queues) })
}

// drainRound visits each queue once; did reports whether any entry was
// settled.
func (r *Runner) drainRound(ctx context.Context, w *worker, queues []state.QueueRef) (bool, error) {
	did := false
	for _, q := range queues {
		n, err := r.visitQueue(ctx, w, q)
		did = did || n > 0
		if err != nil {
			return did, err
		}
	}
	return did, nil
}

// queuesOutstanding reports whether any of the queues that is not paused
// still has unclaimed entries or retries to come.
func (r *Runner) queuesOutstanding(ctx context.Context, queues []state.QueueRef) (bool, error) {
	for _, q := range queues {
		paused, err := r.queuePaused(ctx, q)
		if err != nil {
			return false, err
		}
		if paused {
			continue
		}
		d, err := r.st.Depth(ctx, q)
		if err != nil {
			return false, fmt.Errorf("queue depth %s/%s: %w", q.Tenant, q.Destination, err)
		}
		if d.Retry > 0 || d.Stream > d.Pending {
			return true, nil
		}
	}
	return false, nil
}
