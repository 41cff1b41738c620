package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// getConfirms lists the VOMO list paths that also answer GET {path}/{id}
// (VOMO-API.md, vomosim's routes): a candidate there is confirmed gone by a
// 404. Elsewhere two complete scans must agree.
var getConfirms = map[string]bool{"/users": true, "/projects": true, "/groups": true}

// keysPage is how many keys one page of the destination's Keys holds.
const keysPage = 1000

// deleteChunk bounds the deletes one commit enqueues.
const deleteChunk = 500

// prevScanID names the stored candidates of a pipeline's last complete
// scan, which the next complete scan must agree with where no GET exists.
func prevScanID(pipeline string) string { return "prev-" + pipeline }

// mergeAll sorts the scan's ids and merges them with each member's keys.
func (rr *reconcileRun) mergeAll(ctx context.Context) error {
	rr.progress(0, "merge", "finding deletions")
	ids := rr.spool
	if rr.lease != nil {
		var err error
		if ids, err = newIDSorter(); err != nil {
			return err
		}
		defer ids.close()
		err = rr.r.st.ScanPages(ctx, rr.t.ID, rr.j.resource.Name, rr.j.id, func(_ int64, page []string) error {
			return ids.add(page)
		})
		if err != nil {
			return fmt.Errorf("reconcile %s/%s: read the scan's ids: %w", rr.t.ID, rr.j.id, storeErr(err))
		}
	}
	if ids.n != rr.st.IDs {
		// Never merge a partial id set: every missing id would look deleted.
		rr.incomplete = fmt.Sprintf("the store holds %d of the scan's %d ids", ids.n, rr.st.IDs)
		return nil
	}
	for _, p := range rr.j.pipelines {
		if err := rr.merge(ctx, p, ids); err != nil {
			return err
		}
	}
	return nil
}

