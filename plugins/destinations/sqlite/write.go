package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
	sqlite3 "modernc.org/sqlite/lib"
)

// Write implements sdk.Destination. The whole batch is one BEGIN IMMEDIATE
// transaction on the single writer connection, so the held versions it
// reads cannot change before it writes. Records are applied in version
// order under sdk.Decide. A record the database or its column types reject
// gets StatusPermanent with the reason and the rest of the batch commits
// (a failed sqlite statement undoes only itself); an error that is not
// about one record (disk full, I/O, a lock held past the busy timeout)
// fails the batch.
func (d *Destination) Write(ctx context.Context, b sdk.Batch) ([]sdk.Result, error) {
	results := make([]sdk.Result, len(b.Records))
	if len(b.Records) == 0 {
		return results, nil
	}
	w, _, err := d.open()
	if err != nil {
		return nil, err
	}
	d.prepareStatements(ctx, w, objectsOf(b.Records))
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite write %s: begin: %w", b.Tenant, err)
	}
	defer tx.Rollback()
	wb := &batchWriter{d: d, tx: tx, tenant: b.Tenant, recs: layout.Normalize(b.Records), results: results, now: d.now().UTC()}
	wb.nowText = layout.FormatTime(wb.now)
	if err := wb.run(ctx); err != nil {
		return nil, wb.fail(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite write %s: commit: %w", b.Tenant, err)
	}
	return results, nil
}

// fail marks a batch failure. SQLITE_ERROR from these fixed statements
// means the table no longer matches them (changed by hand): that is
// permanent, and the cached tables are dropped so the next batch sees the
// schema as it is now.
func (wb *batchWriter) fail(err error) error {
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code()&0xff == sqlite3.SQLITE_ERROR {
		for _, r := range wb.recs {
			wb.d.forget(r.Object)
		}
		return sdk.Permanent(err)
	}
	return err
}

// batchWriter is one Write in progress.
type batchWriter struct {
	d       *Destination
	tx      *sql.Tx
	tenant  string
	recs    []sdk.Record
	results []sdk.Result
	now     time.Time
	nowText string // now as stored, formatted once for every row of the batch
	objects map[string]*objectWriter
}

// objectWriter holds one object's table, prepared statements and the
// versions held for the batch's keys, kept current as records apply.
type objectWriter struct {
	t       *table
	held    map[string]sdk.Held
	upsert  *sql.Stmt
	delRow  *sql.Stmt
	tomb    *sql.Stmt
	delTomb *sql.Stmt
}

func (wb *batchWriter) run(ctx context.Context) error {
	wb.objects = map[string]*objectWriter{}
	defer wb.closeStatements()
	keys := map[string][]string{}
	for _, r := range wb.recs {
		keys[r.Object] = append(keys[r.Object], r.Key)
	}
	for object, ks := range keys {
		ow, err := wb.prepareObject(context.WithoutCancel(ctx), object, ks)
		if err != nil {
			return fmt.Errorf("sqlite write %s/%s: %w", wb.tenant, object, err)
		}
		wb.objects[object] = ow
	}
	// The statements run under a context without cancellation: the driver
	// starts a goroutine per statement to watch a cancellable one, which
	// cost more CPU than the statement itself. Cancellation still ends the
	// batch between records, here, and the transaction's own context rolls
	// it back; a statement inside the transaction never waits for a lock
	// (BEGIN IMMEDIATE took it), so none runs long enough to need an
	// interrupt.
	exec := context.WithoutCancel(ctx)
	for _, i := range layout.ApplyOrder(wb.recs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := wb.apply(exec, i); err != nil {
			r := wb.recs[i]
			return fmt.Errorf("sqlite write %s/%s %q: %w", wb.tenant, r.Object, r.Key, err)
		}
	}
	return wb.purge(ctx)
}

