package host

import (
	"context"
	"errors"
	"fmt"

	destpb "github.com/siphonhq/siphon/plugins/proto"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// MaxPartBytes is the largest Write request the host sends. It is
// go-plugin's default gRPC message limit, which a plugin built with another
// SDK may still enforce; a single larger record is sent alone.
const MaxPartBytes = 4 << 20

// supersededMessage explains the result of a record de-duplicated away.
const supersededMessage = "superseded by a later write of the same key in this batch"

// item is one record of a batch, encoded for the wire.
type item struct {
	index int // in the caller's batch
	rec   *destpb.Record
	size  int
}

// Write sends batch to the plugin and returns one result per record, in
// the batch's order. On the way it
//
//   - fails fast with a *BreakerOpenError while the tenant's breaker is open;
//   - keeps one record per (object, key), the last in version order (the
//     others are reported ok and skipped);
//   - splits what remains into parts of at most MaxPartBytes;
//   - retries a part once if the plugin crashes (after restarting it), so a
//     crash mid-batch loses nothing;
//   - bisects a part that fails as a whole with a permanent error, or that
//     crashed the plugin twice, until the records at fault get a
//     StatusPermanent result and the others land. Crashes are told from a
//     plugin that crashes on every write (its destination is down): while
//     no record of the batch landed, a second part crashing after one
//     record crashed alone fails the batch as a whole, as does any crash
//     while another tenant's writes crash too with none landing since
//     (the plugin is shared). While the tenant's last write failed as a
//     whole, bisecting tries the first record alone before halving, so
//     telling costs a few crashes, not two a record. A batch whose only
//     record crashed the plugin alone gets a StatusRetryable result for
//     it: with nothing else landing it may yet be the plugin's failure,
//     so the record spends an attempt, not its place in the queue.
//
// An error means the batch as a whole failed and must be retried later;
// parts written before the failure may be applied (the version rule makes
// the retry harmless).
func (d *Destination) Write(ctx context.Context, batch sdk.Batch) ([]sdk.Result, error) {
	if len(batch.Records) == 0 {
		return []sdk.Result{}, nil
	}
	if err := d.breakers.allow(d.cfg.Name, batch.Tenant); err != nil {
		return nil, err
	}
	results := make([]sdk.Result, len(batch.Records))
	var w writeOutcome
	for _, part := range split(prepare(batch.Records, results)) {
		if err := d.writePart(ctx, batch.Tenant, part, results, &w); err != nil {
			if ctx.Err() != nil {
				d.breakers.abort(batch.Tenant)
			} else {
				d.breakers.failure(batch.Tenant, err)
			}
			return nil, fmt.Errorf("write %s via %s: %w", batchLabel(batch), d.cfg.Name, err)
		}
	}
	if !w.landed && w.crash != nil {
		// One record crashed the plugin by itself and nothing else landed
		// (a second crash would have failed the batch): retried, it
		// reaches the DLQ at max_attempts if it is the record's fault.
		// The breaker counts it, so a plugin crashing on every
		// one-record batch still opens it.
		results[w.crashAt] = sdk.Result{Status: sdk.StatusRetryable, Message: w.crash.Error()}
		d.breakers.failure(batch.Tenant, w.crash)
		return results, nil
	}
	d.breakers.success(batch.Tenant)
	return results, nil
}

// writeOutcome is what the requests of one Write found so far.
type writeOutcome struct {
	landed  bool  // a request was answered: the plugin takes writes
	crash   error // the last crash a record was blamed for
	crashAt int   // that record's index in the batch
}

// prepare de-duplicates and encodes the records. Records it drops or cannot
// encode get their result here.
func prepare(records []sdk.Record, results []sdk.Result) []item {
	kept := make([]int, 0, len(records))
	if len(records) > 1 {
		type objKey struct{ object, key string }
		pos := make(map[objKey]int, len(records))
		for i := range records {
			k := objKey{records[i].Object, records[i].Key}
			j, seen := pos[k]
			if !seen {
				pos[k] = len(kept)
				kept = append(kept, i)
				continue
			}
			prev := kept[j]
			if records[i].Version.Compare(records[prev].Version) >= 0 {
				results[prev] = sdk.Result{Status: sdk.StatusOK, Skipped: true, Message: supersededMessage}
				kept[j] = i
			} else {
				results[i] = sdk.Result{Status: sdk.StatusOK, Skipped: true, Message: supersededMessage}
			}
		}
	} else {
		for i := range records {
			kept = append(kept, i)
		}
	}
	wire, errs := recordsToWire(records, kept)
	items := make([]item, 0, len(kept))
	for j, i := range kept {
		if err := errs[i]; err != nil {
			results[i] = sdk.Result{Status: sdk.StatusPermanent, Message: fmt.Sprintf("encode %s/%s: %v", records[i].Object, records[i].Key, err)}
			continue
		}
		items = append(items, item{index: i, rec: wire[j], size: wireSize(wire[j])})
	}
	return items
}

// wireSize bounds the encoded size of rec from above without encoding it:
// its variable parts plus room for the tags, lengths and version numbers.
func wireSize(rec *destpb.Record) int {
	return len(rec.Object) + len(rec.Key) + len(rec.ContentHash) + len(rec.IdempotencyKey) + len(rec.Fields) + 128
}

// split cuts items into parts of at most MaxPartBytes (less room for the
// request's own fields).
func split(items []item) [][]item {
	const limit = MaxPartBytes - 16<<10
	var parts [][]item
	start, size := 0, 0
	for i, it := range items {
		if i > start && size+it.size > limit {
			parts = append(parts, items[start:i])
			start, size = i, 0
		}
		size += it.size
	}
	if start < len(items) {
		parts = append(parts, items[start:])
	}
	return parts
}

// writePart writes one part, bisecting it when it fails as a whole in a
// way a smaller part might not; w collects what its requests found.
func (d *Destination) writePart(ctx context.Context, tenant string, part []item, results []sdk.Result, w *writeOutcome) error {
	var res []sdk.Result
	err := d.retryCrash(func() error {
		var err error
		res, err = d.writeOnce(ctx, tenant, part)
		return err
	})
	if err == nil {
		w.landed = true
		for i, it := range part {
			results[it.index] = res[i]
		}
		return nil
	}
	var crash *CrashError
	if !sdk.IsPermanent(err) && !(errors.As(err, &crash) && crash.Twice) {
		return err
	}
	if crash != nil && !w.landed && (w.crash != nil || d.breakers.pluginFailing(tenant)) {
		// Nothing landed and a record crashed the plugin alone already,
		// or another tenant's writes crash it too: the plugin fails every
		// write, and bisecting on would cost two crashes a record.
		return err
	}
	if len(part) == 1 {
		if crash != nil {
			// Another batch in flight may have crashed the plugin: give
			// the record one more try with nothing else running before
			// blaming it.
			res, err = d.writeAlone(ctx, tenant, part)
			if err == nil {
				w.landed = true
				results[part[0].index] = res[0]
				return nil
			}
			if !errors.As(err, &crash) && !sdk.IsPermanent(err) {
				return err
			}
			if crash != nil {
				w.crash, w.crashAt = err, part[0].index
			}
		}
		d.log.Warn("record rejected", "tenant", tenant, "object", part[0].rec.Object, "key", part[0].rec.Key, "error", err)
		results[part[0].index] = sdk.Result{Status: sdk.StatusPermanent, Message: err.Error()}
		return nil
	}
	d.log.Warn("bisecting batch to isolate the failing records", "tenant", tenant, "records", len(part), "error", err)
	mid := len(part) / 2
	if crash != nil && !w.landed && d.breakers.failing(tenant) {
		// The tenant's last write failed as a whole: the first record
		// alone, then the rest, tells a crashing record from a plugin
		// crashing on everything in two tries instead of a halving each.
		mid = 1
	}
	if err := d.writePart(ctx, tenant, part[:mid], results, w); err != nil {
		return err
	}
	return d.writePart(ctx, tenant, part[mid:], results, w)
}

// writeAlone sends one Write request while no other Write is in flight.
func (d *Destination) writeAlone(ctx context.Context, tenant string, part []item) ([]sdk.Result, error) {
	d.writing.Lock()
	defer d.writing.Unlock()
	return d.send(ctx, tenant, part)
}

// writeOnce sends one Write request.
func (d *Destination) writeOnce(ctx context.Context, tenant string, part []item) ([]sdk.Result, error) {
	d.writing.RLock()
	defer d.writing.RUnlock()
	return d.send(ctx, tenant, part)
}

func (d *Destination) send(ctx context.Context, tenant string, part []item) ([]sdk.Result, error) {
	req := &destpb.WriteRequest{Tenant: tenant, Records: make([]*destpb.Record, len(part))}
	for i, it := range part {
		req.Records[i] = it.rec
	}
	var resp *destpb.WriteResponse
	err := d.invoke(ctx, "Write", d.cfg.Timeouts.Write, func(ctx context.Context, rpc destpb.DestinationClient) error {
		var err error
		resp, err = rpc.Write(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if perr := wireErr(resp.Error); perr != nil {
		return nil, perr
	}
	if len(resp.Statuses) != len(part) || len(resp.Skipped) != len(part) {
		return nil, fmt.Errorf("plugin returned %d results for %d records", len(resp.Statuses), len(part))
	}
	out := make([]sdk.Result, len(part))
	for i, st := range resp.Statuses {
		msg := resp.Messages[int32(i)]
		out[i] = sdk.Result{Status: sdk.Status(st), Skipped: resp.Skipped[i], Message: msg}
		if st > destpb.Status_STATUS_CONFLICT {
			out[i] = sdk.Result{Status: sdk.StatusPermanent, Message: fmt.Sprintf("plugin returned unknown status %d: %s", st, msg)}
		}
	}
	return out, nil
}

// batchLabel names a batch in errors: tenant/object when it has one object.
func batchLabel(b sdk.Batch) string {
	if len(b.Records) == 0 {
		return b.Tenant
	}
	obj := b.Records[0].Object
	for _, r := range b.Records[1:] {
		if r.Object != obj {
			return b.Tenant
		}
	}
	return b.Tenant + "/" + obj
}
