package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
)

// brokenForT001 fails the filter (null is not a bool) for every even id of
// tenant t001 only: half its records, well over the default 20%.
const brokenForT001 = `
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  filter      = tenant.id == "t001" && tonumber(record.id) % 2 == 0 ? null : true
  fields = {
    email = record.email
  }`

const fixedMapping = `
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  fields = {
    email = record.email
  }`

func TestMappingErrorRatePausesThePipelineBbolt(t *testing.T) {
	testMappingErrorRatePauses(t, "")
}

func TestMappingErrorRatePausesThePipelineRedis(t *testing.T) {
	testMappingErrorRatePauses(t, redistest.Start(t).URL())
}

// testMappingErrorRatePauses: a pipeline whose records fail mapping at a
// rate over its threshold is paused for that tenant only, with a reason;
// the failed records stay queued instead of filling the DLQ, and the queue
// waits (nothing lost) through another run; after the operator fixes the
// mapping and resumes the pipeline, every record is written.
func testMappingErrorRatePauses(t *testing.T, store string) {
	// Five batches of 200 per tenant on two workers: a pause can only stop
	// the batches not yet claimed when it comes, at least three here.
	const users = 1000
	h := newHarness(t, harnessOpts{tenants: 2, users: users, store: store, pipeline: brokenForT001})
	ctx := context.Background()
	const bad, good = "t001", "t002"
	runner := func() *runtime.Runner {
		return h.runnerAdjusted(func(c *runtime.Config) { c.Workers = 2 })
	}

	sum, err := runner().RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Failed() || sum.Paused != 1 || sum.Dead != 0 {
		t.Fatalf("summary %+v: want one paused queue, no dead letters", sum)
	}
	reason := pausedReason(t, h, bad)
	for _, want := range []string{"of the last", "threshold 20%", "siphon pipeline resume t001 volunteers", "null"} {
		if !strings.Contains(reason, want) {
			t.Errorf("pause reason %q lacks %q", reason, want)
		}
	}
	if r := pausedReason(t, h, good); r != "" {
		t.Fatalf("%s paused too: %s", good, r)
	}
	if got := len(h.rows("volunteers")[good]); got != users {
		t.Fatalf("%s has %d rows, want %d: the other tenant must go on", good, got, users)
	}

	// Nothing is lost: every record of t001 is written or still queued
	// (the failed ones waiting to retry), and only even ids failed. Every
	// batch ended after the pause was decided (each holds enough records
	// to judge), so none went to the DLQ.
	if letters := deadLetterKeys(t, h, bad); len(letters) != 0 {
		t.Fatalf("%d dead letters, want none: the pause keeps them queued", len(letters))
	}
	rows := h.rows("volunteers")[bad]
	d, err := h.store.Depth(ctx, h.queue(bad))
	if err != nil {
		t.Fatal(err)
	}
	if d.Stream < 3*200 || d.Pending != 0 || d.Retry == 0 {
		t.Fatalf("queue of %s after the pause: %+v; want at least three batches left and retries, none claimed", bad, d)
	}
	if n := int64(len(rows)) + d.Stream + d.Retry; n != users {
		t.Fatalf("%d written + %d queued + %d to retry = %d, want %d", len(rows), d.Stream, d.Retry, n, users)
	}
	if int(d.Retry) != len(rows) {
		t.Errorf("%d to retry, %d written: the batches taken were half even ids", d.Retry, len(rows))
	}
	for k := range rows {
		if id := atoi(t, k); id%2 == 0 {
			t.Errorf("row %s: an even id cannot map", k)
		}
	}

	// Another run (a new process, which learns the pause from the store)
	// neither polls nor processes the paused pipeline, and says so.
	sum, err = runner().RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Paused != 1 || !sum.Failed() || sum.Dead != 0 {
		t.Fatalf("run while paused: summary %+v, want one paused queue", sum)
	}
	d2, err := h.store.Depth(ctx, h.queue(bad))
	if err != nil {
		t.Fatal(err)
	}
	if d2 != d || len(h.rows("volunteers")[bad]) != len(rows) || len(deadLetterKeys(t, h, bad)) != 0 {
		t.Fatalf("while paused: queue %+v (was %+v), %d rows (was %d)", d2, d, len(h.rows("volunteers")[bad]), len(rows))
	}

	// The operator fixes the mapping and resumes: the queue drains
	// (retries included, once due) and the tenant is complete.
	h.reload(fixedMapping)
	if err := h.store.ClearFlag(ctx, bad, state.FlagPipelinePaused, "volunteers"); err != nil {
		t.Fatal(err)
	}
	sum, err = runner().RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed() || sum.Paused != 0 || pausedReason(t, h, bad) != "" {
		t.Fatalf("after the fix: summary %+v, paused %q", sum, pausedReason(t, h, bad))
	}
	if d, err := h.store.Depth(ctx, h.queue(bad)); err != nil || d.Stream+d.Retry != 0 {
		t.Fatalf("queue of %s after resume: %+v %v", bad, d, err)
	}
	if got := len(h.rows("volunteers")[bad]); got != users {
		t.Fatalf("%s has %d rows after resume, want %d", bad, got, users)
	}
}

func pausedReason(t *testing.T, h *harness, tenant string) string {
	t.Helper()
	fs, err := h.store.Flags(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Kind == state.FlagPipelinePaused && f.Scope == "volunteers" {
			return f.Reason
		}
	}
	return ""
}

func deadLetterKeys(t *testing.T, h *harness, tenant string) []string {
	t.Helper()
	ls, _, err := h.store.DeadLetterList(context.Background(), tenant, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(ls))
	for i, l := range ls {
		keys[i] = l.Entry.Key
	}
	return keys
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmtSscan(s, &n); err != nil {
		t.Fatalf("key %q: %v", s, err)
	}
	return n
}

// A running process sees an operator's resume without a restart: the
// paused queue is taken up again (and, the mapping being still broken,
// paused again after the next batch).
func TestRunningRunnerSeesTheResume(t *testing.T) {
	const users = 1000
	h := newHarness(t, harnessOpts{tenants: 1, users: users, pipeline: brokenForT001})
	const bad = "t001"
	r := h.runnerAdjusted(func(c *runtime.Config) { c.Workers = 1 }) // one batch at a time
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second) // a bound against hanging, not a timing assertion
	depth := func() int64 {
		d, err := h.store.Depth(context.Background(), h.queue(bad))
		if err != nil {
			t.Fatal(err)
		}
		return d.Stream + d.Retry
	}
	h.waitFor(deadline, "the pause", func() bool { return pausedReason(t, h, bad) != "" })
	// The walk may still be enqueuing when the pause comes; wait until
	// every record is written, dead or queued.
	var paused int64
	h.waitFor(deadline, "the whole walk", func() bool {
		paused = depth()
		return int64(len(deadLetterKeys(t, h, bad))+len(h.rows("volunteers")[bad]))+paused == users
	})
	if err := h.store.ClearFlag(context.Background(), bad, state.FlagPipelinePaused, "volunteers"); err != nil {
		t.Fatal(err)
	}
	h.waitFor(deadline, "a batch after the resume, and the pause again", func() bool {
		return depth() < paused && pausedReason(t, h, bad) != ""
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if n := int64(len(deadLetterKeys(t, h, bad))+len(h.rows("volunteers")[bad])) + depth(); n != users {
		t.Fatalf("dead + written + queued = %d, want %d", n, users)
	}
}