func (wb *batchWriter) prepareObject(ctx context.Context, object string, keys []string) (*objectWriter, error) {
	t, err := wb.d.table(ctx, wb.tx, object)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil
	}
	if wb.unknownFields(t, object) {
		// Another process may have added columns since the cache was filled.
		wb.d.forget(object)
		if t, err = wb.d.table(ctx, wb.tx, object); err != nil || t == nil {
			return nil, err
		}
	}
	ow := &objectWriter{t: t}
	wb.d.mu.Lock()
	cached := t.stmts
	wb.d.mu.Unlock()
	if cached == nil {
		cached = &statements{}
	}
	if ow.held, err = loadHeld(ctx, wb.tx, cached, wb.tenant, object, keys); err != nil {
		return nil, err
	}
	ws := writeStatements(t)
	stmts := []struct {
		dst    **sql.Stmt
		cached *sql.Stmt
		sql    string
	}{
		{&ow.upsert, cached.upsert, ws.upsert},
		{&ow.delRow, cached.delRow, ws.delRow},
		{&ow.tomb, cached.tomb, ws.tomb},
		{&ow.delTomb, cached.delTomb, ws.delTomb},
	}
	for _, s := range stmts {
		if *s.dst, err = txStmt(ctx, wb.tx, s.cached, s.sql); err != nil {
			ow.close()
			return nil, err
		}
	}
	return ow, nil
}

