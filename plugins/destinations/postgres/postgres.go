// Package postgres is the PostgreSQL destination: one table per object in
// the configured schema (DESIGN.md §7). A batch is copied into a temporary
// table and applied by one upsert statement under the version rule; deletes,
// compare-and-set writes and keys written twice in a batch take a per-record
// path.
package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Name is the destination's name in HCL and in `siphon plugin serve`.
const Name = "postgres"

// DefaultSchema is the schema tables go to unless config says otherwise.
const DefaultSchema = "public"

func init() {
	destinations.Register(Name, func() sdk.Destination { return New() })
}

// Destination writes to one PostgreSQL schema. It is safe for concurrent
// use.
type Destination struct {
	mu       sync.Mutex
	pool     *pgxpool.Pool
	schema   string
	baseDone bool              // schema and tombstone table exist
	tables   map[string]*table // by object
	purges   layout.PurgeClock
	now      func() time.Time
}

// New returns an unconfigured destination.
func New() *Destination {
	return &Destination{tables: map[string]*table{}, now: time.Now}
}

// Info implements sdk.Destination.
func (d *Destination) Info() sdk.Info {
	return sdk.Info{Name: Name, Version: "1.0.0", Capabilities: []sdk.Capability{sdk.CapTransactions}}
}

// Configure implements sdk.Destination: config is `dsn` (required) and
// `schema` (optional). The pool connects lazily, so Configure at plan time
// needs no reachable server.
func (d *Destination) Configure(ctx context.Context, cfg sdk.Config) sdk.Diagnostics {
	s, diags := destinations.DecodeStrings(cfg, destinations.Attr{Name: "dsn", Required: true}, destinations.Attr{Name: "schema"})
	if diags.HasErrors() || !s.Complete {
		return diags
	}
	pcfg, err := pgxpool.ParseConfig(s.Get("dsn", ""))
	if err != nil {
		return append(diags, sdk.Errorf([]string{"dsn"}, "invalid dsn: %v", err)...)
	}
	pcfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return append(diags, sdk.Errorf([]string{"dsn"}, "invalid dsn: %v", err)...)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pool != nil {
		d.pool.Close()
	}
	d.pool, d.schema, d.baseDone = pool, s.Get("schema", DefaultSchema), false
	d.tables = map[string]*table{}
	return diags
}

// ready returns the pool after making sure the schema and the tombstone
// table exist.
func (d *Destination) ready(ctx context.Context) (*pgxpool.Pool, error) {
	d.mu.Lock()
	pool, done := d.pool, d.baseDone
	d.mu.Unlock()
	if pool == nil {
		return nil, fmt.Errorf("postgres: not configured")
	}
	if done {
		return pool, nil
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := lockDDL(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+layout.Quote(d.schema)+`;
CREATE TABLE IF NOT EXISTS `+d.tombstones()+` (
	tenant text NOT NULL,
	object text NOT NULL,
	key text COLLATE "C" NOT NULL,
	source_updated_at timestamptz NOT NULL,
	siphon_generation bigint NOT NULL,
	siphon_seq bigint NOT NULL,
	deleted_at timestamptz NOT NULL,
	PRIMARY KEY (tenant, object, key)
);
CREATE INDEX IF NOT EXISTS siphon_tombstones_deleted_at ON `+d.tombstones()+` (deleted_at)`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres prepare schema %s: %w", d.schema, err)
	}
	d.mu.Lock()
	d.baseDone = true
	d.mu.Unlock()
	return pool, nil
}

// lockDDL serializes schema changes of every siphon process on the
// database: concurrent CREATE ... IF NOT EXISTS can still collide.
func lockDDL(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, ddlLockID)
	return err
}

// ddlLockID is the advisory lock taken around schema changes.
const ddlLockID = int64(0x5349_5048_4f4e_4444) // "SIPHONDD"

func (d *Destination) tombstones() string {
	return layout.Quote(d.schema) + "." + layout.TombstoneTable
}

func (d *Destination) qualified(object string) string {
	return layout.Quote(d.schema) + "." + layout.Quote(object)
}

// Check implements sdk.Destination: the server answers and the schema is
// usable.
func (d *Destination) Check(ctx context.Context, tenant string) error {
	pool, err := d.ready(ctx)
	if err != nil {
		return fmt.Errorf("postgres check %s: %w", tenant, err)
	}
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres check %s: %w", tenant, err)
	}
	return nil
}

// Close implements sdk.Destination.
func (d *Destination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pool != nil {
		d.pool.Close()
		d.pool = nil
	}
	return nil
}

// Changes implements sdk.Destination; this destination does not offer it.
func (d *Destination) Changes(context.Context, sdk.ChangesRequest) (sdk.ChangesPage, error) {
	return sdk.ChangesPage{}, sdk.ErrUnsupported
}
