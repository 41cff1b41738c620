package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// tenantHub is a simulated VOMO with two tenants, a configuration naming
// both and their tokens stored.
type tenantHub struct {
	sim *vomosim.Server
	ts  []vomosim.TenantInfo
	dir string
}

func newTenantHub(t *testing.T, users int) tenantHub {
	t.Helper()
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 2, users, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	ts := sim.Tenants()
	dir := twoTenantConfig(t, hs.URL+"/v1", ts[0].ID, ts[1].ID)
	for _, ti := range ts {
		setToken(t, dir, ti.ID, ti.Token)
	}
	return tenantHub{sim: sim, ts: ts, dir: dir}
}

func setToken(t *testing.T, dir, tenant, token string) {
	t.Helper()
	withStdin(t, token+"\n", func() {
		if code, out, errOut := siphon(t, "credentials", "set", tenant, "--config", dir); code != 0 {
			t.Fatalf("credentials set %s: %d %s %s", tenant, code, out, errOut)
		}
	})
}

// destRows counts each tenant's rows in the sqlite destination's object.
func destRows(t *testing.T, dir, object string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, ".siphon", "destination.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT tenant, count(*) FROM "` + object + `" GROUP BY tenant`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return map[string]int{}
		}
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var tenant string
		var n int
		if err := rows.Scan(&tenant, &n); err != nil {
			t.Fatal(err)
		}
		out[tenant] = n
	}
	return out
}

