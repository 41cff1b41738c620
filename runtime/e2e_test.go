package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
)

const volunteers = `
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  filter      = record.membership_status != "REMOVED"
  fields = {
    email  = record.email
    status = record.membership_status
  }`

func TestOnceSyncsExactlyUnderChurnBbolt(t *testing.T) {
	testOnceSyncsExactly(t, harnessOpts{tenants: 8, users: 300, pipeline: volunteers, churnPerMinute: 40})
}

func TestOnceSyncsExactlyUnderChurnRedis(t *testing.T) {
	testOnceSyncsExactly(t, harnessOpts{tenants: 8, users: 300, pipeline: volunteers, churnPerMinute: 40,
		store: redistest.Start(t).URL()})
}

// The simulator at its most adversarial short of deletes and rate limits:
// Laravel's late count with changes landing between count and select, page
// sizes flipping mid-walk, 15 records a page, second-resolution ties, bulk
// imports sharing one updated_at, late-visible writes, a skewed API clock,
// 5xx answers and truncated bodies.
func TestOnceSyncsExactlyAdversarialRedis(t *testing.T) {
	testOnceSyncsExactly(t, harnessOpts{tenants: 5, users: 400, pipeline: volunteers, churnPerMinute: 60,
		store: redistest.Start(t).URL(), adjust: func(sc *vomosim.Scenario) {
			adv, err := vomosim.LoadScenario("adversarial")
			if err != nil {
				t.Fatal(err)
			}
			sc.PerPage = adv.PerPage
			sc.Switches = adv.Switches
			sc.Churn.BulkImport, sc.Churn.BulkMin, sc.Churn.BulkMax = 0.2, 50, 150
			sc.Churn.LateShare, sc.Churn.LateMax = adv.Churn.LateShare, adv.Churn.LateMax
			sc.Faults = adv.Faults
			sc.Faults.RateLimit, sc.Faults.TimeoutRate = 0, 0
		}})
}

// testOnceSyncsExactly runs --once repeatedly while the source churns, then
// quiesces the source, lets settle and overlap pass on the shared clock,
// runs once more and compares the destination with the source's truth:
// every kept user present at the source's latest updated_at with its
// latest fields, every filtered one absent, nothing else.
func testOnceSyncsExactly(t *testing.T, o harnessOpts) {
	if raceEnabled {
		o.tenants, o.users = 2, min(o.users, 150)
	}
	h := newHarness(t, o)
	ctx := context.Background()
	for i := range 3 {
		start := time.Now()
		sum, err := h.runner().RunOnce(ctx)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		t.Logf("run %d: %+v in %v", i, sum, time.Since(start))
		if sum.Failed() || sum.JobsRun != o.tenants {
			t.Fatalf("run %d: %+v", i, sum)
		}
		h.waitSim(90 * time.Second)
	}
	ch := h.sim.Scenario().Churn
	ch.Enabled = false
	if err := h.sim.SetChurn(ch); err != nil {
		t.Fatal(err)
	}
	h.waitSim(30*time.Second + 2*time.Minute + 10*time.Second)
	sum, err := h.runner().RunOnce(ctx)
	if err != nil || sum.Failed() {
		t.Fatalf("final run: %+v %v", sum, err)
	}
	h.assertExact()
}

func TestRevokedTokenPausesOnlyThatTenant(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 3, users: 50, pipeline: volunteers})
	ctx := context.Background()
	revoked := h.sim.Tenants()[1].ID
	if err := h.sim.Revoke(revoked); err != nil {
		t.Fatal(err)
	}
	sum, err := h.runner().RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Failed() {
		t.Fatalf("a revoked tenant should fail the run: %+v", sum)
	}
	rows := h.rows("volunteers")
	for _, ti := range h.sim.Tenants() {
		flags, err := h.store.Flags(ctx, ti.ID)
		if err != nil {
			t.Fatal(err)
		}
		paused := false
		for _, f := range flags {
			if f.Kind == state.FlagAuthPaused {
				paused = true
				if f.Reason == "" {
					t.Errorf("%s paused without a reason", ti.ID)
				}
			}
		}
		if paused != (ti.ID == revoked) {
			t.Errorf("%s: paused=%v flags %+v", ti.ID, paused, flags)
		}
		if (len(rows[ti.ID]) > 0) == (ti.ID == revoked) {
			t.Errorf("%s: %d rows", ti.ID, len(rows[ti.ID]))
		}
	}
	// A paused tenant is not polled again: no request reaches the source.
	h.sim.ResetCounters()
	if _, err := h.runner().RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Counters()[revoked]["GET /v1/users"]; n != 0 {
		t.Errorf("paused tenant polled again: %d requests", n)
	}
}

