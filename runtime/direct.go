package runtime

import (
	"context"

	"github.com/siphonhq/siphon/internal/state"
)

// deliverDirect processes, right after a page commit, the queues of
// members whose delivery is "direct". The entries went through the queue
// all the same, so a crash between commit and write loses nothing; this
// worker just claims them at once instead of leaving them to the pool.
func (pr *pollRun) deliverDirect(ctx context.Context, members []member, enq []state.Enqueue) {
	direct := map[string]bool{}
	for _, m := range members {
		if m.p.Delivery == "direct" {
			direct[m.p.Destination] = true
		}
	}
	for _, e := range enq {
		if !direct[e.Queue.Destination] || len(e.Entries) == 0 {
			continue
		}
		consumer := pr.r.cfg.Owner + "/direct/" + pr.t.ID + "/" + pr.job.ID
		if _, err := pr.r.processQueue(ctx, e.Queue, consumer, 1<<30); err != nil {
			// The entries stay queued; the process workers take them.
			pr.log.Warn("direct delivery", "destination", e.Queue.Destination, "err", err)
		}
	}
}
