package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/siphonhq/siphon/internal/schedule"
)

// jobsConfig exercises job shapes: two pipelines on one resource (one
// fetch), a child resource whose parent has no pipeline, an isolated
// pipeline and a tenant cadence override.
const jobsConfig = `
source "vomo" {
  rate_limit        = "60/1m"
  global_rate_limit = "100/1h"
}
resource "users" {
  source = source.vomo
  path   = "/users"
}
resource "projects" {
  source = source.vomo
  path   = "/projects"
}
resource "forms" {
  source  = source.vomo
  path    = "/forms"
  cadence = "1h"
}
resource "form_completions" {
  source  = source.vomo
  path    = "/forms/{form_id}/completions"
  parent  = resource.forms
  cadence = "5m"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { email = record.email }
}
pipeline "contacts" {
  resource    = resource.users
  destination = destination.db
  fields      = { phone = record.phone }
}
pipeline "completions" {
  resource    = resource.form_completions
  destination = destination.db
  fields      = { id = record.id }
}
pipeline "projects" {
  resource    = resource.projects
  destination = destination.db
  isolate     = true
  fields      = { id = record.id }
}
tenant "acme" {
  timezone  = "America/Chicago"
  pipelines = [pipeline.volunteers, pipeline.contacts, pipeline.completions, pipeline.projects]
}
tenant "globex" {
  pipelines = [pipeline.volunteers]
  cadence   = { volunteers = "10m" }
}
tenant "paused" {
  pipelines = [pipeline.volunteers, pipeline.completions]
  enabled   = false
}
`

func loadString(t *testing.T, opts Options, files map[string]string) *Result {
	t.Helper()
	raw := map[string][]byte{}
	for k, v := range files {
		raw[k] = []byte(v)
	}
	return LoadFiles(raw, opts)
}

func mustPlan(t *testing.T, opts Options, files map[string]string) (*Plan, hcl.Diagnostics) {
	t.Helper()
	res := loadString(t, opts, files)
	if res.Diagnostics.HasErrors() || res.Plan == nil {
		t.Fatalf("load failed:\n%s", loadDiagText(res.Files, res.Diagnostics))
	}
	return res.Plan, res.Diagnostics
}

func tenantByID(t *testing.T, p *Plan, id string) *Tenant {
	t.Helper()
	for _, tn := range p.Tenants {
		if tn.ID == id {
			return tn
		}
	}
	t.Fatalf("no tenant %s", id)
	return nil
}

func jobByID(t *testing.T, tn *Tenant, id string) *Job {
	t.Helper()
	for _, j := range tn.Jobs {
		if j.ID == id {
			return j
		}
	}
	var ids []string
	for _, j := range tn.Jobs {
		ids = append(ids, j.ID)
	}
	t.Fatalf("tenant %s has no job %s (has %v)", tn.ID, id, ids)
	return nil
}

