package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/schedule"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// BackfillJob is the job id under which a tenant's backfill due time is
// kept (state.ScheduleJob), so every worker of a hub agrees when a new
// tenant's backfill starts. It is not a poll job: the scheduler never runs
// it; the poll jobs start their pipelines' backfills once it is due.
const BackfillJob = "backfill"

// corruptMargin is how far past the source's present a cursor may lie
// before it counts as corrupt: clocks drift by seconds, not by an hour.
const corruptMargin = time.Hour

// progressEvery is how often a running backfill logs its progress.
const progressEvery = 10 * time.Second

// NextBackfill is when a tenant's automatic backfill starts if asked at
// now: its backfill_at in its own time zone (DST-safe) plus the tenant's
// BackfillStagger, or now. The stagger keeps a zone's new tenants from
// all starting their scans at the same instant.
func NextBackfill(t *dsl.Tenant, now time.Time) time.Time {
	if t.BackfillAt.Now {
		return now
	}
	off := BackfillStagger(t.ID)
	// The first staggered slot strictly after now: today's, when now lies
	// between backfill_at and backfill_at + the stagger.
	return schedule.NextDaily(now.Add(-off), t.Location, t.BackfillAt.Hour, t.BackfillAt.Minute).Add(off)
}

// BackfillStagger is the tenant's stable offset within the hour after its
// backfill_at, as a reconcile's (the same on every worker and restart).
func BackfillStagger(tenant string) time.Duration {
	return schedule.Stagger(tenant, BackfillJob, time.Hour)
}

// BackfillShare is the share of a tenant's rate_limit its backfill may
// use (the rest stays for polling).
const BackfillShare = backfillShare

// BackfillPace is the spacing the runtime keeps between a tenant's
// backfill requests to src (budgetLimits of the "backfill" stage): tenant
// is the slowest of the tenant's own limits (its rate_limit and the
// backfill's share of it), zero without a rate_limit; hub is the slowest
// of its hub limits (its lane's share of the source's global_rate_limit
// and the backfill's share of that), zero without one. The global
// budget is split by lane weight among the plan's enabled tenants, as
// every worker of the hub splits it. siphon backfill --estimate uses it.
func BackfillPace(plan *dsl.Plan, t *dsl.Tenant, src *dsl.Source) (tenant, hub time.Duration) {
	r := &Runner{cfg: Config{Plan: plan}, lanes: planLanes(plan)}
	limits, hubs := r.budgetLimits(t, src, "backfill")
	for _, l := range limits {
		tenant = max(tenant, l.Interval)
	}
	for _, l := range hubs {
		hub = max(hub, l.Interval)
	}
	return tenant, hub
}

// planLanes is each lane's weight (at least 1), with the lanes tenants
// name but the plan does not declare at weight 1.
func planLanes(plan *dsl.Plan) map[string]int {
	lanes := map[string]int{}
	for _, x := range plan.Lanes {
		lanes[x.Name] = max(x.Weight, 1)
	}
	for _, t := range plan.Tenants {
		if _, ok := lanes[t.Lane]; !ok {
			lanes[t.Lane] = 1
		}
	}
	return lanes
}

// onceKey marks a context as a `run --once` job: its backfills start at
// once, whatever the tenant's schedule says.
type onceKey struct{}

func onceContext(ctx context.Context, once bool) context.Context {
	if !once {
		return ctx
	}
	return context.WithValue(ctx, onceKey{}, true)
}

func isOnce(ctx context.Context) bool { v, _ := ctx.Value(onceKey{}).(bool); return v }

// startKind is what a member pipeline of a walked resource does this poll.
type startKind int

const (
	startWalk     startKind = iota // walk from its cursor, or resume its stored walk or scan
	startBackfill                  // a new capped full scan
	startWait                      // a backfill is needed but not due yet
)

