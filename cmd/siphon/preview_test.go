package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
)

// previewConfig writes a configuration of one filtered users pipeline into
// a sqlite destination for the given tenants, reading the source at
// baseURL, and returns its directory. With broken, the tenants also run a
// pipeline whose mapping fails for every record.
func previewConfig(t *testing.T, baseURL string, broken bool, tenants ...string) string {
	t.Helper()
	cfg := `
source "vomo" {
  kind       = "vomo"
  base_url   = "` + baseURL + `"
  rate_limit = "600/1m"
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
  filter      = record.membership_status != "REMOVED"
  fields = {
    email  = lower(record.email)
    status = record.membership_status
  }
}
pipeline "broken" {
  resource    = resource.users
  destination = destination.db
  fields = {
    phone = tonumber(record.phone)
  }
}
`
	pipelines := "pipeline.volunteers"
	if broken {
		pipelines += ", pipeline.broken"
	}
	for _, id := range tenants {
		cfg += "tenant \"" + id + "\" {\n  pipelines = [" + pipelines + "]\n}\n"
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.hcl": cfg})
	return dir
}

// previewSim starts a simulator of two tenants without churn, so what the
// source holds stays put while a test compares.
func previewSim(t *testing.T) (*vomosim.Server, []vomosim.TenantInfo, string) {
	t.Helper()
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 2, 40, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	return sim, sim.Tenants(), hs.URL + "/v1"
}

func setCredentials(t *testing.T, tenant, token, dir string) {
	t.Helper()
	withStdin(t, token+"\n", func() {
		if code, out, errOut := siphon(t, "credentials", "set", tenant, "--config", dir); code != 0 {
			t.Fatalf("credentials set: %d %s %s", code, out, errOut)
		}
	})
}

// storeSnapshot is what a preview must leave as it was: the tenant's
// checkpoint, flags and audit trail.
func storeSnapshot(t *testing.T, dir, tenant string) any {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(dir, ".siphon", "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cp, err := st.Checkpoint(ctx, tenant, "volunteers")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := st.Flags(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	audit, _, err := st.Audit(ctx, tenant, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return []any{cp, flags, audit}
}

// sourceByKey is the tenant's users as the simulator holds them, by key.
func sourceByKey(t *testing.T, sim *vomosim.Server, tenant string) map[string]map[string]any {
	t.Helper()
	truth, err := sim.Truth(tenant, "users")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for i, raw := range truth.Records {
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		out[truth.Keys[i]] = rec
	}
	return out
}

// preview reads real records with the stored token, maps them as the
// pipeline does, makes one request, and writes nothing: no state, no
// destination file.
func TestPreviewMapsLiveRecords(t *testing.T) {
	sim, ts, url := previewSim(t)
	dir := previewConfig(t, url, true, ts[0].ID, ts[1].ID)
	setCredentials(t, ts[0].ID, ts[0].Token, dir)
	before := storeSnapshot(t, dir, ts[0].ID)
	sim.ResetCounters()

	code, out, errOut := siphon(t, "preview", ts[0].ID, "volunteers", "--limit", "7", "--config", dir, "-json")
	if code != 0 {
		t.Fatalf("preview: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, ts[0].Token) {
		t.Fatal("the token was printed")
	}
	var rep previewReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var requests int64
	for _, n := range sim.Counters()[ts[0].ID] {
		requests += n
	}
	if len(rep.Records) != 7 || rep.Requests < 1 || rep.Requests > 2 || requests != int64(rep.Requests) {
		t.Fatalf("%d records in %d requests (the source counted %d)", len(rep.Records), rep.Requests, requests)
	}
	source := sourceByKey(t, sim, ts[0].ID)
	for _, r := range rep.Records {
		want, ok := source[r.Key]
		if !ok || r.Source["email"] != want["email"] || r.Source["membership_status"] != want["membership_status"] {
			t.Fatalf("record %s is not the source's: %v", r.Key, r.Source)
		}
		status, _ := want["membership_status"].(string)
		switch {
		case status == "REMOVED":
			if r.Outcome != "filtered" || r.Output != nil {
				t.Errorf("record %s (REMOVED): %s %v", r.Key, r.Outcome, r.Output)
			}
		case r.Outcome != "mapped" || r.Output["email"] != strings.ToLower(want["email"].(string)) || r.Output["status"] != status:
			t.Errorf("record %s: %s %v, source %v", r.Key, r.Outcome, r.Output, want)
		}
	}
	if rep.Summary["records"] != 7 || rep.Summary["mapped"]+rep.Summary["filtered"] != 7 {
		t.Errorf("summary %v", rep.Summary)
	}
	if after := storeSnapshot(t, dir, ts[0].ID); !reflect.DeepEqual(before, after) {
		t.Errorf("preview changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
	if _, err := os.Stat(filepath.Join(dir, ".siphon", "destination.db")); !os.IsNotExist(err) {
		t.Errorf("preview created the destination's file: %v", err)
	}

	// A record the mapping cannot map is shown with the error that would
	// send it to the dead-letter queue.
	code, out, errOut = siphon(t, "preview", ts[0].ID, "broken", "--limit", "1", "--config", dir, "-json")
	var broken previewReport
	if err := json.Unmarshal([]byte(out), &broken); err != nil || code != 0 {
		t.Fatalf("broken: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if r := broken.Records; len(r) != 1 || r[0].Outcome != "error" || !strings.HasPrefix(r[0].Error, "pipeline broken field phone: ") || r[0].Output != nil {
		t.Fatalf("broken: %+v", r)
	}

	code, out, _ = siphon(t, "preview", ts[0].ID, "volunteers", "--limit", "2", "--config", dir)
	if code != 0 || !strings.Contains(out, "Preview of volunteers for "+ts[0].ID+": 2 records from /users (1 request)") ||
		!strings.Contains(out, "record 2  key ") || !strings.Contains(out, "  FIELD") || !strings.Contains(out, "Preview: 2 records: ") {
		t.Fatalf("table: exit %d\n%s", code, out)
	}
	if after := storeSnapshot(t, dir, ts[0].ID); !reflect.DeepEqual(before, after) {
		t.Errorf("the previews changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestPreviewRefusesBadInput(t *testing.T) {
	_, ts, url := previewSim(t)
	dir := previewConfig(t, url, false, ts[0].ID, ts[1].ID)
	// No store yet: told what to do, and none is created.
	code, _, errOut := siphon(t, "preview", ts[0].ID, "volunteers", "--config", dir)
	if code != 1 || !strings.Contains(errOut, "does not exist yet; run siphon credentials set "+ts[0].ID) {
		t.Fatalf("no store: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".siphon", "state.db")); !os.IsNotExist(err) {
		t.Fatalf("preview created the store: %v", err)
	}
	setCredentials(t, ts[0].ID, ts[0].Token, dir)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"preview", ts[1].ID, "volunteers"}, "no credentials stored for " + ts[1].ID},
		{[]string{"preview", ts[0].ID, "volunter"}, `pipeline "volunter" is not active for tenant ` + ts[0].ID + `; did you mean "volunteers"?`},
		{[]string{"preview", "nobody", "volunteers"}, `no tenant "nobody"`},
		{[]string{"preview", ts[0].ID, "volunteers", "--limit", "0"}, "--limit 0: a preview reads 1 to 100 records"},
		{[]string{"preview", ts[0].ID}, "usage: siphon preview TENANT PIPELINE"},
	}
	for _, c := range cases {
		code, out, errOut := siphon(t, append(c.args, "--config", dir)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, want %q in\n%s%s", c.args, code, c.want, out, errOut)
		}
	}
}

// --against-destination reads what the sqlite destination holds (through
// the plugin's Read) and shows what a sync would change, field by field.
func TestPreviewAgainstDestination(t *testing.T) {
	_, ts, url := previewSim(t)
	id := ts[0].ID
	dir := previewConfig(t, url, false, id)
	setCredentials(t, id, ts[0].Token, dir)
	if code, out, errOut := siphon(t, "run", "--once", dir); code != 0 {
		t.Fatalf("run --once: %d %s %s", code, out, errOut)
	}
	preview := func() previewReport {
		t.Helper()
		code, out, errOut := siphon(t, "preview", id, "volunteers", "--limit", "8", "--against-destination", "--config", dir, "-json")
		if code != 0 {
			t.Fatalf("preview: exit %d\n%s%s", code, out, errOut)
		}
		var rep previewReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return rep
	}
	rep := preview()
	var mapped []previewRecord
	for _, r := range rep.Records {
		want := map[string]string{"mapped": "unchanged", "filtered": "none"}[r.Outcome]
		if r.Action != want || len(r.Changes) != 0 {
			t.Fatalf("after a sync, record %s (%s): action %s %v", r.Key, r.Outcome, r.Action, r.Changes)
		}
		if r.Outcome == "mapped" {
			if r.Held == nil || r.Held.Fields["email"] != r.Output["email"] {
				t.Fatalf("record %s: held %+v, mapped %v", r.Key, r.Held, r.Output)
			}
			mapped = append(mapped, r)
		}
	}
	if len(mapped) < 2 || rep.Destination != "db" {
		t.Fatalf("%d mapped records against %q", len(mapped), rep.Destination)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, ".siphon", "destination.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE volunteers SET email = 'old@example.org' WHERE tenant = ? AND key = ?`, id, mapped[0].Key); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM volunteers WHERE tenant = ? AND key = ?`, id, mapped[1].Key); err != nil {
		t.Fatal(err)
	}
	rep = preview()
	for _, r := range rep.Records {
		switch r.Key {
		case mapped[0].Key:
			if r.Action != "update" || len(r.Changes) != 1 || r.Changes[0] != (fieldChange{Field: "email", From: "old@example.org", To: mapped[0].Output["email"]}) {
				t.Errorf("changed row: %s %+v", r.Action, r.Changes)
			}
		case mapped[1].Key:
			if r.Action != "insert" || r.Held != nil || len(r.Changes) != 2 {
				t.Errorf("deleted row: %s held %+v %+v", r.Action, r.Held, r.Changes)
			}
		}
	}
	if rep.Summary["update"] != 1 || rep.Summary["insert"] != 1 {
		t.Errorf("summary %v", rep.Summary)
	}

	code, out, errOut := siphon(t, "preview", id, "volunteers", "--limit", "8", "--against-destination", "--config", dir)
	if code != 0 || !strings.Contains(out, "  → update") || !strings.Contains(out, `"old@example.org"  changes`) ||
		!strings.Contains(out, "; against db: 1 insert, 1 update, ") {
		t.Fatalf("table: exit %d\n%s%s", code, out, errOut)
	}
}

// With a Redis store the token is read from Redis: the preview works the
// same, and the store keeps no trace of it.
func TestPreviewWithRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	_, ts, url := previewSim(t)
	id := ts[0].ID
	dir := previewConfig(t, url, false, id)
	withStdin(t, ts[0].Token+"\n", func() {
		if code, out, errOut := siphon(t, "credentials", "set", id, "--config", dir, "--store", srv.URL()); code != 0 {
			t.Fatalf("credentials set: %d %s %s", code, out, errOut)
		}
	})
	ctx := context.Background()
	st, err := state.Open(ctx, srv.URL(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	audit := func() []state.AuditEntry {
		entries, _, err := st.Audit(ctx, id, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		return entries
	}
	before := audit()
	code, out, errOut := siphon(t, "preview", id, "volunteers", "--limit", "3", "--config", dir, "--store", srv.URL(), "-json")
	var rep previewReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Records) != 3 {
		t.Fatalf("preview: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if strings.Contains(out+errOut, ts[0].Token) {
		t.Fatal("the token was printed")
	}
	if after := audit(); !reflect.DeepEqual(before, after) {
		t.Fatalf("the preview wrote to the store's audit trail: %v", after)
	}
	if _, err := os.Stat(filepath.Join(dir, ".siphon", "state.db")); !os.IsNotExist(err) {
		t.Fatalf("a local store was created beside the configuration: %v", err)
	}
}
