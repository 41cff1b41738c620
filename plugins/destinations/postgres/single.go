package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// singles applies records idx in version order under sdk.Decide. The
// decisions are made here from the held versions, so the statements need
// no answers and go as one pipeline; careful sends them one record at a
// time, each upsert in a savepoint so that a record the database rejects
// undoes only itself.
func (wb *batchWriter) singles(ctx context.Context, idx []int, careful bool) error {
	if len(idx) == 0 {
		return nil
	}
	sub := make([]sdk.Record, len(idx))
	keys := map[string][]string{}
	for j, i := range idx {
		sub[j] = wb.recs[i]
		keys[sub[j].Object] = append(keys[sub[j].Object], sub[j].Key)
	}
	held := map[string]map[string]sdk.Held{}
	for object, ks := range keys {
		h, err := wb.loadHeld(ctx, wb.tables[object], ks)
		if err != nil {
			return fmt.Errorf("%s: read held versions: %w", object, err)
		}
		held[object] = h
	}
	pipe := &pgx.Batch{}
	for _, j := range layout.ApplyOrder(sub) {
		i := idx[j]
		r := wb.recs[i]
		h := held[r.Object][r.Key]
		switch sdk.Decide(h, r) {
		case sdk.Skip:
			wb.results[i] = sdk.Result{Status: sdk.StatusOK, Skipped: true}
			continue
		case sdk.Conflict:
			wb.results[i] = sdk.Result{Status: sdk.StatusConflict, Message: layout.ConflictMessage(h, *r.Expect)}
			continue
		}
		b := &pgx.Batch{}
		if r.Op == sdk.OpDelete {
			wb.queueDelete(b, wb.tables[r.Object], r)
		} else {
			wb.queueUpsert(b, wb.tables[r.Object], i, h)
		}
		if careful {
			err := pgx.BeginFunc(ctx, wb.tx, func(sp pgx.Tx) error { return sp.SendBatch(ctx, b).Close() })
			if isRecordError(err) {
				wb.results[i] = rejected(err.Error())
				continue
			}
			if err != nil {
				return fmt.Errorf("%s %q: %w", r.Object, r.Key, err)
			}
		} else {
			pipe.QueuedQueries = append(pipe.QueuedQueries, b.QueuedQueries...)
		}
		held[r.Object][r.Key] = sdk.Held{Exists: true, Tombstone: r.Op == sdk.OpDelete, Version: r.Version, ContentHash: r.ContentHash}
		wb.results[i] = sdk.Result{Status: sdk.StatusOK}
	}
	if pipe.Len() == 0 {
		return nil
	}
	err := wb.tx.SendBatch(ctx, pipe).Close()
	if isRecordError(err) {
		return errReplay
	}
	return err
}

func (wb *batchWriter) queueUpsert(b *pgx.Batch, t *table, i int, h sdk.Held) {
	cols := append(append([]string(nil), layout.Reserved...), fieldNames(t)...)
	quoted := make([]string, len(cols))
	params := make([]string, len(cols))
	sets := make([]string, 0, len(cols))
	for j, c := range cols {
		quoted[j] = layout.Quote(c)
		params[j] = fmt.Sprintf("$%d", j+1)
		if j >= 2 {
			sets = append(sets, quoted[j]+" = excluded."+quoted[j])
		}
	}
	b.Queue(fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (tenant, key) DO UPDATE SET %s",
		wb.d.qualified(t.object), strings.Join(quoted, ", "), strings.Join(params, ", "), strings.Join(sets, ", ")),
		wb.rows[i][1:]...)
	if h.Tombstone {
		r := wb.recs[i]
		b.Queue(`DELETE FROM `+wb.d.tombstones()+` WHERE tenant = $1 AND object = $2 AND key = $3`, wb.tenant, r.Object, r.Key)
	}
}

func (wb *batchWriter) queueDelete(b *pgx.Batch, t *table, r sdk.Record) {
	b.Queue(`INSERT INTO `+wb.d.tombstones()+`
(tenant, object, key, source_updated_at, siphon_generation, siphon_seq, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (tenant, object, key) DO UPDATE SET source_updated_at = excluded.source_updated_at,
siphon_generation = excluded.siphon_generation, siphon_seq = excluded.siphon_seq, deleted_at = excluded.deleted_at`,
		wb.tenant, r.Object, r.Key, r.Version.Source, r.Version.Generation, r.Version.Seq, wb.now)
	b.Queue(fmt.Sprintf(`DELETE FROM %s WHERE tenant = $1 AND key = $2`, wb.d.qualified(t.object)), wb.tenant, r.Key)
}

// loadHeld reads the rows and tombstones held for keys of one object.
func (wb *batchWriter) loadHeld(ctx context.Context, t *table, keys []string) (map[string]sdk.Held, error) {
	held := make(map[string]sdk.Held, len(keys))
	queries := []struct {
		sql  string
		args []any
		tomb bool
	}{
		{fmt.Sprintf(`SELECT key, source_updated_at, siphon_generation, siphon_seq, content_hash FROM %s
WHERE tenant = $1 AND key = ANY($2)`, wb.d.qualified(t.object)), []any{wb.tenant, keys}, false},
		{`SELECT key, source_updated_at, siphon_generation, siphon_seq, '' FROM ` + wb.d.tombstones() + `
WHERE tenant = $1 AND object = $2 AND key = ANY($3)`, []any{wb.tenant, t.object, keys}, true},
	}
	for _, q := range queries {
		rows, err := wb.tx.Query(ctx, q.sql, q.args...)
		if err != nil {
			return nil, err
		}
		var key string
		h := sdk.Held{Exists: true, Tombstone: q.tomb}
		_, err = pgx.ForEachRow(rows, []any{&key, &h.Version.Source, &h.Version.Generation, &h.Version.Seq, &h.ContentHash}, func() error {
			h.Version.Source = h.Version.Source.UTC()
			held[key] = h
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return held, nil
}
