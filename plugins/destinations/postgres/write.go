package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Write implements sdk.Destination, in one transaction:
//
//  1. an advisory lock per (tenant, object) of the batch, taken in a fixed
//     order, so the versions each statement reads cannot change before it
//     writes (concurrent batches of other tenants or objects proceed);
//  2. the bulk path: plain upserts of keys that only upserts touch are
//     copied into a staging table and applied by one INSERT … SELECT
//     DISTINCT ON (key) … ON CONFLICT DO UPDATE whose WHERE is the version
//     rule, skipping keys whose tombstone is at or after them;
//  3. the per-record path, in version order under sdk.Decide: deletes,
//     compare-and-set writes, keys that also see a delete or a
//     compare-and-set in the batch; its statements are sent as one
//     pipeline.
//
// Values a column cannot take are rejected per record before anything is
// sent. If a statement still fails on data (a constraint, a value out of
// range), the transaction is rolled back and the batch replayed with every
// record on the per-record path, each in a savepoint, so one bad record is
// rejected and the rest land. Errors about the connection or the server
// fail the batch (retryable); a schema mismatch fails it with
// sdk.Permanent.
func (d *Destination) Write(ctx context.Context, b sdk.Batch) ([]sdk.Result, error) {
	results := make([]sdk.Result, len(b.Records))
	if len(b.Records) == 0 {
		return results, nil
	}
	pool, err := d.ready(ctx)
	if err != nil {
		return nil, err
	}
	wb := &batchWriter{d: d, tenant: b.Tenant, recs: layout.Normalize(b.Records), results: results,
		rows: make([][]any, len(b.Records)), now: d.now().UTC(), tables: map[string]*table{}}
	if err := wb.prepare(ctx, pool); err != nil {
		return nil, wb.fail(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		wb.tx = tx
		return wb.run(ctx, false)
	})
	if errors.Is(err, errReplay) {
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			wb.tx = tx
			return wb.run(ctx, true)
		})
	}
	if err != nil {
		return nil, wb.fail(err)
	}
	return results, nil
}

// errReplay means a statement failed on one record's data: the batch is
// replayed record by record.
var errReplay = errors.New("a record was rejected by the database")

// batchWriter is one Write in progress.
type batchWriter struct {
	d       *Destination
	tx      pgx.Tx
	tenant  string
	recs    []sdk.Record
	results []sdk.Result
	rows    [][]any // COPY row of each valid upsert
	now     time.Time
	tables  map[string]*table
	bulk    map[string][]int // object -> records on the bulk path
	single  []int            // records on the per-record path
}

// fail wraps a batch failure. A statement the schema does not match (a
// table or column changed by hand) is permanent, and the cached tables are
// dropped so the next batch sees the schema as it is now.
func (wb *batchWriter) fail(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && strings.HasPrefix(pg.Code, "42") {
		for object := range wb.tables {
			wb.d.forget(object)
		}
		err = sdk.Permanent(err)
	}
	return fmt.Errorf("postgres write %s: %w", wb.tenant, err)
}

// prepare loads the tables, converts and checks every record's values
// (rejecting those that do not fit) and splits the batch into the bulk and
// per-record paths.
func (wb *batchWriter) prepare(ctx context.Context, q querier) error {
	for _, r := range wb.recs {
		if _, ok := wb.tables[r.Object]; ok {
			continue
		}
		t, err := wb.d.table(ctx, q, r.Object)
		if err != nil {
			return err
		}
		if t != nil && unknownFields(wb.recs, t) {
			// Another process may have added columns since the cache was filled.
			wb.d.forget(r.Object)
			if t, err = wb.d.table(ctx, q, r.Object); err != nil {
				return err
			}
		}
		wb.tables[r.Object] = t
	}
	type okey struct{ object, key string }
	plain := map[okey]bool{} // every record of the key is a plain upsert
	for i, r := range wb.recs {
		t := wb.tables[r.Object]
		if t == nil {
			wb.results[i] = rejected(fmt.Sprintf("object %s does not exist; EnsureObject creates it", r.Object))
			continue
		}
		if err := layout.CheckKey(r.Key); err != nil {
			wb.results[i] = rejected(err.Error())
			continue
		}
		if r.Op == sdk.OpUpsert {
			row, err := wb.copyRow(t, i)
			if err != nil {
				wb.results[i] = rejected(err.Error())
				continue
			}
			wb.rows[i] = row
		}
		k := okey{r.Object, r.Key}
		p, seen := plain[k]
		plain[k] = (p || !seen) && r.Op == sdk.OpUpsert && r.Expect == nil
	}
	wb.bulk = map[string][]int{}
	for i, r := range wb.recs {
		if wb.results[i].Status != sdk.StatusOK {
			continue
		}
		if plain[okey{r.Object, r.Key}] {
			wb.bulk[r.Object] = append(wb.bulk[r.Object], i)
		} else {
			wb.single = append(wb.single, i)
		}
	}
	return nil
}

