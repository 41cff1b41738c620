package runtime_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
)

// mapped is a pipeline without a filter whose status column is the
// source's status passed through fn, so every user has a row and the row
// shows which mapping wrote it.
func mapped(fn string) string {
	return `
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  fields = {
    email  = record.email
    status = ` + fn + `(record.membership_status)
  }`
}

// resync asks for a new backfill of every tenant's pipeline (a reset
// checkpoint is rebuilt from the destination instead), so the next run
// reads every record again at its unchanged source version.
func (h *harness) resync() {
	h.t.Helper()
	for _, ti := range h.sim.Tenants() {
		f := state.Flag{Kind: state.FlagBackfillRequested, Scope: "volunteers", Reason: "resync", By: "test"}
		if err := h.store.SetFlag(context.Background(), ti.ID, f); err != nil {
			h.t.Fatal(err)
		}
	}
}

// assertMapped checks that every user has a row written by the mapping fn.
func (h *harness) assertMapped(users int, fn func(string) string) {
	h.t.Helper()
	rows := h.rows("volunteers", "status")
	for _, ti := range h.sim.Tenants() {
		truth := h.truth(ti.ID)
		if len(truth) != users || len(rows[ti.ID]) != users {
			h.t.Fatalf("%s: %d users, %d rows, want %d", ti.ID, len(truth), len(rows[ti.ID]), users)
		}
		stale := 0
		for k, u := range truth {
			if got := rows[ti.ID][k].fields["status"]; got != fn(u.Status) {
				stale++
			}
		}
		if stale > 0 {
			h.t.Fatalf("%s: %d of %d rows keep another mapping's status", ti.ID, stale, users)
		}
	}
}

func runOnce(t *testing.T, r *runtime.Runner) runtime.Summary {
	t.Helper()
	sum, err := r.RunOnce(context.Background())
	if err != nil || sum.Failed() {
		t.Fatalf("run: %+v %v", sum, err)
	}
	return sum
}

// A mapping change between two --once runs lands on every row, although
// the source records did not change: the new configuration is activated
// with a higher version, and that version is the generation its writes
// carry, so they win the tie at an equal source version. The two mappings
// are deployed in the order a generation derived from the mapping hash
// would get wrong, so the test does not depend on which hash is larger.
func TestMappingChangeLandsOnUnchangedRecords(t *testing.T) {
	const users = 200
	h := newHarness(t, harnessOpts{tenants: 1, users: users, pipeline: mapped("lower")})
	lowerPlan := h.plan
	h.reload(mapped("upper"))
	upperPlan := h.plan
	first, second := "lower", "upper"
	if hashOrder(upperPlan.Pipelines[0].MappingHash) > hashOrder(lowerPlan.Pipelines[0].MappingHash) {
		first, second = second, first
	}
	apply := map[string]func(string) string{"lower": strings.ToLower, "upper": strings.ToUpper}

	h.reload(mapped(first))
	runOnce(t, h.runner())
	h.assertMapped(users, apply[first])

	h.reload(mapped(second))
	h.resync()
	runOnce(t, h.runner())
	h.assertMapped(users, apply[second])
}

// hashOrder is where a generation taken from the mapping hash's first
// bytes would place a mapping.
func hashOrder(mappingHash string) uint64 {
	sum := sha256.Sum256([]byte(mappingHash))
	return binary.BigEndian.Uint64(sum[:8]) >> 1
}

func TestOlderConfigIsRefusedBbolt(t *testing.T) {
	testOlderConfigIsRefused(t, harnessOpts{})
}

func TestOlderConfigIsRefusedRedis(t *testing.T) {
	testOlderConfigIsRefused(t, harnessOpts{store: redistest.Start(t).URL()})
}

// testOlderConfigIsRefused: activation is idempotent for one
// configuration; an older configuration after a newer one takes no jobs
// and says why; --force runs it again as the newest, so its mapping lands.
func testOlderConfigIsRefused(t *testing.T, o harnessOpts) {
	const users = 40
	o.tenants, o.users, o.pipeline = 2, users, mapped("lower")
	h := newHarness(t, o)
	ctx := context.Background()
	active := func() state.ConfigVersion {
		t.Helper()
		v, ok, err := h.store.ActiveConfig(ctx)
		if err != nil || !ok {
			t.Fatalf("active config: %v %v", ok, err)
		}
		return v
	}

	runOnce(t, h.runner())
	v1 := active()
	if v1.Hash != h.plan.ConfigHash {
		t.Fatalf("active %+v, plan %s", v1, h.plan.ConfigHash)
	}
	// The active version carries the plan's summary, for plan --store.
	var summary dsl.Summary
	if err := json.Unmarshal(v1.Summary, &summary); err != nil || !reflect.DeepEqual(summary, h.plan.Summary()) {
		t.Fatalf("stored summary %s (%v), want %+v", v1.Summary, err, h.plan.Summary())
	}
	runOnce(t, h.runner())
	if again := active(); !sameVersion(again, v1) {
		t.Fatalf("same config again: %+v, was %+v", again, v1)
	}

	h.reload(mapped("upper"))
	h.resync()
	runOnce(t, h.runner())
	v2 := active()
	if v2.Hash != h.plan.ConfigHash || v2.Version <= v1.Version {
		t.Fatalf("newer config %+v after %+v", v2, v1)
	}

	h.reload(mapped("lower"))
	h.resync()
	sum, err := h.runner().RunOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "older than the active config") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("older config: %v", err)
	}
	if sum.JobsRun != 0 || sum.Written != 0 {
		t.Fatalf("an older config took jobs: %+v", sum)
	}
	if now := active(); !sameVersion(now, v2) {
		t.Fatalf("refused config changed the active one: %+v", now)
	}
	h.assertMapped(users, strings.ToUpper)

	runOnce(t, h.runnerAdjusted(func(c *runtime.Config) { c.Force = true }))
	v3 := active()
	if v3.Hash != v1.Hash || v3.Version <= v2.Version {
		t.Fatalf("forced rollback %+v after %+v", v3, v2)
	}
	h.assertMapped(users, strings.ToLower)
}

// A running Run whose configuration another deployment supersedes stops
// with the reason instead of taking more jobs.
func TestRunStopsWhenANewerConfigActivates(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 20, pipeline: volunteers})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.runner().Run(ctx) }()
	h.waitFor(time.Now().Add(20*time.Second), "the config to activate", func() bool {
		v, ok, err := h.store.ActiveConfig(ctx)
		return err == nil && ok && v.Hash == h.plan.ConfigHash
	})
	if _, err := h.store.ActivateConfig(ctx, state.ConfigVersion{Hash: "a newer deployment"}, false); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "older than the active config") {
		t.Fatalf("run: %v", err)
	}
}

// sameVersion compares config versions field by field (Summary is a byte
// slice).
func sameVersion(a, b state.ConfigVersion) bool {
	return a.Version == b.Version && a.Hash == b.Hash && a.ActivatedAt.Equal(b.ActivatedAt) && string(a.Summary) == string(b.Summary)
}
