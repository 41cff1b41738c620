// Package local is the embedded state store: one bbolt file, one process.
// Every state change is one bbolt transaction (fsynced on commit), so a
// crash leaves each step either whole or absent. bbolt locks the file, so
// the process that holds it serves the store on a unix socket beside it
// (<path>.sock, see package sock) while it is open; state.Open of a locked
// path goes through that socket, so operator commands work while siphon run
// holds the store. When nothing answers there, Open fails at once and names
// the holder.
//
// One file has no hash slots, so the due and ready indexes change in the
// same transaction as the tenant's step; the repair sweeps find nothing to
// fix here but keep the Redis semantics.
package local

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/sock"
)

func init() {
	state.Register("file", openURL)
}

// openURL opens the store at the URL's path, or, when another process holds
// it, connects to the socket that process serves it on (unless
// opt.Exclusive, which refuses a held store).
func openURL(ctx context.Context, u *url.URL, opt state.Options) (state.Store, error) {
	path := state.LocalPath(u)
	s, err := Open(path, opt)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, state.ErrLocked) {
		return nil, err
	}
	if opt.Exclusive {
		return nil, fmt.Errorf("%w; the embedded store serves one siphon run at a time: stop that process first, or use a Redis store to run several workers", err)
	}
	c, dialErr := sock.Dial(ctx, socketPath(path), opt.Trips)
	if dialErr == nil {
		return c, nil
	}
	// The holder may have exited between our lock attempt and the dial.
	if s, err := Open(path, opt); err == nil || !errors.Is(err, state.ErrLocked) {
		return s, err
	}
	return nil, fmt.Errorf("%w, and it does not answer on its socket (%v); stop that process or wait for it to exit", err, dialErr)
}

// Bucket names. Tenant data lives under t/<tenant>/…; the due and ready
// indexes and hub-wide values have top-level buckets.
var (
	bMeta     = []byte("meta")
	bTenants  = []byte("t")
	bDue      = []byte("due")
	bReady    = []byte("ready")
	bConfig   = []byte("config")
	bHubAudit = []byte("audit")

	bJobs       = []byte("jobs")
	bCheckpts   = []byte("cp")
	bQueues     = []byte("q")
	bStream     = []byte("s")
	bPending    = []byte("p")
	bRetry      = []byte("r")
	bDLQ        = []byte("dlq")
	bCtl        = []byte("ctl")
	bAudit      = []byte("audit")
	bScans      = []byte("scan")
	bSuperseded = []byte("superseded")

	kFormat = []byte("format")
	kEpoch  = []byte("epoch")
	kSeq    = []byte("seq")
	kCred   = []byte("cred")
	kLast   = []byte("last")
	kActive = []byte("active")
	// kLastVersion is the highest config version ever activated.
	kLastVersion = []byte("last_version")
)

// lockWait is how long Open waits for the file lock: long enough to ride
// out a process that is just exiting, short enough to count as "at once".
const lockWait = 250 * time.Millisecond

// Store is the bbolt backend.
type Store struct {
	db *bolt.DB
	// commits groups concurrent writers into shared commits (commit.go).
	commits *committer
	path    string
	epoch   string
	trips   *state.Trips
	holder  string
	now     func() time.Time
	// srv serves the store to other processes; nil when it could not
	// (the holder file says why).
	srv *sock.Server
}

var _ state.Store = (*Store)(nil)

