package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Column types by field type. sqlite takes the affinity from words in the
// declared type, so timestamps and JSON carry TEXT (text affinity: a JSON
// "5" stays text) while their first word keeps the field type readable for
// Read and for anyone looking at the schema.
var declTypes = map[sdk.FieldType]string{
	sdk.TypeString:    "TEXT",
	sdk.TypeNumber:    "NUMERIC",
	sdk.TypeBool:      "BOOLEAN",
	sdk.TypeTimestamp: "TIMESTAMP TEXT",
	sdk.TypeJSON:      "JSON TEXT",
}

func fieldTypeOf(decl string) (sdk.FieldType, bool) {
	for ft, d := range declTypes {
		if strings.EqualFold(decl, d) {
			return ft, true
		}
	}
	return "", false
}

// table is what the destination knows of one object's table.
type table struct {
	object string
	fields []sdk.FieldSpec // mapped columns in table order
	types  map[string]sdk.FieldType
	stmts  *statements // prepared on first use; guarded by Destination.mu
}

// queryer is a connection, pool or transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// initSchema creates the tombstone table.
func initSchema(db *sql.DB) error {
	_, err := db.Exec(`CREATE TABLE IF NOT EXISTS ` + layout.TombstoneTable + ` (
	tenant TEXT NOT NULL,
	object TEXT NOT NULL,
	key TEXT NOT NULL,
	source_updated_at TEXT NOT NULL,
	siphon_generation INTEGER NOT NULL,
	siphon_seq INTEGER NOT NULL,
	deleted_at TEXT NOT NULL,
	PRIMARY KEY (tenant, object, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS siphon_tombstones_deleted_at ON ` + layout.TombstoneTable + ` (deleted_at);`)
	if err != nil {
		return fmt.Errorf("create %s: %w", layout.TombstoneTable, err)
	}
	return nil
}

// loadTable reads an object's columns; it returns nil when the table does
// not exist.
func loadTable(ctx context.Context, q queryer, object string) (*table, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?)`, object)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &table{object: object, types: map[string]sdk.FieldType{}}
	n := 0
	for rows.Next() {
		var name, decl string
		if err := rows.Scan(&name, &decl); err != nil {
			return nil, err
		}
		n++
		if layout.IsReserved(name) {
			continue
		}
		if ft, ok := fieldTypeOf(decl); ok {
			t.fields = append(t.fields, sdk.FieldSpec{Name: name, Type: ft})
			t.types[name] = ft
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	return t, nil
}

// table returns the cached table of object, loading it through q on a miss
// (nil when it does not exist).
func (d *Destination) table(ctx context.Context, q queryer, object string) (*table, error) {
	d.mu.Lock()
	t, ok := d.tables[object]
	d.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := loadTable(ctx, q, object)
	if err != nil || t == nil {
		return t, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if have, ok := d.tables[object]; ok {
		// Loaded meanwhile by another call: keep that one and its
		// statements.
		return have, nil
	}
	d.tables[object] = t
	return t, nil
}

// forget drops what is cached of object's table, statements included.
func (d *Destination) forget(object string) {
	d.mu.Lock()
	t := d.tables[object]
	delete(d.tables, object)
	d.mu.Unlock()
	if t != nil {
		t.stmts.close()
	}
}

// EnsureObject implements sdk.Destination: it creates the table or adds the
// missing columns, in one write transaction. A field whose column exists
// with another type is an error: the column is never changed or dropped.
func (d *Destination) EnsureObject(ctx context.Context, spec sdk.ObjectSpec) error {
	if err := checkSpec(spec); err != nil {
		return fmt.Errorf("sqlite ensure %s: %w", spec.Object, err)
	}
	w, _, err := d.open()
	if err != nil {
		return err
	}
	defer d.forget(spec.Object)
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite ensure %s: %w", spec.Object, err)
	}
	defer tx.Rollback()
	cur, err := loadTable(ctx, tx, spec.Object)
	if err != nil {
		return fmt.Errorf("sqlite ensure %s: %w", spec.Object, err)
	}
	if cur == nil {
		if _, err := tx.ExecContext(ctx, createTable(spec)); err != nil {
			return fmt.Errorf("sqlite ensure %s: create: %w", spec.Object, err)
		}
	} else {
		for _, f := range spec.Fields {
			have, ok := cur.types[f.Name]
			if ok && have != f.Type {
				return fmt.Errorf("sqlite ensure %s: field %s is %s in the table, the mapping says %s; the column is never changed", spec.Object, f.Name, have, f.Type)
			}
			if ok {
				continue
			}
			stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", layout.Quote(spec.Object), layout.Quote(f.Name), declTypes[f.Type])
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("sqlite ensure %s: add %s: %w", spec.Object, f.Name, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite ensure %s: commit: %w", spec.Object, err)
	}
	return nil
}

func checkSpec(spec sdk.ObjectSpec) error {
	if err := layout.CheckObject(spec.Object); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range spec.Fields {
		if err := layout.CheckField(f.Name); err != nil {
			return err
		}
		if _, ok := declTypes[f.Type]; !ok {
			return fmt.Errorf("field %s: unknown type %q", f.Name, f.Type)
		}
		if seen[f.Name] {
			return fmt.Errorf("field %s listed twice", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

func createTable(spec sdk.ObjectSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, `CREATE TABLE %s (
	tenant TEXT NOT NULL,
	key TEXT NOT NULL,
	source_updated_at TEXT NOT NULL,
	content_hash TEXT NOT NULL,
	synced_at TEXT NOT NULL,
	siphon_generation INTEGER NOT NULL,
	siphon_seq INTEGER NOT NULL`, layout.Quote(spec.Object))
	for _, f := range spec.Fields {
		fmt.Fprintf(&b, ",\n\t%s %s", layout.Quote(f.Name), declTypes[f.Type])
	}
	b.WriteString(",\n\tPRIMARY KEY (tenant, key)\n) WITHOUT ROWID")
	return b.String()
}
