package jsonl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

var fieldTypes = map[sdk.FieldType]bool{
	sdk.TypeString: true, sdk.TypeNumber: true, sdk.TypeBool: true, sdk.TypeTimestamp: true, sdk.TypeJSON: true,
}

// EnsureObject implements sdk.Destination. A log has no columns, but the
// object's field types are kept (in .siphon/objects/<object>.json) so
// writes are checked as the SQL destinations check them and Read returns
// typed values. Fields are only ever added.
func (d *Destination) EnsureObject(_ context.Context, spec sdk.ObjectSpec) error {
	if err := layout.CheckObject(spec.Object); err != nil {
		return fmt.Errorf("jsonl ensure %s: %w", spec.Object, err)
	}
	for _, f := range spec.Fields {
		if err := layout.CheckField(f.Name); err != nil {
			return fmt.Errorf("jsonl ensure %s: %w", spec.Object, err)
		}
		if !fieldTypes[f.Type] {
			return fmt.Errorf("jsonl ensure %s: field %s: unknown type %q", spec.Object, f.Name, f.Type)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.open(); err != nil {
		return err
	}
	cur, err := d.schema(spec.Object)
	if err != nil {
		return err
	}
	next := map[string]sdk.FieldType{}
	for name, ft := range cur {
		next[name] = ft
	}
	for _, f := range spec.Fields {
		if have, ok := cur[f.Name]; ok && have != f.Type {
			return fmt.Errorf("jsonl ensure %s: field %s is %s, the mapping says %s; a field's type is never changed", spec.Object, f.Name, have, f.Type)
		}
		next[f.Name] = f.Type
	}
	if cur != nil && len(next) == len(cur) {
		return nil
	}
	b, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("jsonl ensure %s: %w", spec.Object, err)
	}
	path := d.schemaPath(spec.Object)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("jsonl ensure %s: %w", spec.Object, err)
	}
	if err := writeFileAtomic(path, b); err != nil {
		return fmt.Errorf("jsonl ensure %s: %w", spec.Object, err)
	}
	d.schemas[spec.Object] = next
	return nil
}

func (d *Destination) schemaPath(object string) string {
	return filepath.Join(d.dir, controlDir, "objects", object+".json")
}

// schema returns the object's field types, nil when it was never ensured;
// d.mu must be held.
func (d *Destination) schema(object string) (map[string]sdk.FieldType, error) {
	if s, ok := d.schemas[object]; ok {
		return s, nil
	}
	b, err := os.ReadFile(d.schemaPath(object))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jsonl schema %s: %w", object, err)
	}
	s := map[string]sdk.FieldType{}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("jsonl schema %s: %w", object, err)
	}
	d.schemas[object] = s
	return s, nil
}

// writeFileAtomic replaces path with b, durably: a crash leaves the old or
// the new content.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