// unknownFields reports whether a record of object sets a field t lacks.
func (wb *batchWriter) unknownFields(t *table, object string) bool {
	for _, r := range wb.recs {
		if r.Object != object {
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

func (wb *batchWriter) closeStatements() {
	for _, ow := range wb.objects {
		if ow != nil {
			ow.close()
		}
	}
}

func (ow *objectWriter) close() {
	for _, s := range []*sql.Stmt{ow.upsert, ow.delRow, ow.tomb, ow.delTomb} {
		if s != nil {
			s.Close()
		}
	}
}

// apply decides and writes record i. It returns an error only when the
// batch must fail; a rejected record is recorded in its result.
func (wb *batchWriter) apply(ctx context.Context, i int) error {
	rec := wb.recs[i]
	ow := wb.objects[rec.Object]
	if ow == nil {
		wb.results[i] = rejected(fmt.Sprintf("object %s does not exist; EnsureObject creates it", rec.Object))
		return nil
	}
	if err := layout.CheckKey(rec.Key); err != nil {
		wb.results[i] = rejected(err.Error())
		return nil
	}
	h := ow.held[rec.Key]
	switch sdk.Decide(h, rec) {
	case sdk.Skip:
		wb.results[i] = sdk.Result{Status: sdk.StatusOK, Skipped: true}
		return nil
	case sdk.Conflict:
		wb.results[i] = sdk.Result{Status: sdk.StatusConflict, Message: layout.ConflictMessage(h, *rec.Expect)}
		return nil
	}
	var err error
	if rec.Op == sdk.OpDelete {
		err = wb.delete(ctx, ow, rec)
	} else {
		err = wb.upsert(ctx, ow, rec, h)
	}
	var bad recordError
	switch {
	case errors.As(err, &bad):
		wb.results[i] = rejected(bad.Error())
		return nil
	case err != nil:
		return err
	}
	ow.held[rec.Key] = sdk.Held{Exists: true, Tombstone: rec.Op == sdk.OpDelete, Version: rec.Version, ContentHash: rec.ContentHash}
	wb.results[i] = sdk.Result{Status: sdk.StatusOK}
	return nil
}

func (wb *batchWriter) upsert(ctx context.Context, ow *objectWriter, rec sdk.Record, h sdk.Held) error {
	args := make([]any, 0, len(layout.Reserved)+len(ow.t.fields))
	args = append(args, wb.tenant, rec.Key, layout.FormatTime(rec.Version.Source), rec.ContentHash,
		wb.nowText, rec.Version.Generation, rec.Version.Seq)
	for name := range rec.Fields {
		if _, ok := ow.t.types[name]; !ok {
			return recordError{fmt.Errorf("field %s is not a column of %s; EnsureObject adds it", name, rec.Object)}
		}
	}
	for _, f := range ow.t.fields {
		v, err := toSQLite(f, rec.Fields[f.Name])
		if err != nil {
			return recordError{err}
		}
		args = append(args, v)
	}
	if _, err := ow.upsert.ExecContext(ctx, args...); err != nil {
		return classify(err)
	}
	if h.Tombstone {
		if _, err := ow.delTomb.ExecContext(ctx, wb.tenant, rec.Object, rec.Key); err != nil {
			return err
		}
	}
	return nil
}

func (wb *batchWriter) delete(ctx context.Context, ow *objectWriter, rec sdk.Record) error {
	if _, err := ow.tomb.ExecContext(ctx, wb.tenant, rec.Object, rec.Key, layout.FormatTime(rec.Version.Source),
		rec.Version.Generation, rec.Version.Seq, wb.nowText); err != nil {
		return classify(err)
	}
	_, err := ow.delRow.ExecContext(ctx, wb.tenant, rec.Key)
	return err
}

// purge removes expired tombstones, at most once per layout.PurgeEvery.
func (wb *batchWriter) purge(ctx context.Context) error {
	wb.d.mu.Lock()
	due := wb.d.purges.Due(wb.now)
	wb.d.mu.Unlock()
	if !due {
		return nil
	}
	cutoff := layout.FormatTime(wb.now.Add(-layout.TombstoneRetention))
	if _, err := wb.tx.ExecContext(ctx, `DELETE FROM `+layout.TombstoneTable+` WHERE deleted_at < ?`, cutoff); err != nil {
		return fmt.Errorf("sqlite purge tombstones: %w", err)
	}
	return nil
}

// loadHeld reads the rows and tombstones held for keys of (tenant, object)
// with cached's statements where it has them.
func loadHeld(ctx context.Context, tx *sql.Tx, cached *statements, tenant, object string, keys []string) (map[string]sdk.Held, error) {
	held := make(map[string]sdk.Held, len(keys))
	st, err := txStmt(ctx, tx, cached.anyTomb, anyTombSQL)
	if err != nil {
		return nil, fmt.Errorf("read held tombstones: %w", err)
	}
	var tombs bool
	if err := st.QueryRowContext(ctx, tenant, object).Scan(&tombs); err != nil {
		return nil, fmt.Errorf("read held tombstones: %w", err)
	}
	for _, chunk := range chunks(keys) {
		n := heldSize(len(chunk))
		for len(chunk) < n {
			chunk = append(chunk, chunk[0])
		}
		st, err := txStmt(ctx, tx, cached.heldRows[n], heldRowsSQL(object, n))
		if err != nil {
			return nil, fmt.Errorf("read held rows: %w", err)
		}
		rows, err := st.QueryContext(ctx, append([]any{tenant}, chunk...)...)
		if err != nil {
			return nil, fmt.Errorf("read held rows: %w", err)
		}
		if err := scanHeld(rows, held, false); err != nil {
			return nil, err
		}
		if !tombs {
			continue
		}
		if st, err = txStmt(ctx, tx, cached.heldTombs[n], heldTombsSQL(n)); err != nil {
			return nil, fmt.Errorf("read held tombstones: %w", err)
		}
		if rows, err = st.QueryContext(ctx, append([]any{tenant, object}, chunk...)...); err != nil {
			return nil, fmt.Errorf("read held tombstones: %w", err)
		}
		if err := scanHeld(rows, held, true); err != nil {
			return nil, err
		}
	}
	return held, nil
}

func scanHeld(rows *sql.Rows, held map[string]sdk.Held, tomb bool) error {
	defer rows.Close()
	for rows.Next() {
		var key, src, hash string
		var h sdk.Held
		if err := rows.Scan(&key, &src, &h.Version.Generation, &h.Version.Seq, &hash); err != nil {
			return fmt.Errorf("read held versions: %w", err)
		}
		t, err := layout.ParseTime(src)
		if err != nil {
			return fmt.Errorf("read held version of %q: %w", key, err)
		}
		h.Exists, h.Tombstone, h.Version.Source, h.ContentHash = true, tomb, t, hash
		held[key] = h
	}
	return rows.Err()
}

// maxVars keeps IN lists well under sqlite's bound on statement variables.
const maxVars = 500

// chunks splits keys into distinct groups of at most maxVars, as []any.
func chunks(keys []string) [][]any {
	seen := make(map[string]bool, len(keys))
	var out [][]any
	var cur []any
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		cur = append(cur, k)
		if len(cur) == maxVars {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// objectsOf lists the distinct objects of recs.
func objectsOf(recs []sdk.Record) []string {
	var out []string
	for _, r := range recs {
		if !slices.Contains(out, r.Object) {
			out = append(out, r.Object)
		}
	}
	return out
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
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
