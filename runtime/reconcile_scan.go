package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// reconcileRun is one run of one reconcile job.
type reconcileRun struct {
	r    *Runner
	t    *dsl.Tenant
	j    *reconcileJob
	opts ReconcileOptions
	pr   *pollRun
	log  *slog.Logger
	st   *reconcileState
	gen  int64 // the reserved checkpoint's generation
	// lease is nil for a dry run, which commits nothing.
	lease func() state.Lease
	// dead maps pipeline NUL key to the newest version in the DLQ.
	dead map[string]time.Time
	// spool holds a dry run's scan ids on local disk (a real run stores
	// them in the store with each page).
	spool *idSorter
	// incomplete says why deletions cannot be inferred ("" when they can).
	incomplete string
	resumed    bool
	notes      []string
	getReqs    int
	// orgUnchecked: the run logged that it confirms deletions without an
	// organization check.
	orgUnchecked bool
}

// reconcileJob runs one job. lease is nil for a dry run.
func (r *Runner) reconcileJob(ctx context.Context, t *dsl.Tenant, j *reconcileJob, opts ReconcileOptions, lease func() state.Lease, log *slog.Logger) ([]ReconcileReport, error) {
	ctl, err := r.control(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	if reason, off := ctl.disabled(); off {
		log.Info("tenant disabled by an operator; not reconciling", "reason", reason)
		return nil, fmt.Errorf("reconcile %s: tenant disabled by an operator: %s", t.ID, reason)
	}
	if reason, paused := ctl.authPaused(); paused {
		return nil, fmt.Errorf("reconcile %s: tenant paused: %s", t.ID, reason)
	}
	if ctl.forbidden(j.resource.Name) {
		return nil, fmt.Errorf("reconcile %s/%s: the resource is paused (403 from the source)", t.ID, j.resource.Name)
	}
	kept := j.pipelines[:0:0]
	for _, p := range j.pipelines {
		if ctl.pipelinePaused(p.Name) {
			log.Warn("pipeline paused; not reconciling it", "pipeline", p.Name)
			continue
		}
		// A pipeline that never completed a walk or scan has not had its
		// backfill: a reconcile would queue every record a second time
		// beside it. It is reconciled once it has synced.
		cp, err := r.st.Checkpoint(ctx, t.ID, p.Name)
		if err != nil {
			return nil, fmt.Errorf("reconcile %s/%s: checkpoint: %w", t.ID, p.Name, storeErr(err))
		}
		if cp.Cursor.IsZero() && cp.LastComplete.IsZero() {
			log.Info("pipeline not synced yet; its backfill comes before any reconcile", "pipeline", p.Name)
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	j = &reconcileJob{id: j.id, resource: j.resource, pipelines: kept, policy: j.policy}
	token, err := r.token(ctx, t)
	if err != nil {
		return nil, err
	}
	rr := &reconcileRun{r: r, t: t, j: j, opts: opts, log: log, lease: lease,
		pr: &pollRun{r: r, t: t, job: j.dslJob(), lease: lease, log: log, token: token, stage: "reconcile",
			trace: traceparent(ctx), clients: map[string]*vomo.Client{}}}
	// The organization check, and a watch that stops the scan when the
	// tenant is halted meanwhile (tenantctl.go).
	if ctx, err = rr.pr.admit(ctx, ctl); err != nil {
		return nil, err
	}
	if err := rr.start(ctx); err != nil {
		return nil, err
	}
	if rr.dead, err = r.deadLettered(ctx, t.ID, j); err != nil {
		return nil, err
	}
	defer rr.spool.close()
	if rr.st.Phase == "scan" {
		if err := rr.scan(ctx); err != nil {
			return nil, err
		}
	}
	if rr.incomplete == "" {
		if err := rr.mergeAll(ctx); err != nil {
			return nil, err
		}
	}
	return rr.finish(ctx)
}

// start resumes the job's stored reconcile or begins a new one.
func (rr *reconcileRun) start(ctx context.Context) error {
	r, t, j := rr.r, rr.t, rr.j
	now := r.clk.Now()
	if rr.lease == nil {
		rr.st = newReconcileState(j, rr.opts.Deep, now)
		var err error
		rr.spool, err = newIDSorter()
		return err
	}
	cp, err := r.st.Checkpoint(ctx, t.ID, j.checkpointName())
	if err != nil {
		return fmt.Errorf("reconcile %s/%s: progress: %w", t.ID, j.id, storeErr(err))
	}
	rr.gen = cp.Generation
	if st, ok := decodeReconcileState(cp.Walk, j); ok {
		rr.st, rr.resumed = st, true
		rr.log.Info("resuming the reconcile", "phase", st.Phase, "pages", st.Page, "records", st.Records)
		return nil
	}
	// A new scan: whatever ids an earlier one left behind (it completed but
	// died before deleting them) go first.
	if err := r.st.DeleteScan(ctx, t.ID, j.resource.Name, j.id); err != nil {
		return fmt.Errorf("reconcile %s/%s: drop the last scan's ids: %w", t.ID, j.id, storeErr(err))
	}
	rr.st = newReconcileState(j, rr.opts.Deep, now)
	return nil
}

// scan reads the resource whole, page by page.
func (rr *reconcileRun) scan(ctx context.Context) error {
	res := rr.j.resource
	var err error
	if res.Parent != "" {
		err = rr.scanChildren(ctx, res)
	} else {
		err = rr.scanList(ctx, res, "")
	}
	if err == nil {
		if rr.incomplete == "" {
			rr.st.Phase = "merge"
			return rr.saveState(ctx)
		}
		return nil
	}
	if ctx.Err() != nil || isStoreFailure(err) || errors.Is(err, state.ErrFenced) || errors.Is(err, errReconcileReset) {
		return err
	}
	// The source failed (an error that outlived its retries, a 429 that
	// never cleared): nothing can be inferred from this scan. Its progress
	// stays, so the next reconcile resumes it.
	rr.incomplete = "the scan stopped: " + err.Error()
	rr.log.Warn("reconcile scan incomplete; no deletions inferred", "err", err)
	return nil
}

var errReconcileReset = errors.New("the reconcile's progress was reset meanwhile")

// scanList scans one list (the resource's, or one parent's children).
func (rr *reconcileRun) scanList(ctx context.Context, res *dsl.Resource, parent string) error {
	vr := vomoResource(res, parent)
	var p vomo.Progress
	perPage := 0
	if rr.st.Source != nil {
		p = *rr.st.Source
		perPage = p.PerPage
	}
	c, err := rr.pr.client(res, perPage)
	if err != nil {
		return err
	}
	if rr.st.Source == nil {
		if p, err = c.NewScan(ctx, vr); err != nil {
			return fmt.Errorf("open scan: %w", err)
		}
		if parent == "" {
			rr.st.Cap = p.Cap
		}
	}
	before := p.Requests
	result, err := c.Scan(ctx, vr, p, func(ctx context.Context, pg vomo.Page) error {
		return rr.page(ctx, res, pg)
	})
	rr.st.Requests += result.Progress.Requests - before
	if err != nil {
		return fmt.Errorf("page %d: %w", result.Progress.Pages+1, err)
	}
	if result.ParentGone {
		rr.st.ParentsGone++
		rr.log.Info("parent vanished mid-scan; its children's deletions are not inferred this run", "resource", res.Name, "parent", parent)
	}
	if !result.Complete && !result.ParentGone {
		rr.incomplete = "the scan did not reach the end of " + res.Path
	}
	return nil
}

// scanChildren scans the parent's keys, then each parent's child list.
// The parent ids are part of the stored progress, so a resumed scan goes
// on with the same parents.
func (rr *reconcileRun) scanChildren(ctx context.Context, res *dsl.Resource) error {
	parent := rr.r.resources[res.Parent]
	if parent == nil {
		return fmt.Errorf("resource %s: unknown parent %s", res.Name, res.Parent)
	}
	if rr.st.Parents == nil {
		c, err := rr.pr.client(parent, 0)
		if err != nil {
			return err
		}
		p, err := c.NewScan(ctx, vomoResource(parent, ""))
		if err != nil {
			return fmt.Errorf("open scan: %w", err)
		}
		rr.st.Cap = p.Cap
		ids, err := rr.pr.parentKeys(ctx, c, parent, res)
		if err != nil {
			return err
		}
		rr.st.Parents = append([]string{}, ids...)
		if err := rr.saveState(ctx); err != nil {
			return err
		}
	}
	for rr.st.Parent < len(rr.st.Parents) {
		if err := rr.scanList(ctx, res, rr.st.Parents[rr.st.Parent]); err != nil {
			return err
		}
		if rr.incomplete != "" {
			return nil
		}
		rr.st.Parent++
		rr.st.Source = nil
	}
	return nil
}

// page compares one page with every member's destination, then commits
// the page's ids, the repairs and the progress in one step.
func (rr *reconcileRun) page(ctx context.Context, res *dsl.Resource, pg vomo.Page) error {
	ids := make([]string, len(pg.Records))
	for i, rec := range pg.Records {
		ids[i] = rec.Key
	}
	var enq []state.Enqueue
	for _, p := range rr.j.pipelines {
		entries, err := rr.compare(ctx, res, pg, p)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			continue
		}
		q := rr.r.queueRef(rr.t, p.Destination)
		i := slices.IndexFunc(enq, func(e state.Enqueue) bool { return e.Queue == q })
		if i < 0 {
			enq = append(enq, state.Enqueue{Queue: q})
			i = len(enq) - 1
		}
		enq[i].Entries = append(enq[i].Entries, entries...)
	}
	src := pg.Progress
	rr.st.Source = &src
	rr.st.Page++
	rr.st.IDs += int64(len(ids))
	rr.st.Records += int64(len(pg.Records))
	defer rr.progress(pg.Total, "scan", "")
	if rr.lease == nil {
		return rr.spool.add(ids)
	}
	pc := state.PageCommit{Lease: rr.lease(), Enqueue: enq,
		Scan: &state.ScanPage{Resource: res.Name, ScanID: rr.j.id, Page: rr.st.Page, IDs: ids}}
	w, err := rr.walkUpdate()
	if err != nil {
		return err
	}
	pc.Walks = []state.WalkUpdate{w}
	return rr.commit(ctx, pc)
}

// compare decides, for one pipeline, what each record of the page needs:
// nothing, a repair (missing, older, or with another content hash when
// hashes are compared) or, when the filter now drops it and the
// destination holds it, a versioned delete. It reads the destination's
// rows for the page's keys in one call.
func (rr *reconcileRun) compare(ctx context.Context, res *dsl.Resource, pg vomo.Page, p *dsl.Pipeline) ([]state.Entry, error) {
	if len(pg.Records) == 0 {
		return nil, nil
	}
	d, err := rr.r.dests.get(ctx, rr.r.destinations[p.Destination])
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(pg.Records))
	for i, rec := range pg.Records {
		keys[i] = rec.Key
	}
	rows, err := d.Read(ctx, rr.t.ID, p.Object, keys)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s from %s: %w", rr.t.ID, p.Object, p.Destination, err)
	}
	held := make(map[string]sdk.Row, len(rows))
	for _, row := range rows {
		held[row.Key] = row
	}
	// Without a version field the version is the time a page was read, so
	// versions say nothing: the content hash decides.
	hashOnly := res.VersionHash || res.VersionField == ""
	c := rr.st.Counts[p.Name]
	var out []state.Entry
	for _, rec := range pg.Records {
		c.Scanned++
		payload := []byte(rec.Raw)
		v := rr.pr.version(res, rec, pg.APITime)
		keep := true
		if fields, err := decodeRecord(payload); err == nil {
			// A record whose mapping fails is compared as kept: queued
			// again, it goes to the DLQ with its error, and the DLQ check
			// below keeps it from being queued every day.
			if _, k, err := p.Transform.Apply(fields, rr.t); err == nil {
				keep = k
			}
		}
		h, ok := held[rec.Key]
		live := ok && !h.Tombstone
		if !keep {
			if live {
				c.FilteredDeletes++
				out = append(out, state.Entry{Pipeline: p.Name, Key: rec.Key, Op: opDelete, Version: v,
					ConfigGeneration: rr.r.config.Version, Trace: rr.pr.trace})
			} else {
				c.Unchanged++
			}
			continue
		}
		want := writeHash(contentHash(payload), p.MappingHash)
		var counter *int64
		switch {
		case !live:
			counter = &c.Missing
		case hashOnly:
			if h.ContentHash != want {
				counter = &c.Changed
			}
		case h.Version.Source.Before(v):
			counter = &c.Stale
		case h.Version.Source.Equal(v) && rr.st.Deep && h.ContentHash != want:
			counter = &c.Changed
		}
		if counter == nil {
			c.Unchanged++
			continue
		}
		if dv, ok := rr.dead[p.Name+"\x00"+rec.Key]; ok && dv.Equal(v) {
			c.DeadLettered++
			continue
		}
		*counter++
		out = append(out, state.Entry{Pipeline: p.Name, Key: rec.Key, Op: opUpsert, Version: v,
			ConfigGeneration: rr.r.config.Version, ContentHash: contentHash(payload), Payload: payload, Trace: rr.pr.trace})
	}
	return out, nil
}

