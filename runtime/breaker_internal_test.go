package runtime

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/plugins/host"
)

// A whole-batch failure that follows this process's own success is the
// batch's, unless the store's write-error flag says a write of another
// process sharing the store failed since a batch last wrote cleanly: then
// the outage has begun, and each process spending an attempt on its own
// first failure would spend one per process.
func TestDestinationFailedReadsTheSharedWriteError(t *testing.T) {
	ctx := context.Background()
	st, err := state.Open(ctx, redistest.Start(t).URL(), state.Options{Unsafe: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	r := &Runner{st: st, tenants: map[string]*dsl.Tenant{}, cfg: Config{RetryBackoff: time.Second, MaxRetryBackoff: time.Minute}}
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "standard"}
	dest := &dsl.Destination{Name: "db"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	afterSuccess := host.BreakerState{Failures: 1, LastSuccess: time.Now()}
	if r.destinationFailed(ctx, q, dest, afterSuccess, 0.5, log) {
		t.Fatal("the first failure after a success, none recorded in the store, judged the destination's")
	}
	if err := st.SetFlag(ctx, q.Tenant, state.Flag{Kind: state.FlagWriteError, Scope: q.Destination, Reason: "destination unavailable"}); err != nil {
		t.Fatal(err)
	}
	if !r.destinationFailed(ctx, q, dest, afterSuccess, 0.5, log) {
		t.Fatal("a failure after another process's failed write judged the batch's")
	}
	if !r.waitingForDestination(q) {
		t.Fatal("the queue does not wait after a failure judged the destination's")
	}
}
