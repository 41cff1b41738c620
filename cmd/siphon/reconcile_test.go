package main

import (
	"database/sql"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// reconcileSim is a calm simulator of one tenant of 200 users.
func reconcileSim(t *testing.T) (*vomosim.Server, vomosim.TenantInfo, string) {
	t.Helper()
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 1, 200, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	return sim, sim.Tenants()[0], hs.URL + "/v1"
}

// reconcileConfig is previewConfig's with a budget that does not pace the
// test.
func reconcileConfig(t *testing.T, url, tenant string) string {
	t.Helper()
	dir := previewConfig(t, url, false, tenant)
	cfg := strings.Replace(readFile(t, filepath.Join(dir, "main.hcl")), `rate_limit = "600/1m"`, `rate_limit = "100000/1m"`, 1)
	writeFiles(t, dir, map[string]string{"main.hcl": cfg})
	return dir
}

// kept counts the users the pipeline keeps at the source.
func kept(t *testing.T, sim *vomosim.Server, tenant string) int {
	t.Helper()
	n := 0
	for _, rec := range sourceByKey(t, sim, tenant) {
		if rec["membership_status"] != "REMOVED" {
			n++
		}
	}
	return n
}

func reconciledRows(t *testing.T, dir, tenant string) int {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, ".siphon", "destination.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM volunteers WHERE tenant = ?`, tenant).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A third of the users vanish: reconcile stops at the safeguard (exit 1),
// status shows the alert, a dry run with --allow-mass-delete says what it
// would delete and writes nothing, and --allow-mass-delete deletes, clears
// the alert and is audited.
func TestReconcileCommandMassDelete(t *testing.T) {
	sim, ti, url := reconcileSim(t)
	dir := reconcileConfig(t, url, ti.ID)
	setCredentials(t, ti.ID, ti.Token, dir)
	if code, out, errOut := siphon(t, "run", "--once", "--config", dir); code != 0 {
		t.Fatalf("run --once: %d %s %s", code, out, errOut)
	}
	held := reconciledRows(t, dir, ti.ID)
	if _, err := sim.Vanish(ti.ID, "users", 0.3); err != nil {
		t.Fatal(err)
	}
	gone := held - kept(t, sim, ti.ID)
	deleted := "deleted " + strconv.Itoa(gone)

	code, out, errOut := siphon(t, "reconcile", ti.ID, "--config", dir, "--json")
	var reps []runtime.ReconcileReport
	if code != 1 || json.Unmarshal([]byte(out), &reps) != nil || len(reps) != 1 || !reps[0].MassDelete || reps[0].Deleted != 0 {
		t.Fatalf("reconcile: %d %s %s", code, out, errOut)
	}
	if n := reconciledRows(t, dir, ti.ID); n != held {
		t.Errorf("%d rows after the safeguard stopped, %d before", n, held)
	}
	code, out, _ = siphon(t, "status", ti.ID, "--config", dir)
	if code != 0 || !strings.Contains(out, "MASS DELETE STOPPED") || !strings.Contains(out, "--allow-mass-delete") || !strings.Contains(out, "last reconcile") {
		t.Errorf("status: %d\n%s", code, out)
	}

	code, out, errOut = siphon(t, "reconcile", ti.ID, "volunteers", "--config", dir, "--dry-run", "--allow-mass-delete")
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, deleted) {
		t.Errorf("dry run: %d %s %s", code, out, errOut)
	}
	if n := reconciledRows(t, dir, ti.ID); n != held {
		t.Errorf("%d rows after a dry run, %d before", n, held)
	}
	if code, out, _ = siphon(t, "status", ti.ID, "--config", dir); code != 0 || !strings.Contains(out, "MASS DELETE STOPPED") {
		t.Errorf("a dry run cleared the alert: %d\n%s", code, out)
	}

	code, out, errOut = siphon(t, "reconcile", ti.ID, "--config", dir, "--allow-mass-delete")
	if code != 0 || !strings.Contains(out, deleted) || !strings.Contains(out, "complete") {
		t.Fatalf("allow-mass-delete: %d %s %s", code, out, errOut)
	}
	if n := reconciledRows(t, dir, ti.ID); n != held-gone || gone < 50 {
		t.Errorf("%d rows after the deletes, want %d - %d", n, held, gone)
	}
	code, out, _ = siphon(t, "status", ti.ID, "--config", dir, "--json")
	if code != 0 || strings.Contains(out, "mass_delete\"") || !strings.Contains(out, `"deleted": `+strconv.Itoa(gone)) {
		t.Errorf("status --json: %d %s", code, out)
	}
	code, out, _ = siphon(t, "audit", ti.ID, "--config", dir)
	if code != 0 || !strings.Contains(out, "allow_mass_delete=true") {
		t.Errorf("audit: %d %s", code, out)
	}
}

func TestReconcileCommandRefusesBadInput(t *testing.T) {
	_, ti, url := reconcileSim(t)
	dir := reconcileConfig(t, url, ti.ID)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"reconcile", "--config", dir}, "usage: siphon reconcile TENANT [PIPELINE]"},
		{[]string{"reconcile", "nosuch", "--config", dir}, `no tenant "nosuch"`},
		{[]string{"reconcile", ti.ID, "nope", "--config", dir}, `pipeline "nope" is not active`},
	} {
		code, out, errOut := siphon(t, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s %s", tc.args, code, out, errOut)
		}
	}
}
