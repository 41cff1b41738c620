package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/siphonhq/siphon/runtime"
)

// failsOneInTen fails the filter (null is not a bool) for every tenth
// record, below the pause threshold: those go to the DLQ with a line each.
const failsOneInTen = `
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  filter      = tonumber(record.id) % 10 == 0 ? null : true
  fields = {
    email = record.email
  }`

// Every log line about a tenant says which pipeline (or job) it is about,
// and every line of a poll or a batch carries its trace id, a batch line
// also the trace id of the poll that found the record: a revoked token's
// failed poll and records the mapping refuses included.
func TestLogLinesCarryPipelineAndTrace(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 3, users: 30, pipeline: failsOneInTen})
	tenants := h.sim.Tenants()
	revoked := tenants[0]
	if err := h.sim.Revoke(revoked.ID); err != nil {
		t.Fatal(err)
	}
	var logs logCapture
	r := h.runnerAdjusted(func(c *runtime.Config) { c.Logger = logs.logger() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second) // a bound against hanging, not a timing assertion
	h.waitFor(deadline, "the good tenants' jobs and batches and the revoked tenant's failed poll", func() bool {
		lines := logs.lines(t)
		for _, ti := range tenants[1:] {
			if count(lines, "job finished", ti.ID) == 0 || count(lines, "mapping failed; to the DLQ", ti.ID) == 0 {
				return false
			}
		}
		return count(lines, "poll failed", revoked.ID) > 0 && h.queuesEmpty()
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}

	lines := logs.lines(t)
	pollTraces := map[string]bool{} // tenant + trace id of its poll lines
	polls, batches := 0, 0
	for _, l := range lines {
		tenant, _ := l["tenant"].(string)
		if tenant == "" {
			continue
		}
		_, pipeline := l["pipeline"]
		_, pipelines := l["pipelines"]
		_, job := l["job"]
		if !pipeline && !pipelines && !job {
			t.Errorf("line names tenant %s but no pipeline or job: %v", tenant, l)
		}
		trace, _ := l["trace_id"].(string)
		switch _, dest := l["destination"]; {
		case job && l["msg"] != "job skipped: held or already run": // no lease, so no span
			polls++
			if trace == "" {
				t.Errorf("poll line without trace_id: %v", l)
			}
			pollTraces[tenant+"/"+trace] = true
		case dest:
			batches++
			if trace == "" {
				t.Errorf("batch line without trace_id: %v", l)
			}
		}
	}
	if polls == 0 || batches == 0 {
		t.Fatalf("%d poll and %d batch lines: the run logged too little to check", polls, batches)
	}
	for _, l := range lines {
		if pt, ok := l["poll_trace_id"].(string); ok && !pollTraces[l["tenant"].(string)+"/"+pt] {
			t.Errorf("batch line's poll_trace_id is no poll of its tenant: %v", l)
		}
	}
}
