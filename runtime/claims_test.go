package runtime_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

// claimCounter counts the claims that came back empty.
type claimCounter struct {
	state.Store
	empty atomic.Int64
}

func (s *claimCounter) Claim(ctx context.Context, q state.QueueRef, consumer string, n, maxAttempts int) (state.Claimed, error) {
	c, err := s.Store.Claim(ctx, q, consumer, n, maxAttempts)
	if err == nil && len(c.Entries) == 0 {
		s.empty.Add(1)
	}
	return c, err
}

// A claim that returns less than a batch took everything there was: the
// worker writes it and parks the queue without claiming it empty first,
// and every record still arrives.
func TestShortBatchEndsTheQueueWithoutAnEmptyClaim(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 250, pipeline: volunteers}) // batches of 200 and 50
	want := h.total()
	st := &claimCounter{Store: h.store}
	r := h.runnerAdjusted(func(c *runtime.Config) { c.Workers, c.Store = 1, st })
	ctx := context.Background()
	sum, err := r.RunOnce(ctx)
	if err != nil || sum.Failed() || sum.Written != want {
		t.Fatalf("%+v %v; want %d records written", sum, err, want)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := st.empty.Load(); n != 0 {
		t.Fatalf("%d claims came back empty, want 0", n)
	}
}
