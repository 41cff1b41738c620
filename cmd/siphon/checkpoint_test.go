package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

var (
	walkAfter = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	walkCap   = walkAfter.Add(time.Hour)
)

// startWalk records a walk in progress for (tenant, volunteers) at the given
// generation, as a poll's first page would, and returns the lease it ran
// under.
func startWalk(t *testing.T, ctx context.Context, st state.Store, tenant string, gen int64) state.Lease {
	t.Helper()
	l, ok, err := st.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "poll", Owner: "test", TTL: time.Hour})
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	w := state.Walk{After: walkAfter, Cap: walkCap, Position: 15, Total: 40}
	res, err := st.CommitPage(ctx, state.PageCommit{Lease: l, Walks: []state.WalkUpdate{{Pipeline: "volunteers", Generation: gen, Walk: w}}})
	if err != nil || !slices.Equal(res.Applied, []string{"volunteers"}) {
		t.Fatalf("commit page: %+v %v", res, err)
	}
	return l
}

func checkpointOf(t *testing.T, ctx context.Context, st state.Store, tenant string) state.Checkpoint {
	t.Helper()
	cp, err := st.Checkpoint(ctx, tenant, "volunteers")
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func getJSON(t *testing.T, args ...string) []checkpointView {
	t.Helper()
	code, out, errOut := siphon(t, append([]string{"checkpoint", "get"}, args...)...)
	if code != 0 {
		t.Fatalf("checkpoint get %v: %d %s", args, code, errOut)
	}
	var vs []checkpointView
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("checkpoint get --json: %v\n%s", err, out)
	}
	return vs
}

func TestCheckpointGet(t *testing.T) {
	dir := operatorConfig(t)
	code, out, errOut := siphon(t, "checkpoint", "get", "acme", "--config", dir)
	if code != 0 || out != "acme/volunteers  no cursor: the next poll reads from the start  generation 0\n" {
		t.Fatalf("checkpoint get of a fresh store: %d %q %s", code, out, errOut)
	}
	cursor := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if _, err := st.SetCursor(ctx, "acme", "volunteers", cursor); err != nil {
			t.Fatal(err)
		}
		startWalk(t, ctx, st, "acme", 1)
	})
	code, out, errOut = siphon(t, "checkpoint", "get", "acme", "volunteers", "--config", dir)
	if code != 0 || !strings.HasPrefix(out, "acme/volunteers  cursor 2025-12-31T00:00:00Z (") ||
		!strings.Contains(out, "generation 1\n  walk in progress over (2026-01-01T00:00:00Z, 2026-01-01T01:00:00Z]: position 15 of 40\n") {
		t.Fatalf("checkpoint get: %d %q %s", code, out, errOut)
	}
	vs := getJSON(t, "acme", "--config", dir, "--json")
	if len(vs) != 1 {
		t.Fatalf("checkpoint get --json: %+v", vs)
	}
	v := vs[0]
	if v.Tenant != "acme" || v.Pipeline != "volunteers" || !v.Cursor.Equal(cursor) || v.Generation != 1 ||
		v.AgeSeconds == nil || *v.AgeSeconds < time.Since(cursor).Seconds()-60 || v.Walk == nil ||
		*v.Walk != (walkView{After: walkAfter, Cap: walkCap, Position: 15, Total: 40}) {
		t.Fatalf("checkpoint get --json: %+v", v)
	}
	// Without a cursor the JSON has no cursor or age, and walk is null.
	code, out, _ = siphon(t, "checkpoint", "get", "globex", "--config", dir, "--json")
	if code != 0 || strings.Contains(out, "cursor") || strings.Contains(out, "age") || !strings.Contains(out, `"walk": null`) {
		t.Fatalf("checkpoint get globex --json: %d\n%s", code, out)
	}
}

func TestCheckpointSet(t *testing.T) {
	dir := operatorConfig(t)
	var lease state.Lease
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		lease = startWalk(t, ctx, st, "acme", 0)
		startWalk(t, ctx, st, "globex", 0)
	})
	code, out, errOut := siphon(t, "checkpoint", "set", "acme", "volunteers", "--cursor", "2025-12-31T01:00:00+01:00", "--config", dir)
	if code != 0 || out != "set the cursor of acme/volunteers to 2025-12-31T00:00:00Z (was none); generation 1\n"+
		"dropped the walk in progress: it will not write its progress or its cursor\n" {
		t.Fatalf("checkpoint set: %d %q %s", code, out, errOut)
	}
	want := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		cp := checkpointOf(t, ctx, st, "acme")
		if !cp.Cursor.Equal(want) || cp.Walk != nil || cp.Generation != 1 {
			t.Fatalf("after set: %+v", cp)
		}
		// The walk that was in flight finishes its window: its commit is
		// skipped, so the operator's cursor stands.
		res, err := st.CommitPage(ctx, state.PageCommit{Lease: lease, Walks: []state.WalkUpdate{{Pipeline: "volunteers", Generation: 0,
			Walk: state.Walk{After: walkAfter, Cap: walkCap, Position: 40, Total: 40}, Complete: true}}})
		if err != nil || !slices.Equal(res.Skipped, []string{"volunteers"}) {
			t.Fatalf("stale commit: %+v %v", res, err)
		}
		if cp := checkpointOf(t, ctx, st, "acme"); !cp.Cursor.Equal(want) {
			t.Fatalf("a stale walk moved the cursor: %+v", cp)
		}
		a := auditLog(t, ctx, st, "acme")
		if len(a) != 1 || a[0].Action != "checkpoint set" || a[0].Who == "" ||
			a[0].Detail != "pipeline volunteers cursor 2025-12-31T00:00:00Z (was none), generation 1" {
			t.Fatalf("audit: %+v", a)
		}
		// globex keeps its walk and generation.
		if cp := checkpointOf(t, ctx, st, "globex"); cp.Walk == nil || cp.Generation != 0 || len(auditLog(t, ctx, st, "globex")) != 0 {
			t.Fatalf("set in acme touched globex: %+v", cp)
		}
	})
	code, out, _ = siphon(t, "checkpoint", "set", "acme", "volunteers", "--cursor", "2025-12-30T00:00:00.5Z", "--config", dir)
	if code != 0 || out != "set the cursor of acme/volunteers to 2025-12-30T00:00:00.5Z (was 2025-12-31T00:00:00Z); generation 2\n" {
		t.Fatalf("second checkpoint set: %d %q", code, out)
	}
}

