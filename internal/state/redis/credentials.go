package redis

import (
	"context"
	"fmt"

	"github.com/siphonhq/siphon/internal/state"
)

// SwapCredential compares and writes in one script on the credential's
// key. The error never includes a blob.
func (s *Store) SwapCredential(ctx context.Context, tenant string, old, sealed []byte) (bool, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return false, fmt.Errorf("swap credential %s: %w", tenant, err)
	}
	if len(sealed) == 0 {
		return false, fmt.Errorf("swap credential %s: %w: empty sealed credential", tenant, state.ErrInvalid)
	}
	n, err := swapCredentialScript.Run(ctx, s.rdb, []string{s.k.credential(tenant)}, old, sealed).Int()
	if err != nil {
		return false, fmt.Errorf("swap credential %s: %w", tenant, err)
	}
	return n == 1, nil
}
