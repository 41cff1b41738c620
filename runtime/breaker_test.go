package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/examples/memory"
	"github.com/siphonhq/siphon/plugins/sdk"
	"github.com/siphonhq/siphon/runtime"
)

// The outage destination is the memory destination whose every Write can
// fail as a whole, as a destination that is down fails them, chosen by its
// config and served from the test binary like the built-ins:
//
//	log    = file   each Write that lands appends "<tenant> <keys,…>" to it
//	failed = file   each Write that fails appends "<tenant>" to it
//	down   = file   while it exists, every Write fails
//	poison = "key"  a Write holding this key fails
//	crash  = "key"  a Write holding this key crashes the plugin, after
//	                appending "<tenant>-crash" to failed
func init() {
	destinations.Register("outage", func() sdk.Destination { return &outageDest{Destination: memory.New()} })
}

type outageDest struct {
	*memory.Destination
	mu                               sync.Mutex // orders the logs' lines
	log, failed, down, poison, crash string
}

func (o *outageDest) Configure(ctx context.Context, cfg sdk.Config) sdk.Diagnostics {
	diags := cfg.Unexpected("log", "failed", "down", "poison", "crash")
	o.log, o.failed = cfg.String("log", &diags), cfg.String("failed", &diags)
	o.down, o.poison = cfg.String("down", &diags), cfg.String("poison", &diags)
	o.crash = cfg.String("crash", &diags)
	return diags
}

func (o *outageDest) Write(ctx context.Context, b sdk.Batch) ([]sdk.Result, error) {
	keys := make([]string, len(b.Records))
	for i, r := range b.Records {
		keys[i] = r.Key
	}
	if o.crash != "" && slices.Contains(keys, o.crash) {
		_ = o.appendLine(o.failed, b.Tenant+"-crash")
		sdk.Logger().Error("record crashes the plugin", "key", o.crash)
		os.Exit(3)
	}
	var fail error
	switch {
	case o.down != "" && exists(o.down):
		fail = errors.New("destination unavailable")
	case o.poison != "" && slices.Contains(keys, o.poison):
		fail = fmt.Errorf("record %s hangs the destination", o.poison)
	}
	if fail != nil {
		return nil, errors.Join(fail, o.appendLine(o.failed, b.Tenant))
	}
	res, err := o.Destination.Write(ctx, b)
	if err != nil {
		return nil, err
	}
	return res, o.appendLine(o.log, b.Tenant+" "+strings.Join(keys, ","))
}

// appendLine appends a line to path.
func (o *outageDest) appendLine(path, line string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	return errors.Join(err, f.Close())
}

// outageCooldown is the breaker's cooldown in these tests, set on the
// plan: the configuration's minimum (1s) would make twenty cooldowns
// twenty seconds.
const outageCooldown = 100 * time.Millisecond

// outageFailures is how many whole-write failures open the breaker.
const outageFailures = 3

// outageHarness is a harness writing to the outage destination, logging
// to logs/writes.log (probeWrites reads it) and logs/failed.log, with
// max_attempts = 3; config is more of the destination's config.
func outageHarness(t *testing.T, tenants int, store, logs, config string) *harness {
	t.Helper()
	dest := fmt.Sprintf(`plugin = "outage"
  config = { log = %q, failed = %q%s }
  circuit_breaker {
    failures = %d
    cooldown = "1s"
  }`, filepath.Join(logs, "writes.log"), filepath.Join(logs, "failed.log"), config, outageFailures)
	h := newHarness(t, harnessOpts{tenants: tenants, users: 5, store: store, destination: dest,
		pipeline: volunteers + "\n  retry {\n    max_attempts = 3\n  }"})
	for _, d := range h.plan.Destinations {
		d.Breaker.Cooldown = dsl.Duration(outageCooldown)
	}
	return h
}

// failedWrites counts the outage destination's failed Writes by tenant.
func failedWrites(t *testing.T, logs string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(logs, "failed.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Fields(string(b)) {
		out[line]++
	}
	return out
}

// written counts how often each key of a tenant landed.
func written(t *testing.T, logs string) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, w := range probeWrites(t, logs) {
		if out[w.tenant] == nil {
			out[w.tenant] = map[string]int{}
		}
		for _, k := range w.keys {
			out[w.tenant][k]++
		}
	}
	return out
}

func (h *harness) tenantIDs() []string {
	var ids []string
	for _, ti := range h.sim.Tenants() {
		ids = append(ids, ti.ID)
	}
	return ids
}

// deadLetters counts the letters in the tenants' DLQs.
func (h *harness) deadLetters() int64 {
	h.t.Helper()
	var n int64
	for _, id := range h.tenantIDs() {
		d, err := h.store.Depth(context.Background(), h.queue(id))
		if err != nil {
			h.t.Fatal(err)
		}
		n += d.Dead
	}
	return n
}

