package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Keys implements sdk.Destination from the index, in byte-wise order.
func (d *Destination) Keys(_ context.Context, req sdk.KeysRequest) ([]sdk.KeyEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, err := d.readable(req.Tenant, req.Object)
	if err != nil || l == nil || req.Limit <= 0 {
		return nil, err
	}
	keys := l.sortedKeys()
	i := sort.SearchStrings(keys, req.After)
	if i < len(keys) && keys[i] == req.After {
		i++
	}
	out := make([]sdk.KeyEntry, 0, min(req.Limit, len(keys)-i))
	for ; i < len(keys) && len(out) < req.Limit; i++ {
		e := l.index[keys[i]]
		if !e.tomb {
			out = append(out, sdk.KeyEntry{Key: keys[i], Version: e.version, ContentHash: e.hash})
		}
	}
	return out, nil
}

// readable returns the log of (tenant, object) for reading, nil when there
// is none; d.mu must be held.
func (d *Destination) readable(tenant, object string) (*changeLog, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	if checkTenant(tenant) != nil || layout.CheckObject(object) != nil {
		return nil, nil // no such name can have been written
	}
	l, err := d.log(logID{tenant, object}, false)
	if err != nil {
		return nil, fmt.Errorf("jsonl read %s/%s: %w", tenant, object, err)
	}
	return l, nil
}

// Read implements sdk.Destination: each live key's latest line is read
// back from the log.
func (d *Destination) Read(_ context.Context, tenant, object string, keys []string) ([]sdk.Row, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, err := d.readable(tenant, object)
	if err != nil || l == nil {
		return nil, err
	}
	schema, err := d.schema(object)
	if err != nil {
		return nil, err
	}
	var out []sdk.Row
	seen := map[string]bool{}
	for _, k := range keys {
		e, ok := l.index[k]
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		row := sdk.Row{Key: k, Version: e.version, ContentHash: e.hash, Tombstone: e.tomb}
		if !e.tomb {
			ln, err := l.readLine(e)
			if err != nil {
				return nil, fmt.Errorf("jsonl read %s/%s %q: %w", tenant, object, k, err)
			}
			row.Fields = make(map[string]any, len(ln.Fields))
			for name, raw := range ln.Fields {
				if row.Fields[name], err = fieldValue(schema[name], raw); err != nil {
					return nil, fmt.Errorf("jsonl read %s/%s %q field %s: %w", tenant, object, k, name, err)
				}
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// fieldValue reads a field back into the record value forms: whole numbers
// that fit are int64 (like the SQL destinations' numeric columns).
func fieldValue(ft sdk.FieldType, raw json.RawMessage) (any, error) {
	switch ft {
	case sdk.TypeTimestamp:
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil || s == nil {
			return nil, err
		}
		return layout.ParseTime(*s)
	case sdk.TypeNumber:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var n any
		if err := dec.Decode(&n); err != nil {
			return nil, err
		}
		num, ok := n.(json.Number)
		if !ok {
			return n, nil
		}
		if i, err := num.Int64(); err == nil {
			return i, nil
		}
		return num.Float64()
	}
	return layout.DecodeJSON(raw)
}