// walkUpdate is the reserved checkpoint's walk carrying the state.
func (rr *reconcileRun) walkUpdate() (state.WalkUpdate, error) {
	b, err := json.Marshal(rr.st)
	if err != nil {
		return state.WalkUpdate{}, fmt.Errorf("encode the reconcile's progress: %w", err)
	}
	w := state.Walk{Cap: rr.st.Cap, Records: rr.st.Records, Progress: b}
	if s := rr.st.Source; s != nil {
		w.Position, w.Total = int64(s.Next), int64(s.LastTotal)
	}
	return state.WalkUpdate{Pipeline: rr.j.checkpointName(), Generation: rr.gen, Walk: w}, nil
}

// saveState records the state alone.
func (rr *reconcileRun) saveState(ctx context.Context) error {
	if rr.lease == nil {
		return nil
	}
	w, err := rr.walkUpdate()
	if err != nil {
		return err
	}
	return rr.commit(ctx, state.PageCommit{Lease: rr.lease(), Walks: []state.WalkUpdate{w}})
}

// commit makes one atomic step; a reset of the reserved checkpoint (an
// operator's, or a purge) stops the reconcile.
func (rr *reconcileRun) commit(ctx context.Context, pc state.PageCommit) error {
	res, err := rr.r.st.CommitPage(ctx, pc)
	if err != nil {
		return fmt.Errorf("reconcile %s/%s: commit: %w", rr.t.ID, rr.j.id, storeErr(err))
	}
	if len(res.Skipped) > 0 {
		return fmt.Errorf("reconcile %s/%s: %w", rr.t.ID, rr.j.id, errReconcileReset)
	}
	rr.r.stats.enqueued.Add(int64(res.Enqueued))
	return nil
}

