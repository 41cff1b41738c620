package local

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// checkpoint is the stored form of a (tenant, pipeline) checkpoint.
// Fields added later are omitempty, so stores written before them read
// as zero.
type checkpoint struct {
	Cursor      int64 `json:"cursor,omitempty"`
	Generation  int64 `json:"gen,omitempty"`
	Walk        *walk `json:"walk,omitempty"`
	Done        int64 `json:"done,omitempty"`
	DoneRecords int64 `json:"done_n,omitempty"`
}

type walk struct {
	After    int64  `json:"after"`
	Cap      int64  `json:"cap"`
	Position int64  `json:"pos"`
	Total    int64  `json:"total"`
	Records  int64  `json:"n,omitempty"`
	Progress []byte `json:"src,omitempty"`
}

func storedWalk(w state.Walk) *walk {
	return &walk{After: micros(w.After), Cap: micros(w.Cap), Position: w.Position, Total: w.Total, Records: w.Records,
		Progress: w.Progress}
}

func (c checkpoint) public() state.Checkpoint {
	out := state.Checkpoint{Cursor: fromMicros(c.Cursor), Generation: c.Generation,
		LastComplete: fromMicros(c.Done), LastRecords: c.DoneRecords}
	if c.Walk != nil {
		out.Walk = &state.Walk{After: fromMicros(c.Walk.After), Cap: fromMicros(c.Walk.Cap), Position: c.Walk.Position,
			Total: c.Walk.Total, Records: c.Walk.Records, Progress: c.Walk.Progress}
	}
	return out
}

func (s *Store) Checkpoint(ctx context.Context, tenantName, pipeline string) (state.Checkpoint, error) {
	var c checkpoint
	err := s.view(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, tenantName, bCheckpts)
		if err != nil {
			return err
		}
		_, err = getJSON(b, []byte(pipeline), &c)
		return err
	})
	if err != nil {
		return state.Checkpoint{}, fmt.Errorf("checkpoint %s/%s: %w", tenantName, pipeline, err)
	}
	return c.public(), nil
}

func (s *Store) SetCursor(ctx context.Context, tenantName, pipeline string, at time.Time) (state.Checkpoint, error) {
	return s.rewriteCheckpoint(tenantName, pipeline, "set", micros(at))
}

func (s *Store) ResetCheckpoint(ctx context.Context, tenantName, pipeline string) (state.Checkpoint, error) {
	return s.rewriteCheckpoint(tenantName, pipeline, "reset", 0)
}

// rewriteCheckpoint is the operator's set/reset: it drops any walk and bumps
// the generation so the walk in flight cannot overwrite the new cursor.
func (s *Store) rewriteCheckpoint(tenantName, pipeline, verb string, cursor int64) (state.Checkpoint, error) {
	if err := state.CheckName("pipeline", pipeline); err != nil {
		return state.Checkpoint{}, err
	}
	var c checkpoint
	err := s.update(func(tx *bolt.Tx) error {
		c = checkpoint{}
		b, err := tenantSub(tx, tenantName, bCheckpts)
		if err != nil {
			return err
		}
		if _, err := getJSON(b, []byte(pipeline), &c); err != nil {
			return err
		}
		c = checkpoint{Cursor: cursor, Generation: c.Generation + 1}
		return putJSON(b, []byte(pipeline), c)
	})
	if err != nil {
		return state.Checkpoint{}, fmt.Errorf("checkpoint %s %s/%s: %w", verb, tenantName, pipeline, err)
	}
	return c.public(), nil
}
