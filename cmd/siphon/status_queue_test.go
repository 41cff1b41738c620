package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// Status shows, per tenant, the checkpoint's age, the queue's depth, the
// DLQ's depth and why the last write to the destination failed.
func TestStatusShowsQueuesAndTheLastWriteError(t *testing.T) {
	dir := operatorConfig(t)
	const reason = "dial tcp 10.0.0.7:5432: connection refused"
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if _, err := st.SetCursor(ctx, "acme", "volunteers", time.Now().Add(-90*time.Minute)); err != nil {
			t.Fatal(err)
		}
		deadLetters(t, ctx, st, "acme", "x", "y")
		q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
		l, ok, err := st.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "seed", Owner: "test", TTL: time.Minute})
		if err != nil || !ok {
			t.Fatalf("acquire: %v %v", ok, err)
		}
		var es []state.Entry
		for _, k := range []string{"1", "2", "3"} {
			es = append(es, state.Entry{Pipeline: "volunteers", Key: k, Op: "upsert", Version: testVersion, Payload: []byte(`{"id":"` + k + `"}`)})
		}
		if _, err := st.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}); err != nil {
			t.Fatal(err)
		}
		if c, err := st.Claim(ctx, q, "w", 1, 5); err != nil || len(c.Entries) != 1 {
			t.Fatalf("claim %+v %v", c, err)
		}
		if err := st.SetFlag(ctx, "acme", state.Flag{Kind: state.FlagWriteError, Scope: "db", Reason: reason, By: "siphon run", At: time.Now().Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
	})

	code, out, errOut := siphon(t, "status", "--config", dir, "--json")
	if code != 0 {
		t.Fatalf("status --json: %d %s", code, errOut)
	}
	var sts []tenantStatus
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(sts) != 2 || sts[0].Tenant != "acme" || len(sts[0].Pipelines) != 1 || len(sts[0].Queues) != 1 {
		t.Fatalf("status: %s", out)
	}
	acme := sts[0]
	if age := acme.Pipelines[0].AgeSeconds; age == nil || *age < 90*60 || *age > 95*60 {
		t.Errorf("checkpoint age %v, want 90 minutes", age)
	}
	if q := acme.Queues[0]; q.Destination != "db" || q.Depth != 3 || q.Pending != 1 || q.Retry != 0 ||
		q.LastWriteError != reason || time.Since(q.LastWriteErrorAt) < time.Minute {
		t.Errorf("queue %+v", q)
	}
	if acme.DLQ != 2 {
		t.Errorf("dlq %d, want 2", acme.DLQ)
	}
	if g := sts[1]; g.DLQ != 0 || g.Queues[0].Depth != 0 || g.Queues[0].LastWriteError != "" || g.Pipelines[0].AgeSeconds != nil {
		t.Errorf("globex %+v", g)
	}

	code, out, errOut = siphon(t, "status", "acme", "--config", dir)
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	for _, want := range []string{"acme  ok  dlq 2", "checkpoint 1h30m", "queue db: 3 queued (1 in flight), 0 waiting to retry",
		"    last write error (1m", "): " + reason} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "flag write-error") {
		t.Errorf("the write error is shown twice:\n%s", out)
	}
}
