package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	bolterrors "go.etcd.io/bbolt/errors"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

func flagKey(kind state.FlagKind, scope string) []byte {
	return []byte(string(kind) + "|" + scope)
}

func (s *Store) SetFlag(ctx context.Context, tenantName string, f state.Flag) error {
	if f.At.IsZero() {
		f.At = s.now().UTC()
	}
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, tenantName, bCtl)
		if err != nil {
			return err
		}
		return putJSON(b, flagKey(f.Kind, f.Scope), f)
	})
	if err != nil {
		return fmt.Errorf("set flag %s %s: %w", tenantName, f.Kind, err)
	}
	return nil
}

func (s *Store) ClearFlag(ctx context.Context, tenantName string, kind state.FlagKind, scope string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, tenantName, bCtl)
		if err != nil {
			return err
		}
		return b.Delete(flagKey(kind, scope))
	})
	if err != nil {
		return fmt.Errorf("clear flag %s %s: %w", tenantName, kind, err)
	}
	return nil
}

func (s *Store) Flags(ctx context.Context, tenantName string) ([]state.Flag, error) {
	var out []state.Flag
	err := s.view(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, tenantName, bCtl)
		if err != nil || b == nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var f state.Flag
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("flags %s: %w", tenantName, err)
	}
	return out, nil
}

// Credential errors never include the blob.
func (s *Store) PutCredential(ctx context.Context, tenantName string, sealed []byte) error {
	err := s.update(func(tx *bolt.Tx) error {
		tb, err := tenant(tx, tenantName)
		if err != nil {
			return err
		}
		return tb.Put(kCred, sealed)
	})
	if err != nil {
		return fmt.Errorf("put credential %s: %w", tenantName, err)
	}
	return nil
}

func (s *Store) Credential(ctx context.Context, tenantName string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		tb, err := tenant(tx, tenantName)
		if err != nil {
			return err
		}
		if tb == nil || tb.Get(kCred) == nil {
			return state.ErrNotFound
		}
		out = append([]byte(nil), tb.Get(kCred)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("credential %s: %w", tenantName, err)
	}
	return out, nil
}

func (s *Store) DeleteCredential(ctx context.Context, tenantName string) error {
	err := s.update(func(tx *bolt.Tx) error {
		tb, err := tenant(tx, tenantName)
		if err != nil {
			return err
		}
		return tb.Delete(kCred)
	})
	if err != nil {
		return fmt.Errorf("delete credential %s: %w", tenantName, err)
	}
	return nil
}

func (s *Store) ActivateConfig(ctx context.Context, v state.ConfigVersion, force bool) (state.ConfigVersion, error) {
	var out state.ConfigVersion
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bConfig)
		sup, err := b.CreateBucketIfNotExists(bSuperseded)
		if err != nil {
			return err
		}
		var cur state.ConfigVersion
		has, err := getJSON(b, kActive, &cur)
		if err != nil {
			return err
		}
		out = cur
		if has && cur.Hash == v.Hash && (v.Version == 0 || cur.Version == v.Version) {
			if len(cur.Summary) > 0 || len(v.Summary) == 0 {
				return nil
			}
			cur.Summary = v.Summary
			out = cur
			return putJSON(b, kActive, cur)
		}
		if has && !force {
			if (v.Version != 0 && v.Version <= cur.Version) || sup.Get([]byte(v.Hash)) != nil {
				return fmt.Errorf("%w: version %d (%s) is not newer than active %d (%s); use force", state.ErrSuperseded, v.Version, v.Hash, cur.Version, cur.Hash)
			}
		}
		if has && cur.Hash != v.Hash {
			if err := sup.Put([]byte(cur.Hash), []byte("1")); err != nil {
				return err
			}
		}
		// The highest number ever handed out, kept apart from the active
		// config because a forced rollback may activate a lower explicit
		// version; the next numbered config must still pass them all.
		var last int64
		if _, err := getJSON(b, kLastVersion, &last); err != nil {
			return err
		}
		last = max(last, cur.Version)
		if v.Version == 0 {
			v.Version = last + 1
		}
		if err := putJSON(b, kLastVersion, max(last, v.Version)); err != nil {
			return err
		}
		if v.ActivatedAt.IsZero() {
			v.ActivatedAt = s.now().UTC()
		}
		out = v
		return putJSON(b, kActive, v)
	})
	if err != nil {
		return out, fmt.Errorf("activate config %d: %w", v.Version, err)
	}
	return out, nil
}

func (s *Store) ActiveConfig(ctx context.Context) (state.ConfigVersion, bool, error) {
	var v state.ConfigVersion
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bConfig), kActive, &v)
		return err
	})
	if err != nil {
		return v, false, fmt.Errorf("active config: %w", err)
	}
	return v, ok, nil
}

