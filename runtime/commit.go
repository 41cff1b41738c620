package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
)

// commit enqueues one page for every member pipeline and, for a walk
// (walk not nil: its progress after this page), advances each member's
// progress, all in one atomic step under the lease. It returns the members
// still walking: one whose checkpoint generation moved (an operator set or
// reset it) is dropped with its entries.
func (pr *pollRun) commit(ctx context.Context, res *dsl.Resource, pg vomo.Page, members []member, walk *state.Walk) ([]member, error) {
	pc := state.PageCommit{Lease: pr.lease()}
	queues := map[string]int{}
	for _, m := range members {
		entries := pr.entries(res, pg, m.p)
		q := pr.r.queueRef(pr.t, m.p.Destination)
		i, ok := queues[q.Destination]
		if !ok {
			i = len(pc.Enqueue)
			queues[q.Destination] = i
			pc.Enqueue = append(pc.Enqueue, state.Enqueue{Queue: q})
		}
		pc.Enqueue[i].Entries = append(pc.Enqueue[i].Entries, entries...)
		if walk != nil {
			pc.Walks = append(pc.Walks, state.WalkUpdate{Pipeline: m.p.Name, Generation: m.gen, Complete: pg.Done, Walk: *walk})
		}
	}
	res2, err := pr.r.st.CommitPage(ctx, pc)
	if err != nil {
		return members, fmt.Errorf("commit page %d: %w", pg.Number, storeErr(err))
	}
	pr.r.stats.enqueued.Add(int64(res2.Enqueued))
	pr.r.countPolled(ctx, pr.t.ID, pc.Enqueue, res2.Skipped)
	if len(res2.Skipped) > 0 {
		kept := members[:0:0]
		for _, m := range members {
			if !slices.Contains(res2.Skipped, m.p.Name) {
				kept = append(kept, m)
			}
		}
		members = kept
	}
	pr.deliverDirect(ctx, members, pc.Enqueue)
	return members, nil
}

// completeScan records a full scan's completion on each member's
// checkpoint, under the generation read before the scan began, so an
// operator's reset during the scan is not overwritten. It is a step of its
// own after the last page: riding on that page's commit would drop the
// page's entries of a member whose checkpoint was reset, and a scan's
// entries must all land.
func (pr *pollRun) completeScan(ctx context.Context, res *dsl.Resource, members []member, records int64) error {
	pc := state.PageCommit{Lease: pr.lease()}
	for _, m := range members {
		pc.Walks = append(pc.Walks, state.WalkUpdate{Pipeline: m.p.Name, Generation: m.gen, Complete: true,
			Walk: state.Walk{Records: records}})
	}
	out, err := pr.r.st.CommitPage(ctx, pc)
	if err != nil {
		return fmt.Errorf("poll %s/%s: record the completed scan: %w", pr.t.ID, res.Name, storeErr(err))
	}
	if len(out.Skipped) > 0 {
		pr.log.Info("scan completed, but an operator reset these checkpoints meanwhile; not recorded", "resource", res.Name, "pipelines", out.Skipped)
	}
	return nil
}

// entries builds a page's queue entries for one pipeline.
func (pr *pollRun) entries(res *dsl.Resource, pg vomo.Page, p *dsl.Pipeline) []state.Entry {
	out := make([]state.Entry, 0, len(pg.Records))
	for _, rec := range pg.Records {
		// The record's bytes as the page carried them are the payload: the
		// process stage decodes them as it would a re-encoded map.
		payload := []byte(rec.Raw)
		out = append(out, state.Entry{Pipeline: p.Name, Key: rec.Key, Op: opUpsert,
			Version: pr.version(res, rec, pg.APITime), ConfigGeneration: pr.r.config.Version,
			ContentHash: contentHash(payload), Payload: payload, Trace: pr.trace})
	}
	return out
}

// version is the record's source version: its version field, or for
// resources without one the API time of the page that fetched it. A record
// whose version field is missing or unreadable falls back to the page's API
// time too, so it still orders after what the destination held before.
func (pr *pollRun) version(res *dsl.Resource, rec vomo.Record, apiTime time.Time) time.Time {
	if res.VersionHash || res.VersionField == "" {
		return apiTime.UTC().Truncate(time.Microsecond)
	}
	v, _, err := rec.Field(res.VersionField)
	if s, ok := v.(string); ok && err == nil {
		if t, err := vomo.ParseTime(s); err == nil {
			return t.UTC()
		}
	}
	pr.log.Warn("record has no readable version field; using the page's API time", "resource", res.Name, "key", rec.Key, "field", res.VersionField)
	return apiTime.UTC().Truncate(time.Microsecond)
}

// contentHash identifies a raw record's content.
func contentHash(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:16])
}

// queueRef names a tenant's queue for a destination.
func (r *Runner) queueRef(t *dsl.Tenant, destination string) state.QueueRef {
	return state.QueueRef{Tenant: t.ID, Destination: destination, Lane: t.Lane}
}

const (
	opUpsert = "upsert"
	opDelete = "delete"
)