// Open opens (creating if absent) the store at path.
func Open(path string, opt state.Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty local store path", state.ErrInvalid)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is held by %s", state.ErrLocked, path, readHolder(path))
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, commits: &committer{db: db}, path: path, trips: opt.Trips, holder: holderPath(path), now: time.Now}
	if err := s.initMeta(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Not serving leaves the store usable by this process; the holder file
	// tells other processes why they cannot go through it.
	srv, serveErr := sock.Serve(socketPath(path), s)
	if serveErr == nil {
		s.srv = srv
	}
	if err := writeHolder(s.holder, serveErr); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

func holderPath(path string) string { return path + ".holder" }

// socketPath is where the holder serves the store.
func socketPath(path string) string { return path + ".sock" }

// writeHolder records who holds the lock, and why it does not serve the
// store if it could not, for the message another process gets when it
// cannot open the store.
func writeHolder(p string, serveErr error) error {
	host, _ := os.Hostname()
	txt := fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	if serveErr != nil {
		txt += fmt.Sprintf(" (not serving other processes: %v)", serveErr)
	}
	return os.WriteFile(p, []byte(txt+"\n"), 0o600)
}

func readHolder(path string) string {
	b, err := os.ReadFile(holderPath(path))
	if err != nil || len(b) == 0 {
		return "another process (no holder file)"
	}
	if b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// metaBuckets are the buckets every store has from its first open.
var metaBuckets = [][]byte{bTenants, bDue, bReady, bConfig, bHubAudit}

// initMeta checks the format version and creates what a new store needs.
// A store already in this format is only read, so opening it to look
// (plan --store, status) leaves the file as it was.
func (s *Store) initMeta() error {
	current := false
	err := s.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if m == nil || string(m.Get(kFormat)) != strconv.Itoa(state.FormatVersion) {
			return nil
		}
		for _, b := range metaBuckets {
			if tx.Bucket(b) == nil {
				return nil
			}
		}
		current = true
		s.epoch = string(m.Get(kEpoch))
		return nil
	})
	if err != nil || current {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		if v := m.Get(kFormat); v != nil {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("unreadable format version %q", v)
			}
			if n > state.FormatVersion {
				return fmt.Errorf("%w: format %d, this siphon reads up to %d", state.ErrFormatTooNew, n, state.FormatVersion)
			}
			// Every older format is read as it is (see decodeEntry); new
			// writes are in this one, so the file says so.
			if n < state.FormatVersion {
				if err := m.Put(kFormat, []byte(strconv.Itoa(state.FormatVersion))); err != nil {
					return err
				}
			}
		} else {
			if err := m.Put(kFormat, []byte(strconv.Itoa(state.FormatVersion))); err != nil {
				return err
			}
			if err := m.Put(kEpoch, []byte(newEpoch())); err != nil {
				return err
			}
		}
		s.epoch = string(m.Get(kEpoch))
		for _, b := range metaBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Close stops serving the store (letting calls in flight finish), then
// releases the file and its lock.
func (s *Store) Close() error {
	var srvErr error
	if s.srv != nil {
		srvErr = s.srv.Close()
	}
	_ = os.Remove(s.holder)
	return errors.Join(srvErr, s.db.Close())
}

// Info reports the backend, format and epoch.
func (s *Store) Info(ctx context.Context) (state.Info, error) {
	return state.Info{Backend: "local", FormatVersion: state.FormatVersion, Epoch: s.epoch}, nil
}

// update runs fn in a write transaction, counted as one round trip.
// Concurrent callers (pollers and workers of one process) share one commit
// and one fsync (commit.go). fn may run more than once, so every fn sets
// its results from scratch.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	s.trips.Add()
	return s.commits.update(fn)
}

// view runs fn in a read transaction, counted as one round trip.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	s.trips.Add()
	return s.db.View(fn)
}

// tenant returns the tenant's bucket, creating it in write transactions; nil
// in a read transaction when the tenant has no state yet.
func tenant(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	if err := state.CheckName("tenant", name); err != nil {
		return nil, err
	}
	root := tx.Bucket(bTenants)
	if !tx.Writable() {
		return root.Bucket([]byte(name)), nil
	}
	return root.CreateBucketIfNotExists([]byte(name))
}

// tenantSub returns a bucket nested in the tenant's, as tenant and sub do.
func tenantSub(tx *bolt.Tx, name string, names ...[]byte) (*bolt.Bucket, error) {
	tb, err := tenant(tx, name)
	if err != nil {
		return nil, err
	}
	return sub(tx, tb, names...)
}

// sub returns a nested bucket, created in write transactions, nil when
// absent in a read one (or when parent is nil).
func sub(tx *bolt.Tx, parent *bolt.Bucket, names ...[]byte) (*bolt.Bucket, error) {
	b := parent
	for _, n := range names {
		if b == nil {
			return nil, nil
		}
		if tx.Writable() {
			var err error
			if b, err = b.CreateBucketIfNotExists(n); err != nil {
				return nil, err
			}
		} else {
			b = b.Bucket(n)
		}
	}
	return b, nil
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// idKey turns a decimal id back into its 8-byte key.
func idKey(id string) ([]byte, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return nil, false
	}
	return u64(n), true
}

func idString(k []byte) string { return strconv.FormatUint(getU64(k), 10) }

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

func getJSON(b *bolt.Bucket, k []byte, v any) (bool, error) {
	if b == nil {
		return false, nil
	}
	data := b.Get(k)
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}
