package local

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// Notes are t/<tenant>/notes/<name>.
var bNotes = []byte("notes")

func (s *Store) PutNote(ctx context.Context, tenantName, name string, value []byte) error {
	if err := state.CheckNote(name, value); err != nil {
		return fmt.Errorf("put note %s/%s: %w", tenantName, name, err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, tenantName, bNotes)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), value)
	})
	if err != nil {
		return fmt.Errorf("put note %s/%s: %w", tenantName, name, err)
	}
	return nil
}

func (s *Store) Note(ctx context.Context, tenantName, name string) ([]byte, error) {
	if err := state.CheckName("note", name); err != nil {
		return nil, fmt.Errorf("note %s/%s: %w", tenantName, name, err)
	}
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, tenantName, bNotes)
		if err != nil {
			return err
		}
		if b == nil || b.Get([]byte(name)) == nil {
			return state.ErrNotFound
		}
		out = append([]byte{}, b.Get([]byte(name))...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("note %s/%s: %w", tenantName, name, err)
	}
	return out, nil
}

func (s *Store) DeleteNote(ctx context.Context, tenantName, name string) error {
	if err := state.CheckName("note", name); err != nil {
		return fmt.Errorf("delete note %s/%s: %w", tenantName, name, err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, tenantName, bNotes)
		if err != nil {
			return err
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete note %s/%s: %w", tenantName, name, err)
	}
	return nil
}

// PurgeTenant deletes the tenant's bucket (everything the tenant owns lives
// under t/<tenant>) and its members of the due index and of every lane's
// ready index, in one transaction. It counts the records it removed.
func (s *Store) PurgeTenant(ctx context.Context, tenantName string) (int, error) {
	if err := state.CheckName("tenant", tenantName); err != nil {
		return 0, fmt.Errorf("purge tenant %s: %w", tenantName, err)
	}
	var n int
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		root := tx.Bucket(bTenants)
		if tb := root.Bucket([]byte(tenantName)); tb != nil {
			n += countRecords(tb)
			if err := root.DeleteBucket([]byte(tenantName)); err != nil {
				return err
			}
		}
		prefix := []byte(state.Member(tenantName, ""))
		removed, err := deletePrefix(tx.Bucket(bDue), prefix)
		if err != nil {
			return err
		}
		n += removed
		ready := tx.Bucket(bReady)
		var lanes [][]byte
		if err := ready.ForEachBucket(func(k []byte) error {
			lanes = append(lanes, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, lane := range lanes {
			removed, err := deletePrefix(ready.Bucket(lane), prefix)
			if err != nil {
				return err
			}
			n += removed
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge tenant %s: %w", tenantName, err)
	}
	return n, nil
}

// countRecords counts the key/value pairs in b and its nested buckets.
func countRecords(b *bolt.Bucket) int {
	n := 0
	_ = b.ForEach(func(k, v []byte) error {
		if v != nil {
			n++
		} else if nb := b.Bucket(k); nb != nil {
			n += countRecords(nb)
		}
		return nil
	})
	return n
}

// deletePrefix deletes the keys of b that start with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) (int, error) {
	var ks [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ks = append(ks, append([]byte(nil), k...))
	}
	for _, k := range ks {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(ks), nil
}