// firstLetter describes the first dead letter of the first tenant that
// has one.
func (h *harness) firstLetter() string {
	h.t.Helper()
	for _, id := range h.tenantIDs() {
		letters, _, err := h.store.DeadLetterList(context.Background(), id, "", 1)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(letters) > 0 {
			l := letters[0]
			return fmt.Sprintf("%s/%s %q after %d attempts (last error %q)", id, l.Entry.Key, l.Reason, l.Entry.Attempts, l.Entry.LastError)
		}
	}
	return "none"
}

// startRun runs r until the returned stop is called; stop fails the test
// if the run ended with an error other than its cancellation.
func startRun(t *testing.T, r *runtime.Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
}

// A destination down for many breaker cooldowns, with max_attempts = 3 and
// a visibility timeout shorter than the outage: nothing goes to the DLQ,
// no record spends an attempt, status says why the queue waits, and once
// the destination is back every record lands exactly once.
func TestBreakerOutageDeadLettersNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(*testing.T) string
	}{
		{"bbolt", func(*testing.T) string { return "" }},
		{"redis", func(t *testing.T) string { return redistest.Start(t).URL() }},
	} {
		t.Run(tc.name, func(t *testing.T) { testOutageDeadLettersNothing(t, tc.store(t)) })
	}
}

func testOutageDeadLettersNothing(t *testing.T, store string) {
	logs := t.TempDir()
	down := filepath.Join(logs, "down")
	if err := os.WriteFile(down, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := outageHarness(t, 2, store, logs, ", down = "+quote(down))
	const backlog = 1000 // five batches a tenant
	for _, id := range h.tenantIDs() {
		h.backlog(id, "b", backlog)
	}
	stop := startRun(t, h.runnerAdjusted(func(c *runtime.Config) { c.Visibility = 200 * time.Millisecond }))
	deadline := time.Now().Add(3 * time.Minute) // a bound against hanging, not a timing assertion

	// The outage lasts until each tenant's breaker has failed 20 half-open
	// trials after the failures that opened it: each trial comes a
	// cooldown after the one before, so the outage spans 20 cooldowns, a
	// hundred visibility timeouts. A dead letter ends the wait: it fails
	// the test below.
	const trials = 20
	h.waitFor(deadline, fmt.Sprintf("%d half-open trials per tenant", trials), func() bool {
		if h.deadLetters() > 0 {
			return true
		}
		fails := failedWrites(t, logs)
		for _, id := range h.tenantIDs() {
			if fails[id] < outageFailures+trials {
				return false
			}
		}
		return true
	})
	if n := h.deadLetters(); n > 0 {
		t.Fatalf("%d dead letters with the destination down, as %s", n, h.firstLetter())
	}
	for _, id := range h.tenantIDs() {
		if got := writeError(t, h, id); !strings.Contains(got, "destination unavailable") {
			t.Errorf("status of %s: last write error %q", id, got)
		}
	}
	stop()

	// Every record is still queued, none with an attempt spent: nothing
	// waits for a retry (a counted failure would put it there), and each
	// entry claimed shows zero attempts. They go back unchanged.
	for _, id := range h.tenantIDs() {
		q := h.queue(id)
		d, err := h.store.Depth(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if d.Retry != 0 || d.Pending != 0 || d.Stream < backlog {
			t.Fatalf("queue of %s after the outage: %+v", id, d)
		}
		c, err := h.store.Claim(context.Background(), q, "inspect", int(d.Stream)+1, 3)
		if err != nil || c.Dead != 0 || int64(len(c.Entries)) != d.Stream {
			t.Fatalf("claim of %s's %d entries: %d, %d dead, %v", id, d.Stream, len(c.Entries), c.Dead, err)
		}
		ids := make([]string, len(c.Entries))
		for i, e := range c.Entries {
			if e.Attempts != 0 {
				t.Fatalf("entry %s of %s spent %d attempts in the outage (last error %q)", e.Key, id, e.Attempts, e.LastError)
			}
			ids[i] = e.ID
		}
		if n, err := h.store.Nack(context.Background(), q, "inspect", ids); err != nil || n != len(ids) {
			t.Fatalf("hand back %d: %d %v", len(ids), n, err)
		}
	}
	if w := probeWrites(t, logs); len(w) != 0 {
		t.Fatalf("%d writes landed with the destination down", len(w))
	}

	// The destination comes back: everything drains, each record once.
	if err := os.Remove(down); err != nil {
		t.Fatal(err)
	}
	stop = startRun(t, h.runner())
	h.waitFor(deadline, "every backlog record written and the queues empty", func() bool {
		w := written(t, logs)
		for _, id := range h.tenantIDs() {
			for i := range backlog {
				if w[id][fmt.Sprintf("b%d", i)] == 0 {
					return false
				}
			}
		}
		return h.queuesEmpty()
	})
	stop()
	w := written(t, logs)
	for _, id := range h.tenantIDs() {
		for i := range backlog {
			if n := w[id][fmt.Sprintf("b%d", i)]; n != 1 {
				t.Errorf("%s record b%d written %d times, want once", id, i, n)
			}
		}
		if got := writeError(t, h, id); got != "" {
			t.Errorf("status of %s after recovery: last write error %q", id, got)
		}
	}
	if n := h.deadLetters(); n > 0 {
		t.Fatalf("%d dead letters after recovery, as %s", n, h.firstLetter())
	}
}

// Several processes on one store with the destination down wait out its
// outage together: the wait after a failed write is kept in the store, so
// the processes between them make about one trial write per cooldown, not
// one each, and none spends an attempt or sends a record to the DLQ.
func TestBreakerOutageSharedByProcesses(t *testing.T) {
	logs := t.TempDir()
	down := filepath.Join(logs, "down")
	if err := os.WriteFile(down, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := outageHarness(t, 1, redistest.Start(t).URL(), logs, ", down = "+quote(down))
	tenant := h.tenantIDs()[0]
	const backlog = 1000
	h.backlog(tenant, "b", backlog)
	const processes = 4
	var stops []func()
	for i := range processes {
		r := h.runnerAdjusted(func(c *runtime.Config) {
			c.Owner = fmt.Sprintf("process%d", i)
			c.Visibility = 200 * time.Millisecond
		})
		stops = append(stops, startRun(t, r))
	}
	// Counted from the first failed write: until then the processes
	// start their plugins.
	deadline := time.Now().Add(3 * time.Minute) // a bound against hanging, not a timing assertion
	h.waitFor(deadline, "a failed write", func() bool { return failedWrites(t, logs)[tenant] > 0 })
	start, first := time.Now(), failedWrites(t, logs)[tenant]
	const cooldowns = 40
	h.waitFor(deadline, fmt.Sprintf("%d cooldowns", cooldowns), func() bool {
		return time.Since(start) >= cooldowns*outageCooldown || h.deadLetters() > 0
	})
	failed := failedWrites(t, logs)[tenant] - first
	elapsed := float64(time.Since(start)) / float64(outageCooldown)
	for _, stop := range stops {
		stop()
	}
	if n := h.deadLetters(); n > 0 {
		t.Fatalf("%d dead letters with the destination down, as %s", n, h.firstLetter())
	}
	// About one trial per cooldown between them, as one process makes
	// (seen: 23 in 30 cooldowns alone, 26-31 with four); a trial each per
	// cooldown, as when each process kept its wait to itself, made 68-70.
	if bound := 1.5 * elapsed; float64(failed) > bound {
		t.Errorf("%d failed writes in %.1f cooldowns with %d processes, over %.0f", failed, elapsed, processes, bound)
	}
	q := h.queue(tenant)
	d, err := h.store.Depth(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.store.Claim(context.Background(), q, "inspect", int(d.Stream+d.Retry)+1, 3)
	if err != nil || c.Dead != 0 {
		t.Fatalf("claim of the queue: %d dead, %v", c.Dead, err)
	}
	for _, e := range c.Entries {
		if e.Attempts != 0 {
			t.Fatalf("entry %s spent %d attempts in the outage (last error %q)", e.Key, e.Attempts, e.LastError)
		}
	}
	t.Logf("%d failed writes in %.1f cooldowns with %d processes", failed, elapsed, processes)
}

// A batch that fails every write it is in while the tenant's other
// writes land is the batch's fault, not the destination's: it spends its
// attempts and reaches the DLQ at max_attempts, and nothing else does.
// Batches of one record make the poison batch the poison record.
func TestBreakerPoisonBatchReachesTheDLQ(t *testing.T) {
	logs := t.TempDir()
	h := outageHarness(t, 1, "", logs, `, poison = "p0"`)
	for _, d := range h.plan.Destinations {
		d.BatchSize = 1
	}
	tenant := h.tenantIDs()[0]
	h.backlog(tenant, "p", 1)

	// Fresh records keep coming, so other writes land between the poison
	// record's tries.
	var feed sync.WaitGroup
	feeding := make(chan struct{})
	fed := 0
	feed.Add(1)
	go func() {
		defer feed.Done()
		for ; ; fed++ {
			select {
			case <-feeding:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := h.enqueueBacklog(tenant, fmt.Sprintf("f%d-", fed), 5); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	stop := startRun(t, h.runner())
	deadline := time.Now().Add(2 * time.Minute) // a bound against hanging, not a timing assertion
	h.waitFor(deadline, "the poison record in the DLQ", func() bool { return h.deadLetters() > 0 })
	close(feeding)
	feed.Wait()
	h.waitFor(deadline, "every fed record written", func() bool {
		w := written(t, logs)[tenant]
		for f := range fed {
			for i := range 5 {
				if w[fmt.Sprintf("f%d-%d", f, i)] == 0 {
					return false
				}
			}
		}
		return true
	})
	stop()

	letters, _, err := h.store.DeadLetterList(context.Background(), tenant, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 {
		t.Fatalf("%d letters, want the poison record's alone: %+v", len(letters), letters)
	}
	l := letters[0]
	if l.Entry.Key != "p0" || l.Reason != "failed" || l.Entry.Attempts != 3 || !strings.Contains(l.Entry.LastError, "hangs the destination") {
		t.Fatalf("letter %+v", l)
	}
	if failedWrites(t, logs)[tenant] < 3 {
		t.Fatalf("the poison record failed %d writes, fewer than its attempts", failedWrites(t, logs)[tenant])
	}
}

// A record that crashes the plugin, first alone in its queue and then in
// one batch with every other record queued, while no other tenant's
// writes crash the plugin: it is told from a destination that is down,
// reaches the DLQ within max_attempts, and the other records land (a
// write in flight when the record crashes the shared plugin is sent
// again, so a record may land twice).
func TestBreakerCrashingRecordReachesTheDLQ(t *testing.T) {
	logs := t.TempDir()
	h := outageHarness(t, 1, "", logs, `, crash = "c0"`)
	tenant := h.tenantIDs()[0]
	h.backlog(tenant, "c", 1)
	stop := startRun(t, h.runner())
	deadline := time.Now().Add(90 * time.Second) // a bound against hanging, not a timing assertion
	// The record crashes the plugin alone first: the tenant's last write
	// failed as a whole when the others come.
	h.waitFor(deadline, "the record crashing the plugin", func() bool { return failedWrites(t, logs)[tenant+"-crash"] > 0 })
	const good = 20
	h.backlog(tenant, "g", good)
	h.waitFor(deadline, "the crashing record in the DLQ, the others written and the queue empty", func() bool {
		if h.deadLetters() == 0 {
			return false
		}
		w := written(t, logs)[tenant]
		for i := range good {
			if w[fmt.Sprintf("g%d", i)] == 0 {
				return false
			}
		}
		return h.queuesEmpty()
	})
	stop()

	letters, _, err := h.store.DeadLetterList(context.Background(), tenant, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 {
		t.Fatalf("%d letters, want the crashing record's alone: %+v", len(letters), letters)
	}
	if l := letters[0]; l.Entry.Key != "c0" || l.Reason != "failed" || l.Entry.Attempts < 1 || l.Entry.Attempts > 3 {
		t.Fatalf("letter %+v", l)
	}
}

// run --once does not wait out an outage of unknown length: once the
// breaker judges the destination down the run ends, its records queued
// with their attempts unspent, and the summary says why; the next run
// with the destination back writes them.
func TestOnceLeavesRecordsQueuedForADownDestination(t *testing.T) {
	logs := t.TempDir()
	down := filepath.Join(logs, "down")
	if err := os.WriteFile(down, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := outageHarness(t, 1, "", logs, ", down = "+quote(down))
	tenant := h.tenantIDs()[0]
	const backlog = 1000
	h.backlog(tenant, "b", backlog)
	s, err := h.runnerAdjusted(func(c *runtime.Config) { c.Visibility = 200 * time.Millisecond }).RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.DestinationDown != 1 || s.Dead != 0 || s.Retried != 0 || s.Written != 0 || !s.Failed() {
		t.Fatalf("summary with the destination down: %+v", s)
	}
	d, err := h.store.Depth(context.Background(), h.queue(tenant))
	if err != nil || d.Stream < backlog || d.Pending != 0 || d.Retry != 0 || d.Dead != 0 {
		t.Fatalf("queue after the run: %+v %v", d, err)
	}

	if err := os.Remove(down); err != nil {
		t.Fatal(err)
	}
	if s, err = h.runner().RunOnce(context.Background()); err != nil || s.Written < backlog || s.Dead != 0 || s.DestinationDown != 0 {
		t.Fatalf("after recovery %+v %v", s, err)
	}
	if !h.queuesEmpty() {
		t.Fatal("queue not drained after recovery")
	}
}
