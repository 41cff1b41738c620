package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
)

// letterOf decodes a DLQ stream entry: the queue entry's fields plus q
// (destination), r (reason) and at.
func letterOf(m goredis.XMessage) state.DeadLetter {
	var e state.Entry
	for k, v := range m.Values {
		setField(&e, k, asString(v))
	}
	f := func(k string) string { return asString(m.Values[k]) }
	return state.DeadLetter{ID: m.ID, Destination: f("q"), Entry: e, Reason: f("r"), At: parseUS(f("at"))}
}

// streamPage reads up to limit entries (100 when limit is not positive) of
// the stream at key after the entry ID after ("" for the start), and the
// cursor of the next page ("" when none follows).
func (s *Store) streamPage(ctx context.Context, key, after string, limit int) ([]goredis.XMessage, string, error) {
	start := "-"
	if after != "" {
		if !streamID.MatchString(after) {
			return nil, "", fmt.Errorf("%w: cursor %q", state.ErrInvalid, after)
		}
		start = "(" + after
	}
	if limit <= 0 {
		limit = 100
	}
	msgs, err := s.rdb.XRangeN(ctx, key, start, "+", int64(limit+1)).Result()
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].ID
	}
	return msgs, next, nil
}

func (s *Store) DeadLetterList(ctx context.Context, tenant, after string, limit int) ([]state.DeadLetter, string, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return nil, "", fmt.Errorf("dlq list %s: %w", tenant, err)
	}
	msgs, next, err := s.streamPage(ctx, s.k.dlq(tenant), after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("dlq list %s: %w", tenant, err)
	}
	out := make([]state.DeadLetter, len(msgs))
	for i, m := range msgs {
		out[i] = letterOf(m)
	}
	return out, next, nil
}

func (s *Store) DeadLetter(ctx context.Context, tenant, id string) (state.DeadLetter, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return state.DeadLetter{}, fmt.Errorf("dlq show %s %s: %w", tenant, id, err)
	}
	if !streamID.MatchString(id) {
		return state.DeadLetter{}, fmt.Errorf("dlq show %s %s: %w", tenant, id, state.ErrNotFound)
	}
	msgs, err := s.rdb.XRange(ctx, s.k.dlq(tenant), id, id).Result()
	if err != nil {
		return state.DeadLetter{}, fmt.Errorf("dlq show %s %s: %w", tenant, id, err)
	}
	if len(msgs) == 0 {
		return state.DeadLetter{}, fmt.Errorf("dlq show %s %s: %w", tenant, id, state.ErrNotFound)
	}
	return letterOf(msgs[0]), nil
}

// Replay reads the letters' destinations first (the script must name every
// stream it writes), then moves them in one script.
func (s *Store) Replay(ctx context.Context, tenant, lane string, ids []string) (int, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return 0, fmt.Errorf("dlq replay %s: %w", tenant, err)
	}
	if err := state.CheckName("lane", lane); err != nil {
		return 0, fmt.Errorf("dlq replay %s: %w", tenant, err)
	}
	ids = validIDs(ids)
	if len(ids) == 0 {
		return 0, nil
	}
	pipe := s.rdb.Pipeline()
	reads := make([]*goredis.XMessageSliceCmd, len(ids))
	for i, id := range ids {
		reads[i] = pipe.XRange(ctx, s.k.dlq(tenant), id, id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("dlq replay %s: %w", tenant, err)
	}
	ks := []string{s.k.dlq(tenant)}
	index := map[string]int{}
	args := []any{group}
	var queues []state.QueueRef
	for i, r := range reads {
		if len(r.Val()) == 0 {
			continue
		}
		dest := asString(r.Val()[0].Values["q"])
		if state.CheckName("destination", dest) != nil {
			continue
		}
		if _, ok := index[dest]; !ok {
			ks = append(ks, s.k.stream(tenant, dest))
			index[dest] = len(ks)
			queues = append(queues, state.QueueRef{Tenant: tenant, Destination: dest, Lane: lane})
		}
		args = append(args, ids[i], index[dest])
	}
	if len(args) == 1 {
		return 0, nil
	}
	n, err := replayScript.Run(ctx, s.rdb, ks, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("dlq replay %s: %w", tenant, err)
	}
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return n, fmt.Errorf("dlq replay %s: mark ready: %w", tenant, err)
	}
	ready := s.rdb.Pipeline()
	for _, q := range queues {
		s.readyAdd(ctx, ready, q, now.UnixMicro())
	}
	if _, err := ready.Exec(ctx); err != nil {
		return n, fmt.Errorf("dlq replay %s: mark ready: %w", tenant, err)
	}
	return n, nil
}

func (s *Store) Purge(ctx context.Context, tenant string, ids []string) (int, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return 0, fmt.Errorf("dlq purge %s: %w", tenant, err)
	}
	if ids = validIDs(ids); len(ids) == 0 {
		return 0, nil
	}
	n, err := s.rdb.XDel(ctx, s.k.dlq(tenant), ids...).Result()
	if err != nil {
		return 0, fmt.Errorf("dlq purge %s: %w", tenant, err)
	}
	return int(n), nil
}

func (s *Store) PurgeAll(ctx context.Context, tenant string) (int, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return 0, fmt.Errorf("dlq purge %s: %w", tenant, err)
	}
	n, err := purgeAllScript.Run(ctx, s.rdb, []string{s.k.dlq(tenant)}).Int()
	if err != nil {
		return 0, fmt.Errorf("dlq purge %s: %w", tenant, err)
	}
	return n, nil
}
