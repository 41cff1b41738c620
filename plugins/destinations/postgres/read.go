package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Keys implements sdk.Destination: one short query per page over the
// (tenant, key) primary key, whose "C" collation is byte-wise order.
func (d *Destination) Keys(ctx context.Context, req sdk.KeysRequest) ([]sdk.KeyEntry, error) {
	pool, err := d.ready(ctx)
	if err != nil {
		return nil, err
	}
	t, err := d.table(ctx, pool, req.Object)
	if err != nil {
		return nil, fmt.Errorf("postgres keys %s/%s: %w", req.Tenant, req.Object, err)
	}
	if t == nil || req.Limit <= 0 {
		return nil, nil
	}
	rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT key, source_updated_at, siphon_generation, siphon_seq, content_hash
FROM %s WHERE tenant = $1 AND key > $2 ORDER BY key COLLATE "C" LIMIT $3`, d.qualified(req.Object)),
		req.Tenant, req.After, req.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres keys %s/%s: %w", req.Tenant, req.Object, err)
	}
	out := make([]sdk.KeyEntry, 0, req.Limit)
	var e sdk.KeyEntry
	_, err = pgx.ForEachRow(rows, []any{&e.Key, &e.Version.Source, &e.Version.Generation, &e.Version.Seq, &e.ContentHash}, func() error {
		e.Version.Source = e.Version.Source.UTC()
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres keys %s/%s: %w", req.Tenant, req.Object, err)
	}
	return out, nil
}

// Read implements sdk.Destination: live rows and tombstones of keys.
func (d *Destination) Read(ctx context.Context, tenant, object string, keys []string) ([]sdk.Row, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	pool, err := d.ready(ctx)
	if err != nil {
		return nil, err
	}
	t, err := d.table(ctx, pool, object)
	if err != nil {
		return nil, fmt.Errorf("postgres read %s/%s: %w", tenant, object, err)
	}
	var out []sdk.Row
	if t != nil {
		if out, err = d.readRows(ctx, pool, tenant, t, keys); err != nil {
			return nil, fmt.Errorf("postgres read %s/%s: %w", tenant, object, err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT key, source_updated_at, siphon_generation, siphon_seq FROM `+d.tombstones()+`
WHERE tenant = $1 AND object = $2 AND key = ANY($3)`, tenant, object, keys)
	if err != nil {
		return nil, fmt.Errorf("postgres read %s/%s: %w", tenant, object, err)
	}
	row := sdk.Row{Tombstone: true}
	_, err = pgx.ForEachRow(rows, []any{&row.Key, &row.Version.Source, &row.Version.Generation, &row.Version.Seq}, func() error {
		row.Version.Source = row.Version.Source.UTC()
		out = append(out, row)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres read %s/%s: %w", tenant, object, err)
	}
	return out, nil
}

func (d *Destination) readRows(ctx context.Context, q querier, tenant string, t *table, keys []string) ([]sdk.Row, error) {
	cols := []string{"key", "source_updated_at", "siphon_generation", "siphon_seq", "content_hash"}
	for _, f := range t.fields {
		cols = append(cols, layout.Quote(f.Name))
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE tenant = $1 AND key = ANY($2)`,
		strings.Join(cols, ", "), d.qualified(t.object)), tenant, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sdk.Row
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		row := sdk.Row{Fields: make(map[string]any, len(t.fields))}
		var ok [5]bool
		row.Key, ok[0] = vals[0].(string)
		row.Version.Source, ok[1] = vals[1].(time.Time)
		row.Version.Generation, ok[2] = vals[2].(int64)
		row.Version.Seq, ok[3] = vals[3].(int64)
		row.ContentHash, ok[4] = vals[4].(string)
		if ok != [5]bool{true, true, true, true, true} {
			return nil, fmt.Errorf("unexpected bookkeeping column types %T %T %T %T %T", vals[0], vals[1], vals[2], vals[3], vals[4])
		}
		row.Version.Source = row.Version.Source.UTC()
		for i, f := range t.fields {
			if row.Fields[f.Name], err = fromPostgres(vals[5+i]); err != nil {
				return nil, fmt.Errorf("%q field %s: %w", row.Key, f.Name, err)
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
