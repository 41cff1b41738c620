package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

func checkPipeline(tenant, pipeline string) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return err
	}
	return state.CheckName("pipeline", pipeline)
}

func (s *Store) Checkpoint(ctx context.Context, tenant, pipeline string) (state.Checkpoint, error) {
	if err := checkPipeline(tenant, pipeline); err != nil {
		return state.Checkpoint{}, fmt.Errorf("checkpoint %s/%s: %w", tenant, pipeline, err)
	}
	h, err := s.rdb.HGetAll(ctx, s.k.checkpoint(tenant, pipeline)).Result()
	if err != nil {
		return state.Checkpoint{}, fmt.Errorf("checkpoint %s/%s: %w", tenant, pipeline, err)
	}
	num := func(f string) int64 {
		n, _ := strconv.ParseInt(h[f], 10, 64)
		return n
	}
	cp := state.Checkpoint{Cursor: fromUS(num("cursor")), Generation: num("gen"),
		LastComplete: fromUS(num("done")), LastRecords: num("done_n")}
	if _, ok := h["pos"]; ok {
		cp.Walk = &state.Walk{After: fromUS(num("after")), Cap: fromUS(num("cap")), Position: num("pos"), Total: num("total"),
			Records: num("n")}
		if p, ok := h["src"]; ok {
			cp.Walk.Progress = []byte(p)
		}
	}
	return cp, nil
}

func (s *Store) SetCursor(ctx context.Context, tenant, pipeline string, at time.Time) (state.Checkpoint, error) {
	return s.rewriteCheckpoint(ctx, tenant, pipeline, "set", us(at))
}

func (s *Store) ResetCheckpoint(ctx context.Context, tenant, pipeline string) (state.Checkpoint, error) {
	return s.rewriteCheckpoint(ctx, tenant, pipeline, "reset", "")
}

func (s *Store) rewriteCheckpoint(ctx context.Context, tenant, pipeline, verb, cursor string) (state.Checkpoint, error) {
	if err := checkPipeline(tenant, pipeline); err != nil {
		return state.Checkpoint{}, fmt.Errorf("checkpoint %s %s/%s: %w", verb, tenant, pipeline, err)
	}
	gen, err := setCheckpointScript.Run(ctx, s.rdb, []string{s.k.checkpoint(tenant, pipeline)}, cursor).Int64()
	if err != nil {
		return state.Checkpoint{}, fmt.Errorf("checkpoint %s %s/%s: %w", verb, tenant, pipeline, err)
	}
	return state.Checkpoint{Cursor: parseUS(cursor), Generation: gen}, nil
}