func unknownFields(recs []sdk.Record, t *table) bool {
	for _, r := range recs {
		if r.Object != t.object {
			continue
		}
		for name := range r.Fields {
			if _, ok := t.types[name]; !ok {
				return true
			}
		}
	}
	return false
}

// copyRow is record i as a row of the temporary table: its index, the
// bookkeeping columns, then the fields in table order.
func (wb *batchWriter) copyRow(t *table, i int) ([]any, error) {
	r := wb.recs[i]
	for name := range r.Fields {
		if _, ok := t.types[name]; !ok {
			return nil, fmt.Errorf("field %s is not a column of %s; EnsureObject adds it", name, r.Object)
		}
	}
	row := make([]any, 0, 8+len(t.fields))
	row = append(row, int32(i), wb.tenant, r.Key, r.Version.Source, r.ContentHash, wb.now, r.Version.Generation, r.Version.Seq)
	for _, f := range t.fields {
		v, err := layout.Coerce(f.Name, f.Type, r.Fields[f.Name])
		if err != nil {
			return nil, err
		}
		row = append(row, v)
	}
	return row, nil
}

// run applies the batch in wb.tx. careful puts every record on the
// per-record path, each in its own savepoint.
func (wb *batchWriter) run(ctx context.Context, careful bool) error {
	objects := make([]string, 0, len(wb.bulk))
	for o := range wb.bulk {
		objects = append(objects, o)
	}
	sort.Strings(objects)
	single := wb.single
	if careful {
		for _, o := range objects {
			single = append(single, wb.bulk[o]...)
		}
		objects = nil
	}
	if err := wb.lock(ctx, objects); err != nil {
		return err
	}
	for _, object := range objects {
		err := wb.bulkUpsert(ctx, wb.tables[object], wb.bulk[object])
		if isRecordError(err) {
			return errReplay
		}
		if err != nil {
			return fmt.Errorf("%s: %w", object, err)
		}
	}
	if err := wb.singles(ctx, single, careful); err != nil {
		return err
	}
	return wb.purge(ctx)
}

