package redis

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
)

func (s *Store) PutNote(ctx context.Context, tenant, name string, value []byte) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("put note %s/%s: %w", tenant, name, err)
	}
	if err := state.CheckNote(name, value); err != nil {
		return fmt.Errorf("put note %s/%s: %w", tenant, name, err)
	}
	if err := s.rdb.Set(ctx, s.k.note(tenant, name), value, 0).Err(); err != nil {
		return fmt.Errorf("put note %s/%s: %w", tenant, name, err)
	}
	return nil
}

func (s *Store) Note(ctx context.Context, tenant, name string) ([]byte, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return nil, fmt.Errorf("note %s/%s: %w", tenant, name, err)
	}
	if err := state.CheckName("note", name); err != nil {
		return nil, fmt.Errorf("note %s/%s: %w", tenant, name, err)
	}
	b, err := s.rdb.Get(ctx, s.k.note(tenant, name)).Bytes()
	if isNil(err) {
		return nil, fmt.Errorf("note %s/%s: %w", tenant, name, state.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("note %s/%s: %w", tenant, name, err)
	}
	return b, nil
}

func (s *Store) DeleteNote(ctx context.Context, tenant, name string) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("delete note %s/%s: %w", tenant, name, err)
	}
	if err := state.CheckName("note", name); err != nil {
		return fmt.Errorf("delete note %s/%s: %w", tenant, name, err)
	}
	if err := s.rdb.Del(ctx, s.k.note(tenant, name)).Err(); err != nil {
		return fmt.Errorf("delete note %s/%s: %w", tenant, name, err)
	}
	return nil
}

// purgeBatch is how many keys or index members one SCAN, ZSCAN or UNLINK
// handles: large enough to purge a big tenant in few round trips, small
// enough that no call blocks the server for long.
const purgeBatch = 500

// PurgeTenant deletes the tenant's keys and then its hub index members.
// The keys all carry the tenant's hash tag, so they live on the one node
// that owns the tenant's slot: it SCANs that node for the tenant's prefix
// and UNLINKs what it finds, a batch at a time (one slot per call). Then it
// removes "tenant|…" members from the due index shards and from the ready
// index shards of every lane (found by SCAN on every master, since lanes
// are not listed anywhere). Each step is idempotent, so a purge cut short
// is finished by running it again; it must run while no worker holds the
// tenant, or a worker's next step writes the tenant's keys again.
func (s *Store) PurgeTenant(ctx context.Context, tenant string) (int, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return 0, fmt.Errorf("purge tenant %s: %w", tenant, err)
	}
	n, err := s.purgeKeys(ctx, tenant)
	if err != nil {
		return n, fmt.Errorf("purge tenant %s: %w", tenant, err)
	}
	shards := make([]string, 0, s.k.shards)
	for i := range s.k.shards {
		shards = append(shards, s.k.dueShard(i))
	}
	lanes, err := s.scanAll(ctx, globEscape(s.k.prefix+":{ready:")+"*", "zset")
	if err != nil {
		return n, fmt.Errorf("purge tenant %s: listing ready indexes: %w", tenant, err)
	}
	for _, key := range append(shards, lanes...) {
		removed, err := s.purgeMembers(ctx, key, state.Member(tenant, ""))
		n += removed
		if err != nil {
			return n, fmt.Errorf("purge tenant %s: index %s: %w", tenant, key, err)
		}
	}
	return n, nil
}

// purgeKeys unlinks every key with the tenant's prefix on the node that
// owns the tenant's slot.
func (s *Store) purgeKeys(ctx context.Context, tenant string) (int, error) {
	prefix := s.k.tenant(tenant)
	node, err := s.nodeFor(ctx, prefix)
	if err != nil {
		return 0, err
	}
	hub := s.hubKeys()
	n := 0
	var cursor uint64
	for {
		ks, next, err := node.Scan(ctx, cursor, globEscape(prefix)+"*", purgeBatch).Result()
		if err != nil {
			return n, err
		}
		// A tenant named "hub" shares the hub's tag; the hub's own keys
		// are not the tenant's to delete.
		ks = slices.DeleteFunc(ks, hub)
		if len(ks) > 0 {
			removed, err := node.Unlink(ctx, ks...).Result()
			n += int(removed)
			if err != nil {
				return n, err
			}
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// hubKeys reports whether a key is one of the hub's own ({hub} tag).
func (s *Store) hubKeys() func(string) bool {
	own := map[string]bool{s.k.meta(): true, s.k.config(): true, s.k.superseded(): true, s.k.hubAudit(): true, s.k.throttle(): true}
	op := s.k.hubOp("")
	return func(k string) bool { return own[k] || strings.HasPrefix(k, op) }
}

// nodeFor is the client of the node that owns key's slot: the master on a
// cluster, the one server otherwise.
func (s *Store) nodeFor(ctx context.Context, key string) (*goredis.Client, error) {
	switch c := s.rdb.(type) {
	case *goredis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *goredis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("unexpected redis client %T", s.rdb)
}

// scanAll lists the keys of the type matching pattern on every master.
func (s *Store) scanAll(ctx context.Context, pattern, typ string) ([]string, error) {
	var mu sync.Mutex
	seen := map[string]bool{}
	scan := func(ctx context.Context, c *goredis.Client) error {
		var cursor uint64
		for {
			ks, next, err := c.ScanType(ctx, cursor, pattern, purgeBatch*2, typ).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range ks {
				seen[k] = true
			}
			mu.Unlock()
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	var err error
	switch c := s.rdb.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *goredis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("unexpected redis client %T", s.rdb)
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	return out, err
}

// purgeMembers removes the members of a sorted set that start with prefix.
func (s *Store) purgeMembers(ctx context.Context, key, prefix string) (int, error) {
	n := 0
	var cursor uint64
	for {
		kv, next, err := s.rdb.ZScan(ctx, key, cursor, globEscape(prefix)+"*", purgeBatch).Result()
		if err != nil {
			return n, err
		}
		var ms []any
		for i := 0; i < len(kv); i += 2 {
			if strings.HasPrefix(kv[i], prefix) {
				ms = append(ms, kv[i])
			}
		}
		if len(ms) > 0 {
			removed, err := s.rdb.ZRem(ctx, key, ms...).Result()
			n += int(removed)
			if err != nil {
				return n, err
			}
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// globEscape quotes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