func TestJobsShapesAndFetches(t *testing.T) {
	p, _ := mustPlan(t, loadOptions(), map[string]string{"main.hcl": jobsConfig})
	acme := tenantByID(t, p, "acme")
	if len(acme.Jobs) != 3 {
		t.Fatalf("acme has %d jobs, want 3", len(acme.Jobs))
	}
	shared := jobByID(t, acme, "every-30m")
	if shared.Shape != "A" || strings.Join(shared.Pipelines, ",") != "volunteers,contacts" {
		t.Errorf("every-30m = %s %v, want shape A with volunteers,contacts", shared.Shape, shared.Pipelines)
	}
	if len(shared.Fetches) != 1 || shared.Fetches[0].Resource != "users" || len(shared.Fetches[0].Pipelines) != 2 {
		t.Errorf("two pipelines on users should share one fetch, got %+v", shared.Fetches)
	}
	child := jobByID(t, acme, "pipeline-completions")
	if child.Shape != "B" || child.Cadence.D() != 5*time.Minute {
		t.Errorf("completions job = %s %s, want shape B every 5m", child.Shape, child.Cadence)
	}
	if len(child.Fetches) != 2 || child.Fetches[0].Resource != "forms" || len(child.Fetches[0].Pipelines) != 0 ||
		child.Fetches[1].Resource != "form_completions" || child.Fetches[1].Parent != "forms" {
		t.Errorf("the parent must be fetched first, at the child's cadence; got %+v", child.Fetches)
	}
	if child.RequestsPerHour != 24 {
		t.Errorf("completions job: %v requests/hour, want 24 (2 fetches × 12 cycles)", child.RequestsPerHour)
	}
	iso := jobByID(t, acme, "pipeline-projects")
	if iso.Shape != "B" || iso.Cadence.D() != 30*time.Minute {
		t.Errorf("isolated pipeline: %s %s, want shape B every 30m", iso.Shape, iso.Cadence)
	}
	for _, j := range acme.Jobs {
		if j.Stagger.D() != schedule.Stagger("acme", j.ID, j.Cadence.D()) || j.Stagger < 0 || j.Stagger >= j.Cadence {
			t.Errorf("job %s stagger %s is not the schedule's hash within the cadence", j.ID, j.Stagger)
		}
		if len(j.NextRuns) != nextRunCount {
			t.Fatalf("job %s has %d next runs", j.ID, len(j.NextRuns))
		}
		prev := p.Now
		for _, r := range j.NextRuns {
			if !r.UTC.After(prev) || r.UTC.Location() != time.UTC {
				t.Errorf("job %s run %v not after %v in UTC", j.ID, r.UTC, prev)
			}
			if want := r.UTC.In(acme.Location).Format("2006-01-02 15:04 MST"); r.Local != want {
				t.Errorf("job %s local time %q, want %q", j.ID, r.Local, want)
			}
			prev = r.UTC
		}
	}
	globex := tenantByID(t, p, "globex")
	if len(globex.Jobs) != 1 || globex.Jobs[0].ID != "every-10m" || globex.Jobs[0].Shape != "A" {
		t.Errorf("globex's override should give one shape A job every-10m, got %+v", globex.Jobs[0])
	}
	paused := tenantByID(t, p, "paused")
	if len(paused.Budgets) != 0 || len(paused.Jobs[0].NextRuns) != 0 {
		t.Errorf("a disabled tenant is neither budgeted nor scheduled: %+v", paused.Budgets)
	}
}

func TestBudgets(t *testing.T) {
	p, diags := mustPlan(t, loadOptions(), map[string]string{"main.hcl": jobsConfig})
	acme := tenantByID(t, p, "acme")
	// every-30m: 1 fetch × 2/h; completions: 2 fetches × 12/h; projects: 1 × 2/h.
	if len(acme.Budgets) != 1 || acme.Budgets[0].RequestsPerHour != 28 || acme.Budgets[0].LimitPerHour != 3600 {
		t.Errorf("acme budget = %+v, want 28 of 3600 requests/hour", acme.Budgets[0])
	}
	// globex: 6/h; the disabled tenant counts nothing.
	if len(p.HubBudgets) != 1 || p.HubBudgets[0].RequestsPerHour != 34 || p.HubBudgets[0].LimitPerHour != 100 {
		t.Errorf("hub budget = %+v, want 34 of 100", p.HubBudgets[0])
	}
	for _, d := range diags {
		t.Errorf("unexpected diagnostic: %s: %s", d.Summary, d.Detail)
	}
	over := strings.Replace(jobsConfig, `"100/1h"`, `"30/1h"`, 1)
	p, diags = mustPlan(t, loadOptions(), map[string]string{"main.hcl": over})
	if p == nil || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "34 requests/hour against source vomo") {
		t.Errorf("over the global budget is one warning with the numbers, got %v", diags)
	}
}

