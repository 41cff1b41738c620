package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// logID names one change log.
type logID struct{ tenant, object string }

// header is the part of a log line the index needs; the full line adds
// the mapped fields.
type header struct {
	Op          string `json:"op"` // "upsert" or "delete"
	Key         string `json:"key"`
	Source      string `json:"source_updated_at"`
	Generation  int64  `json:"siphon_generation"`
	Seq         int64  `json:"siphon_seq"`
	ContentHash string `json:"content_hash,omitempty"`
	SyncedAt    string `json:"synced_at,omitempty"`
	DeletedAt   string `json:"deleted_at,omitempty"`
}

// line is one change as written.
type line struct {
	header
	Fields map[string]json.RawMessage `json:"fields,omitempty"`
}

// entry is what the index holds for a key: its latest accepted change and
// where that line is in the log.
type entry struct {
	version   sdk.Version
	hash      string
	tomb      bool
	deletedAt time.Time
	off       int64
	n         int
}

func (e entry) held() sdk.Held {
	return sdk.Held{Exists: true, Tombstone: e.tomb, Version: e.version, ContentHash: e.hash}
}

// changeLog is one open log file and its index.
type changeLog struct {
	path   string
	f      *os.File
	size   int64
	index  map[string]entry
	keys   []string // the index's keys; sorted when ordered is set
	order  bool
	rekeys bool // keys must be rebuilt from the index (after a purge)
}

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// checkTenant keeps a tenant name a plain directory name.
func checkTenant(tenant string) error {
	if !tenantPattern.MatchString(tenant) {
		return fmt.Errorf("tenant %q cannot name a directory: it must match [A-Za-z0-9][A-Za-z0-9_.-]*", tenant)
	}
	return nil
}

// log returns the open log of id, loading its index on first use. Unless
// create is set, a log that does not exist yet is nil. d.mu must be held.
func (d *Destination) log(id logID, create bool) (*changeLog, error) {
	if l, ok := d.logs[id]; ok {
		return l, nil
	}
	path := filepath.Join(d.dir, id.tenant, id.object+".jsonl")
	flags := os.O_RDWR | os.O_APPEND
	if create {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrNotExist) && !create {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l := &changeLog{path: path, f: f, index: map[string]entry{}}
	if err := l.load(d.now().Add(-layout.TombstoneRetention)); err != nil {
		f.Close()
		return nil, err
	}
	d.logs[id] = l
	return l, nil
}

// load rebuilds the index from the log. A last line without its newline is
// the torn end of a batch that was never acknowledged: it is cut off.
func (l *changeLog) load(cutoff time.Time) error {
	r := bufio.NewReaderSize(l.f, 1<<20)
	var off int64
	for {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(b) > 0 {
				if err := l.f.Truncate(off); err != nil {
					return fmt.Errorf("%s: cut torn last line: %w", l.path, err)
				}
			}
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", l.path, err)
		}
		var h header
		if err := json.Unmarshal(b, &h); err != nil {
			return fmt.Errorf("%s: line at byte %d: %w", l.path, off, err)
		}
		e, err := entryOf(h, off, len(b))
		if err != nil {
			return fmt.Errorf("%s: line at byte %d: %w", l.path, off, err)
		}
		l.index[h.Key] = e
		off += int64(len(b))
	}
	l.size = off
	l.purge(cutoff)
	l.rekeys = true
	return nil
}

func entryOf(h header, off int64, n int) (entry, error) {
	src, err := layout.ParseTime(h.Source)
	if err != nil {
		return entry{}, err
	}
	e := entry{version: sdk.Version{Source: src, Generation: h.Generation, Seq: h.Seq}, hash: h.ContentHash, off: off, n: n}
	switch h.Op {
	case "upsert":
	case "delete":
		e.tomb = true
		if e.deletedAt, err = layout.ParseTime(h.DeletedAt); err != nil {
			return entry{}, err
		}
	default:
		return entry{}, fmt.Errorf("unknown op %q", h.Op)
	}
	return e, nil
}

// purge forgets tombstones deleted before cutoff.
func (l *changeLog) purge(cutoff time.Time) {
	for k, e := range l.index {
		if e.tomb && e.deletedAt.Before(cutoff) {
			delete(l.index, k)
			l.rekeys = true
		}
	}
}

// sortedKeys returns every indexed key in byte-wise order.
func (l *changeLog) sortedKeys() []string {
	if l.rekeys {
		l.keys = l.keys[:0]
		for k := range l.index {
			l.keys = append(l.keys, k)
		}
		l.rekeys, l.order = false, false
	}
	if !l.order {
		sort.Strings(l.keys)
		l.order = true
	}
	return l.keys
}

// staged is a batch's changes to one log before they are on disk.
type staged struct {
	buf     bytes.Buffer
	pending map[string]entry
}

// held is what the log holds for key, counting the batch's own changes.
func (l *changeLog) held(st *staged, key string) sdk.Held {
	if e, ok := st.pending[key]; ok {
		return e.held()
	}
	if e, ok := l.index[key]; ok {
		return e.held()
	}
	return sdk.Held{}
}

// stage adds one line to st.
func (l *changeLog) stage(st *staged, key string, e entry, b []byte) {
	e.off, e.n = l.size+int64(st.buf.Len()), len(b)
	st.buf.Write(b)
	st.pending[key] = e
}

// commit appends st and fsyncs, then updates the index. On failure the log
// is cut back to where it was and the index is untouched.
func (l *changeLog) commit(st *staged) error {
	if st.buf.Len() == 0 {
		return nil
	}
	if _, err := l.f.Write(st.buf.Bytes()); err != nil {
		l.f.Truncate(l.size)
		return fmt.Errorf("append %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		l.f.Truncate(l.size)
		return fmt.Errorf("sync %s: %w", l.path, err)
	}
	l.size += int64(st.buf.Len())
	for k, e := range st.pending {
		if _, ok := l.index[k]; !ok {
			l.keys = append(l.keys, k)
			l.order = false
		}
		l.index[k] = e
	}
	return nil
}

// readLine reads the full line of e.
func (l *changeLog) readLine(e entry) (line, error) {
	b := make([]byte, e.n)
	if _, err := l.f.ReadAt(b, e.off); err != nil {
		return line{}, fmt.Errorf("%s at byte %d: %w", l.path, e.off, err)
	}
	var ln line
	if err := json.Unmarshal(b, &ln); err != nil {
		return line{}, fmt.Errorf("%s at byte %d: %w", l.path, e.off, err)
	}
	return ln, nil
}

func (l *changeLog) close() error { return l.f.Close() }
