package runtime

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/siphonhq/siphon/dsl"
)

// backpressured reports whether a queue the job writes to holds more than
// the limit: then the tenant's polling pauses this cycle (its queues are
// drained meanwhile), and no other tenant's.
func (r *Runner) backpressured(ctx context.Context, t *dsl.Tenant, job *dsl.Job, log *slog.Logger) (bool, error) {
	seen := map[string]bool{}
	for _, name := range job.Pipelines {
		p := r.pipelines[name]
		if p == nil || seen[p.Destination] {
			continue
		}
		seen[p.Destination] = true
		d, err := r.st.Depth(ctx, r.queueRef(t, p.Destination))
		if err != nil {
			return false, fmt.Errorf("queue depth %s/%s: %w", t.ID, p.Destination, storeErr(err))
		}
		if d.Stream+d.Retry > r.cfg.QueueLimit {
			log.Warn("queue over its limit; polling pauses this cycle", "destination", p.Destination,
				"depth", d.Stream+d.Retry, "limit", r.cfg.QueueLimit)
			return true, nil
		}
	}
	return false, nil
}