// progress reports where the reconcile stands.
func (rr *reconcileRun) progress(total int, phase, note string) {
	if rr.opts.Progress == nil {
		return
	}
	names := make([]string, len(rr.j.pipelines))
	for i, p := range rr.j.pipelines {
		names[i] = p.Name
	}
	rr.opts.Progress(ReconcileProgress{Tenant: rr.t.ID, Resource: rr.j.resource.Name, Pipelines: names,
		Records: rr.st.Records, Total: int64(total), Pages: rr.st.Page, Phase: phase, Done: phase == "done",
		Failed: phase == "done" && rr.incomplete != "", Note: note})
}

// deadLettered maps each (pipeline, key) of the job's pipelines in the
// tenant's DLQ to its newest version there.
func (r *Runner) deadLettered(ctx context.Context, tenant string, j *reconcileJob) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	after := ""
	for {
		letters, next, err := r.st.DeadLetterList(ctx, tenant, after, 500)
		if err != nil {
			return nil, fmt.Errorf("reconcile %s: dead letters: %w", tenant, storeErr(err))
		}
		for _, l := range letters {
			e := l.Entry
			if !slices.ContainsFunc(j.pipelines, func(p *dsl.Pipeline) bool { return p.Name == e.Pipeline }) {
				continue
			}
			k := e.Pipeline + "\x00" + e.Key
			if cur, ok := out[k]; !ok || e.Version.After(cur) {
				out[k] = e.Version
			}
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// tempDir is where merges sort ids (tests point it elsewhere).
var tempDir = os.TempDir
