package runtime_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

// recordOrg writes the organization note onboarding keeps.
func recordOrg(t *testing.T, st state.Store, tenant string, orgID int64) {
	t.Helper()
	b, err := json.Marshal(runtime.OrgRecord{Sources: map[string]runtime.OrgRef{"vomo": {ID: strconv.FormatInt(orgID, 10)}}, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutNote(context.Background(), tenant, runtime.OrgNote, b); err != nil {
		t.Fatal(err)
	}
}

// enqueueFor queues upserts on the tenant's queue as an earlier poll would
// have.
func enqueueFor(t *testing.T, h *harness, tenant string, keys ...string) {
	t.Helper()
	ctx := context.Background()
	lease, ok, err := h.store.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "test-fill", Owner: "test", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	var entries []state.Entry
	for _, k := range keys {
		payload, _ := json.Marshal(map[string]any{"id": k, "email": k + "@example.org", "membership_status": "ACTIVE"})
		entries = append(entries, state.Entry{Pipeline: "volunteers", Key: k, Op: "upsert", Version: time.Unix(1, 0).UTC(), Payload: payload})
	}
	if _, err := h.store.CommitPage(ctx, state.PageCommit{Lease: lease,
		Enqueue: []state.Enqueue{{Queue: h.queue(tenant), Entries: entries}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Release(ctx, lease); err != nil {
		t.Fatal(err)
	}
}

// A tenant whose stored token answers for another organization than the
// one recorded at onboarding (tenant B's token configured for tenant A) is
// paused before anything is polled or written, its queue waits, and the
// reason does not name the other customer's organization. The check costs
// one /organizations request per token, not one per poll; storing the
// right token resumes the tenant at its next poll.
func TestOrgMismatchPausesTheTenant(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 10, pipeline: volunteers})
	ctx := context.Background()
	a, b := h.sim.Tenants()[0], h.sim.Tenants()[1]
	recordOrg(t, h.store, a.ID, a.OrganizationID)
	r := h.runner()
	for range 2 {
		sum, err := r.RunOnce(ctx)
		if err != nil || sum.Failed() {
			t.Fatalf("run with the right token: %+v %v", sum, err)
		}
	}
	if n := h.sim.Counters()[a.ID]["GET /v1/organizations"]; n != 1 {
		t.Fatalf("/organizations read %d times in two runs, want once (cached)", n)
	}
	if n := h.sim.Counters()[b.ID]["GET /v1/organizations"]; n != 0 {
		t.Fatalf("/organizations read %d times for a tenant with no recorded organization", n)
	}
	before := len(h.rows("volunteers")[a.ID])
	if before == 0 {
		t.Fatal("nothing synced with the right token")
	}

	// A copy-paste slip: B's token stored for A, with records of A still
	// queued from before. B itself is disabled meanwhile, so every request
	// made with its token is A's.
	if err := h.store.SetFlag(ctx, b.ID, state.Flag{Kind: state.FlagDisabled, Reason: "test", By: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	h.setToken(a.ID, b.Token)
	enqueueFor(t, h, a.ID, "900001", "900002")
	h.sim.ResetCounters()
	sum, err := r.RunOnce(ctx)
	if err != nil || !sum.Failed() || sum.PollErrors != 1 {
		t.Fatalf("run with another organization's token: %+v %v", sum, err)
	}
	c := h.sim.Counters()[b.ID] // requests made with B's token
	if c["GET /v1/organizations"] != 1 || c["GET /v1/users"] != 0 {
		t.Fatalf("requests with the wrong token: %v, want the organization check only", c)
	}
	if rows := h.rows("volunteers"); len(rows[a.ID]) != before || len(rows[a.ID]) == 0 {
		t.Fatalf("rows of %s: %d, want the %d from before", a.ID, len(rows[a.ID]), before)
	}
	d, err := h.store.Depth(ctx, h.queue(a.ID))
	if err != nil || d.Stream != 2 {
		t.Fatalf("queue of the paused tenant: %+v %v, want its 2 entries kept", d, err)
	}
	flags, err := h.store.Flags(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var reason string
	for _, f := range flags {
		if f.Kind == state.FlagOrgMismatch {
			reason = f.Reason
		}
	}
	other := strconv.FormatInt(b.OrganizationID, 10)
	if !strings.Contains(reason, strconv.FormatInt(a.OrganizationID, 10)) || strings.Contains(reason, other) ||
		!strings.Contains(reason, "siphon credentials set "+a.ID) {
		t.Fatalf("org-mismatch reason %q (flags %+v)", reason, flags)
	}

	// A new runner (another process) finds the flag and checks again.
	h.sim.ResetCounters()
	if sum, err := h.runner().RunOnce(ctx); err != nil || sum.PollErrors != 1 {
		t.Fatalf("second run with the wrong token: %+v %v", sum, err)
	}
	if c := h.sim.Counters()[b.ID]; c["GET /v1/users"] != 0 {
		t.Fatalf("a second process polled with the wrong token: %v", c)
	}

	// The right token again: the next poll clears the pause and the queued
	// records are written.
	h.setToken(a.ID, a.Token)
	if err := h.store.ClearFlag(ctx, b.ID, state.FlagDisabled, ""); err != nil {
		t.Fatal(err)
	}
	sum, err = r.RunOnce(ctx)
	if err != nil || sum.Failed() {
		t.Fatalf("run after the fix: %+v %v", sum, err)
	}
	flags, _ = h.store.Flags(ctx, a.ID)
	for _, f := range flags {
		if f.Kind == state.FlagOrgMismatch {
			t.Fatalf("org-mismatch still set after the fix: %+v", f)
		}
	}
	if rows := h.rows("volunteers"); len(rows[a.ID]) != before+2 {
		t.Fatalf("rows of %s after the fix: %d, want %d", a.ID, len(rows[a.ID]), before+2)
	}
}
