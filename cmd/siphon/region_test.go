package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/vomosim"
)

// regionsConfig is a configuration with a region whose store comes from
// SIPHON_EU_STORE, a region with a fixed store and a tenant of no region.
const regionsConfig = `
region "eu" {
  store = env("SIPHON_EU_STORE")
}
region "us" {
  store = "file:us.db"
}
source "vomo" {
  kind     = "vomo"
  base_url = "http://127.0.0.1:1/v1"
}
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "5m"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { email = record.email }
}
tenant "kiez" {
  region    = "eu"
  pipelines = [pipeline.volunteers]
}
tenant "acme" {
  region    = "us"
  pipelines = [pipeline.volunteers]
}
tenant "harbour" {
  pipelines = [pipeline.volunteers]
}
`

// run refuses, before it opens any store, every way a tenant's state
// could end up in a store other than its region's.
func TestRunRefusesStoresThatMixRegions(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.hcl": regionsConfig})
	t.Setenv("SIPHON_STORE", "")
	cases := []struct {
		name, euStore string // "-": unset
		args          []string
		want          []string
	}{
		{"unset variable", "-", nil, []string{"SIPHON_EU_STORE is not set", "main.hcl:3", "It is region eu's store"}},
		{"empty variable", "", nil, []string{"Region store is empty", "Region eu declares a store, but the environment variable SIPHON_EU_STORE it reads is set but empty"}},
		{"unknown region", "file:eu.db", []string{"--region", "mars"}, []string{`no region "mars"`, "regions: eu, us"}},
		{"two regions, one store", "file:" + filepath.Join(dir, "us.db"), []string{"--region", "eu"}, []string{"region us's store is also region eu's"}},
		{"region store is the hub's", "file:eu.db", []string{"--store", filepath.Join(dir, "eu.db")}, []string{"region eu's store is also the hub store"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.euStore == "-" {
				os.Unsetenv("SIPHON_EU_STORE")
			} else {
				t.Setenv("SIPHON_EU_STORE", c.euStore)
			}
			code, out, errOut := siphon(t, append([]string{"run", "--once", dir}, c.args...)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("the error does not say %q:\n%s", w, errOut)
				}
			}
		})
	}
	os.Unsetenv("SIPHON_EU_STORE")
	for _, f := range []string{"eu.db", "us.db", ".siphon/state.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused run created %s (%v)", f, err)
		}
	}
}

