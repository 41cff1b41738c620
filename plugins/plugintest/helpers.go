package plugintest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// t0 is the source version every case counts from (microsecond precision,
// as destinations store it).
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// at is source version n: t0 plus n milliseconds (so versions within one
// second must still order).
func at(n int) sdk.Version {
	return sdk.Version{Source: t0.Add(time.Duration(n) * time.Millisecond), Generation: 1, Seq: int64(n)}
}

func (e *env) upsert(key string, v sdk.Version, hash string) sdk.Record {
	return sdk.Record{
		Op: sdk.OpUpsert, Object: e.opts.Object, Key: key, Version: v, ContentHash: hash,
		Fields:         map[string]any{"name": "name of " + key + " " + hash, "n": int64(len(key)), "payload": hash},
		IdempotencyKey: e.tenant + "/" + key + "/" + hash + "/" + v.Source.Format(time.RFC3339Nano),
	}
}

func (e *env) del(key string, v sdk.Version) sdk.Record {
	return sdk.Record{Op: sdk.OpDelete, Object: e.opts.Object, Key: key, Version: v}
}

// write writes records in one batch of e.tenant and requires every result
// to be ok (or what want says for the index).
func (e *env) write(ctx context.Context, records ...sdk.Record) ([]sdk.Result, error) {
	return e.writeTenant(ctx, e.tenant, records...)
}

func (e *env) writeTenant(ctx context.Context, tenant string, records ...sdk.Record) ([]sdk.Result, error) {
	res, err := e.d.Write(ctx, sdk.Batch{Tenant: tenant, Records: records})
	if err != nil {
		return nil, fmt.Errorf("write %d records: %w", len(records), err)
	}
	if len(res) != len(records) {
		return nil, fmt.Errorf("write %d records: got %d results", len(records), len(res))
	}
	for i, r := range res {
		if r.Status != sdk.StatusOK && records[i].Expect == nil {
			return nil, fmt.Errorf("record %d (%s): status %s: %s", i, records[i].Key, statusName(r.Status), r.Message)
		}
	}
	return res, nil
}

func statusName(s sdk.Status) string {
	switch s {
	case sdk.StatusOK:
		return "ok"
	case sdk.StatusRetryable:
		return "retryable"
	case sdk.StatusPermanent:
		return "permanent"
	case sdk.StatusConflict:
		return "conflict"
	}
	return "status " + strconv.Itoa(int(s))
}

// read returns the row of key, if held.
func (e *env) read(ctx context.Context, tenant, key string) (sdk.Row, bool, error) {
	rows, err := e.d.Read(ctx, tenant, e.opts.Object, []string{key})
	if err != nil {
		return sdk.Row{}, false, fmt.Errorf("read %s: %w", key, err)
	}
	switch {
	case len(rows) == 0:
		return sdk.Row{}, false, nil
	case len(rows) > 1 || rows[0].Key != key:
		return sdk.Row{}, false, fmt.Errorf("read %s: got %d rows, the first for key %q", key, len(rows), rows[0].Key)
	}
	return rows[0], true, nil
}

// expectLive requires key to be held live with hash.
func (e *env) expectLive(ctx context.Context, tenant, key, hash string) (sdk.Row, error) {
	r, ok, err := e.read(ctx, tenant, key)
	switch {
	case err != nil:
		return r, err
	case !ok:
		return r, fmt.Errorf("key %s: not held, want live with hash %q", key, hash)
	case r.Tombstone:
		return r, fmt.Errorf("key %s: tombstone, want live with hash %q", key, hash)
	case r.ContentHash != hash:
		return r, fmt.Errorf("key %s: hash %q, want %q", key, r.ContentHash, hash)
	}
	return r, nil
}

// keys lists every live key of tenant through Keys pages of size limit,
// requiring strictly increasing byte-wise order.
func (e *env) keys(ctx context.Context, tenant string, limit int) ([]sdk.KeyEntry, error) {
	var all []sdk.KeyEntry
	after := ""
	for pages := 0; ; pages++ {
		page, err := e.d.Keys(ctx, sdk.KeysRequest{Tenant: tenant, Object: e.opts.Object, After: after, Limit: limit})
		if err != nil {
			return nil, fmt.Errorf("keys after %q: %w", after, err)
		}
		if len(page) == 0 {
			return all, nil
		}
		if len(page) > limit {
			return nil, fmt.Errorf("keys after %q: page of %d entries, limit %d", after, len(page), limit)
		}
		for _, k := range page {
			if k.Key <= after {
				return nil, fmt.Errorf("keys: %q came after %q (not byte-wise ascending, or a repeat)", k.Key, after)
			}
			after = k.Key
		}
		all = append(all, page...)
		if pages > 10_000_000 {
			return nil, fmt.Errorf("keys: listing does not end")
		}
	}
}

// batches writes records in batches of size n.
func (e *env) batches(ctx context.Context, records []sdk.Record, n int) error {
	for i := 0; i < len(records); i += n {
		if _, err := e.write(ctx, records[i:min(i+n, len(records))]...); err != nil {
			return err
		}
	}
	return nil
}