func TestMissingCredentialPausesWithReason(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 20, pipeline: volunteers})
	ctx := context.Background()
	gone := h.sim.Tenants()[0].ID
	if err := h.store.DeleteCredential(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := h.runner().RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	flags, err := h.store.Flags(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	want := "no credentials: run siphon credentials set " + gone
	if len(flags) != 1 || flags[0].Kind != state.FlagAuthPaused || flags[0].Reason != want {
		t.Fatalf("flags %+v, want an auth pause %q", flags, want)
	}
}

// A mapping that fails for some records sends exactly those to the DLQ,
// with the error, and the run reports failure; the rest land.
func TestMappingErrorsGoToTheDLQ(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 60, pipeline: `
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  filter      = tonumber(record.id) % 7 == 0 ? null : true
  fields = {
    email = record.email
  }`})
	ctx := context.Background()
	sum, err := h.runner().RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tenant := h.sim.Tenants()[0].ID
	truth := h.truth(tenant)
	bad := 0
	for key := range truth {
		var id int
		if _, err := fmtSscan(key, &id); err == nil && id%7 == 0 {
			bad++
		}
	}
	if bad == 0 {
		t.Fatal("no record hits the failing mapping; pick another modulus")
	}
	if !sum.Failed() || sum.Dead != int64(bad) {
		t.Fatalf("summary %+v, want %d dead", sum, bad)
	}
	letters, _, err := h.store.DeadLetterList(ctx, tenant, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != bad {
		t.Fatalf("%d letters, want %d", len(letters), bad)
	}
	for _, l := range letters {
		if l.Entry.LastError == "" || l.Entry.Pipeline != "volunteers" {
			t.Errorf("letter %+v", l)
		}
	}
	if got := len(h.rows("volunteers")[tenant]); got != len(truth)-bad {
		t.Errorf("%d rows, want %d", got, len(truth)-bad)
	}
}

// assertExact compares the destination with the source's truth: every kept
// user present at the source's latest updated_at with its latest fields,
// every filtered one absent, nothing else.
func (h *harness) assertExact() {
	t := h.t
	t.Helper()
	rows := h.rows("volunteers", "email", "status")
	for _, ti := range h.sim.Tenants() {
		truth := h.truth(ti.ID)
		got := rows[ti.ID]
		kept := 0
		for key, u := range truth {
			r, present := got[key]
			if u.Status == "REMOVED" {
				if present {
					t.Errorf("%s/%s: filtered user present", ti.ID, key)
				}
				continue
			}
			kept++
			want, err := vomo.ParseTime(u.UpdatedAt)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case !present:
				t.Errorf("%s/%s: missing (updated_at %s)", ti.ID, key, u.UpdatedAt)
			case !r.version.Equal(want):
				t.Errorf("%s/%s: version %s, source has %s", ti.ID, key, r.version, want)
			case r.fields["email"] != u.Email || r.fields["status"] != u.Status:
				t.Errorf("%s/%s: row %v, source has %s %s", ti.ID, key, r.fields, u.Email, u.Status)
			}
		}
		for key := range got {
			if _, ok := truth[key]; !ok {
				t.Errorf("%s/%s: row the source does not have", ti.ID, key)
			}
		}
		if kept == 0 || len(got) != kept {
			t.Errorf("%s: %d rows, %d kept users at the source", ti.ID, len(got), kept)
		}
	}
}