func auditActions(t *testing.T, ctx context.Context, st state.Store, tenant string) ([]string, []state.AuditEntry) {
	t.Helper()
	entries, _, err := st.Audit(ctx, tenant, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	return actions, entries
}

// tenant disable stops polling and processing of that tenant only, with
// the reason, who and when in status; its queued records stay queued until
// tenant enable, which brings everything back. Both are audited under
// $SIPHON_OPERATOR.
func TestTenantDisableEnable(t *testing.T) {
	t.Setenv("SIPHON_OPERATOR", "alice@ops")
	h := newTenantHub(t, 10)
	off, on := h.ts[0].ID, h.ts[1].ID

	code, _, errOut := siphon(t, "tenant", "disable", off, "--config", h.dir)
	if code != 1 || !strings.Contains(errOut, "needs --reason") {
		t.Fatalf("disable without a reason: %d %s", code, errOut)
	}
	code, _, errOut = siphon(t, "tenant", "disable", "nobody", "--reason", "x", "--config", h.dir)
	if code != 1 || !strings.Contains(errOut, `no tenant "nobody"`) {
		t.Fatalf("disable of an unknown tenant: %d %s", code, errOut)
	}

	// Records already queued for the tenant before it was disabled.
	withStore(t, h.dir, func(ctx context.Context, st state.Store) {
		enqueue(t, ctx, st, off, "q1", "q2", "q3")
	})
	code, out, errOut := siphon(t, "tenant", "disable", off, "--reason", "customer asked for a pause", "--config", h.dir)
	if code != 0 || !strings.Contains(out, "disabled "+off) {
		t.Fatalf("disable: %d %s %s", code, out, errOut)
	}
	code, out, errOut = siphon(t, "run", "--once", h.dir)
	if code != 0 {
		t.Fatalf("run --once with a disabled tenant: %d %s %s", code, out, errOut)
	}
	rows := destRows(t, h.dir, "volunteers")
	if rows[off] != 0 || rows[on] != 10 {
		t.Fatalf("rows after a run with %s disabled: %v", off, rows)
	}
	withStore(t, h.dir, func(ctx context.Context, st state.Store) {
		d, err := st.Depth(ctx, state.QueueRef{Tenant: off, Destination: "db", Lane: "default"})
		if err != nil || d.Stream != 3 {
			t.Fatalf("queue of the disabled tenant: %+v %v, want its 3 entries kept", d, err)
		}
		// Its jobs are parked: no scheduler takes them.
		_, plan, err := loadConfig(h.dir)
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := runtime.TenantJobs(ctx, plan, st, off)
		if err != nil || len(jobs) < 2 {
			t.Fatalf("jobs of %s: %v %v", off, jobs, err)
		}
		for _, j := range jobs {
			due, err := st.ScheduleJob(ctx, off, j, time.Now(), false)
			if err != nil || !due.Equal(runtime.ParkedDue) {
				t.Fatalf("due time of the disabled tenant's job %s: %v %v", j, due, err)
			}
		}
	})

	code, out, _ = siphon(t, "status", off, "--config", h.dir, "--json")
	var sts []tenantStatus
	if err := json.Unmarshal([]byte(out), &sts); code != 0 || err != nil || len(sts) != 1 {
		t.Fatalf("status: %d %v %s", code, err, out)
	}
	if p := sts[0].Paused; !strings.HasPrefix(p, "disabled by alice@ops at ") || !strings.HasSuffix(p, ": customer asked for a pause") {
		t.Fatalf("status paused: %q", p)
	}
	code, out, _ = siphon(t, "status", off, "--config", h.dir)
	if code != 0 || !strings.Contains(out, "paused: disabled by alice@ops at") {
		t.Fatalf("status text: %s", out)
	}

	code, out, errOut = siphon(t, "tenant", "enable", off, "--config", h.dir)
	if code != 0 || !strings.Contains(out, "enabled "+off+" (disabled by alice@ops") {
		t.Fatalf("enable: %d %s %s", code, out, errOut)
	}
	code, out, errOut = siphon(t, "run", "--once", h.dir)
	if code != 0 {
		t.Fatalf("run --once after enable: %d %s %s", code, out, errOut)
	}
	if rows := destRows(t, h.dir, "volunteers"); rows[off] != 13 || rows[on] != 10 {
		t.Fatalf("rows after enable: %v, want the 10 users and the 3 queued records of %s", rows, off)
	}
	code, out, _ = siphon(t, "tenant", "enable", off, "--config", h.dir)
	if code != 0 || !strings.Contains(out, "not disabled; nothing to do") {
		t.Fatalf("second enable: %d %s", code, out)
	}
	withStore(t, h.dir, func(ctx context.Context, st state.Store) {
		actions, entries := auditActions(t, ctx, st, off)
		if strings.Join(actions, ",") != "credentials set,tenant disable,tenant enable" {
			t.Fatalf("audit of %s: %v", off, actions)
		}
		for _, e := range entries[1:] {
			if e.Who != "alice@ops" {
				t.Errorf("audit entry %s by %q, want alice@ops", e.Action, e.Who)
			}
		}
		if !strings.Contains(entries[1].Detail, "customer asked for a pause") {
			t.Errorf("disable detail: %q", entries[1].Detail)
		}
	})
}

// enqueue queues an upsert per key on the tenant's db queue, as a poll
// would have before the tenant was disabled.
func enqueue(t *testing.T, ctx context.Context, st state.Store, tenant string, keys ...string) {
	t.Helper()
	q := state.QueueRef{Tenant: tenant, Destination: "db", Lane: "default"}
	var es []state.Entry
	for _, k := range keys {
		es = append(es, state.Entry{Pipeline: "volunteers", Key: k, Op: "upsert", Version: testVersion,
			ContentHash: "h" + k, Payload: []byte(`{"id":"` + k + `","email":"` + k + `@example.com"}`)})
	}
	l, ok, err := st.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "seed", Owner: "test", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if _, err := st.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
}

// tenant onboard verifies the stored token, records the organization,
// estimates and schedules the backfill; the bad cases (no token, a
// refused token, another customer's token, a bad --at) fail with what to
// do and change nothing.
func TestTenantOnboard(t *testing.T) {
	h := newTenantHub(t, 25)
	a, b := h.ts[0], h.ts[1]

	code, out, errOut := siphon(t, "tenant", "onboard", a.ID, "--at", "now", "--json", "--config", h.dir)
	if code != 0 {
		t.Fatalf("onboard: %d %s %s", code, out, errOut)
	}
	var rep onboardReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("onboard --json: %v\n%s", err, out)
	}
	orgID := strconv.FormatInt(a.OrganizationID, 10)
	if rep.Organizations["vomo"].ID != orgID || !rep.Recorded || rep.Estimate.Records != 25 || rep.Estimate.Requests < 2 {
		t.Fatalf("onboard report: %+v", rep)
	}
	if time.Since(rep.BackfillAt) > time.Minute || rep.BackfillAt.After(time.Now()) {
		t.Fatalf("backfill at %v, want now", rep.BackfillAt)
	}
	withStore(t, h.dir, func(ctx context.Context, st state.Store) {
		b, err := st.Note(ctx, a.ID, runtime.OrgNote)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := runtime.DecodeOrgRecord(b)
		if err != nil || rec.Sources["vomo"].ID != orgID {
			t.Fatalf("org note: %+v %v", rec, err)
		}
		due, err := st.ScheduleJob(ctx, a.ID, runtime.BackfillJob, time.Now().Add(time.Hour), false)
		if err != nil || !due.Equal(rep.BackfillAt) {
			t.Fatalf("backfill due %v %v, want %v", due, err, rep.BackfillAt)
		}
		actions, entries := auditActions(t, ctx, st, a.ID)
		if actions[len(actions)-1] != "tenant onboard" || !strings.Contains(entries[len(entries)-1].Detail, orgID) {
			t.Fatalf("audit: %+v", entries)
		}
	})

	// Text output, at the tenant's backfill_at (02:00 local by default)
	// plus its stagger within the hour.
	at := time.Date(2000, 1, 1, 2, 0, 0, 0, time.UTC).Add(runtime.BackfillStagger(a.ID)).Format(" 15:04 ")
	code, out, errOut = siphon(t, "tenant", "onboard", a.ID, "--config", h.dir)
	if code != 0 || !strings.Contains(out, "organization "+orgID) || !strings.Contains(out, "matches the one recorded") ||
		!strings.Contains(out, "backfill starts at ") || !strings.Contains(out, at) {
		t.Fatalf("onboard (text): %d %s %s", code, out, errOut)
	}

	// Another customer's token under this tenant: refused, nothing recorded,
	// and the other organization is not named.
	setToken(t, h.dir, a.ID, b.Token)
	otherID := strconv.FormatInt(b.OrganizationID, 10)
	// A run pauses the tenant before reading anything with that token.
	code, out, errOut = siphon(t, "run", "--once", h.dir)
	if code != 1 {
		t.Fatalf("run --once with another customer's token: %d %s %s", code, out, errOut)
	}
	if rows := destRows(t, h.dir, "volunteers"); rows[a.ID] != 0 || rows[b.ID] != 25 {
		t.Fatalf("rows after a run with another customer's token under %s: %v", a.ID, rows)
	}
	code, out, _ = siphon(t, "status", a.ID, "--json", "--config", h.dir)
	var sts []tenantStatus
	if err := json.Unmarshal([]byte(out), &sts); code != 0 || err != nil || len(sts) != 1 ||
		!strings.Contains(sts[0].Paused, "another organization than "+orgID) || strings.Contains(sts[0].Paused, otherID) {
		t.Fatalf("status of %s: %d %v %s", a.ID, code, err, out)
	}
	code, _, errOut = siphon(t, "tenant", "onboard", a.ID, "--at", "now", "--config", h.dir)
	if code != 1 || !strings.Contains(errOut, "another organization than "+orgID) || strings.Contains(errOut, otherID) {
		t.Fatalf("onboard with another customer's token: %d %s", code, errOut)
	}
	// --reverify records the organization the token answers for now.
	code, out, errOut = siphon(t, "tenant", "onboard", a.ID, "--at", "now", "--reverify", "--json", "--config", h.dir)
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Organizations["vomo"].ID != otherID || !rep.Recorded {
		t.Fatalf("onboard --reverify: %d %s %s", code, out, errOut)
	}

	// A revoked token: a clear 401 message.
	if err := h.sim.Revoke(b.ID); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = siphon(t, "tenant", "onboard", b.ID, "--config", h.dir)
	if code != 1 || !strings.Contains(errOut, "refused the token of "+b.ID+" (401") || !strings.Contains(errOut, "siphon credentials set "+b.ID) {
		t.Fatalf("onboard with a revoked token: %d %s", code, errOut)
	}
	// No token stored.
	code, _, errOut = siphon(t, "credentials", "delete", b.ID, "--config", h.dir)
	if code != 0 {
		t.Fatal(errOut)
	}
	code, _, errOut = siphon(t, "tenant", "onboard", b.ID, "--config", h.dir)
	if code != 1 || !strings.Contains(errOut, "no token stored for "+b.ID) || !strings.Contains(errOut, "siphon credentials set "+b.ID) {
		t.Fatalf("onboard without a token: %d %s", code, errOut)
	}
	for _, at := range []string{"25:00", "2pm", "02:5"} {
		code, _, errOut = siphon(t, "tenant", "onboard", a.ID, "--at", at, "--config", h.dir)
		if code != 1 || !strings.Contains(errOut, "want HH:MM") {
			t.Errorf("--at %s: %d %s", at, code, errOut)
		}
	}
	withStore(t, h.dir, func(ctx context.Context, st state.Store) {
		if _, err := st.Note(ctx, b.ID, runtime.OrgNote); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("org note of %s after failed onboards: %v", b.ID, err)
		}
	})
	for _, o := range []string{out, errOut} {
		for _, ti := range h.ts {
			if strings.Contains(o, ti.Token) {
				t.Fatalf("a token was printed")
			}
		}
	}
}

