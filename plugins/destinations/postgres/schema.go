package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Column types by field type. Numbers are numeric so that int64 ids stay
// exact.
var columnTypes = map[sdk.FieldType]string{
	sdk.TypeString:    "text",
	sdk.TypeNumber:    "numeric",
	sdk.TypeBool:      "boolean",
	sdk.TypeTimestamp: "timestamptz",
	sdk.TypeJSON:      "jsonb",
}

// formatTypes maps format_type() output back to field types.
var formatTypes = map[string]sdk.FieldType{
	"text":                     sdk.TypeString,
	"numeric":                  sdk.TypeNumber,
	"boolean":                  sdk.TypeBool,
	"timestamp with time zone": sdk.TypeTimestamp,
	"jsonb":                    sdk.TypeJSON,
}

// table is what the destination knows of one object's table.
type table struct {
	object string
	fields []sdk.FieldSpec // mapped columns in table order
	types  map[string]sdk.FieldType
}

// querier is a pool, connection or transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadTable reads an object's columns; nil when the table does not exist.
func loadTable(ctx context.Context, q querier, schema, object string) (*table, error) {
	rows, err := q.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, schema, object)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &table{object: object, types: map[string]sdk.FieldType{}}
	n := 0
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		n++
		if layout.IsReserved(name) {
			continue
		}
		if ft, ok := formatTypes[typ]; ok {
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

// table returns the cached table of object (nil when it does not exist).
func (d *Destination) table(ctx context.Context, q querier, object string) (*table, error) {
	d.mu.Lock()
	t, ok := d.tables[object]
	schema := d.schema
	d.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := loadTable(ctx, q, schema, object)
	if err != nil || t == nil {
		return t, err
	}
	d.mu.Lock()
	d.tables[object] = t
	d.mu.Unlock()
	return t, nil
}

func (d *Destination) forget(object string) {
	d.mu.Lock()
	delete(d.tables, object)
	d.mu.Unlock()
}

// EnsureObject implements sdk.Destination: it creates the table or adds
// the missing columns. A field whose column exists with another type is an
// error: columns are never changed or dropped.
func (d *Destination) EnsureObject(ctx context.Context, spec sdk.ObjectSpec) error {
	if err := checkSpec(spec); err != nil {
		return fmt.Errorf("postgres ensure %s: %w", spec.Object, err)
	}
	pool, err := d.ready(ctx)
	if err != nil {
		return err
	}
	defer d.forget(spec.Object)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := lockDDL(ctx, tx); err != nil {
			return err
		}
		cur, err := loadTable(ctx, tx, d.schema, spec.Object)
		if err != nil {
			return err
		}
		if cur == nil {
			_, err := tx.Exec(ctx, d.createTable(spec))
			return err
		}
		for _, f := range spec.Fields {
			have, ok := cur.types[f.Name]
			if ok && have != f.Type {
				return fmt.Errorf("field %s is %s in the table, the mapping says %s; the column is never changed", f.Name, have, f.Type)
			}
			if ok {
				continue
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s",
				d.qualified(spec.Object), layout.Quote(f.Name), columnTypes[f.Type])); err != nil {
				return fmt.Errorf("add %s: %w", f.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres ensure %s.%s: %w", d.schema, spec.Object, err)
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
		if _, ok := columnTypes[f.Type]; !ok {
			return fmt.Errorf("field %s: unknown type %q", f.Name, f.Type)
		}
		if seen[f.Name] {
			return fmt.Errorf("field %s listed twice", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// createTable is the object's table. key sorts with the "C" collation, so
// the primary key index yields byte-wise order for Keys.
func (d *Destination) createTable(spec sdk.ObjectSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, `CREATE TABLE %s (
	tenant text NOT NULL,
	key text COLLATE "C" NOT NULL,
	source_updated_at timestamptz NOT NULL,
	content_hash text NOT NULL,
	synced_at timestamptz NOT NULL,
	siphon_generation bigint NOT NULL,
	siphon_seq bigint NOT NULL`, d.qualified(spec.Object))
	for _, f := range spec.Fields {
		fmt.Fprintf(&b, ",\n\t%s %s", layout.Quote(f.Name), columnTypes[f.Type])
	}
	b.WriteString(",\n\tPRIMARY KEY (tenant, key)\n)")
	return b.String()
}