func TestReconcileSchedules(t *testing.T) {
	cfg := `
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { email = record.email }
  reconcile {
    daily  = "02:30"
    weekly = "sunday 04:00"
  }
}
pipeline "defaults" {
  resource    = resource.users
  destination = destination.db
  fields      = { phone = record.phone }
}
tenant "acme" {
  timezone  = "America/Chicago"
  pipelines = [pipeline.volunteers, pipeline.defaults]
}
`
	opts := loadOptions()
	opts.Now = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC) // Friday; DST starts Sunday 8 March in Chicago
	p, _ := mustPlan(t, opts, map[string]string{"main.hcl": cfg})
	acme := tenantByID(t, p, "acme")
	v := acme.Reconciles[0]
	want := []struct{ kind, utc, local string }{
		{"daily", "2026-03-07T08:30:00Z", "2026-03-07 02:30 CST"},
		{"weekly", "2026-03-08T09:00:00Z", "2026-03-08 04:00 CDT"},
		// 02:30 does not exist on 8 March, but the weekly replaced that day;
		// Monday's daily is 02:30 CDT.
		{"daily", "2026-03-09T07:30:00Z", "2026-03-09 02:30 CDT"},
	}
	if len(v.Next) != len(want) {
		t.Fatalf("got %d reconciles, want %d", len(v.Next), len(want))
	}
	for i, w := range want {
		got := v.Next[i]
		if got.Kind != w.kind || got.UTC.Format(time.RFC3339) != w.utc || got.Local != w.local {
			t.Errorf("reconcile %d = %s %s %s, want %s %s %s", i, got.Kind, got.UTC.Format(time.RFC3339), got.Local, w.kind, w.utc, w.local)
		}
	}
	d := acme.Reconciles[1]
	if d.Daily != (Clock{Hour: 3}) || d.Weekly != nil || p.Pipelines[0].Reconcile.MaxDeletePercent != 0.10 || p.Pipelines[0].Reconcile.MaxDeleteMin != 25 {
		t.Errorf("default reconcile = %+v, want daily 03:00, max_delete 10%% and 25", d)
	}
}

func TestDSTGapDaily(t *testing.T) {
	cfg := strings.Replace(`
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { email = record.email }
  reconcile { daily = "2:30" }
}
tenant "acme" {
  timezone  = "America/Chicago"
  pipelines = [pipeline.volunteers]
}
`, "\t", "", -1)
	opts := loadOptions()
	opts.Now = time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	p, _ := mustPlan(t, opts, map[string]string{"main.hcl": cfg})
	next := tenantByID(t, p, "acme").Reconciles[0].Next[0]
	// 02:30 falls in the gap on 8 March: the first instant after it, 03:00 CDT.
	if next.UTC.Format(time.RFC3339) != "2026-03-08T08:00:00Z" || next.Local != "2026-03-08 03:00 CDT" {
		t.Errorf("reconcile in the DST gap = %s (%s), want 2026-03-08T08:00:00Z (03:00 CDT)", next.UTC.Format(time.RFC3339), next.Local)
	}
}

const rolloutConfig = `
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "v1" {
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  fields      = { email = record.email }
  rollout     = !flag.mapping_v2
}
pipeline "v2" {
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  fields      = { email = lower(record.email) }
  rollout     = flag.mapping_v2
}
flag "mapping_v2" {
  stages = ["internal", "friendly", "10%", "100%"]
  stage  = "friendly"
}
tenant "inside" {
  cohort    = "internal"
  pipelines = [pipeline.v1, pipeline.v2]
}
tenant "friend" {
  cohort    = "friendly"
  pipelines = [pipeline.v1, pipeline.v2]
}
tenant "other" {
  pipelines = [pipeline.v1, pipeline.v2]
}
`

func TestRolloutVariants(t *testing.T) {
	p, _ := mustPlan(t, loadOptions(), map[string]string{"main.hcl": rolloutConfig})
	for id, want := range map[string]string{"inside": "v2", "friend": "v2", "other": "v1"} {
		tn := tenantByID(t, p, id)
		if len(tn.Active) != 1 || tn.Active[0] != want {
			t.Errorf("tenant %s runs %v, want [%s]", id, tn.Active, want)
		}
		if len(tn.Variants) != 1 || tn.Variants[0].Flag != "mapping_v2" || tn.Variants[0].Reason == "" {
			t.Errorf("tenant %s variants = %+v", id, tn.Variants)
		}
		if len(tn.Jobs) != 1 || tn.Jobs[0].Pipelines[0] != want {
			t.Errorf("tenant %s jobs = %+v", id, tn.Jobs)
		}
	}
	// At 100% every tenant is selected by its bucket.
	all := strings.Replace(rolloutConfig, `stage  = "friendly"`, `stage  = "100%"`, 1)
	p, _ = mustPlan(t, loadOptions(), map[string]string{"main.hcl": all})
	if v := tenantByID(t, p, "other").Variants[0]; !v.Selected || !strings.Contains(v.Reason, "100%") {
		t.Errorf("at 100%% the other tenant is selected by bucket, got %+v", v)
	}
}

