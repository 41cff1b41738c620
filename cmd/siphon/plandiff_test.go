package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// activatedAt is when the tests' store ran its config, fixed for golden
// output.
var activatedAt = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// activatePlan records the configuration in dir as the store's active one,
// with its summary, as siphon run does.
func activatePlan(t *testing.T, url, dir string) {
	t.Helper()
	res := dsl.Load(dir, dsl.Options{Mode: dsl.ModePlan})
	if res.Plan == nil || res.Diagnostics.HasErrors() {
		t.Fatalf("load %s: %s", dir, res.Diagnostics)
	}
	summary, err := json.Marshal(res.Plan.Summary())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := state.Open(ctx, url, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ActivateConfig(ctx, state.ConfigVersion{Hash: res.Plan.ConfigHash, ActivatedAt: activatedAt, Summary: summary}, false); err != nil {
		t.Fatal(err)
	}
}

// changeConfig edits the two-tenant configuration: a third tenant, a new
// cadence for globex, and a changed mapping.
func changeConfig(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "main.hcl")
	main := readFile(t, path)
	for _, r := range [][2]string{
		{"email = record.email", "email = lower(record.email)"},
		{`tenant "globex" {
  pipelines = [pipeline.volunteers]
}`, `tenant "globex" {
  pipelines = [pipeline.volunteers]
  cadence   = { volunteers = "15m" }
}
tenant "initech" {
  pipelines = [pipeline.volunteers]
}`},
	} {
		if !strings.Contains(main, r[0]) {
			t.Fatalf("main.hcl has no %q", r[0])
		}
		main = strings.Replace(main, r[0], r[1], 1)
	}
	writeFiles(t, dir, map[string]string{"main.hcl": main})
}

// storeSection is the part of plan's output after the plan itself.
func storeSection(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, "\nStore: ")
	if i < 0 {
		t.Fatalf("no store section in:\n%s", out)
	}
	return out[i+1:]
}

// plan --store against the embedded store: a store that has run nothing
// (and is not created by plan), the same configuration, and a changed one,
// with terraform's detailed exit codes and in JSON.
func TestPlanStoreDiffLocal(t *testing.T) {
	dir := operatorConfig(t)
	db := filepath.Join(dir, ".siphon", "state.db")

	code, out, errOut := siphon(t, "plan", fixedNow, "--store", db, "--detailed-exitcode", dir)
	if code != 2 || !strings.Contains(out, "Store: no config has run yet.\n") || !strings.Contains(out, "  + tenant added acme\n") {
		t.Fatalf("against no store: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("plan created the store: %v", err)
	}

	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	activatePlan(t, db, dir)
	before := activeConfigOf(t, db)
	code, out, errOut = siphon(t, "plan", fixedNow, "--store", db, "--detailed-exitcode", dir)
	if code != 0 || !strings.HasSuffix(out, "No changes: this is the configuration the store runs.\n") {
		t.Fatalf("against the same config: exit %d\n%s%s", code, out, errOut)
	}

	changeConfig(t, dir)
	code, out, errOut = siphon(t, "plan", fixedNow, "--store", db, "--detailed-exitcode", dir)
	if code != 2 || errOut != "" {
		t.Fatalf("against a changed config: exit %d\n%s%s", code, out, errOut)
	}
	golden(t, "plan-store-diff.txt", storeSection(t, out))
	// Without --detailed-exitcode a valid plan exits 0 whatever changed.
	if code, _, _ := siphon(t, "plan", fixedNow, "--store", db, dir); code != 0 {
		t.Errorf("without --detailed-exitcode: exit %d", code)
	}

	code, out, errOut = siphon(t, "plan", "-json", fixedNow, "--store", db, "--detailed-exitcode", dir)
	if code != 2 {
		t.Fatalf("-json: exit %d %s", code, errOut)
	}
	var doc struct {
		Valid     bool            `json:"valid"`
		Plan      json.RawMessage `json:"plan"`
		StoreDiff *storeDiff      `json:"store_diff"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("-json: %v\n%s", err, out)
	}
	if !doc.Valid || len(doc.Plan) < 10 || doc.StoreDiff == nil || !doc.StoreDiff.Changed || doc.StoreDiff.Active == nil ||
		!doc.StoreDiff.Active.ActivatedAt.Equal(activatedAt) || doc.StoreDiff.Active.Version != 1 {
		t.Fatalf("-json document: %s", out)
	}
	var kinds []string
	for _, c := range doc.StoreDiff.Changes {
		kinds = append(kinds, c.Kind+" "+c.Tenant+c.Pipeline)
	}
	want := []string{"mapping changed volunteers", "cadence changed globexvolunteers", "tenant added initech"}
	if !slices.Equal(kinds, want) {
		t.Errorf("-json changes %v, want %v", kinds, want)
	}

	if after := activeConfigOf(t, db); after.Version != before.Version || after.Hash != before.Hash ||
		!after.ActivatedAt.Equal(before.ActivatedAt) || string(after.Summary) != string(before.Summary) {
		t.Errorf("plan --store changed the active config: %+v, was %+v", after, before)
	}
}

func activeConfigOf(t *testing.T, url string) state.ConfigVersion {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, url, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, ok, err := st.ActiveConfig(ctx)
	if err != nil || !ok {
		t.Fatalf("active config: %v %v", ok, err)
	}
	return v
}

// The same diff against a real Redis.
func TestPlanStoreDiffRedis(t *testing.T) {
	url := redistest.Start(t).URL()
	dir := operatorConfig(t)
	activatePlan(t, url, dir)
	code, out, errOut := siphon(t, "plan", fixedNow, "--store", url, "--detailed-exitcode", dir)
	if code != 0 || !strings.Contains(out, "No changes") {
		t.Fatalf("against the same config: exit %d\n%s%s", code, out, errOut)
	}
	changeConfig(t, dir)
	code, out, errOut = siphon(t, "plan", fixedNow, "--store", url, "--detailed-exitcode", dir)
	if code != 2 || errOut != "" {
		t.Fatalf("against a changed config: exit %d\n%s%s", code, out, errOut)
	}
	golden(t, "plan-store-diff.txt", storeSection(t, out))
}

// A store that cannot be read is an error (exit 1) that names it, and an
// invalid configuration is reported without reading the store.
func TestPlanStoreErrors(t *testing.T) {
	dir := operatorConfig(t)
	code, _, errOut := siphon(t, "plan", "--store", "redis://127.0.0.1:1", "--detailed-exitcode", dir)
	if code != 1 || !strings.Contains(errOut, "plan --store: open store redis://127.0.0.1:1") {
		t.Errorf("unreachable store: exit %d, stderr %q", code, errOut)
	}
	code, out, _ := siphon(t, "plan", "--store", "redis://127.0.0.1:1", "--detailed-exitcode", "testdata/invalid")
	if code != 1 || strings.Contains(out, "Store:") {
		t.Errorf("invalid configuration: exit %d\n%s", code, out)
	}
}
