package local

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// SwapCredential compares and writes in one write transaction, so a set or
// delete committed in between is seen. A lost swap creates nothing: a
// tenant purged meanwhile gets no empty bucket back. The error never
// includes a blob.
func (s *Store) SwapCredential(ctx context.Context, tenantName string, old, sealed []byte) (bool, error) {
	if err := state.CheckName("tenant", tenantName); err != nil {
		return false, fmt.Errorf("swap credential %s: %w", tenantName, err)
	}
	if len(sealed) == 0 {
		return false, fmt.Errorf("swap credential %s: %w: empty sealed credential", tenantName, state.ErrInvalid)
	}
	var swapped bool
	err := s.update(func(tx *bolt.Tx) error {
		// update may run fn more than once: set the result on every run,
		// never accumulate it.
		swapped = false
		var cur []byte
		if tb := tx.Bucket(bTenants).Bucket([]byte(tenantName)); tb != nil {
			cur = tb.Get(kCred)
		}
		if cur != nil && bytes.Equal(cur, sealed) {
			swapped = true
			return nil
		}
		if (len(old) == 0 && cur != nil) || (len(old) != 0 && !bytes.Equal(cur, old)) {
			return nil
		}
		tb, err := tenant(tx, tenantName)
		if err != nil {
			return err
		}
		if err := tb.Put(kCred, sealed); err != nil {
			return err
		}
		swapped = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("swap credential %s: %w", tenantName, err)
	}
	return swapped, nil
}