func TestRegionsAndStores(t *testing.T) {
	cfg := `
region "us" {}
region "eu" {
  store = env("EU_STORE")
}
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { email = record.email }
}
tenant "acme" {
  region    = "us"
  pipelines = [pipeline.volunteers]
}
tenant "globex" {
  region    = "eu"
  pipelines = [pipeline.volunteers]
}
`
	p, diags := mustPlan(t, loadOptions(), map[string]string{"main.hcl": cfg})
	if p.Store.Text != ".siphon/state.db" || !p.Store.Known {
		t.Errorf("default hub store = %+v", p.Store)
	}
	if s := tenantByID(t, p, "acme").Store; s != p.Store {
		t.Errorf("a region without a store uses the hub's, got %+v", s)
	}
	eu := tenantByID(t, p, "globex").Store
	if eu.Known || eu.FromEnv != "EU_STORE" || eu.String() != "(from env EU_STORE)" {
		t.Errorf("eu store = %+v, want unknown from env EU_STORE", eu)
	}
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "EU_STORE") {
		t.Errorf("an unset env() in plan is one warning, got %v", diags)
	}

	opts := loadOptions()
	opts.Mode = ModeRun
	if res := loadString(t, opts, map[string]string{"main.hcl": cfg}); res.Plan != nil || !strings.Contains(loadDiagText(res.Files, res.Diagnostics), "EU_STORE is not set") {
		t.Errorf("an unset env() in run is an error, got:\n%s", loadDiagText(res.Files, res.Diagnostics))
	}
	loadEnv["EU_STORE"] = ""
	defer delete(loadEnv, "EU_STORE")
	if res := loadString(t, opts, map[string]string{"main.hcl": cfg}); res.Plan != nil || !strings.Contains(loadDiagText(res.Files, res.Diagnostics), "Region store is empty") {
		t.Errorf("an empty region store in run is an error, got:\n%s", loadDiagText(res.Files, res.Diagnostics))
	}
}

func TestSensitiveValuesRedacted(t *testing.T) {
	cfg := `
variable "vomo_url" {
  type      = string
  default   = "https://user:secret@api.vomo.org"
  sensitive = true
}
source "vomo" {
  base_url = var.vomo_url
}
destination "wh" {
  plugin = "postgres"
  config = {
    dsn    = env("WAREHOUSE_DSN")
    schema = "public"
  }
}
`
	p, _ := mustPlan(t, loadOptions(), map[string]string{"main.hcl": cfg})
	if b := p.Sources[0].BaseURL; !b.Sensitive || b.String() != "(sensitive)" || b.Text != "https://user:secret@api.vomo.org" {
		t.Errorf("base_url = %+v (%s), want a known sensitive value", b, b)
	}
	view := p.Destinations[0].ConfigView
	if v := view["dsn"]; !v.Sensitive || v.String() != "(sensitive)" || v.FromEnv != "WAREHOUSE_DSN" {
		t.Errorf("env() values are secrets: %+v", v)
	}
	if v := view["schema"]; v.Sensitive || v.String() != "public" {
		t.Errorf("plain config values show: %+v", v)
	}
	if cfg := p.Destinations[0].Config; cfg.ContainsMarked() || cfg.GetAttr("dsn").AsString() != "postgres://siphon@db/siphon" {
		t.Errorf("the plugin gets the config unmarked, secrets included: %#v", cfg)
	}
}

