package main

import (
	"database/sql"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/vomosim"
)

func TestStoreResolution(t *testing.T) {
	dir := "/cfg"
	plan := &dsl.Plan{Store: dsl.Value{Text: "/cfg/.siphon/state.db", Known: true}}
	cases := []struct{ flag, store, want string }{
		{"", "", "/cfg/.siphon/state.db"},
		{"redis://h:6379", "", "redis://h:6379"},
		{"other.db", "", "/cfg/other.db"},
		{"file:/abs/x.db", "", "/abs/x.db"},
		{"", "state/hub.db", "/cfg/state/hub.db"},
		{"", "redis+cluster://a:1,b:2", "redis+cluster://a:1,b:2"},
	}
	for _, c := range cases {
		p := *plan
		if c.store != "" {
			p.Store = dsl.Value{Text: c.store, Known: true}
		}
		got, err := storeURL(c.flag, &p, dir)
		if err != nil || got != c.want {
			t.Errorf("storeURL(%q, store %q) = %q, %v; want %q", c.flag, c.store, got, err, c.want)
		}
	}
	if _, err := storeURL("", &dsl.Plan{Store: dsl.Value{FromEnv: "X"}}, dir); err == nil {
		t.Error("an unknown store should be an error")
	}
}

// withStdin runs fn with stdin reading s.
func withStdin(t *testing.T, s string, fn func()) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old; f.Close() }()
	fn()
}

// credentials set stores a sealed token, run --once pauses a tenant whose
// token the source refuses and one without a token, each with its reason
// in status, and credentials set clears the auth pause and says so.
func TestRunOncePausesAndStatusShowsWhy(t *testing.T) {
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 2, 10, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	ts := sim.Tenants()
	dir := twoTenantConfig(t, hs.URL+"/v1", ts[0].ID, ts[1].ID)
	withStdin(t, ts[0].Token+"\n", func() {
		code, out, errOut := siphon(t, "credentials", "set", ts[0].ID, "--config", dir)
		if code != 0 || !strings.Contains(out, "stored the sealed token of "+ts[0].ID) {
			t.Fatalf("credentials set: %d %s %s", code, out, errOut)
		}
		if strings.Contains(out+errOut, ts[0].Token) {
			t.Fatal("the token was printed")
		}
	})
	if fi, err := os.Stat(filepath.Join(dir, ".siphon", "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
	}
	if err := sim.Revoke(ts[0].ID); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := siphon(t, "run", "--once", dir)
	if code != 1 || !strings.Contains(out, "jobs run 2") {
		t.Fatalf("run --once: %d %s %s", code, out, errOut)
	}
	if strings.Contains(errOut, ts[0].Token) {
		t.Fatal("the token was logged")
	}
	code, out, errOut = siphon(t, "status", "--config", dir, "--json")
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	var st []tenantStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(st) != 2 || !strings.Contains(st[0].Paused, "401") ||
		st[1].Paused != "no credentials: run siphon credentials set "+ts[1].ID {
		t.Fatalf("status: %s", out)
	}
	withStdin(t, ts[0].Token+"\n", func() {
		code, out, errOut = siphon(t, "credentials", "set", ts[0].ID, "--config", dir)
	})
	if code != 0 || !strings.Contains(out, "cleared the auth pause of "+ts[0].ID) {
		t.Fatalf("credentials set after a pause: %d %s %s", code, out, errOut)
	}
	code, out, _ = siphon(t, "status", ts[1].ID, "--config", dir)
	if code != 0 || !strings.Contains(out, "paused: no credentials") || strings.Contains(out, ts[0].ID) {
		t.Fatalf("status %s: %d %s", ts[1].ID, code, out)
	}

	// With both tokens good, run --once syncs both tenants into the
	// default sqlite file beside the configuration and exits 0.
	if err := sim.Restore(ts[0].ID); err != nil {
		t.Fatal(err)
	}
	withStdin(t, ts[1].Token+"\n", func() {
		code, out, errOut = siphon(t, "credentials", "set", ts[1].ID, "--config", dir)
	})
	if code != 0 {
		t.Fatalf("credentials set %s: %d %s %s", ts[1].ID, code, out, errOut)
	}
	code, out, errOut = siphon(t, "run", "--once", dir)
	if code != 0 || !strings.Contains(out, "failed jobs 0") {
		t.Fatalf("run --once: %d %s %s", code, out, errOut)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, ".siphon", "destination.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, ti := range ts {
		truth, err := sim.Truth(ti.ID, "users")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM volunteers WHERE tenant = ?", ti.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(truth.Keys) {
			t.Errorf("%s: %d rows, %d users at the source", ti.ID, n, len(truth.Keys))
		}
	}
}