func (s *Store) AppendAudit(ctx context.Context, e state.AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.now().UTC()
	}
	e.ID = ""
	if e.Region != "" {
		// The hub's entry of a regional tenant names it: no tenant, no entry.
		if err := state.CheckName("tenant", e.Tenant); err != nil {
			return fmt.Errorf("audit %s (region %s): %w", e.Action, e.Region, err)
		}
	}
	err := s.update(func(tx *bolt.Tx) error {
		logs := []*bolt.Bucket{tx.Bucket(bHubAudit)}
		if e.Tenant != "" && e.Region == "" {
			b, err := tenantSub(tx, e.Tenant, bAudit)
			if err != nil {
				return err
			}
			logs = append(logs, b)
		}
		for _, b := range logs {
			id, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := putJSON(b, u64(id), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", e.Tenant, e.Action, err)
	}
	return nil
}

func (s *Store) Audit(ctx context.Context, tenantName, after string, limit int) ([]state.AuditEntry, string, error) {
	var out []state.AuditEntry
	next := ""
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bHubAudit)
		if tenantName != "" {
			tb, err := tenant(tx, tenantName)
			if err != nil {
				return err
			}
			if b, err = sub(tx, tb, bAudit); err != nil || b == nil {
				return err
			}
		}
		start := u64(0)
		if after != "" {
			k, ok := idKey(after)
			if !ok {
				return fmt.Errorf("%w: audit cursor %q", state.ErrInvalid, after)
			}
			start = u64(getU64(k) + 1)
		}
		c := b.Cursor()
		for k, v := c.Seek(start); k != nil; k, v = c.Next() {
			if limit > 0 && len(out) == limit {
				next = out[len(out)-1].ID
				break
			}
			var e state.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			e.ID = idString(k)
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("audit list %s: %w", tenantName, err)
	}
	return out, next, nil
}

func (s *Store) ScanPages(ctx context.Context, tenantName, resource, scanID string, fn func(page int64, ids []string) error) error {
	// Pages are read one short transaction at a time, so a long merge never
	// holds a read transaction (which would keep freed pages from reuse).
	var after []byte
	for {
		var page int64
		var blob []byte
		err := s.view(func(tx *bolt.Tx) error {
			b, err := tenantSub(tx, tenantName, bScans, []byte(state.Member(resource, scanID)))
			if err != nil || b == nil {
				return err
			}
			c := b.Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); k != nil && string(k) == string(after) {
				k, v = c.Next()
			}
			if k != nil {
				after = append([]byte(nil), k...)
				page, blob = int64(getU64(k)), append([]byte(nil), v...)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scan %s/%s %s: %w", tenantName, resource, scanID, err)
		}
		if blob == nil {
			return nil
		}
		ids, err := state.DecodeIDs(blob)
		if err != nil {
			return fmt.Errorf("scan %s/%s %s page %d: %w", tenantName, resource, scanID, page, err)
		}
		if err := fn(page, ids); err != nil {
			return err
		}
	}
}

// deleteScanBytes bounds the ids one DeleteScan transaction removes, so a
// deletion's memory is that of one chunk whatever the scan's size
// (BenchmarkDeleteScan: ~3 MiB at a million ids; dropping the bucket in
// one transaction measured less there, ~0.1 MiB, but is all or nothing).
var deleteScanBytes = 4 << 20

// DeleteScan removes a scan's pages a bounded chunk per transaction, then
// its bucket. A crash midway leaves a partly deleted scan, which nothing
// reads as complete (the merge checks the id count) and a repeat finishes.
func (s *Store) DeleteScan(ctx context.Context, tenantName, resource, scanID string) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delete scan %s/%s %s: %w", tenantName, resource, scanID, err)
		}
		done, err := s.deleteScanChunk(tenantName, resource, scanID, deleteScanBytes)
		if err != nil {
			return fmt.Errorf("delete scan %s/%s %s: %w", tenantName, resource, scanID, err)
		}
		if done {
			return nil
		}
	}
}

// deleteScanChunk deletes the scan's first pages, up to limit bytes (at
// least one page), and the scan's bucket once it is empty; done reports
// that the scan is gone.
func (s *Store) deleteScanChunk(tenantName, resource, scanID string, limit int) (done bool, err error) {
	name := []byte(state.Member(resource, scanID))
	err = s.update(func(tx *bolt.Tx) error {
		done = false // Batch may run fn again
		scans, err := tenantSub(tx, tenantName, bScans)
		if err != nil {
			return err
		}
		b := scans.Bucket(name)
		if b == nil {
			done = true
			return nil
		}
		var keys [][]byte
		size := 0
		c := b.Cursor()
		for k, v := c.First(); k != nil && size < limit; k, v = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
			size += len(k) + len(v)
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if k, _ := b.Cursor().First(); k != nil {
			return nil
		}
		if err := scans.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return err
		}
		done = true
		return nil
	})
	return done, err
}