func TestCheckpointReset(t *testing.T) {
	dir := operatorConfig(t)
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		for _, tenant := range []string{"acme", "globex"} {
			if _, err := st.SetCursor(ctx, tenant, "volunteers", walkAfter); err != nil {
				t.Fatal(err)
			}
			startWalk(t, ctx, st, tenant, 1)
		}
	})
	code, out, errOut := siphon(t, "checkpoint", "reset", "acme", "volunteers", "--config", dir)
	if code != 0 || out != "reset the checkpoint of acme/volunteers (cursor was 2026-01-01T00:00:00Z); generation 2: the next poll rebuilds it from the destination (or backfills when it holds nothing)\n" {
		t.Fatalf("checkpoint reset: %d %q %s", code, out, errOut)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if cp := checkpointOf(t, ctx, st, "acme"); !cp.Cursor.IsZero() || cp.Walk != nil || cp.Generation != 2 {
			t.Fatalf("after reset: %+v", cp)
		}
		a := auditLog(t, ctx, st, "acme")
		if len(a) != 1 || a[0].Action != "checkpoint reset" || a[0].Detail != "pipeline volunteers (cursor was 2026-01-01T00:00:00Z), generation 2" {
			t.Fatalf("audit: %+v", a)
		}
		if cp := checkpointOf(t, ctx, st, "globex"); !cp.Cursor.Equal(walkAfter) || cp.Walk == nil || cp.Generation != 1 {
			t.Fatalf("reset in acme touched globex: %+v", cp)
		}
	})
}

func TestCheckpointBadInput(t *testing.T) {
	dir := operatorConfig(t)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"checkpoint", "get", "globx"}, `no tenant "globx" in ` + dir + `; did you mean "globex"?`},
		{[]string{"checkpoint", "get", "acme", "volunteer"}, `pipeline "volunteer" is not active for tenant acme; did you mean "volunteers"?`},
		{[]string{"checkpoint", "get", "acme", "orders"}, `pipeline "orders" is not active for tenant acme (active pipelines: volunteers)`},
		{[]string{"checkpoint", "get"}, "usage: siphon checkpoint get TENANT [PIPELINE]"},
		{[]string{"checkpoint", "set", "acme", "volunteers"}, "checkpoint set needs --cursor TIME"},
		{[]string{"checkpoint", "set", "acme", "volunteers", "--cursor", "yesterday"}, `--cursor "yesterday" is not an RFC 3339 time`},
		{[]string{"checkpoint", "set", "acme", "volunteers", "--cursor", "2026-01-02"}, `--cursor "2026-01-02" is not an RFC 3339 time`},
		{[]string{"checkpoint", "set", "acme", "volunteers", "--cursor", future}, "is in the future"},
		{[]string{"checkpoint", "set", "acme", "--cursor", "2026-01-02T00:00:00Z"}, "usage: siphon checkpoint set TENANT PIPELINE --cursor TIME"},
		{[]string{"checkpoint", "reset", "acme"}, "usage: siphon checkpoint reset TENANT PIPELINE"},
		{[]string{"checkpoint", "reset", "initech", "volunteers"}, `no tenant "initech" in ` + dir + ` (tenants: acme, globex)`},
	} {
		code, out, errOut := siphon(t, append(c.args, "--config", dir)...)
		if code != 1 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: %d %q %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
	// Refused commands wrote nothing.
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if cp := checkpointOf(t, ctx, st, "acme"); cp.Generation != 0 || len(auditLog(t, ctx, st, "acme")) != 0 {
			t.Fatalf("a refused command changed state: %+v", cp)
		}
	})
}

// The configuration comes from SIPHON_CONFIG when --config is not given,
// and --store (relative to the configuration) picks another store.
func TestOperatorConfigEnvAndStoreFlag(t *testing.T) {
	dir := operatorConfig(t)
	t.Setenv("SIPHON_CONFIG", dir)
	t.Setenv("SIPHON_STORE", "")
	code, out, errOut := siphon(t, "checkpoint", "reset", "acme", "volunteers", "--store", "other.db")
	if code != 0 || !strings.Contains(out, "generation 1") {
		t.Fatalf("checkpoint reset --store: %d %q %s", code, out, errOut)
	}
	if vs := getJSON(t, "acme", "--store", "other.db", "--json"); len(vs) != 1 || vs[0].Generation != 1 {
		t.Fatalf("checkpoint get --store: %+v", vs)
	}
	if vs := getJSON(t, "acme", "--json"); len(vs) != 1 || vs[0].Generation != 0 {
		t.Fatalf("the default store changed: %+v", vs)
	}
}