// merge finds, confirms and queues one pipeline's deletions.
func (rr *reconcileRun) merge(ctx context.Context, p *dsl.Pipeline, ids *idSorter) error {
	c := rr.st.Counts[p.Name]
	if rr.st.ParentsGone > 0 {
		rr.notes = append(rr.notes, fmt.Sprintf("%d parents vanished mid-scan: no deletions inferred for %s this run", rr.st.ParentsGone, p.Name))
		return nil
	}
	d, err := rr.r.dests.get(ctx, rr.r.destinations[p.Destination])
	if err != nil {
		return err
	}
	it, err := ids.sorted()
	if err != nil {
		return err
	}
	defer it.close()
	cands, err := newCandidates(ids.dir)
	if err != nil {
		return err
	}
	defer cands.close()
	cur, ok, err := it.next()
	if err != nil {
		return err
	}
	var held int64
	err = d.KeysAll(ctx, rr.t.ID, p.Object, keysPage, func(entries []sdk.KeyEntry) error {
		for _, e := range entries {
			held++
			for ok && cur < e.Key {
				if cur, ok, err = it.next(); err != nil {
					return err
				}
			}
			if ok && cur == e.Key {
				continue
			}
			// A key held at a version after the cap may be a record
			// created after the scan began: never a candidate.
			if e.Version.Source.After(rr.st.Cap) {
				continue
			}
			if err := cands.add(e.Key, e.Version.Source); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reconcile %s/%s: keys of %s: %w", rr.t.ID, p.Name, p.Object, err)
	}
	c.Held, c.Candidates = held, cands.n
	// The safeguard is checked on the candidates first: a token pointing
	// at the wrong organization makes most keys candidates, and confirming
	// each would spend a request per key before refusing anyway.
	if over, why := overSafeguard(p.Reconcile, cands.n, held); over && !rr.opts.AllowMassDelete {
		c.Unconfirmed = cands.n
		return rr.tripSafeguard(ctx, p, why)
	}
	confirmed, err := rr.confirm(ctx, p, cands)
	if err != nil {
		return err
	}
	defer confirmed.close()
	c.Confirmed, c.Unconfirmed = confirmed.n, cands.n-confirmed.n
	if over, why := overSafeguard(p.Reconcile, confirmed.n, held); over && !rr.opts.AllowMassDelete {
		return rr.tripSafeguard(ctx, p, why)
	}
	if err := rr.queueDeletes(ctx, p, confirmed); err != nil {
		return err
	}
	return rr.clearMassDelete(ctx, p)
}

// overSafeguard reports whether n deletions of held records pass both
// max_delete and max_delete_min. The percent's limit is rounded to a
// millionth of a record first: 0.29*100 is 28.999999999999996 in floating
// point, and 29 of 100 at "29%" must not trip.
func overSafeguard(pol dsl.Reconcile, n, held int64) (bool, string) {
	limit := math.Round(pol.MaxDeletePercent*float64(held)*1e6) / 1e6
	if float64(n) <= limit || n <= int64(pol.MaxDeleteMin) {
		return false, ""
	}
	share := 100.0
	if held > 0 {
		share = 100 * float64(n) / float64(held)
	}
	return true, fmt.Sprintf("would delete %d of %d records (%.1f%%), over max_delete %g%% and max_delete_min %d",
		n, held, share, math.Round(pol.MaxDeletePercent*1e8)/1e6, pol.MaxDeleteMin)
}

// tripSafeguard deletes nothing and raises the pipeline's alert.
func (rr *reconcileRun) tripSafeguard(ctx context.Context, p *dsl.Pipeline, why string) error {
	c := rr.st.Counts[p.Name]
	c.MassDelete, c.MassDeleteReason = true, why
	reason := fmt.Sprintf("reconcile %s; nothing deleted: check the source (a token of another organization?), then run siphon reconcile %s %s --allow-mass-delete",
		why, rr.t.ID, p.Name)
	rr.log.Error("mass-delete safeguard tripped; nothing deleted", "pipeline", p.Name, "reason", reason)
	if rr.lease == nil {
		return nil
	}
	f := state.Flag{Kind: state.FlagMassDelete, Scope: p.Name, Reason: reason, By: "siphon reconcile", At: rr.r.clk.Now()}
	if err := rr.r.st.SetFlag(ctx, rr.t.ID, f); err != nil {
		return fmt.Errorf("reconcile %s/%s: raise the mass-delete alert: %w", rr.t.ID, p.Name, storeErr(err))
	}
	return nil
}

// clearMassDelete drops the pipeline's alert once a complete reconcile
// stayed under the safeguard or an operator allowed the deletions.
func (rr *reconcileRun) clearMassDelete(ctx context.Context, p *dsl.Pipeline) error {
	if rr.lease == nil {
		return nil
	}
	if err := rr.r.st.ClearFlag(ctx, rr.t.ID, state.FlagMassDelete, p.Name); err != nil {
		return fmt.Errorf("reconcile %s/%s: clear the mass-delete alert: %w", rr.t.ID, p.Name, storeErr(err))
	}
	return nil
}

// confirm returns the candidates the source confirms gone: a 404 from GET
// where the resource has it, else absence from the previous complete scan
// too (the candidates of this one are kept for the next).
func (rr *reconcileRun) confirm(ctx context.Context, p *dsl.Pipeline, cands *candidates) (*candidates, error) {
	out, err := newCandidates(tempDir())
	if err != nil {
		return nil, err
	}
	res := rr.j.resource
	if getConfirms[res.Path] && res.Parent == "" && len(res.PrimaryKey) <= 1 {
		err = rr.confirmByGet(ctx, cands, out)
	} else {
		err = rr.confirmByScans(ctx, p, cands, out)
	}
	if err != nil {
		out.close()
		return nil, err
	}
	return out, nil
}

func (rr *reconcileRun) confirmByGet(ctx context.Context, cands, out *candidates) error {
	res := rr.j.resource
	if err := rr.orgGate(ctx); err != nil {
		return err
	}
	c, err := rr.pr.client(res, 0)
	if err != nil {
		return err
	}
	vr := vomoResource(res, "")
	var failed error
	err = cands.each(func(key string, v time.Time) error {
		if failed != nil {
			return nil
		}
		_, found, err := c.Get(ctx, vr, key)
		rr.getReqs++
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			// The rest stay unconfirmed: the next reconcile asks again.
			failed = err
			rr.notes = append(rr.notes, "confirming deletions stopped: "+err.Error())
		case !found:
			return out.add(key, v)
		}
		return nil
	})
	return err
}

// orgGate runs the organization check again right before deletions are
// confirmed by GET. A token of another organization answers 404 to every
// GET, so under max_delete_min each candidate would be "confirmed": the
// check must have passed in this run, with the organization recorded now,
// however long the scan took (an onboarding may have recorded it since the
// run began; the check's cache keeps a match for orgRecheck only). A
// mismatch halts the tenant (verifyOrg) and confirms nothing. Without a
// recorded organization for the source the GETs go on as before, logged
// once per run.
func (rr *reconcileRun) orgGate(ctx context.Context) error {
	r, t, res := rr.r, rr.t, rr.j.resource
	b, err := r.st.Note(ctx, t.ID, OrgNote)
	recorded := err == nil
	switch {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		return fmt.Errorf("reconcile %s/%s: read the recorded organization: %w", t.ID, rr.j.id, storeErr(err))
	default:
		// A note that does not decode is verifyOrg's to report.
		if rec, derr := DecodeOrgRecord(b); derr == nil {
			_, recorded = rec.Sources[res.Source]
		}
	}
	if !recorded {
		if !rr.orgUnchecked {
			rr.orgUnchecked = true
			rr.log.Warn("deletions are confirmed by GET without an organization check: no organization is recorded for the source (siphon tenant onboard records it)",
				"source", res.Source)
		}
		return nil
	}
	ctl, err := r.control(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("reconcile %s/%s: %w", t.ID, rr.j.id, err)
	}
	if err := rr.pr.verifyOrg(ctx, ctl); err != nil {
		return fmt.Errorf("reconcile %s/%s: no deletions confirmed: %w", t.ID, rr.j.id, err)
	}
	return nil
}

func (rr *reconcileRun) confirmByScans(ctx context.Context, p *dsl.Pipeline, cands, out *candidates) error {
	res := rr.j.resource
	prev, err := newIDSorter()
	if err != nil {
		return err
	}
	defer prev.close()
	if err := rr.r.st.ScanPages(ctx, rr.t.ID, res.Name, prevScanID(p.Name), func(_ int64, ids []string) error {
		return prev.add(ids)
	}); err != nil {
		return fmt.Errorf("reconcile %s/%s: the last scan's candidates: %w", rr.t.ID, p.Name, storeErr(err))
	}
	it, err := prev.sorted()
	if err != nil {
		return err
	}
	defer it.close()
	cur, ok, err := it.next()
	if err != nil {
		return err
	}
	if rr.lease != nil {
		// What a run that died before replacePrev left under "-next" is
		// no scan's candidates any more.
		if err := rr.r.st.DeleteScan(ctx, rr.t.ID, res.Name, prevScanID(p.Name)+"-next"); err != nil {
			return fmt.Errorf("reconcile %s/%s: %w", rr.t.ID, p.Name, storeErr(err))
		}
	}
	var page []string
	var pageNo int64
	keep := func() error {
		if rr.lease == nil || len(page) == 0 {
			return nil
		}
		pageNo++
		pc := state.PageCommit{Lease: rr.lease(), Scan: &state.ScanPage{Resource: res.Name, ScanID: prevScanID(p.Name) + "-next", Page: pageNo, IDs: page}}
		page = nil
		return rr.commit(ctx, pc)
	}
	err = cands.each(func(key string, v time.Time) error {
		for ok && cur < key {
			if cur, ok, err = it.next(); err != nil {
				return err
			}
		}
		if ok && cur == key {
			if err := out.add(key, v); err != nil {
				return err
			}
		}
		page = append(page, key)
		if len(page) >= keysPage {
			return keep()
		}
		return nil
	})
	if err == nil {
		err = keep()
	}
	if err != nil {
		return err
	}
	if rr.lease == nil {
		return nil
	}
	return rr.replacePrev(ctx, p)
}

// replacePrev makes this scan's candidates (written under "-next") the
// ones the next complete scan must agree with. A crash in between loses
// at most the agreement, which delays deletions by a run, never hastens
// them.
func (rr *reconcileRun) replacePrev(ctx context.Context, p *dsl.Pipeline) error {
	res := rr.j.resource
	if err := rr.r.st.DeleteScan(ctx, rr.t.ID, res.Name, prevScanID(p.Name)); err != nil {
		return fmt.Errorf("reconcile %s/%s: drop the last candidates: %w", rr.t.ID, p.Name, storeErr(err))
	}
	var pageNo int64
	var page []string
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		pageNo++
		pc := state.PageCommit{Lease: rr.lease(), Scan: &state.ScanPage{Resource: res.Name, ScanID: prevScanID(p.Name), Page: pageNo, IDs: page}}
		page = nil
		return rr.commit(ctx, pc)
	}
	err := rr.r.st.ScanPages(ctx, rr.t.ID, res.Name, prevScanID(p.Name)+"-next", func(_ int64, ids []string) error {
		page = append(page, ids...)
		if len(page) >= keysPage {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("reconcile %s/%s: keep the candidates: %w", rr.t.ID, p.Name, storeErr(err))
	}
	if err := rr.r.st.DeleteScan(ctx, rr.t.ID, res.Name, prevScanID(p.Name)+"-next"); err != nil {
		return fmt.Errorf("reconcile %s/%s: %w", rr.t.ID, p.Name, storeErr(err))
	}
	return nil
}

// queueDeletes queues the confirmed deletions, each carrying the version
// the destination held, so a record written since is not deleted.
func (rr *reconcileRun) queueDeletes(ctx context.Context, p *dsl.Pipeline, confirmed *candidates) error {
	c := rr.st.Counts[p.Name]
	q := rr.r.queueRef(rr.t, p.Destination)
	var chunk []state.Entry
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		n := int64(len(chunk))
		if rr.lease != nil {
			if err := rr.commit(ctx, state.PageCommit{Lease: rr.lease(), Enqueue: []state.Enqueue{{Queue: q, Entries: chunk}}}); err != nil {
				return err
			}
		}
		c.Deleted += n
		chunk = nil
		return nil
	}
	err := confirmed.each(func(key string, v time.Time) error {
		chunk = append(chunk, state.Entry{Pipeline: p.Name, Key: key, Op: opDelete, Version: v,
			ConfigGeneration: rr.r.config.Version, Trace: rr.pr.trace})
		if len(chunk) >= deleteChunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return err
}

// finish ends the reconcile: a complete one's progress and ids are
// dropped and its flags settled; every run's report is kept as the
// pipeline's last reconcile note.
func (rr *reconcileRun) finish(ctx context.Context) ([]ReconcileReport, error) {
	r, t, j := rr.r, rr.t, rr.j
	now := r.clk.Now()
	complete := rr.incomplete == ""
	if rr.lease != nil && complete {
		pc := state.PageCommit{Lease: rr.lease(), Walks: []state.WalkUpdate{{Pipeline: j.checkpointName(), Generation: rr.gen,
			Complete: true, Walk: state.Walk{Records: rr.st.Records}}}}
		if err := rr.commit(ctx, pc); err != nil {
			return nil, err
		}
		if err := r.st.DeleteScan(ctx, t.ID, j.resource.Name, j.id); err != nil {
			// The next reconcile drops them before it begins.
			rr.log.Warn("drop the scan's ids", "err", err)
		}
	}
	reports := make([]ReconcileReport, 0, len(j.pipelines))
	for _, p := range j.pipelines {
		rep := *rr.st.Counts[p.Name]
		rep.Tenant, rep.Pipeline, rep.Resource, rep.Job = t.ID, p.Name, j.resource.Name, j.id
		rep.Deep, rep.DryRun, rep.Resumed = rr.st.Deep, rr.lease == nil, rr.resumed
		rep.Started, rep.Finished = rr.st.Started.UTC(), now.UTC()
		rep.DurationSeconds = now.Sub(rr.st.Started).Seconds()
		rep.Complete, rep.Incomplete = complete, rr.incomplete
		rep.ParentsGone = rr.st.ParentsGone
		rep.Requests = rr.st.Requests + rr.getReqs
		rep.Notes = append(rep.Notes, rr.notes...)
		if !complete {
			rep.Notes = append(rep.Notes, "no deletions inferred: the scan was cut short")
		}
		reports = append(reports, rep)
		if rr.lease == nil {
			continue
		}
		b, err := json.Marshal(rep)
		if err == nil {
			err = r.st.PutNote(ctx, t.ID, ReconcileNote(p.Name), b)
		}
		if err != nil {
			rr.log.Warn("keep the reconcile report", "pipeline", p.Name, "err", err)
		}
		if complete {
			if err := r.st.ClearFlag(ctx, t.ID, state.FlagReconcileRequested, p.Name); err != nil {
				rr.log.Warn("clear the reconcile request", "pipeline", p.Name, "err", err)
			}
		}
		rr.log.Info("reconcile report", "pipeline", p.Name, "complete", rep.Complete, "incomplete", rep.Incomplete,
			"missing", rep.Missing, "stale", rep.Stale, "changed", rep.Changed, "filtered_deletes", rep.FilteredDeletes,
			"deleted", rep.Deleted, "unconfirmed", rep.Unconfirmed, "mass_delete", rep.MassDelete, "requests", rep.Requests)
	}
	rr.progress(0, "done", rr.incomplete)
	return reports, nil
}
