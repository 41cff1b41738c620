package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
)

// batchesPerVisit is the runtime's: how many batches a worker writes from
// one queue before it moves on.
const batchesPerVisit = 4

// The small tenant's records must not wait for the backlogs of 40 others:
// they are written within one turn of the lane's queues, counted in
// batches. Queues handed out in the order they became ready, and never
// moved back, would write about 25 backlogs of 10 batches first. (Redis
// only: the turn taking itself is in statetest for both stores, and the
// embedded store's fsync per batch makes this run several times slower.)
func TestSmallTenantIsNotBehindBacklogs(t *testing.T) {
	testSmallTenantFairness(t, redistest.Start(t).URL())
}

func testSmallTenantFairness(t *testing.T, store string) {
	const big, each = 40, 2000 // 10 batches of 200 each
	logs := t.TempDir()
	h := newHarness(t, harnessOpts{tenants: big + 1, pipeline: volunteers, store: store, destination: probeBlock(logs, "")})
	tenants := h.sim.Tenants()
	for _, ti := range tenants[:big] {
		h.backlog(ti.ID, "b", each)
	}
	time.Sleep(2 * time.Millisecond) // the small tenant's work is the newest
	small := tenants[big].ID
	h.backlog(small, "s", 5)

	// One worker, so the batches are written one after another.
	r := h.runnerAdjusted(func(c *runtime.Config) { c.Workers = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := r.RunOnce(ctx); done <- err }()
	first := -1
	h.waitFor(time.Now().Add(time.Minute), "the small tenant's write", func() bool {
		for i, w := range probeWrites(t, logs) {
			if w.tenant == small {
				first = i
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if limit := (big + 1) * batchesPerVisit; first >= limit {
		t.Fatalf("the small tenant's first write was batch %d, after a whole turn of %d queues (%d batches)", first+1, big+1, limit)
	}
	writes := probeWrites(t, logs)
	if total := big * each / 200; len(writes) >= total {
		t.Fatalf("%d writes: the backlogs drained before the check", len(writes))
	}
	seen := map[string]bool{}
	for _, w := range writes[:first] {
		seen[w.tenant] = true
	}
	if len(seen) < 16 {
		t.Errorf("only %d tenants written before the small one", len(seen))
	}
}

// A dead worker's claimed entries are reclaimed while new entries keep
// arriving, not only once the queue runs dry.
func TestReclaimUnderInflowBbolt(t *testing.T) { testReclaimUnderInflow(t, "") }

func TestReclaimUnderInflowRedis(t *testing.T) { testReclaimUnderInflow(t, redistest.Start(t).URL()) }

func testReclaimUnderInflow(t *testing.T, store string) {
	logs := t.TempDir()
	// 200 records per 50ms at most: slower than the inflow below.
	h := newHarness(t, harnessOpts{tenants: 1, pipeline: volunteers, store: store, destination: probeBlock(logs, `delay = "50ms"`)})
	tenant := h.sim.Tenants()[0].ID
	q := h.queue(tenant)
	h.backlog(tenant, "dead", 3)
	c, err := h.store.Claim(context.Background(), q, "dead-worker", 10, 5)
	if err != nil || len(c.Entries) != 3 {
		t.Fatalf("claim %+v %v", c, err)
	}
	h.backlog(tenant, "b", 2000)

	r := h.runnerAdjusted(func(c *runtime.Config) { c.Workers, c.Visibility = 1, 300*time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// Continuous inflow: 400 records every 50ms, twice what the worker
	// writes, so its queue never runs dry while the test waits.
	inflow := make(chan struct{})
	go func() {
		defer close(inflow)
		for i := 0; ctx.Err() == nil; i++ {
			if err := h.enqueueBacklog(tenant, fmt.Sprintf("n%d-", i), 400); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	h.waitFor(time.Now().Add(30*time.Second), "the dead worker's entries to be written", func() bool {
		for _, w := range probeWrites(t, logs) {
			if slices.Contains(w.keys, "dead0") {
				return true
			}
		}
		return false
	})
	d, err := h.store.Depth(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-inflow
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if d.Stream-d.Pending == 0 {
		t.Fatalf("queue %+v: ran dry, so this did not test reclaiming under inflow", d)
	}
	var dead []string
	for _, w := range probeWrites(t, logs) {
		for _, k := range w.keys {
			if strings.HasPrefix(k, "dead") {
				dead = append(dead, k)
			}
		}
	}
	slices.Sort(dead)
	if !slices.Equal(dead, []string{"dead0", "dead1", "dead2"}) {
		t.Fatalf("dead worker's entries written: %v", dead)
	}
}

// A write cut short by shutdown is not a failed attempt: its batch is
// handed back at once, and the next runner writes it without waiting for
// the visibility timeout.
func TestShutdownHandsBackTheBatchBbolt(t *testing.T) { testShutdownHandsBack(t, "", nil) }

// On Redis the runners' stream consumers are gone once they exit: consumer
// names carry the process, so the group would grow with every restart.
func TestShutdownHandsBackTheBatchRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	testShutdownHandsBack(t, srv.URL(), func(tenant string) {
		t.Helper()
		cs, err := rdb.XInfoConsumers(context.Background(), "sx:{"+tenant+"}:q:db", "workers").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 0 {
			t.Fatalf("consumers left behind: %+v", cs)
		}
	})
}

// testShutdownHandsBack runs noConsumers, when set, after each runner
// exits.
func testShutdownHandsBack(t *testing.T, store string, noConsumers func(tenant string)) {
	logs := t.TempDir()
	hold := filepath.Join(logs, "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOpts{tenants: 1, pipeline: volunteers, store: store,
		destination: probeBlock(logs, "hold = "+quote(hold))})
	tenant := h.sim.Tenants()[0].ID
	q := h.queue(tenant)
	const n = 50
	h.backlog(tenant, "k", n)

	r := h.runnerAdjusted(func(c *runtime.Config) { c.Workers = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	h.waitFor(time.Now().Add(30*time.Second), "the held write", func() bool { return len(probeWrites(t, logs)) > 0 })
	cancel() // SIGTERM mid-batch
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	d, err := h.store.Depth(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	// A counted failure would sit in the retry set; a batch left claimed
	// would be pending.
	if d.Stream != n || d.Pending != 0 || d.Retry != 0 || d.Dead != 0 {
		t.Fatalf("after shutdown %+v, want %d entries back in the queue", d, n)
	}
	if noConsumers != nil {
		noConsumers(tenant)
	}

	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	// The default visibility timeout (5m) is far beyond this test: the
	// next runner writes the batch only because it was handed back.
	s, err := h.runnerAdjusted(func(c *runtime.Config) { c.Owner = "second" }).RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Written != n || s.Retried != 0 || s.Dead != 0 {
		t.Fatalf("second run %+v", s)
	}
	if d, err = h.store.Depth(context.Background(), q); err != nil || d.Stream != 0 {
		t.Fatalf("after the second run %+v %v", d, err)
	}
	if noConsumers != nil {
		noConsumers(tenant)
	}
}

// A record the destination keeps refusing as retryable is retried with
// backoff until max_attempts, then goes to the DLQ with the last error and
// the trace id of the poll that found it. The failure is the queue's last
// write error (for status) until a batch writes cleanly.
func TestRetryableWriteReachesTheDLQ(t *testing.T) {
	logs := t.TempDir()
	failing := filepath.Join(logs, "failing")
	if err := os.WriteFile(failing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const users, maxAttempts = 5, 3
	h := newHarness(t, harnessOpts{tenants: 1, users: users, store: redistest.Start(t).URL(),
		pipeline:    volunteers + "\n  retry {\n    max_attempts = 3\n  }",
		destination: probeBlock(logs, `retryable = "lock timeout", fail_while = `+quote(failing))})
	tenant := h.sim.Tenants()[0].ID
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s, err := h.runnerAdjusted(func(c *runtime.Config) { c.TracerProvider = tp }).RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Every record is a write, the filtered ones as deletes.
	live := len(h.truth(tenant))
	if live != users || s.Dead != int64(live) || s.Written != 0 || s.Retried != int64(live*(maxAttempts-1)) {
		t.Fatalf("summary %+v, want %d records retried twice, then dead", s, live)
	}
	polls := map[string]bool{}
	for _, sp := range spans.Ended() {
		if sp.Name() == "poll" {
			polls[sp.SpanContext().TraceID().String()] = true
		}
	}
	letters, _, err := h.store.DeadLetterList(context.Background(), tenant, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != live {
		t.Fatalf("%d letters, want %d", len(letters), live)
	}
	for _, l := range letters {
		parts := strings.Split(l.Entry.Trace, "-")
		if l.Reason != "failed" || l.Entry.Attempts != maxAttempts || l.Entry.LastError != "lock timeout" || len(parts) != 4 || !polls[parts[1]] {
			t.Fatalf("letter %+v (poll traces %v)", l, polls)
		}
	}
	writes := map[string]int{}
	for _, w := range probeWrites(t, logs) {
		for _, k := range w.keys {
			writes[k]++
		}
	}
	for k, n := range writes {
		if n != maxAttempts {
			t.Errorf("record %s written %d times, want %d", k, n, maxAttempts)
		}
	}
	if d, err := h.store.Depth(context.Background(), h.queue(tenant)); err != nil || d.Stream+d.Retry != 0 {
		t.Fatalf("queue %+v %v", d, err)
	}
	if got := writeError(t, h, tenant); got != "lock timeout" {
		t.Fatalf("last write error %q", got)
	}

	// The destination recovers; the replayed letters write and clear it.
	if err := os.Remove(failing); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(letters))
	for i, l := range letters {
		ids[i] = l.ID
	}
	if n, err := h.store.Replay(context.Background(), tenant, "standard", ids); err != nil || n != live {
		t.Fatalf("replay %d %v", n, err)
	}
	if s, err = h.runner().RunOnce(context.Background()); err != nil || s.Written < int64(live) {
		t.Fatalf("after replay %+v %v", s, err)
	}
	if got := writeError(t, h, tenant); got != "" {
		t.Fatalf("last write error %q after a clean write", got)
	}
}

// writeError is the reason of the tenant's write-error flag for the test
// destination ("" when it has none).
func writeError(t *testing.T, h *harness, tenant string) string {
	t.Helper()
	flags, err := h.store.Flags(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		if f.Kind == state.FlagWriteError && f.Scope == "db" {
			return f.Reason
		}
	}
	return ""
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