func TestVariablePrecedence(t *testing.T) {
	files := map[string]string{
		"main.hcl": `
variable "a" { default = "default" }
variable "b" { default = "default" }
variable "c" { default = "default" }
variable "d" { default = "default" }
variable "n" {
  type    = number
  default = 1
}
variable "ids" {
  type    = list(string)
  default = []
}
variable "opts" {
  type = object({
    region = optional(string, "us")
    size   = number
  })
  default = { size = 1 }
}
locals {
  all = join(",", [var.a, var.b, var.c, var.d, tostring(var.n), join("+", var.ids), var.opts.region])
}
source "vomo" {
  base_url = local.all
}
`,
		"1.auto.vars.hcl":  "b = \"auto1\"\nc = \"auto1\"\nd = \"auto1\"\nmissing = 1\n",
		"2.auto.vars.hcl":  "c = \"auto2\"\nd = \"auto2\"\n",
		"ignored.test.hcl": "this is not { config",
	}
	opts := loadOptions()
	opts.ReadFile = func(p string) ([]byte, error) { return []byte("d = \"file\"\nn = 5\n"), nil }
	opts.VarFiles = []string{"prod.vars.hcl"}
	opts.Vars = map[string]string{"n": "42", "ids": `["x", "y"]`, "undeclared": "1"}
	p, diags := mustPlan(t, opts, files)
	if got := p.Sources[0].BaseURL.Text; got != "default,auto1,auto2,file,42,x+y,us" {
		t.Errorf("variables resolved to %q", got)
	}
	warned := 0
	for _, d := range diags {
		if d.Summary == "Value for undeclared variable" {
			warned++
		}
	}
	if warned != 2 {
		t.Errorf("want 2 warnings for undeclared variables (auto.vars and -var), got %v", diags)
	}
	opts.Vars = map[string]string{"n": "many"}
	if res := loadString(t, opts, files); res.Plan != nil || !strings.Contains(loadDiagText(res.Files, res.Diagnostics), "-var n=many is not a valid number value") {
		t.Errorf("-var n=many for a number variable must fail saying so, got:\n%s", loadDiagText(res.Files, res.Diagnostics))
	}
}