// lock takes the batch's (tenant, object) advisory locks in ascending order,
// so two batches never wait on each other in a cycle, and makes sure the
// staging tables of the bulk objects exist: one round trip.
func (wb *batchWriter) lock(ctx context.Context, bulk []string) error {
	seen := map[int64]bool{}
	var ids []int64
	for _, r := range wb.recs {
		id := lockID(wb.tenant, r.Object)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	batch := &pgx.Batch{}
	for _, id := range ids {
		batch.Queue(`SELECT pg_advisory_xact_lock($1)`, id)
	}
	for _, object := range bulk {
		t := wb.tables[object]
		// A temporary table lives as long as the pooled connection and
		// empties itself at commit, so a batch costs no catalog changes.
		batch.Queue(fmt.Sprintf(`CREATE TEMPORARY TABLE IF NOT EXISTS %s (siphon_ord int NOT NULL, LIKE %s) ON COMMIT DELETE ROWS`,
			wb.staging(t), wb.d.qualified(object)))
	}
	if err := wb.tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// staging names the temporary table of t's current columns (a new column
// means a new staging table).
func (wb *batchWriter) staging(t *table) string {
	h := fnv.New64a()
	h.Write([]byte(wb.d.schema + "\x00" + t.object))
	for _, f := range t.fields {
		h.Write([]byte("\x00" + f.Name + "\x00" + string(f.Type)))
	}
	return fmt.Sprintf("siphon_in_%016x", h.Sum64())
}

func lockID(tenant, object string) int64 {
	h := fnv.New64a()
	h.Write([]byte("siphon\x00" + tenant + "\x00" + object))
	return int64(h.Sum64())
}

// bulkUpsert copies records idx of one object into its staging table and
// applies them with one statement, which returns the keys whose newest
// record was applied.
func (wb *batchWriter) bulkUpsert(ctx context.Context, t *table, idx []int) error {
	tx, tmp, target := wb.tx, wb.staging(t), wb.d.qualified(t.object)
	cols := append(append([]string{"siphon_ord"}, layout.Reserved...), fieldNames(t)...)
	rows := make([][]any, len(idx))
	for j, i := range idx {
		rows[j] = wb.rows[i]
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{tmp}, cols, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	quoted := make([]string, 0, len(cols)-1)
	sets := make([]string, 0, len(cols)-3)
	for j, c := range cols[1:] {
		q := layout.Quote(c)
		quoted = append(quoted, q)
		if j >= 2 {
			sets = append(sets, q+" = excluded."+q)
		}
	}
	list := strings.Join(quoted, ", ")
	stmt := fmt.Sprintf(`WITH src AS (
	SELECT DISTINCT ON (i.key) i.* FROM %[1]s i
	ORDER BY i.key, i.source_updated_at DESC, i.siphon_generation DESC, i.siphon_seq DESC, i.siphon_ord DESC
), up AS (
	INSERT INTO %[2]s AS t (%[3]s)
	SELECT %[3]s FROM src s
	WHERE NOT EXISTS (SELECT 1 FROM %[4]s tb
		WHERE tb.tenant = $1 AND tb.object = $2 AND tb.key = s.key AND tb.source_updated_at >= s.source_updated_at)
	ON CONFLICT (tenant, key) DO UPDATE SET %[5]s
	WHERE excluded.source_updated_at > t.source_updated_at
		OR (excluded.source_updated_at = t.source_updated_at
			AND excluded.content_hash <> t.content_hash
			AND (excluded.siphon_generation, excluded.siphon_seq) > (t.siphon_generation, t.siphon_seq))
	RETURNING t.key
), untomb AS (
	DELETE FROM %[4]s tb USING up WHERE tb.tenant = $1 AND tb.object = $2 AND tb.key = up.key
)
SELECT key FROM up`, tmp, target, list, wb.d.tombstones(), strings.Join(sets, ", "))
	res, err := tx.Query(ctx, stmt, wb.tenant, t.object)
	if err != nil {
		return err
	}
	appliedKeys, err := pgx.CollectRows(res, pgx.RowTo[string])
	if err != nil {
		return err
	}
	// The record DISTINCT ON chose per key: the newest, the later in the
	// batch among equals.
	winner := map[string]int{}
	for _, i := range idx {
		r := wb.recs[i]
		if w, ok := winner[r.Key]; !ok || r.Version.Compare(wb.recs[w].Version) >= 0 {
			winner[r.Key] = i
		}
	}
	for _, i := range idx {
		wb.results[i] = sdk.Result{Status: sdk.StatusOK, Skipped: true}
	}
	for _, k := range appliedKeys {
		wb.results[winner[k]] = sdk.Result{Status: sdk.StatusOK}
	}
	return nil
}

// purge removes tombstones past retention, at most once per
// layout.PurgeEvery.
func (wb *batchWriter) purge(ctx context.Context) error {
	wb.d.mu.Lock()
	due := wb.d.purges.Due(wb.now)
	wb.d.mu.Unlock()
	if !due {
		return nil
	}
	_, err := wb.tx.Exec(ctx, `DELETE FROM `+wb.d.tombstones()+` WHERE deleted_at < $1`,
		wb.now.Add(-layout.TombstoneRetention))
	if err != nil {
		return fmt.Errorf("purge tombstones: %w", err)
	}
	return nil
}

// isRecordError reports whether a statement failed on the data it was given
// (data exception, integrity violation, a value too large), as opposed to
// the connection, the server or the schema.
func isRecordError(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	class := pg.Code[:2]
	return class == "22" || class == "23" || class == "54"
}

func fieldNames(t *table) []string {
	out := make([]string, len(t.fields))
	for i, f := range t.fields {
		out[i] = f.Name
	}
	return out
}

func rejected(msg string) sdk.Result {
	return sdk.Result{Status: sdk.StatusPermanent, Message: msg}
}
