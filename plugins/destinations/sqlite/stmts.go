package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
)

// statements are one table's write statements, prepared on the writer pool
// and reused by every batch while the table's columns stay as they are.
// Preparing them took more CPU per batch of a page than writing its rows;
// a batch uses them through Tx.StmtContext, which reuses the statement
// prepared on the one writer connection. Closing them (forget) while a
// batch uses them is safe: database/sql finalizes a statement only when
// the last transaction using it ends.
type statements struct {
	upsert, delRow, tomb, delTomb *sql.Stmt
	anyTomb                       *sql.Stmt
	heldRows, heldTombs           map[int]*sql.Stmt // by IN-list size, see heldSizes
}

// heldSizes are the IN-list sizes held versions are read with: a chunk of
// keys is padded to the next size (repeating a key changes nothing), so a
// few statements serve every batch size. The last is maxVars.
var heldSizes = []int{8, 32, 128, maxVars}

// heldSize is the IN-list size a chunk of n keys is read with.
func heldSize(n int) int {
	for _, s := range heldSizes {
		if n <= s {
			return s
		}
	}
	return maxVars
}

// writeSQL is the text of t's write statements.
type writeSQL struct{ upsert, delRow, tomb, delTomb string }

func writeStatements(t *table) writeSQL {
	q := layout.Quote(t.object)
	cols := append(append([]string(nil), layout.Reserved...), fieldNames(t)...)
	quoted := make([]string, len(cols))
	sets := make([]string, 0, len(cols))
	for i, c := range cols {
		quoted[i] = layout.Quote(c)
		if i >= 2 {
			sets = append(sets, quoted[i]+" = excluded."+quoted[i])
		}
	}
	return writeSQL{
		upsert: fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (tenant, key) DO UPDATE SET %s",
			q, strings.Join(quoted, ", "), placeholders(len(cols)), strings.Join(sets, ", ")),
		delRow: fmt.Sprintf("DELETE FROM %s WHERE tenant = ? AND key = ?", q),
		tomb: `INSERT INTO ` + layout.TombstoneTable + ` (tenant, object, key, source_updated_at, siphon_generation, siphon_seq, deleted_at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, object, key) DO UPDATE SET
source_updated_at = excluded.source_updated_at, siphon_generation = excluded.siphon_generation,
siphon_seq = excluded.siphon_seq, deleted_at = excluded.deleted_at`,
		delTomb: `DELETE FROM ` + layout.TombstoneTable + ` WHERE tenant = ? AND object = ? AND key = ?`,
	}
}

// anyTombSQL tells whether (tenant, object) has any tombstone: one seek on
// the tombstones' primary key, so a batch of a tenant without deletes skips
// reading tombstones key by key.
const anyTombSQL = `SELECT EXISTS (SELECT 1 FROM ` + layout.TombstoneTable + ` WHERE tenant = ? AND object = ?)`

// heldRowsSQL reads the held versions of n keys of object's rows.
func heldRowsSQL(object string, n int) string {
	return fmt.Sprintf(`SELECT key, source_updated_at, siphon_generation, siphon_seq, content_hash FROM %s WHERE tenant = ? AND key IN (%s)`,
		layout.Quote(object), placeholders(n))
}

// heldTombsSQL reads the held versions of n keys of object's tombstones.
func heldTombsSQL(n int) string {
	return fmt.Sprintf(`SELECT key, source_updated_at, siphon_generation, siphon_seq, '' FROM %s WHERE tenant = ? AND object = ? AND key IN (%s)`,
		layout.TombstoneTable, placeholders(n))
}

// prepareStatements prepares, on the writer pool, the statements of each
// cached table of objects that has none yet. It runs before a batch's
// transaction begins, since the pool's one connection is the transaction's
// while it lasts. A table that is not cached, or whose statements fail to
// prepare (changed by hand), is left without: the batch then prepares its
// statements in its transaction and reports what fails there.
func (d *Destination) prepareStatements(ctx context.Context, w *sql.DB, objects []string) {
	for _, object := range objects {
		d.mu.Lock()
		t := d.tables[object]
		ready := t == nil || t.stmts != nil
		d.mu.Unlock()
		if ready {
			continue
		}
		s, err := prepareAll(ctx, w, t)
		if err != nil {
			continue
		}
		d.mu.Lock()
		if t.stmts == nil {
			t.stmts, s = s, nil
		}
		d.mu.Unlock()
		s.close()
	}
}

func prepareAll(ctx context.Context, w *sql.DB, t *table) (*statements, error) {
	s := &statements{heldRows: map[int]*sql.Stmt{}, heldTombs: map[int]*sql.Stmt{}}
	ws := writeStatements(t)
	var err error
	prepare := func(text string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = w.PrepareContext(ctx, text)
		return st
	}
	s.upsert, s.delRow, s.tomb, s.delTomb = prepare(ws.upsert), prepare(ws.delRow), prepare(ws.tomb), prepare(ws.delTomb)
	s.anyTomb = prepare(anyTombSQL)
	for _, n := range heldSizes {
		s.heldRows[n], s.heldTombs[n] = prepare(heldRowsSQL(t.object, n)), prepare(heldTombsSQL(n))
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close closes the statements; s may be nil.
func (s *statements) close() {
	if s == nil {
		return
	}
	for _, st := range []*sql.Stmt{s.upsert, s.delRow, s.tomb, s.delTomb, s.anyTomb} {
		if st != nil {
			st.Close()
		}
	}
	for _, m := range []map[int]*sql.Stmt{s.heldRows, s.heldTombs} {
		for _, st := range m {
			if st != nil {
				st.Close()
			}
		}
	}
}

// txStmt is cached in tx when there is one, else text prepared in tx.
func txStmt(ctx context.Context, tx *sql.Tx, cached *sql.Stmt, text string) (*sql.Stmt, error) {
	if cached != nil {
		return tx.StmtContext(ctx, cached), nil
	}
	return tx.PrepareContext(ctx, text)
}
