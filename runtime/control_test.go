package runtime_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
)

// A 403 pauses that resource for that tenant, with its reason; the
// tenant's other resources go on syncing.
func TestForbiddenPausesOnlyTheResource(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 20, pipeline: volunteers, extra: formsHCL,
		tenantPipelines: "[pipeline.volunteers, pipeline.forms, pipeline.answers]"})
	ctx := context.Background()
	tenant := h.sim.Tenants()[0].ID
	if err := h.sim.Forbid(tenant, "users", true); err != nil {
		t.Fatal(err)
	}
	sum, err := h.runner().RunOnce(ctx)
	if err != nil || !sum.Failed() {
		t.Fatalf("run: %+v %v", sum, err)
	}
	flags, err := h.store.Flags(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := false
	for _, f := range flags {
		switch f.Kind {
		case state.FlagForbidden:
			forbidden = f.Scope == "users" && f.Reason != ""
		case state.FlagAuthPaused:
			t.Errorf("a 403 paused the whole tenant: %+v", f)
		}
	}
	if !forbidden {
		t.Fatalf("flags %+v", flags)
	}
	if len(h.rows("forms", "name")[tenant]) == 0 {
		t.Error("the tenant's other resources did not sync")
	}
	// The paused resource is not read again.
	h.sim.ResetCounters()
	if _, err := h.runner().RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Counters()[tenant]["GET /v1/users"]; n != 0 {
		t.Errorf("forbidden resource read again: %d requests", n)
	}
}

// A tenant whose queue is over the limit is not polled this cycle; its
// queue is drained, and other tenants poll as usual.
func TestBackpressureSkipsPollingOfThatTenant(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 20, pipeline: volunteers})
	ctx := context.Background()
	full := h.sim.Tenants()[0].ID
	lease, ok, err := h.store.Acquire(ctx, state.AcquireRequest{Tenant: full, Job: "test-fill", Owner: "test", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	var entries []state.Entry
	for i := range 30 {
		id := strconv.Itoa(900000 + i)
		payload, _ := json.Marshal(map[string]any{"id": id, "email": id + "@example.org", "membership_status": "ACTIVE"})
		entries = append(entries, state.Entry{Pipeline: "volunteers", Key: id, Op: "upsert", Version: time.Unix(1, 0).UTC(), Payload: payload})
	}
	if _, err := h.store.CommitPage(ctx, state.PageCommit{Lease: lease,
		Enqueue: []state.Enqueue{{Queue: h.queue(full), Entries: entries}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Release(ctx, lease); err != nil {
		t.Fatal(err)
	}
	r, err := runtime.New(runtime.Config{Plan: h.plan, Store: h.store, Clock: h.clk, QueueLimit: 10,
		Credentials: runtime.SealedCredentials{Store: h.store, KMS: h.kms}, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	sum, err := r.RunOnce(ctx)
	if err != nil || sum.Failed() {
		t.Fatalf("run: %+v %v", sum, err)
	}
	if n := h.sim.Counters()[full]["GET /v1/users"]; n != 0 {
		t.Errorf("backpressured tenant polled: %d requests", n)
	}
	if sum.Written != 30+int64(len(h.truth(h.sim.Tenants()[1].ID))) {
		t.Errorf("written %d", sum.Written)
	}
	rows := h.rows("volunteers")
	if len(rows[full]) != 30 || len(rows[h.sim.Tenants()[1].ID]) == 0 {
		t.Errorf("rows: %d of the full tenant, %d of the other", len(rows[full]), len(rows[h.sim.Tenants()[1].ID]))
	}
}

// A single-node destination with a shared store stops the run with the
// reason and leaves the records queued rather than dead-lettering them.
func TestSingleNodeDestinationRefusedOnSharedStore(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 10, pipeline: volunteers, store: redistest.Start(t).URL(), singleNodeUnset: true})
	ctx := context.Background()
	_, err := h.runner().RunOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "allow_single_node") {
		t.Fatalf("run: %v", err)
	}
	letters, _, err := h.store.DeadLetterList(ctx, h.sim.Tenants()[0].ID, "", 10)
	if err != nil || len(letters) != 0 {
		t.Fatalf("letters %d %v", len(letters), err)
	}
}

// An operator's disable stops polling of that tenant without failing the
// run: it is a decision, not an error.
func TestDisabledTenantIsSkippedQuietly(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 10, pipeline: volunteers})
	ctx := context.Background()
	off := h.sim.Tenants()[0].ID
	if err := h.store.SetFlag(ctx, off, state.Flag{Kind: state.FlagDisabled, Reason: "customer left", By: "ops", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	sum, err := h.runner().RunOnce(ctx)
	if err != nil || sum.Failed() {
		t.Fatalf("run: %+v %v", sum, err)
	}
	rows := h.rows("volunteers")
	if len(rows[off]) != 0 || len(rows[h.sim.Tenants()[1].ID]) == 0 {
		t.Fatalf("rows: disabled %d, other %d", len(rows[off]), len(rows[h.sim.Tenants()[1].ID]))
	}
}
