package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/schedule"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

// logCapture collects a runner's JSON log lines.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(c, nil)) }

// lines decodes every complete line logged so far.
func (c *logCapture) lines(t testing.TB) []map[string]any {
	t.Helper()
	c.mu.Lock()
	data := append([]byte(nil), c.buf.Bytes()...)
	c.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// count is how many lines have the message and the tenant.
func count(lines []map[string]any, msg, tenant string) int {
	n := 0
	for _, l := range lines {
		if l["msg"] == msg && l["tenant"] == tenant {
			n++
		}
	}
	return n
}

// gate holds every request made with one token until it is opened: that
// tenant's walk stays on its first page for as long as the test wants.
type gate struct {
	token string
	open  chan struct{}
	hit   chan struct{}
	once  sync.Once
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") == "Bearer "+g.token {
		g.once.Do(func() { close(g.hit) })
		select {
		case <-g.open:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// One tenant's walk that does not end (its requests held) takes one poll
// slot; the other tenants' jobs go on starting as they fall due, and the
// held job is neither started again nor loses its lease while it runs.
func TestSlowWalkDoesNotHoldBackOtherTenants(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 3, users: 40, pipeline: volunteers + "\n  cadence = \"1m\""})
	tenants := h.sim.Tenants()
	slow := tenants[0]
	g := &gate{token: slow.Token, open: make(chan struct{}), hit: make(chan struct{})}
	var logs logCapture
	const slots = 2
	r := h.runnerAdjusted(func(c *runtime.Config) {
		c.Logger = logs.logger()
		c.PollSlots = slots
		// Shorter than the two cadences (two real seconds) the other
		// tenants' three jobs take at least: the held job outlives it.
		c.LeaseTTL = time.Second
		c.Source = func(c *vomo.Config) {
			c.PerPage = 100
			c.HTTPClient = &http.Client{Transport: g}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	deadline := time.Now().Add(45 * time.Second) // a bound against hanging, not a timing assertion
	h.waitFor(deadline, "the slow tenant's walk to start", func() bool {
		select {
		case <-g.hit:
			return true
		default:
			return false
		}
	})
	// Three more due slots of each other tenant start and end while the
	// slow walk holds its slot; a scheduler that waits for a whole batch
	// starts none of them.
	base := logs.lines(t)
	h.waitFor(deadline, "the other tenants' next jobs", func() bool {
		lines := logs.lines(t)
		for _, ti := range tenants[1:] {
			if count(lines, "job finished", ti.ID)-count(base, "job finished", ti.ID) < 3 {
				return false
			}
		}
		return true
	})
	lines := logs.lines(t)
	if n := count(lines, "job started", slow.ID); n != 1 {
		t.Errorf("the slow tenant's job started %d times while it ran, want once", n)
	}
	if n := count(lines, "job skipped: held or already run", slow.ID); n != 0 {
		t.Errorf("the slow tenant's running job was tried again %d times in its own process", n)
	}
	if n := count(lines, "job finished", slow.ID); n != 0 {
		t.Errorf("the slow tenant's held walk finished %d times", n)
	}
	// Never more jobs at once than slots.
	running, most := 0, 0
	for _, l := range lines {
		switch l["msg"] {
		case "job started":
			running++
		case "job finished":
			running--
		}
		most = max(most, running)
	}
	if most > slots {
		t.Errorf("%d jobs ran at once on %d poll slots", most, slots)
	}

	// The held walk has outlived its lease's TTL: renewed, the lease is
	// still its own, so another process is refused the job...
	if _, ok, err := h.store.Acquire(context.Background(), state.AcquireRequest{Tenant: slow.ID, Job: h.onlyJob(slow.ID),
		Owner: "another-process", TTL: time.Minute, Now: time.Now()}); err != nil || ok {
		t.Fatalf("another process was granted the running job's lease (%v, %v): it was not renewed", ok, err)
	}
	// ...and the walk completes with its lease, and the tenant's data
	// arrives.
	close(g.open)
	h.waitFor(time.Now().Add(45*time.Second), "the slow tenant's walk to complete", func() bool {
		return count(logs.lines(t), "job finished", slow.ID) >= 1 && h.cursorsAfter(time.Time{}) && h.queuesEmpty()
	})
	for _, l := range logs.lines(t) {
		if l["msg"] == "job finished" && l["lease_lost"] != false {
			t.Errorf("job of %v finished with lease_lost %v", l["tenant"], l["lease_lost"])
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.assertExact()
}

// On shutdown a job whose walk is in the middle of a request stops and
// hands its lease back: another process can take the job at once instead
// of waiting for the lease to expire.
func TestShutdownHandsBackRunningLeases(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 20, pipeline: volunteers + "\n  cadence = \"1m\""})
	slow := h.sim.Tenants()[0]
	g := &gate{token: slow.Token, open: make(chan struct{}), hit: make(chan struct{})}
	var logs logCapture
	r := h.runnerAdjusted(func(c *runtime.Config) {
		c.Logger = logs.logger()
		c.LeaseTTL = time.Hour // only a release frees it within the test
		c.Source = func(c *vomo.Config) {
			c.PerPage = 100
			c.HTTPClient = &http.Client{Transport: g}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-g.hit:
	case err := <-done:
		t.Fatalf("run ended before the job started: %v", err)
	case <-time.After(45 * time.Second): // a bound against hanging
		t.Fatal("the job never started")
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if n := count(logs.lines(t), "job finished", slow.ID); n != 1 {
		t.Errorf("%d job finished lines after shutdown, want 1 (Run returned before its job ended)", n)
	}
	// Another process asks for the lease regardless of the due time.
	_, ok, err := h.store.Acquire(context.Background(), state.AcquireRequest{Tenant: slow.ID, Job: h.onlyJob(slow.ID),
		Owner: "another-process", TTL: time.Minute, Now: time.Now()})
	if err != nil || !ok {
		t.Fatalf("another owner cannot take the job after shutdown (granted %v, err %v): the lease was not handed back", ok, err)
	}
}

// The first due time `run` records, and the due time after a late start,
// are the slots `plan` shows: the epoch-aligned grid of
// schedule.NextRuns with the job's stagger, for cadences that do not
// divide a day or week evenly from year 1 (7m, 36h, 7d).
func TestDueTimesFollowThePlanGrid(t *testing.T) {
	const extra = `
pipeline "every7m" {
  resource    = resource.users
  destination = destination.db
  object      = "v7m"
  cadence     = "7m"
  fields = { email = record.email }
}
pipeline "every36h" {
  resource    = resource.users
  destination = destination.db
  object      = "v36h"
  cadence     = "36h"
  fields = { email = record.email }
}
pipeline "every7d" {
  resource    = resource.users
  destination = destination.db
  object      = "v7d"
  cadence     = "7d"
  fields = { email = record.email }
}
`
	h := newHarness(t, harnessOpts{tenants: 1, users: 5, pipeline: volunteers, extra: extra,
		tenantPipelines: "[pipeline.every7m, pipeline.every36h, pipeline.every7d]"})
	tenant := h.plan.Tenants[0]
	if len(tenant.Jobs) != 3 {
		t.Fatalf("%d jobs, want one per cadence", len(tenant.Jobs))
	}
	// The scheduler's clock reads what plan was computed at, and moves
	// only when the test moves it.
	clk := clock.NewManual(h.plan.Now)
	r := h.runnerAdjusted(func(c *runtime.Config) {
		c.Clock = clk
		c.Logger = quietLog()
		c.Credentials = nil // each job fails at once for lack of credentials: only its schedule matters
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	far := h.plan.Now.Add(365 * 24 * time.Hour)
	dues := func() map[string]time.Time {
		refs, err := h.store.DueJobs(context.Background(), far, 100)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, ref := range refs {
			if strings.HasPrefix(ref.Job, "reconcile-") {
				continue // the daily reconcile's, on its own schedule (reconcile_test.go)
			}
			out[ref.Job] = ref.Due
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second) // a bound against hanging
	h.waitFor(deadline, "first due times", func() bool { return len(dues()) == 3 })
	first := dues()
	var latest time.Time
	for _, j := range tenant.Jobs {
		want := schedule.NextRuns(h.plan.Now, j.Cadence.D(), j.Stagger.D(), 1)[0]
		if !first[j.ID].Equal(want) || !want.Equal(j.NextRuns[0].UTC) {
			t.Errorf("job %s (every %s, stagger %s): first due %s, plan shows %s, NextRuns %s",
				j.ID, j.Cadence, j.Stagger, first[j.ID], j.NextRuns[0].UTC, want)
		}
		if first[j.ID].After(latest) {
			latest = first[j.ID]
		}
	}

	// Every job starts late, at a moment off its grid; the next due time
	// is its next slot on the grid, not the start plus the cadence.
	late := latest.Add(3*time.Minute + 17*time.Second)
	clk.Set(late)
	h.waitFor(deadline, "every job to run once", func() bool {
		now := dues()
		for id, d := range first {
			if !now[id].After(d) {
				return false
			}
		}
		return true
	})
	next := dues()
	for _, j := range tenant.Jobs {
		want := schedule.NextRuns(late, j.Cadence.D(), j.Stagger.D(), 1)[0]
		if !next[j.ID].Equal(want) {
			t.Errorf("job %s (every %s): next due %s after a start at %s, want the grid's %s (start + cadence is %s)",
				j.ID, j.Cadence, next[j.ID], late, want, late.Add(j.Cadence.D()))
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// onlyJob is the ID of the tenant's one job.
func (h *harness) onlyJob(tenant string) string {
	h.t.Helper()
	for _, t := range h.plan.Tenants {
		if t.ID == tenant && len(t.Jobs) == 1 {
			return t.Jobs[0].ID
		}
	}
	h.t.Fatalf("tenant %s has not exactly one job", tenant)
	return ""
}
