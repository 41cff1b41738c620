// Package jsonl is the change-log destination: every accepted change of a
// (tenant, object) is appended as one JSON line to dir/<tenant>/<object>.jsonl,
// deletes included, and a key → version index kept in memory (rebuilt from
// the log when a log is first used) decides what is accepted. One process
// owns the directory at a time: it holds an exclusive lock on it for its
// lifetime.
package jsonl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Name is the destination's name in HCL and in `siphon plugin serve`.
const Name = "jsonl"

func init() {
	destinations.Register(Name, func() sdk.Destination { return New() })
}

// Destination appends to change logs under one directory. It is safe for
// concurrent use; one mutex serializes everything, as the logs have one
// writer anyway.
type Destination struct {
	mu      sync.Mutex
	dir     string
	lock    *os.File                            // the held directory lock, nil until first use
	schemas map[string]map[string]sdk.FieldType // object -> field -> type
	logs    map[logID]*changeLog
	purges  layout.PurgeClock
	now     func() time.Time
}

// New returns an unconfigured destination.
func New() *Destination {
	return &Destination{schemas: map[string]map[string]sdk.FieldType{}, logs: map[logID]*changeLog{}, now: time.Now}
}

// Info implements sdk.Destination.
func (d *Destination) Info() sdk.Info {
	return sdk.Info{Name: Name, Version: "1.0.0", Capabilities: []sdk.Capability{sdk.CapSingleNode}}
}

// Configure implements sdk.Destination: config is `dir` (required). A
// relative dir resolves against the plugin's working directory, which the
// host sets to the config directory (host.LaunchConfig.Dir).
// Nothing is opened or locked until the destination is used, so Configure
// at plan time works while a runner holds the directory.
func (d *Destination) Configure(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	s, diags := destinations.DecodeStrings(cfg, destinations.Attr{Name: "dir", Required: true})
	if diags.HasErrors() || !s.Complete {
		return diags
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	dir := s.Get("dir", "")
	if d.lock != nil && dir != d.dir {
		return append(diags, sdk.Errorf([]string{"dir"}, "already writing to %s; dir cannot change while open", d.dir)...)
	}
	d.dir = dir
	return diags
}

// open takes the directory lock on first use; d.mu must be held.
func (d *Destination) open() error {
	if d.lock != nil {
		return nil
	}
	if d.dir == "" {
		return fmt.Errorf("jsonl: not configured")
	}
	if err := os.MkdirAll(filepath.Join(d.dir, controlDir), 0o755); err != nil {
		return fmt.Errorf("jsonl open %s: %w", d.dir, err)
	}
	f, err := acquireLock(filepath.Join(d.dir, controlDir, "lock"))
	if err != nil {
		return fmt.Errorf("jsonl open %s: %w", d.dir, err)
	}
	d.lock = f
	return nil
}

// controlDir holds the lock and the object schemas; tenant names cannot
// start with a dot, so it never clashes with a tenant's directory.
const controlDir = ".siphon"

// Check implements sdk.Destination: the directory is ours and writable.
func (d *Destination) Check(_ context.Context, tenant string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.open(); err != nil {
		return err
	}
	if err := checkTenant(tenant); err != nil {
		return fmt.Errorf("jsonl check: %w", err)
	}
	probe, err := os.CreateTemp(filepath.Join(d.dir, controlDir), "check-*")
	if err != nil {
		return fmt.Errorf("jsonl check %s: %w", tenant, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// Close implements sdk.Destination: closes the logs and releases the lock.
func (d *Destination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	for id, l := range d.logs {
		if err := l.close(); err != nil && first == nil {
			first = fmt.Errorf("jsonl close %s/%s: %w", id.tenant, id.object, err)
		}
	}
	d.logs = map[logID]*changeLog{}
	if d.lock != nil {
		if err := d.lock.Close(); err != nil && first == nil {
			first = fmt.Errorf("jsonl close %s: %w", d.dir, err)
		}
		d.lock = nil
	}
	return first
}

// Changes implements sdk.Destination; the log is write-only here.
func (d *Destination) Changes(context.Context, sdk.ChangesRequest) (sdk.ChangesPage, error) {
	return sdk.ChangesPage{}, sdk.ErrUnsupported
}

// purgeTombstones drops tombstones past retention from the indexes, at
// most once per layout.PurgeEvery (the lines stay in the append-only log);
// d.mu must be held.
func (d *Destination) purgeTombstones(now time.Time) {
	if !d.purges.Due(now) {
		return
	}
	for _, l := range d.logs {
		l.purge(now.Add(-layout.TombstoneRetention))
	}
}