func TestHashes(t *testing.T) {
	base := map[string]string{"main.hcl": rolloutConfig}
	p1, _ := mustPlan(t, loadOptions(), base)
	p2, _ := mustPlan(t, loadOptions(), base)
	if p1.ConfigHash != p2.ConfigHash || len(p1.ConfigHash) != 64 {
		t.Fatalf("config hash not stable: %s vs %s", p1.ConfigHash, p2.ConfigHash)
	}
	cadence := map[string]string{"main.hcl": strings.Replace(rolloutConfig, `path   = "/users"`, "path   = \"/users\"\n  cadence = \"10m\"", 1)}
	p3, _ := mustPlan(t, loadOptions(), cadence)
	if p3.ConfigHash == p1.ConfigHash {
		t.Error("a cadence change must change the config hash")
	}
	if p3.Pipelines[0].MappingHash != p1.Pipelines[0].MappingHash {
		t.Error("a cadence change must not change a mapping hash")
	}
	mapping := map[string]string{"main.hcl": strings.Replace(rolloutConfig, "lower(record.email)", "upper(record.email)", 1)}
	p4, _ := mustPlan(t, loadOptions(), mapping)
	if p4.Pipelines[1].MappingHash == p1.Pipelines[1].MappingHash || p4.Pipelines[0].MappingHash != p1.Pipelines[0].MappingHash {
		t.Error("a field change must change exactly that pipeline's mapping hash")
	}
	withVar := func(v string) string {
		cfg := "variable \"suffix\" { default = \"" + v + "\" }\n" + rolloutConfig
		p, _ := mustPlan(t, loadOptions(), map[string]string{"main.hcl": strings.Replace(cfg, "lower(record.email)", "\"${record.email}${var.suffix}\"", 1)})
		return p.Pipelines[1].MappingHash
	}
	if withVar("a") == withVar("b") {
		t.Error("a variable the mapping reads must change its mapping hash")
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.hcl", jobsConfig+"\nlocals {\n  ca = file(\"ca.pem\")\n}\n")
	write("ca.pem", "cert")
	write("prod.auto.vars.hcl", "")
	write("mapping.test.hcl", "not config {")
	write("README.md", "# not config")
	opts := loadOptions()
	opts.ReadFile = nil
	res := Load(dir, opts)
	if res.Plan == nil {
		t.Fatalf("load failed:\n%s", loadDiagText(res.Files, res.Diagnostics))
	}
	if _, ok := res.Files[filepath.Join(dir, "main.hcl")]; !ok {
		t.Errorf("Files should hold main.hcl by its path, got %v", sortedKeys(res.Files))
	}
	if res.Plan.Store.Text != filepath.Join(dir, ".siphon", "state.db") {
		t.Errorf("hub store = %s", res.Plan.Store.Text)
	}
	if res := Load(filepath.Join(dir, "missing"), opts); res.Plan != nil || !res.Diagnostics.HasErrors() {
		t.Error("a missing directory is an error")
	}
	if res := LoadFiles(nil, opts); res.Plan != nil || res.Diagnostics[0].Summary != "No configuration files" {
		t.Errorf("no files: %v", res.Diagnostics)
	}
}

func TestJSONConfig(t *testing.T) {
	src, err := os.ReadFile("testdata/valid/nomad_style.hcl.json")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := mustPlan(t, loadOptions(), map[string]string{
		"main.hcl.json":           string(src),
		"prod.auto.vars.hcl.json": `{"region": "eu"}`,
		"mapping.test.hcl.json":   `not json`,
	})
	pl := p.Pipelines[0]
	if pl.Resource != "users" || pl.Destination != "db" || len(pl.Fields) != 2 || pl.Fields[0].Name != "email" || pl.Transform == nil {
		t.Errorf("JSON pipeline = %+v", pl)
	}
	if tn := p.Tenants[0]; tn.Timezone != "Europe/Berlin" || len(tn.Jobs) != 1 || tn.Jobs[0].Cadence.D() != 15*time.Minute {
		t.Errorf("JSON tenant = %+v", tn)
	}
}

// TestDSTReconciles covers both DST transitions in the tenant's zone: a
// time in the spring gap runs at the first instant after it, an ambiguous
// autumn time at its first occurrence, and a zone without DST is unmoved.
func TestDSTReconciles(t *testing.T) {
	cases := []struct {
		zone, daily string
		now         time.Time
		utc, local  string
	}{
		{"America/Chicago", "01:30", time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), "2026-11-01T06:30:00Z", "2026-11-01 01:30 CDT"},
		{"Europe/Berlin", "02:30", time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), "2026-03-29T01:00:00Z", "2026-03-29 03:00 CEST"},
		{"Europe/Berlin", "02:30", time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), "2026-10-25T00:30:00Z", "2026-10-25 02:30 CEST"},
		{"Australia/Sydney", "02:30", time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC), "2026-10-03T16:00:00Z", "2026-10-04 03:00 AEDT"},
		{"Asia/Kolkata", "03:00", time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), "2026-03-28T21:30:00Z", "2026-03-29 03:00 IST"},
	}
	for _, c := range cases {
		cfg := fmt.Sprintf(`
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { email = record.email }
  reconcile { daily = %q }
}
tenant "acme" {
  timezone  = %q
  pipelines = [pipeline.volunteers]
}
`, c.daily, c.zone)
		opts := loadOptions()
		opts.Now = c.now
		p, _ := mustPlan(t, opts, map[string]string{"main.hcl": cfg})
		next := tenantByID(t, p, "acme").Reconciles[0].Next[0]
		if got := next.UTC.Format(time.RFC3339); got != c.utc || next.Local != c.local {
			t.Errorf("%s daily %s after %s: got %s (%s), want %s (%s)", c.zone, c.daily, c.now.Format(time.RFC3339), got, next.Local, c.utc, c.local)
		}
	}
}

// TestSourceBursts: a source's configured bursts reach the plan, and a
// source without them has bursts of 1.
func TestSourceBursts(t *testing.T) {
	cfg := strings.Replace(jobsConfig, `global_rate_limit = "100/1h"`, `global_rate_limit = "100/1h"
  rate_limit_burst        = 5
  global_rate_limit_burst = 20`, 1)
	p, _ := mustPlan(t, loadOptions(), map[string]string{"main.hcl": cfg})
	s := p.Sources[0]
	if tb, gb := s.Bursts(); s.RateLimitBurst != 5 || s.GlobalRateLimitBurst != 20 || tb != 5 || gb != 20 {
		t.Errorf("bursts = %d, %d (Bursts %d, %d), want 5 and 20", s.RateLimitBurst, s.GlobalRateLimitBurst, tb, gb)
	}
	p, _ = mustPlan(t, loadOptions(), map[string]string{"main.hcl": jobsConfig})
	if tb, gb := p.Sources[0].Bursts(); tb != 1 || gb != 1 {
		t.Errorf("bursts without configuration = %d, %d, want 1 and 1", tb, gb)
	}
}
