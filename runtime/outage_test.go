package runtime_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
)

// outageRedis starts the Redis these tests kill. With the default
// appendfsync everysec, Redis holds back its AOF write while a background
// fsync is slow (a busy disk) and still acknowledges, so a kill can lose
// writes it acknowledged in the last two seconds: the tenants' credentials,
// stored just before the kill, were lost that way under load. Always
// fsyncing makes an acknowledged write survive the kill, as production
// settings for a store that must not lose work would.
func outageRedis(t *testing.T) *redistest.Server {
	return redistest.Start(t, "--appendfsync", "always")
}

// outageWatch passes records on to its handler and, once armed (the store
// stopped), closes seen at the runner's first "store unavailable" warning:
// the sign that the runner is riding out the outage, so the store may come
// back.
type outageWatch struct {
	slog.Handler
	armed *atomic.Bool
	once  *sync.Once
	seen  chan struct{}
}

func newOutageWatch() outageWatch {
	return outageWatch{Handler: quietLog().Handler(), armed: new(atomic.Bool), once: new(sync.Once), seen: make(chan struct{})}
}

// arm starts watching; a warning from before the outage does not count.
func (w outageWatch) arm() { w.armed.Store(true) }

func (w outageWatch) Handle(ctx context.Context, r slog.Record) error {
	if w.armed.Load() && strings.HasPrefix(r.Message, "store unavailable") {
		w.once.Do(func() { close(w.seen) })
	}
	return w.Handler.Handle(ctx, r)
}

func (w outageWatch) WithAttrs(as []slog.Attr) slog.Handler {
	w.Handler = w.Handler.WithAttrs(as)
	return w
}

func (w outageWatch) WithGroup(name string) slog.Handler {
	w.Handler = w.Handler.WithGroup(name)
	return w
}

// waitOutage returns once the runner has met the outage; it fails the test
// if the run ends first or the deadline (a bound against hanging) passes.
func (w outageWatch) waitOutage(t *testing.T, done <-chan error, deadline time.Time) {
	t.Helper()
	select {
	case <-w.seen:
	case err := <-done:
		t.Fatalf("run ended before it met the store outage: %v", err)
	case <-time.After(time.Until(deadline)):
		t.Fatal("gave up waiting for the runner to report the store outage")
	}
}

// Run rides out a store outage (Redis killed and restarted from its AOF)
// and ends exact once the source has settled.
func TestRunRidesOutAStoreOutage(t *testing.T) {
	srv := outageRedis(t)
	h := newHarness(t, harnessOpts{tenants: 3, users: 100, pipeline: volunteers, churnPerMinute: 30, store: srv.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := newOutageWatch()
	done := make(chan error, 1)
	go func() {
		done <- h.runnerAdjusted(func(c *runtime.Config) { c.Logger = slog.New(watch) }).Run(ctx)
	}()
	deadline := time.Now().Add(90 * time.Second) // a bound against hanging, not a timing assertion
	h.waitFor(deadline, "first walks", func() bool { return h.cursorsAfter(time.Time{}) })

	srv.Stop()
	watch.arm()
	watch.waitOutage(t, done, deadline)
	srv.Restart()
	select {
	case err := <-done:
		t.Fatalf("run ended during the outage: %v", err)
	default:
	}

	ch := h.sim.Scenario().Churn
	ch.Enabled = false
	if err := h.sim.SetChurn(ch); err != nil {
		t.Fatal(err)
	}
	quiet := h.sim.APINow()
	h.waitFor(deadline, "walks past the end of churn and empty queues", func() bool {
		return h.cursorsAfter(quiet) && h.queuesEmpty()
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.assertExact()
}

// --once rides out a store that comes back within StoreOutage, and gives
// up with a clear error when it does not.
func TestOnceStoreOutage(t *testing.T) {
	srv := outageRedis(t)
	h := newHarness(t, harnessOpts{tenants: 2, users: 30, pipeline: volunteers, store: srv.URL()})
	ctx := context.Background()
	runner := func(outage time.Duration, log *slog.Logger) *runtime.Runner {
		r, err := runtime.New(runtime.Config{Plan: h.plan, Store: h.store, Clock: h.clk, Logger: log,
			StoreOutage: outage, Credentials: runtime.SealedCredentials{Store: h.store, KMS: h.kms}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close(ctx) })
		return r
	}

	srv.Stop()
	if _, err := runner(300*time.Millisecond, quietLog()).RunOnce(ctx); err == nil || !strings.Contains(err.Error(), "giving up") {
		t.Fatalf("run against a dead store: %v", err)
	}

	// The store comes back only once the run has met the outage, however
	// slowly the run starts on a busy machine; StoreOutage is far beyond
	// how long a restart takes.
	watch := newOutageWatch()
	watch.arm()
	done := make(chan error, 1)
	var sum runtime.Summary
	go func() {
		var err error
		sum, err = runner(time.Minute, slog.New(watch)).RunOnce(ctx)
		done <- err
	}()
	watch.waitOutage(t, done, time.Now().Add(time.Minute))
	srv.Restart()
	if err := <-done; err != nil || sum.Failed() {
		t.Fatalf("run across the outage: %+v %v", sum, err)
	}
	h.assertExact()
}
