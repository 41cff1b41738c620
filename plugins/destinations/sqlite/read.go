package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Keys implements sdk.Destination: one short read on the reader pool per
// page, walking the (tenant, key) primary key, whose BINARY collation is
// byte-wise order.
func (d *Destination) Keys(ctx context.Context, req sdk.KeysRequest) ([]sdk.KeyEntry, error) {
	_, r, err := d.open()
	if err != nil {
		return nil, err
	}
	t, err := d.table(ctx, r, req.Object)
	if err != nil {
		return nil, fmt.Errorf("sqlite keys %s/%s: %w", req.Tenant, req.Object, err)
	}
	if t == nil || req.Limit <= 0 {
		return nil, nil
	}
	rows, err := r.QueryContext(ctx, fmt.Sprintf(
		`SELECT key, source_updated_at, siphon_generation, siphon_seq, content_hash FROM %s
WHERE tenant = ? AND key > ? ORDER BY key LIMIT ?`, layout.Quote(req.Object)),
		req.Tenant, req.After, req.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite keys %s/%s: %w", req.Tenant, req.Object, err)
	}
	defer rows.Close()
	out := make([]sdk.KeyEntry, 0, req.Limit)
	for rows.Next() {
		var e sdk.KeyEntry
		var src string
		if err := rows.Scan(&e.Key, &src, &e.Version.Generation, &e.Version.Seq, &e.ContentHash); err != nil {
			return nil, fmt.Errorf("sqlite keys %s/%s: %w", req.Tenant, req.Object, err)
		}
		if e.Version.Source, err = layout.ParseTime(src); err != nil {
			return nil, fmt.Errorf("sqlite keys %s/%s %q: %w", req.Tenant, req.Object, e.Key, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite keys %s/%s: %w", req.Tenant, req.Object, err)
	}
	return out, nil
}

// Read implements sdk.Destination: live rows and tombstones of keys.
func (d *Destination) Read(ctx context.Context, tenant, object string, keys []string) ([]sdk.Row, error) {
	_, r, err := d.open()
	if err != nil {
		return nil, err
	}
	t, err := d.table(ctx, r, object)
	if err != nil {
		return nil, fmt.Errorf("sqlite read %s/%s: %w", tenant, object, err)
	}
	var out []sdk.Row
	for _, chunk := range chunks(keys) {
		if t != nil {
			if out, err = readRows(ctx, r, tenant, t, chunk, out); err != nil {
				return nil, fmt.Errorf("sqlite read %s/%s: %w", tenant, object, err)
			}
		}
		if out, err = readTombstones(ctx, r, tenant, object, chunk, out); err != nil {
			return nil, fmt.Errorf("sqlite read %s/%s: %w", tenant, object, err)
		}
	}
	return out, nil
}

func readRows(ctx context.Context, r *sql.DB, tenant string, t *table, keys []any, out []sdk.Row) ([]sdk.Row, error) {
	cols := []string{"key", "source_updated_at", "siphon_generation", "siphon_seq", "content_hash"}
	for _, f := range t.fields {
		cols = append(cols, layout.Quote(f.Name))
	}
	rows, err := r.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE tenant = ? AND key IN (%s)`,
		strings.Join(cols, ", "), layout.Quote(t.object), placeholders(len(keys))), append([]any{tenant}, keys...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var row sdk.Row
		var src string
		vals := make([]any, len(t.fields))
		dst := []any{&row.Key, &src, &row.Version.Generation, &row.Version.Seq, &row.ContentHash}
		for i := range vals {
			dst = append(dst, &vals[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		if row.Version.Source, err = layout.ParseTime(src); err != nil {
			return nil, fmt.Errorf("%q: %w", row.Key, err)
		}
		row.Fields = make(map[string]any, len(t.fields))
		for i, f := range t.fields {
			if row.Fields[f.Name], err = fromSQLite(f.Type, vals[i]); err != nil {
				return nil, fmt.Errorf("%q field %s: %w", row.Key, f.Name, err)
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func readTombstones(ctx context.Context, r *sql.DB, tenant, object string, keys []any, out []sdk.Row) ([]sdk.Row, error) {
	rows, err := r.QueryContext(ctx, fmt.Sprintf(
		`SELECT key, source_updated_at, siphon_generation, siphon_seq FROM %s WHERE tenant = ? AND object = ? AND key IN (%s)`,
		layout.TombstoneTable, placeholders(len(keys))), append([]any{tenant, object}, keys...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		row := sdk.Row{Tombstone: true}
		var src string
		if err := rows.Scan(&row.Key, &src, &row.Version.Generation, &row.Version.Seq); err != nil {
			return nil, err
		}
		if row.Version.Source, err = layout.ParseTime(src); err != nil {
			return nil, fmt.Errorf("%q: %w", row.Key, err)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
