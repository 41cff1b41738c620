package jsonl

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Write implements sdk.Destination. Records are decided in version order
// against the index and the batch's own earlier changes; only accepted
// changes are appended, one fsync per touched log. A record whose values
// do not fit its fields is rejected alone. A failed append or fsync fails
// the batch (the index is left as it was).
func (d *Destination) Write(_ context.Context, b sdk.Batch) ([]sdk.Result, error) {
	results := make([]sdk.Result, len(b.Records))
	if len(b.Records) == 0 {
		return results, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.open(); err != nil {
		return nil, err
	}
	if err := checkTenant(b.Tenant); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("jsonl write: %w", err))
	}
	recs := layout.Normalize(b.Records)
	now := d.now().UTC()
	batch := map[logID]*staged{}
	for _, i := range layout.ApplyOrder(recs) {
		r := recs[i]
		schema, err := d.schema(r.Object)
		if err != nil {
			return nil, err
		}
		if schema == nil {
			results[i] = rejected(fmt.Sprintf("object %s does not exist; EnsureObject creates it", r.Object))
			continue
		}
		if err := layout.CheckKey(r.Key); err != nil {
			results[i] = rejected(err.Error())
			continue
		}
		id := logID{b.Tenant, r.Object}
		l, err := d.log(id, true)
		if err != nil {
			return nil, fmt.Errorf("jsonl write %s/%s: %w", b.Tenant, r.Object, err)
		}
		st := batch[id]
		if st == nil {
			st = &staged{pending: map[string]entry{}}
			batch[id] = st
		}
		h := l.held(st, r.Key)
		switch sdk.Decide(h, r) {
		case sdk.Skip:
			results[i] = sdk.Result{Status: sdk.StatusOK, Skipped: true}
			continue
		case sdk.Conflict:
			results[i] = sdk.Result{Status: sdk.StatusConflict, Message: layout.ConflictMessage(h, *r.Expect)}
			continue
		}
		b, e, err := encode(r, schema, now)
		if err != nil {
			results[i] = rejected(err.Error())
			continue
		}
		l.stage(st, r.Key, e, b)
	}
	for id, st := range batch {
		if err := d.logs[id].commit(st); err != nil {
			return nil, fmt.Errorf("jsonl write %s/%s: %w", id.tenant, id.object, err)
		}
	}
	d.purgeTombstones(now)
	return results, nil
}

// encode renders r as a log line (with its newline) and its index entry.
func encode(r sdk.Record, schema map[string]sdk.FieldType, now time.Time) ([]byte, entry, error) {
	ln := line{header: header{
		Key: r.Key, Source: layout.FormatTime(r.Version.Source),
		Generation: r.Version.Generation, Seq: r.Version.Seq,
	}}
	e := entry{version: r.Version, hash: r.ContentHash}
	if r.Op == sdk.OpDelete {
		ln.Op, ln.DeletedAt = "delete", layout.FormatTime(now)
		e.tomb, e.deletedAt = true, now
	} else {
		ln.Op, ln.ContentHash, ln.SyncedAt = "upsert", r.ContentHash, layout.FormatTime(now)
		ln.Fields = make(map[string]json.RawMessage, len(r.Fields))
		for name, v := range r.Fields {
			ft, ok := schema[name]
			if !ok {
				return nil, entry{}, fmt.Errorf("field %s is not a field of %s; EnsureObject adds it", name, r.Object)
			}
			raw, err := fieldJSON(name, ft, v)
			if err != nil {
				return nil, entry{}, err
			}
			ln.Fields[name] = raw
		}
	}
	b, err := json.Marshal(ln)
	if err != nil {
		return nil, entry{}, err
	}
	return append(b, '\n'), e, nil
}

// fieldJSON is a mapped value as it appears in a line: timestamps as
// layout.TimeText, JSON fields embedded as JSON.
func fieldJSON(name string, ft sdk.FieldType, v any) (json.RawMessage, error) {
	c, err := layout.Coerce(name, ft, v)
	if err != nil {
		return nil, err
	}
	switch x := c.(type) {
	case []byte:
		return x, nil
	case time.Time:
		c = layout.FormatTime(x)
	}
	return json.Marshal(c)
}

func rejected(msg string) sdk.Result {
	return sdk.Result{Status: sdk.StatusPermanent, Message: msg}
}