// start decides what a member with no stored walk does: walk from its
// cursor; or, with no cursor (or a corrupt one), rebuild the cursor from
// the destination when this pipeline has completed a walk or backfill
// before (its SyncedNote) and the destination holds the tenant's rows; or
// else backfill, once the tenant's backfill is due. Rows of the object
// alone are no reason to rebuild: another pipeline (a rollout variant,
// one added later) may have written them, and a new pipeline's mapping
// must reach every record by its own backfill (DESIGN.md §11). An
// operator's FlagBackfillRequested backfills a pipeline that has a cursor.
func (pr *pollRun) start(ctx context.Context, res *dsl.Resource, p *dsl.Pipeline, cp state.Checkpoint) (startKind, state.Checkpoint, error) {
	if cp.Walk != nil {
		return startWalk, cp, nil
	}
	requested := pr.ctl.has(state.FlagBackfillRequested, p.Name)
	if !requested {
		corrupt := !cp.Cursor.IsZero() && cp.Cursor.After(pr.sourceNow(res).Add(corruptMargin))
		if !cp.Cursor.IsZero() && !corrupt {
			pr.markSynced(ctx, p.Name, cp)
			return startWalk, cp, nil
		}
		synced, err := pr.synced(ctx, p.Name, cp)
		if err != nil {
			return startWait, cp, err
		}
		var rebuilt state.Checkpoint
		ok := false
		if synced {
			rebuilt, ok, err = pr.rebuild(ctx, p, cp, corrupt)
		} else if corrupt {
			pr.pipelineLog(p.Name).Warn("cursor is past the source's present (corrupt) and the pipeline never completed a walk: backfilling",
				"cursor", cp.Cursor)
		}
		switch {
		case err != nil && isStoreFailure(err):
			return startWait, cp, err
		case err != nil:
			// Without the destination's answer the safe way is the
			// backfill: it costs requests, but it skips nothing, and the
			// records it queues wait for the destination to come back.
			pr.pipelineLog(p.Name).Warn("cannot tell whether the destination holds the pipeline's rows; backfilling", "err", err)
		case ok:
			return startWalk, rebuilt, nil
		}
	}
	due, ok, err := pr.backfillDue(ctx)
	if err != nil {
		return startWait, cp, err
	}
	if !ok {
		pr.r.logBackfillWait(pr.t, due, pr.log)
		return startWait, cp, nil
	}
	return startBackfill, cp, nil
}

// pipelineLog is the job's log for one of its pipelines: a job of one
// pipeline names it on every line already (jobLog), and a repeated key
// is read differently by every log pipeline.
func (pr *pollRun) pipelineLog(name string) *slog.Logger {
	if len(pr.job.Pipelines) == 1 {
		return pr.log
	}
	return pr.log.With("pipeline", name)
}

// sourceNow is the source's present as far as this process knows it.
func (pr *pollRun) sourceNow(res *dsl.Resource) time.Time {
	now := pr.r.clk.Now()
	if o, ok := pr.r.offsets.Load(res.Source); ok {
		if off, known := o.(*vomo.ClockOffset).Offset(); known {
			now = now.Add(off)
		}
	}
	return now
}

// backfillDue reports whether the tenant's backfill may start now, and
// the due time it waits for. The due time is the store's (the first
// worker to ask fixes it), so every worker agrees.
func (pr *pollRun) backfillDue(ctx context.Context) (time.Time, bool, error) {
	if isOnce(ctx) {
		return time.Time{}, true, nil
	}
	now := pr.r.clk.Now()
	due, err := pr.r.st.ScheduleJob(ctx, pr.t.ID, BackfillJob, NextBackfill(pr.t, now), false)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("backfill schedule of %s: %w", pr.t.ID, storeErr(err))
	}
	return due, !due.After(now), nil
}

// logBackfillWait says once per tenant and due time that the tenant's
// new pipelines wait for their backfill.
func (r *Runner) logBackfillWait(t *dsl.Tenant, due time.Time, log interface{ Info(string, ...any) }) {
	key := t.ID + "\x00" + due.UTC().Format(time.RFC3339Nano)
	if _, seen := r.backfillWaits.LoadOrStore(key, true); seen {
		return
	}
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	log.Info("backfill scheduled at "+due.In(loc).Format("2006-01-02 15:04 MST")+" local; pipelines without a cursor wait for it",
		"due", due.UTC())
}

// SyncedNote names the note that says the pipeline has completed a walk
// or a backfill for the tenant: its rows at the destination are its own,
// so a lost cursor is rebuilt from them. It survives checkpoint set and
// reset (which clear the checkpoint's LastComplete) and goes with the
// tenant's purge.
func SyncedNote(pipeline string) string { return "synced-" + pipeline }

// syncedRecord is a SyncedNote's content.
type syncedRecord struct {
	At  time.Time `json:"at"`  // scheduler clock when it was written
	How string    `json:"how"` // "backfill" or "walk"
}

