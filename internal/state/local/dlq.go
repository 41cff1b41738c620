package local

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

func (s *Store) DeadLetterList(ctx context.Context, tenantName, after string, limit int) ([]state.DeadLetter, string, error) {
	var out []state.DeadLetter
	next := ""
	err := s.view(func(tx *bolt.Tx) error {
		d, err := tenantSub(tx, tenantName, bDLQ)
		if err != nil || d == nil {
			return err
		}
		start := u64(0)
		if after != "" {
			k, ok := idKey(after)
			if !ok {
				return fmt.Errorf("%w: dlq cursor %q", state.ErrInvalid, after)
			}
			start = u64(getU64(k) + 1)
		}
		c := d.Cursor()
		for k, v := c.Seek(start); k != nil; k, v = c.Next() {
			if limit > 0 && len(out) == limit {
				next = out[len(out)-1].ID
				break
			}
			dl, err := decodeLetter(k, v)
			if err != nil {
				return err
			}
			out = append(out, dl)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("dlq list %s: %w", tenantName, err)
	}
	return out, next, nil
}

func decodeLetter(k, v []byte) (state.DeadLetter, error) {
	var dl state.DeadLetter
	if err := json.Unmarshal(v, &dl); err != nil {
		return dl, err
	}
	dl.ID = idString(k)
	return dl, nil
}

func (s *Store) DeadLetter(ctx context.Context, tenantName, id string) (state.DeadLetter, error) {
	var dl state.DeadLetter
	err := s.view(func(tx *bolt.Tx) error {
		d, err := tenantSub(tx, tenantName, bDLQ)
		if err != nil {
			return err
		}
		k, ok := idKey(id)
		if d == nil || !ok || d.Get(k) == nil {
			return state.ErrNotFound
		}
		dl, err = decodeLetter(k, d.Get(k))
		return err
	})
	if err != nil {
		return dl, fmt.Errorf("dlq show %s %s: %w", tenantName, id, err)
	}
	return dl, nil
}

func (s *Store) Replay(ctx context.Context, tenantName, lane string, ids []string) (int, error) {
	if err := state.CheckName("lane", lane); err != nil {
		return 0, fmt.Errorf("dlq replay %s: %w", tenantName, err)
	}
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		tb, err := tenant(tx, tenantName)
		if err != nil {
			return err
		}
		d, err := sub(tx, tb, bDLQ)
		if err != nil {
			return err
		}
		now := s.now().UnixMicro()
		for _, id := range ids {
			k, ok := idKey(id)
			if !ok || d.Get(k) == nil {
				continue
			}
			dl, err := decodeLetter(k, d.Get(k))
			if err != nil {
				return err
			}
			_, st, _, _, err := queueBuckets(tx, tb, dl.Destination)
			if err != nil {
				return err
			}
			e := dl.Entry
			e.Attempts, e.LastError = 0, ""
			if err := appendEntry(st, e); err != nil {
				return err
			}
			if err := d.Delete(k); err != nil {
				return err
			}
			if err := touchReady(tx, state.QueueRef{Tenant: tenantName, Destination: dl.Destination, Lane: lane}, now); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dlq replay %s: %w", tenantName, err)
	}
	return n, nil
}

func (s *Store) Purge(ctx context.Context, tenantName string, ids []string) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		d, err := tenantSub(tx, tenantName, bDLQ)
		if err != nil {
			return err
		}
		for _, id := range ids {
			k, ok := idKey(id)
			if !ok || d.Get(k) == nil {
				continue
			}
			if err := d.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dlq purge %s: %w", tenantName, err)
	}
	return n, nil
}

func (s *Store) PurgeAll(ctx context.Context, tenantName string) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		tb, err := tenant(tx, tenantName)
		if err != nil {
			return err
		}
		if d := tb.Bucket(bDLQ); d != nil {
			n = d.Stats().KeyN
			return tb.DeleteBucket(bDLQ)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dlq purge %s: %w", tenantName, err)
	}
	return n, nil
}