// tenant offboard disables the tenant, removes its destination rows when
// asked, its credential and every key of its state, keeps its audit entries
// in the hub log, and leaves the other tenant untouched; it asks first
// unless --yes, is idempotent, and a later run does not bring it back.
func TestTenantOffboard(t *testing.T) {
	h := newTenantHub(t, 12)
	gone, kept := h.ts[0].ID, h.ts[1].ID
	if code, out, errOut := siphon(t, "run", "--once", h.dir); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	if rows := destRows(t, h.dir, "volunteers"); rows[gone] != 12 || rows[kept] != 12 {
		t.Fatalf("rows before offboarding: %v", rows)
	}
	if code, _, errOut := siphon(t, "tenant", "onboard", gone, "--config", h.dir); code != 0 {
		t.Fatal(errOut)
	}

	// Not confirmed: nothing changes.
	withStdin(t, "no\n", func() {
		code, _, errOut := siphon(t, "tenant", "offboard", gone, "--purge-destination", "--config", h.dir)
		if code != 1 || !strings.Contains(errOut, "type the tenant id") || !strings.Contains(errOut, "nothing was changed") {
			t.Fatalf("unconfirmed offboard: %d %s", code, errOut)
		}
	})
	withStore(t, h.dir, func(ctx context.Context, st state.Store) {
		if _, err := st.Credential(ctx, gone); err != nil {
			t.Fatalf("credential after an unconfirmed offboard: %v", err)
		}
	})

	var out, errOut string
	var code int
	withStdin(t, gone+"\n", func() {
		code, out, errOut = siphon(t, "tenant", "offboard", gone, "--purge-destination", "--config", h.dir)
	})
	if code != 0 || !strings.Contains(out, "destination db: deleted 12 rows of volunteers") ||
		!strings.Contains(out, "remove its tenant block") {
		t.Fatalf("offboard: %d %s %s", code, out, errOut)
	}
	if rows := destRows(t, h.dir, "volunteers"); rows[gone] != 0 || rows[kept] != 12 {
		t.Fatalf("rows after offboarding %s: %v", gone, rows)
	}
	check := func() {
		withStore(t, h.dir, func(ctx context.Context, st state.Store) {
			if _, err := st.Credential(ctx, gone); !errors.Is(err, state.ErrNotFound) {
				t.Errorf("credential of %s: %v, want not found", gone, err)
			}
			for _, name := range []string{runtime.OrgNote, runtime.ReconcileNote("volunteers")} {
				if _, err := st.Note(ctx, gone, name); !errors.Is(err, state.ErrNotFound) {
					t.Errorf("note %s of %s: %v, want not found", name, gone, err)
				}
			}
			cp, err := st.Checkpoint(ctx, gone, "volunteers")
			if err != nil || !cp.Cursor.IsZero() {
				t.Errorf("checkpoint of %s: %+v %v, want none", gone, cp, err)
			}
			if cp, err := st.Checkpoint(ctx, kept, "volunteers"); err != nil || cp.Cursor.IsZero() {
				t.Errorf("checkpoint of %s, which stays: %+v %v", kept, cp, err)
			}
			if _, err := st.Credential(ctx, kept); err != nil {
				t.Errorf("credential of %s, which stays: %v", kept, err)
			}
			fs, err := st.Flags(ctx, gone)
			if err != nil || len(fs) != 1 || fs[0].Kind != state.FlagDisabled || !strings.Contains(fs[0].Reason, "offboarded") {
				t.Errorf("flags of %s: %+v %v, want the offboarded disable only", gone, fs, err)
			}
		})
	}
	// The offboard's own disable is not audited apart: its entry says it.
	withStore(t, h.dir, func(ctx context.Context, st state.Store) {
		hub, _, _ := st.Audit(ctx, "", "", 1000)
		var actions []string
		for _, e := range hub {
			if e.Tenant == gone {
				actions = append(actions, e.Action)
			}
		}
		if strings.Join(actions, ",") != "credentials set,tenant onboard,tenant offboard" {
			t.Errorf("hub audit of %s: %v", gone, actions)
		}
	})
	check()

	// A run leaves the offboarded tenant alone; the other syncs.
	if code, out, errOut := siphon(t, "run", "--once", h.dir); code != 0 {
		t.Fatalf("run after offboarding: %d %s %s", code, out, errOut)
	}
	if rows := destRows(t, h.dir, "volunteers"); rows[gone] != 0 || rows[kept] != 12 {
		t.Fatalf("rows after a run: %v", rows)
	}
	withStore(t, h.dir, func(ctx context.Context, st state.Store) {
		cp, err := st.Checkpoint(ctx, gone, "volunteers")
		if err != nil || !cp.Cursor.IsZero() || cp.Walk != nil {
			t.Errorf("a run recreated the checkpoint of %s: %+v %v", gone, cp, err)
		}
	})

	// Idempotent.
	code, out, errOut = siphon(t, "tenant", "offboard", gone, "--purge-destination", "--yes", "--config", h.dir)
	if code != 0 || !strings.Contains(out, "deleted 0 rows") {
		t.Fatalf("second offboard: %d %s %s", code, out, errOut)
	}
	code, out, errOut = siphon(t, "audit", gone, "--config", h.dir)
	if code != 0 || !strings.Contains(errOut, "showing its entries in the hub log") || !strings.Contains(out, "tenant offboard") ||
		!strings.Contains(out, "credentials set") {
		t.Fatalf("audit of the offboarded tenant: %d %s %s", code, out, errOut)
	}
}

