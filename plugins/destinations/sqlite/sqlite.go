// Package sqlite is the embedded default destination: one sqlite file, one
// table per object (DESIGN.md §7), written through a single connection with
// BEGIN IMMEDIATE and read through a separate pool, with WAL so that readers
// (a user's sqlite3, a reconcile's Keys) never block the writer.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Name is the destination's name in HCL and in `siphon plugin serve`.
const Name = "sqlite"

// DefaultPath is where the database lives unless config says otherwise.
// Relative paths resolve against the plugin's working directory, which the
// host sets to the config directory (host.LaunchConfig.Dir), so the file is
// the same whatever directory siphon runs from.
const DefaultPath = ".siphon/destination.db"

// busyTimeout is how long a writer waits for another process's lock.
const busyTimeout = 10 * time.Second

func init() {
	destinations.Register(Name, func() sdk.Destination { return New() })
}

// Destination writes to one sqlite file. It is safe for concurrent use.
type Destination struct {
	mu      sync.Mutex
	path    string  // set by Configure
	writer  *sql.DB // one connection: sqlite has one writer anyway
	readers *sql.DB
	tables  map[string]*table // by object; guarded by mu
	purges  layout.PurgeClock // guarded by mu
	now     func() time.Time
}

// New returns an unconfigured destination.
func New() *Destination {
	return &Destination{tables: map[string]*table{}, now: time.Now}
}

// Info implements sdk.Destination.
func (d *Destination) Info() sdk.Info {
	return sdk.Info{Name: Name, Version: "1.0.0", Capabilities: []sdk.Capability{sdk.CapSingleNode, sdk.CapTransactions}}
}

// Configure implements sdk.Destination: config is `path` (optional).
func (d *Destination) Configure(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	s, diags := destinations.DecodeStrings(cfg, destinations.Attr{Name: "path"})
	if diags.HasErrors() || !s.Complete {
		return diags
	}
	path := s.Get("path", DefaultPath)
	if strings.ContainsAny(path, "?#") {
		return append(diags, sdk.Errorf([]string{"path"}, "path %q must not contain ? or #", path)...)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.writer != nil && path != d.path {
		return append(diags, sdk.Errorf([]string{"path"}, "already writing to %s; path cannot change while open", d.path)...)
	}
	d.path = path
	return diags
}

// open opens the database on first use, so Configure at plan time creates
// no file.
func (d *Destination) open() (writer, readers *sql.DB, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.writer != nil {
		return d.writer, d.readers, nil
	}
	if d.path == "" {
		return nil, nil, fmt.Errorf("sqlite: not configured")
	}
	if dir := filepath.Dir(d.path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("sqlite open %s: %w", d.path, err)
		}
	}
	ms := fmt.Sprint(busyTimeout.Milliseconds())
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+ms+")")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: the queue acknowledges a batch once Write returns, so a commit
	// must survive a power cut, not only a crash.
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", d.path+"?"+q.Encode())
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite open %s: %w", d.path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := initSchema(w); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("sqlite open %s: %w", d.path, err)
	}
	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout("+ms+")")
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", d.path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("sqlite open %s: %w", d.path, err)
	}
	r.SetMaxOpenConns(4)
	d.writer, d.readers = w, r
	return w, r, nil
}

// Check implements sdk.Destination: the file opens and answers a query.
func (d *Destination) Check(ctx context.Context, tenant string) error {
	_, r, err := d.open()
	if err != nil {
		return err
	}
	var one int
	if err := r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite check %s: %w", tenant, err)
	}
	return nil
}

// Close implements sdk.Destination.
func (d *Destination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.writer == nil {
		return nil
	}
	err := d.writer.Close()
	if rerr := d.readers.Close(); err == nil {
		err = rerr
	}
	d.writer, d.readers = nil, nil
	d.tables = map[string]*table{}
	if err != nil {
		return fmt.Errorf("sqlite close %s: %w", d.path, err)
	}
	return nil
}

// Changes implements sdk.Destination; sqlite does not track changes.
func (d *Destination) Changes(context.Context, sdk.ChangesRequest) (sdk.ChangesPage, error) {
	return sdk.ChangesPage{}, sdk.ErrUnsupported
}
