// Package sdk is what a destination connector author imports: the
// Destination interface, the record and result types, the version rule every
// destination applies, and Serve, which runs an implementation as a Siphon
// plugin. No gRPC or go-plugin type appears in this package's API.
package sdk

import (
	"context"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Destination is implemented by a connector. Siphon's host calls it from one
// plugin process for many tenants; every method must be safe for concurrent
// use and must keep tenants apart (every row is keyed by tenant and key).
type Destination interface {
	// Info names the plugin and lists its capabilities. It is called before
	// Configure and must not depend on configuration.
	Info() Info
	// Configure validates and applies the destination block's config. It
	// returns diagnostics (with the attribute path) instead of an error so
	// that `siphon plan --check-plugins` can show them against the HCL
	// source. Values unknown at plan time arrive as unknown cty values;
	// validate what is known and accept the rest.
	Configure(ctx context.Context, cfg Config) Diagnostics
	// Check verifies that the destination is reachable and usable for tenant.
	Check(ctx context.Context, tenant string) error
	// EnsureObject creates the object (table, collection, file) or adds the
	// missing fields to it. It never drops a field or data.
	EnsureObject(ctx context.Context, obj ObjectSpec) error
	// Write applies a batch of upserts and deletes of one tenant, following
	// the version rule (see Decide). It returns one Result per record, in the
	// batch's order. A returned error means the whole batch failed and
	// nothing of it may be assumed applied; wrap it with Permanent when
	// retrying cannot help (a statement error, a schema mismatch).
	Write(ctx context.Context, batch Batch) ([]Result, error)
	// Keys returns one page of the live rows of (tenant, object) with
	// key > req.After, in byte-wise ascending key order, at most req.Limit
	// rows. Each page is its own short read: never hold a transaction across
	// pages. An empty page ends the listing.
	Keys(ctx context.Context, req KeysRequest) ([]KeyEntry, error)
	// Read returns what the destination holds for the given keys, live rows
	// and tombstones, in any order; keys it does not hold are omitted.
	Read(ctx context.Context, tenant, object string, keys []string) ([]Row, error)
	// Changes returns rows changed at the destination since a cursor, for
	// bidirectional pipelines. Destinations without the CapChanges
	// capability return ErrUnsupported.
	Changes(ctx context.Context, req ChangesRequest) (ChangesPage, error)
	// Close releases resources. The host calls it before stopping the plugin.
	Close(ctx context.Context) error
}

// Capability is a property of a destination the host must respect.
type Capability string

const (
	// CapSingleNode: the destination lives on one host's disk (sqlite,
	// jsonl); `siphon run` refuses it with a networked store unless the
	// destination block says allow_single_node = true.
	CapSingleNode Capability = "single_node"
	// CapChanges: the destination implements Changes (bidirectional sync).
	CapChanges Capability = "changes"
	// CapTransactions: a batch is applied atomically.
	CapTransactions Capability = "transactions"
)

// Info describes a plugin.
type Info struct {
	Name         string
	Version      string
	Capabilities []Capability
}

// Has reports whether the plugin declares capability c.
func (i Info) Has(c Capability) bool {
	for _, have := range i.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}

// Config is the destination block's `config` object as cty values.
type Config struct {
	Value cty.Value
}

// FieldType is the column type a destination should use for a mapped field.
type FieldType string

// The field types Siphon passes to EnsureObject.
const (
	TypeString    FieldType = "string"
	TypeNumber    FieldType = "number"
	TypeBool      FieldType = "bool"
	TypeTimestamp FieldType = "timestamp"
	TypeJSON      FieldType = "json" // lists, objects, or anything untyped
)

// FieldSpec is one mapped field of an object.
type FieldSpec struct {
	Name string
	Type FieldType
}

// ObjectSpec is what EnsureObject creates: the object and its mapped fields
// (the bookkeeping columns tenant, key, source_updated_at, content_hash,
// synced_at, siphon_generation and siphon_seq are implied).
type ObjectSpec struct {
	Object string
	Fields []FieldSpec
}

// Op is what a record asks the destination to do.
type Op int

// The operations.
const (
	OpUpsert Op = iota
	OpDelete
)

// Version orders writes of one (tenant, object, key). Writes are ordered by
// the source's version first, then the config generation that mapped them,
// then the sequence number given when they were first enqueued; all three
// travel with a queued record across retries.
type Version struct {
	// Source is the source's updated_at (or, for hash-versioned resources,
	// the API time of the page that fetched the record), microsecond precision.
	Source     time.Time
	Generation int64
	Seq        int64
}

// Compare returns -1, 0 or +1 as v orders before, equal to or after o.
func (v Version) Compare(o Version) int {
	switch {
	case v.Source.Before(o.Source):
		return -1
	case v.Source.After(o.Source):
		return 1
	case v.Generation != o.Generation:
		return cmpInt(v.Generation, o.Generation)
	default:
		return cmpInt(v.Seq, o.Seq)
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ExpectKind is the state a compare-and-set write requires.
type ExpectKind int

// The compare-and-set expectations.
const (
	ExpectAbsent    ExpectKind = iota + 1 // no row and no tombstone
	ExpectVersion                         // a live row at exactly Version.Source
	ExpectTombstone                       // a tombstone at exactly Version.Source
)

// Expect turns a write into a compare-and-set: it applies only when the
// destination holds exactly the expected state, regardless of the version
// rule. Reconcile repairs use it because sources sometimes move updated_at
// backwards on restore.
type Expect struct {
	Kind    ExpectKind
	Version Version
}

// Record is one write of a batch.
type Record struct {
	Op          Op
	Object      string
	Key         string // canonical key text (composite parts joined by '/', escaped)
	Version     Version
	ContentHash string
	// Fields holds the mapped values: nil, bool, int64, float64, string,
	// time.Time, []any or map[string]any. Empty for deletes.
	Fields map[string]any
	// IdempotencyKey is H(tenant, object, key, version, content hash), for
	// destinations whose writes have side effects.
	IdempotencyKey string
	Expect         *Expect
}

// Batch is a group of records of one tenant.
type Batch struct {
	Tenant  string
	Records []Record
}

// Status is the outcome of one record's write.
type Status int

// The outcomes.
const (
	// StatusOK: applied, or skipped because the destination holds a newer
	// version (a stale write is not an error).
	StatusOK Status = iota
	// StatusRetryable: try again later (a lock timeout, a transient outage).
	StatusRetryable
	// StatusPermanent: retrying cannot help; the record goes to the DLQ.
	StatusPermanent
	// StatusConflict: a compare-and-set write found another state.
	StatusConflict
)

// Result is the outcome of one record.
type Result struct {
	Status  Status
	Skipped bool // StatusOK but not applied: the held version was newer
	Message string
}

// KeysRequest asks for one page of keys.
type KeysRequest struct {
	Tenant string
	Object string
	After  string
	Limit  int
}

// KeyEntry is one live row as reconcile sees it.
type KeyEntry struct {
	Key         string
	Version     Version
	ContentHash string
}

// Row is what the destination holds for one key.
type Row struct {
	Key         string
	Version     Version
	ContentHash string
	Tombstone   bool
	Fields      map[string]any
}

// ChangesRequest asks for rows changed at the destination after Since (an
// opaque cursor the destination returned earlier; empty for the start).
type ChangesRequest struct {
	Tenant string
	Object string
	Since  string
	Limit  int
}

// ChangesPage is one page of destination-side changes.
type ChangesPage struct {
	Rows []Row
	Next string
}