// On a Redis store too, offboarding purges the tenant's state and rows and
// leaves the other tenant's alone, and a later run does not bring it back.
func TestTenantOffboardOnRedis(t *testing.T) {
	store := redistest.Start(t).URL()
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 2, 8, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	ts := sim.Tenants()
	gone, kept := ts[0].ID, ts[1].ID
	dir := twoTenantConfig(t, hs.URL+"/v1", gone, kept)
	hcl := readFile(t, filepath.Join(dir, "main.hcl"))
	writeFiles(t, dir, map[string]string{"main.hcl": strings.Replace(hcl, `plugin = "sqlite"`, "plugin = \"sqlite\"\n  allow_single_node = true", 1)})
	for _, ti := range ts {
		withStdin(t, ti.Token+"\n", func() {
			if code, out, errOut := siphon(t, "credentials", "set", ti.ID, "--config", dir, "--store", store); code != 0 {
				t.Fatalf("credentials set: %d %s %s", code, out, errOut)
			}
		})
	}
	if code, out, errOut := siphon(t, "run", "--once", dir, "--store", store); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	code, out, errOut := siphon(t, "tenant", "offboard", gone, "--purge-destination", "--yes", "--config", dir, "--store", store)
	if code != 0 || !strings.Contains(out, "deleted 8 rows of volunteers") {
		t.Fatalf("offboard: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := siphon(t, "run", "--once", dir, "--store", store); code != 0 {
		t.Fatalf("run after offboarding: %d %s %s", code, out, errOut)
	}
	if rows := destRows(t, dir, "volunteers"); rows[gone] != 0 || rows[kept] != 8 {
		t.Fatalf("rows: %v", rows)
	}
	st, err := state.Open(context.Background(), store, state.Options{Unsafe: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Credential(ctx, gone); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("credential of %s: %v", gone, err)
	}
	if cp, err := st.Checkpoint(ctx, gone, "volunteers"); err != nil || !cp.Cursor.IsZero() || cp.Walk != nil {
		t.Errorf("checkpoint of %s: %+v %v", gone, cp, err)
	}
	if cp, err := st.Checkpoint(ctx, kept, "volunteers"); err != nil || cp.Cursor.IsZero() {
		t.Errorf("checkpoint of %s: %+v %v", kept, cp, err)
	}
	if _, err := st.Credential(ctx, kept); err != nil {
		t.Errorf("credential of %s: %v", kept, err)
	}
	hub, _, err := st.Audit(ctx, "", "", 100)
	if err != nil || len(hub) == 0 || hub[len(hub)-1].Action != "tenant offboard" || hub[len(hub)-1].Tenant != gone {
		t.Errorf("hub audit: %+v %v", hub, err)
	}
}

// While `siphon run` holds the embedded store, tenant disable, enable and
// offboard and audit work through the socket it serves.
func TestTenantCommandsWhileRunHolds(t *testing.T) {
	runHubIfAsked()
	dir := operatorConfig(t)
	h := startHub(t, dir)
	steps := [][]string{
		{"tenant", "disable", "acme", "--reason", "maintenance"},
		{"tenant", "enable", "acme"},
		{"tenant", "offboard", "globex", "--yes"},
		{"audit"},
	}
	var out, errOut string
	var code int
	for _, s := range steps {
		if code, out, errOut = siphon(t, append(s, "--config", dir)...); code != 0 {
			t.Fatalf("%v while run holds the store: %d %s %s", s, code, out, errOut)
		}
	}
	for _, want := range []string{"tenant disable", "tenant enable", "tenant offboard"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = siphon(t, "status", "globex", "--config", dir, "--json")
	var sts []tenantStatus
	if err := json.Unmarshal([]byte(out), &sts); code != 0 || err != nil || len(sts) != 1 || !strings.Contains(sts[0].Paused, "offboarded") {
		t.Fatalf("status of the offboarded tenant: %d %v %s", code, err, out)
	}
	if err := h.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("siphon run after SIGTERM: %v\n%s", err, h.stderr.String())
	}
}
