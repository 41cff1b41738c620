// Package memory is an example third-party destination built with nothing
// but plugins/sdk. It keeps rows in memory and, when its config sets `path`,
// also appends every accepted change to a log file it replays on start, so
// its data survives a restart of the plugin process. It follows the version
// rule through sdk.Decide and passes the conformance kit; copy it to start a
// real connector.
//
//	destination "scratch" {
//	  plugin = "memory"
//	  config { path = ".siphon/scratch.log" } # optional
//	}
package memory

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// Version is reported by Info.
const Version = "0.1.0"

// Destination is the in-memory destination. Use New.
type Destination struct {
	mu      sync.Mutex
	tables  map[tableID]*table
	objects map[string][]sdk.FieldSpec
	log     *changeLog
}

type tableID struct{ tenant, object string }

// table holds one (tenant, object): rows and tombstones by key, plus the
// keys in byte-wise order, re-sorted lazily after inserts.
type table struct {
	rows   map[string]*row
	sorted []string
	dirty  bool
}

type row struct {
	held   sdk.Held
	fields map[string]any
}

// New returns an unconfigured destination.
func New() *Destination {
	return &Destination{tables: map[tableID]*table{}, objects: map[string][]sdk.FieldSpec{}}
}

// Info implements sdk.Destination.
func (d *Destination) Info() sdk.Info {
	return sdk.Info{Name: "memory", Version: Version}
}

// Configure accepts an optional `path` of the change log.
func (d *Destination) Configure(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	diags := cfg.Unexpected("path")
	path := cfg.String("path", &diags)
	if diags.HasErrors() || path == "" || !cfg.Known("path") {
		return diags
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log != nil {
		return diags
	}
	log, err := openChangeLog(path, d.apply)
	if err != nil {
		return append(diags, sdk.Errorf([]string{"path"}, "open change log: %v", err)...)
	}
	d.log = log
	return diags
}

// Check implements sdk.Destination; memory is always reachable.
func (d *Destination) Check(context.Context, string) error { return nil }

// EnsureObject remembers the object's fields, adding new ones.
func (d *Destination) EnsureObject(_ context.Context, obj sdk.ObjectSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	have := d.objects[obj.Object]
	for _, f := range obj.Fields {
		if !hasField(have, f.Name) {
			have = append(have, f)
		}
	}
	d.objects[obj.Object] = have
	return nil
}

func hasField(fields []sdk.FieldSpec, name string) bool {
	for _, f := range fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// Write applies the batch record by record under the version rule.
func (d *Destination) Write(_ context.Context, batch sdk.Batch) ([]sdk.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	results := make([]sdk.Result, len(batch.Records))
	for i, rec := range batch.Records {
		t := d.table(batch.Tenant, rec.Object)
		var held sdk.Held
		if r := t.rows[rec.Key]; r != nil {
			held = r.held
		}
		switch sdk.Decide(held, rec) {
		case sdk.Skip:
			results[i] = sdk.Result{Status: sdk.StatusOK, Skipped: true}
			continue
		case sdk.Conflict:
			results[i] = sdk.Result{Status: sdk.StatusConflict, Message: "held state does not match the expectation"}
			continue
		}
		c := change{Tenant: batch.Tenant, Object: rec.Object, Key: rec.Key, Version: rec.Version,
			Hash: rec.ContentHash, Tombstone: rec.Op == sdk.OpDelete, Fields: rec.Fields}
		if d.log != nil {
			if err := d.log.append(c); err != nil {
				return nil, fmt.Errorf("write %s/%s: %w", batch.Tenant, rec.Object, err)
			}
		}
		d.apply(c)
	}
	if d.log != nil {
		if err := d.log.flush(); err != nil {
			return nil, fmt.Errorf("write %s: %w", batch.Tenant, err)
		}
	}
	return results, nil
}

// apply stores an accepted change; the caller holds d.mu (or is replaying
// the log before the destination is shared).
func (d *Destination) apply(c change) {
	t := d.table(c.Tenant, c.Object)
	r := t.rows[c.Key]
	if r == nil {
		r = &row{}
		t.rows[c.Key] = r
		t.dirty = true
	}
	r.held = sdk.Held{Exists: true, Tombstone: c.Tombstone, Version: c.Version, ContentHash: c.Hash}
	r.fields = c.Fields
	if c.Tombstone {
		r.fields = nil
	}
}

func (d *Destination) table(tenant, object string) *table {
	id := tableID{tenant, object}
	t := d.tables[id]
	if t == nil {
		t = &table{rows: map[string]*row{}}
		d.tables[id] = t
	}
	return t
}

// Keys pages through the live rows in byte-wise key order.
func (d *Destination) Keys(_ context.Context, req sdk.KeysRequest) ([]sdk.KeyEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.tables[tableID{req.Tenant, req.Object}]
	if t == nil {
		return nil, nil
	}
	if t.dirty {
		t.sorted = t.sorted[:0]
		for k := range t.rows {
			t.sorted = append(t.sorted, k)
		}
		sort.Strings(t.sorted)
		t.dirty = false
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 1000
	}
	var out []sdk.KeyEntry
	for i := sort.SearchStrings(t.sorted, req.After); i < len(t.sorted) && len(out) < limit; i++ {
		k := t.sorted[i]
		r := t.rows[k]
		if k == req.After || r.held.Tombstone {
			continue
		}
		out = append(out, sdk.KeyEntry{Key: k, Version: r.held.Version, ContentHash: r.held.ContentHash})
	}
	return out, nil
}

// Read returns rows and tombstones for the keys held.
func (d *Destination) Read(_ context.Context, tenant, object string, keys []string) ([]sdk.Row, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.tables[tableID{tenant, object}]
	if t == nil {
		return nil, nil
	}
	var out []sdk.Row
	for _, k := range keys {
		if r := t.rows[k]; r != nil {
			out = append(out, sdk.Row{Key: k, Version: r.held.Version, ContentHash: r.held.ContentHash,
				Tombstone: r.held.Tombstone, Fields: r.fields})
		}
	}
	return out, nil
}

// Changes is not supported: memory is a one-way destination.
func (d *Destination) Changes(context.Context, sdk.ChangesRequest) (sdk.ChangesPage, error) {
	return sdk.ChangesPage{}, sdk.ErrUnsupported
}

// Close closes the change log.
func (d *Destination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log == nil {
		return nil
	}
	err := d.log.close()
	d.log = nil
	return err
}