// synced reports whether the pipeline has completed a walk or backfill
// for the tenant: at this checkpoint's generation (LastComplete), or ever
// (its SyncedNote).
func (pr *pollRun) synced(ctx context.Context, pipeline string, cp state.Checkpoint) (bool, error) {
	if !cp.LastComplete.IsZero() {
		return true, nil
	}
	key := pr.t.ID + "\x00" + pipeline
	if _, ok := pr.r.syncedNotes.Load(key); ok {
		return true, nil
	}
	switch _, err := pr.r.st.Note(ctx, pr.t.ID, SyncedNote(pipeline)); {
	case errors.Is(err, state.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("note %s of %s: %w", SyncedNote(pipeline), pr.t.ID, storeErr(err))
	}
	pr.r.syncedNotes.Store(key, true)
	return true, nil
}

// markSynced writes the pipeline's SyncedNote once it has completed a
// walk at its checkpoint (LastComplete), unless this process knows it is
// there: one read per pipeline and process, and one write per pipeline.
// A pipeline whose note is missing (a failed write, or state from before
// notes) backfills instead of rebuilding after a reset: slower, never
// wrong.
func (pr *pollRun) markSynced(ctx context.Context, pipeline string, cp state.Checkpoint) {
	if cp.LastComplete.IsZero() {
		return
	}
	key := pr.t.ID + "\x00" + pipeline
	if _, ok := pr.r.syncedNotes.Load(key); ok {
		return
	}
	_, err := pr.r.st.Note(ctx, pr.t.ID, SyncedNote(pipeline))
	if errors.Is(err, state.ErrNotFound) {
		err = pr.putSynced(ctx, pipeline, "walk")
	}
	if err != nil {
		pr.pipelineLog(pipeline).Warn("record that the pipeline has synced", "err", err)
		return
	}
	pr.r.syncedNotes.Store(key, true)
}

// putSynced writes the pipeline's SyncedNote.
func (pr *pollRun) putSynced(ctx context.Context, pipeline, how string) error {
	b, err := json.Marshal(syncedRecord{At: pr.r.clk.Now().UTC(), How: how})
	if err != nil {
		return err
	}
	if err := pr.r.st.PutNote(ctx, pr.t.ID, SyncedNote(pipeline), b); err != nil {
		return fmt.Errorf("note %s of %s: %w", SyncedNote(pipeline), pr.t.ID, err)
	}
	pr.r.syncedNotes.Store(pr.t.ID+"\x00"+pipeline, true)
	return nil
}

// rebuild rebuilds a lost or corrupt cursor from the destination instead
// of downloading the tenant again: when the destination holds rows of the
// pipeline's object for the tenant, the cursor becomes the newest
// source_updated_at among them (the next walk subtracts the overlap) and a
// reconcile is requested to catch what that misses. The keys are streamed,
// so memory stays flat. ok is false when the destination holds nothing.
func (pr *pollRun) rebuild(ctx context.Context, p *dsl.Pipeline, cp state.Checkpoint, corrupt bool) (state.Checkpoint, bool, error) {
	dest := pr.r.destinations[p.Destination]
	if dest == nil {
		return cp, false, fmt.Errorf("pipeline %s: unknown destination %s", p.Name, p.Destination)
	}
	d, err := pr.r.dests.get(ctx, dest)
	if err != nil {
		return cp, false, err
	}
	if err := pr.r.dests.ensure(ctx, dest, p); err != nil {
		return cp, false, err
	}
	first, err := d.Keys(ctx, sdk.KeysRequest{Tenant: pr.t.ID, Object: p.Object, Limit: 1})
	if err != nil {
		return cp, false, fmt.Errorf("rebuild %s/%s: keys of %s: %w", pr.t.ID, p.Name, p.Destination, err)
	}
	if len(first) == 0 {
		if corrupt {
			pr.pipelineLog(p.Name).Warn("cursor is past the source's present (corrupt) and the destination holds nothing: backfilling",
				"cursor", cp.Cursor)
		}
		return cp, false, nil
	}
	var newest time.Time
	var rows int64
	err = d.KeysAll(ctx, pr.t.ID, p.Object, 0, func(page []sdk.KeyEntry) error {
		for _, e := range page {
			rows++
			if e.Version.Source.After(newest) {
				newest = e.Version.Source
			}
		}
		return nil
	})
	if err != nil {
		return cp, false, fmt.Errorf("rebuild %s/%s: keys of %s: %w", pr.t.ID, p.Name, p.Destination, err)
	}
	if newest.IsZero() {
		return cp, false, nil
	}
	newest = newest.UTC()
	nc, err := pr.r.st.SetCursor(ctx, pr.t.ID, p.Name, newest)
	if err != nil {
		return cp, false, fmt.Errorf("rebuild %s/%s: set cursor: %w", pr.t.ID, p.Name, storeErr(err))
	}
	why := "no checkpoint"
	if corrupt {
		why = fmt.Sprintf("the cursor %s is past the source's present", cp.Cursor.UTC().Format(time.RFC3339))
	}
	pr.r.setFlag(ctx, pr.t.ID, state.Flag{Kind: state.FlagReconcileRequested, Scope: p.Name,
		Reason: "checkpoint rebuilt from the destination (" + why + ")"}, pr.log)
	pr.pipelineLog(p.Name).Warn("checkpoint rebuilt from the destination; a reconcile is requested", "reason", why,
		"cursor", newest, "rows", rows)
	return nc, true, nil
}

// backfill runs or resumes a capped full scan of a resource for its
// member pipelines: created_before = the scan's cap, fixed before its first
// request, so edits cannot move records out of it and what is created or
// changed meanwhile is polling's, which starts at the cap − overlap. Each
// page's records are committed with the scan's progress (mode "scan") in
// the members' walk, so any worker resumes it where it stopped; the last
// page moves each member's cursor to the cap. resume is the stored
// progress, or the zero Progress for a new scan.
func (pr *pollRun) backfill(ctx context.Context, res *dsl.Resource, cp state.Checkpoint, members []member, resume vomo.Progress) error {
	bpr := *pr
	bpr.stage, bpr.clients = "backfill", map[string]*vomo.Client{}
	vr := vomoResource(res, "")
	c, err := bpr.client(res, resume.PerPage)
	if err != nil {
		return err
	}
	p, records := resume, int64(0)
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.p.Name
	}
	log := pr.log.With("resource", res.Name, "pipelines", names, "stage", "backfill")
	if resume.Mode == "" {
		if p, err = c.NewScan(ctx, vr); err != nil {
			return fmt.Errorf("backfill %s/%s: open scan: %w", pr.t.ID, res.Name, err)
		}
		log.Info("backfill started", "cap", p.Cap)
	} else {
		records = cp.Walk.Records
		log.Info("backfill resumed", "cap", p.Cap, "position", p.Next, "records", records)
	}
	started, startRecords := time.Now(), records
	lastLog := started
	result, err := c.Scan(ctx, vr, p, func(ctx context.Context, pg vomo.Page) error {
		records += int64(len(pg.Records))
		pp := pg.Progress
		src, err := json.Marshal(pp)
		if err != nil {
			return fmt.Errorf("encode the scan's progress: %w", err)
		}
		w := state.Walk{Cap: pp.Cap, Position: int64(pp.Next), Total: int64(pp.LastTotal), Records: records, Progress: src}
		members, err = bpr.commit(ctx, res, pg, members, &w)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return errAllSkipped
		}
		if now := time.Now(); now.Sub(lastLog) >= progressEvery && !pg.Done {
			lastLog = now
			rate := float64(records-startRecords) / now.Sub(started).Seconds()
			log.Info("backfill progress", "records", records, "position", pp.Next, "total", pp.LastTotal,
				"pages", pp.Pages, "rate", fmt.Sprintf("%.1f/s", rate))
		}
		return nil
	})
	if errors.Is(err, errAllSkipped) {
		log.Info("backfill abandoned: every member's checkpoint was reset meanwhile")
		return nil
	}
	if err != nil {
		return fmt.Errorf("backfill %s/%s page %d: %w", pr.t.ID, res.Name, result.Progress.Pages+1, err)
	}
	for _, m := range members {
		// Right after the completing commit: a reset from now on rebuilds
		// from the rows this backfill wrote. If this write is lost, the
		// next poll's markSynced writes it (the checkpoint's LastComplete
		// says the same until a reset).
		if err := pr.putSynced(ctx, m.p.Name, "backfill"); err != nil {
			log.Warn("record that the pipeline has synced", "pipeline", m.p.Name, "err", err)
		}
		if pr.ctl.has(state.FlagBackfillRequested, m.p.Name) {
			if err := pr.r.st.ClearFlag(ctx, pr.t.ID, state.FlagBackfillRequested, m.p.Name); err != nil {
				log.Warn("clear the backfill request", "pipeline", m.p.Name, "err", err)
			}
		}
	}
	log.Info("backfill complete; polling starts at the cap minus the overlap", "cap", result.Progress.Cap,
		"records", records, "requests", result.Progress.Requests, "step_backs", result.Progress.StepBacks,
		"seconds", time.Since(started).Seconds())
	return nil
}

// backfillsStarted forgets the tenant's backfill due time once every
// pipeline on a walked resource has a cursor or a scan in progress, so a
// past due time does not linger in the hub's due index.
func (pr *pollRun) backfillsStarted(ctx context.Context) {
	for _, name := range pr.t.Active {
		p := pr.r.pipelines[name]
		if p == nil {
			continue
		}
		res := pr.r.resources[p.Resource]
		if res == nil || res.Cursor == nil || res.Parent != "" {
			continue
		}
		cp, err := pr.r.st.Checkpoint(ctx, pr.t.ID, name)
		if err != nil {
			return
		}
		if cp.Walk == nil && (cp.Cursor.IsZero() || pr.ctl.has(state.FlagBackfillRequested, name)) {
			return
		}
	}
	if err := pr.r.st.UnscheduleJob(ctx, pr.t.ID, BackfillJob); err != nil {
		pr.log.Warn("forget the backfill due time", "err", err)
	}
}