// The multiregion example runs region by region: each run keeps its
// tenants' state in its region's store and activates the configuration
// in the hub's; operator commands find a tenant's store by its region.
func TestMultiregionExampleRunsByRegion(t *testing.T) {
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 5, 20, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "pipelines", "multiregion")
	files, _ := filepath.Glob(filepath.Join(src, "*.hcl"))
	if len(files) == 0 {
		t.Fatalf("no configuration in %s", src)
	}
	for _, f := range files {
		b := strings.ReplaceAll(readFile(t, f), "http://127.0.0.1:8089/v1", hs.URL+"/v1")
		writeFiles(t, dir, map[string]string{filepath.Base(f): b})
	}
	t.Setenv("SIPHON_STORE", "")
	os.Unsetenv("SIPHON_EU_STORE") // the example's default: .siphon/eu.db
	regionOf := map[string]string{"acme": "us", "sunrise": "us", "kiez": "eu", "thames": "eu", "harbour": "hub"}
	tenants := []string{"acme", "sunrise", "kiez", "thames", "harbour"}
	for i, id := range tenants {
		withStdin(t, sim.Tenants()[i].Token+"\n", func() {
			if code, out, errOut := siphon(t, "credentials", "set", id, "--config", dir); code != 0 {
				t.Fatalf("credentials set %s: %d %s %s", id, code, out, errOut)
			}
		})
	}
	for _, c := range []struct {
		args []string
		jobs string
	}{
		{[]string{"--region", "eu"}, "jobs run 2,"},
		{[]string{"--region", "us"}, "jobs run 2,"},
		{nil, "jobs run 1,"},
	} {
		code, out, errOut := siphon(t, append([]string{"run", "--once", dir}, c.args...)...)
		if code != 0 || !strings.Contains(out, c.jobs) || !strings.Contains(out, "failed jobs 0") {
			t.Fatalf("run --once %v: %d %s %s", c.args, code, out, errOut)
		}
		if c.args == nil && !strings.Contains(errOut, "region eu, us keep their state in their region's store") {
			t.Errorf("run without --region does not say which regions it leaves to their own runs:\n%s", errOut)
		}
	}

	ctx := context.Background()
	stores := map[string]string{"hub": "hub.db", "us": "us.db", "eu": "eu.db"}
	for region, file := range stores {
		st, err := state.Open(ctx, filepath.Join(dir, ".siphon", file), state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range tenants {
			cp, err := st.Checkpoint(ctx, id, "volunteers")
			if err != nil {
				t.Fatal(err)
			}
			_, cerr := st.Credential(ctx, id)
			if here := regionOf[id] == region; here != !cp.Cursor.IsZero() || here != (cerr == nil) {
				t.Errorf("%s store: %s (region %s) has cursor %v, credential error %v", region, id, regionOf[id], cp.Cursor, cerr)
			}
		}
		_, active, err := st.ActiveConfig(ctx)
		if err != nil || active != (region == "hub") {
			t.Errorf("%s store: an active configuration is %v (%v); only the hub store should hold one", region, active, err)
		}
		st.Close()
	}

	code, out, errOut := siphon(t, "status", "--json", "--config", dir)
	var status []tenantStatus
	if err := json.Unmarshal([]byte(out), &status); code != 0 || err != nil || len(status) != len(tenants) {
		t.Fatalf("status --json: %d %v\n%s%s", code, err, out, errOut)
	}
	for _, s := range status {
		if len(s.Pipelines) != 1 || s.Pipelines[0].Cursor.IsZero() {
			t.Errorf("status shows no cursor for %s: %+v", s.Tenant, s.Pipelines)
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if code, out, errOut := siphon(t, "checkpoint", "set", "kiez", "volunteers", "--cursor", at.Format(time.RFC3339), "--config", dir); code != 0 {
		t.Fatalf("checkpoint set kiez: %d %s %s", code, out, errOut)
	}
	st, err := state.Open(ctx, filepath.Join(dir, ".siphon", "eu.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if cp, err := st.Checkpoint(ctx, "kiez", "volunteers"); err != nil || !cp.Cursor.Equal(at) {
		t.Errorf("checkpoint set kiez did not reach the EU store: %v %v", cp.Cursor, err)
	}
}

// Two spellings of one store compare equal; different stores do not.
func TestStoreKey(t *testing.T) {
	same := [][2]string{
		{"redis://Redis.example:6379", "redis://user:secret@redis.example/0"},
		{"redis+cluster://b:2,a:1", "redis+cluster://a:1,b:2"},
		{"/cfg/x/../eu.db", "/cfg/eu.db"},
	}
	for _, p := range same {
		if storeKey(p[0]) != storeKey(p[1]) {
			t.Errorf("%s and %s should be one store: %s, %s", p[0], p[1], storeKey(p[0]), storeKey(p[1]))
		}
	}
	differ := [][2]string{
		{"redis://h:6379/0", "redis://h:6379/1"},
		{"redis://h:6379", "redis://h:6380"},
		{"/cfg/eu.db", "/cfg/us.db"},
	}
	for _, p := range differ {
		if storeKey(p[0]) == storeKey(p[1]) {
			t.Errorf("%s and %s should be two stores", p[0], p[1])
		}
	}
	if strings.Contains(storeKey("redis://user:secret@h:1"), "secret") {
		t.Error("a store key holds the password")
	}
}
