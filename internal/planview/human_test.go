package planview

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/siphonhq/siphon/dsl"
	"github.com/zclconf/go-cty/cty"
)

const secret = "hunter2"

// handPlan is a small plan built without the compiler, with every case the
// view must handle: a secret store, an unknown env value, a disabled
// tenant, a rollout with an inactive pipeline, a budget without limit, and
// a tenant whose zone is only known as text.
func handPlan() *dsl.Plan {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	chicago, _ := time.LoadLocation("America/Chicago")
	run := func(t time.Time, loc *time.Location) dsl.RunTime {
		return dsl.RunTime{UTC: t, Local: t.In(loc).Format("2006-01-02 15:04 MST")}
	}
	eu := dsl.Value{Text: "redis://:" + secret + "@eu:6379/0", Known: true, Sensitive: true, FromEnv: "EU_STORE"}
	return &dsl.Plan{
		ConfigDir:  "config",
		ConfigHash: "0123456789abcdef0123",
		Now:        now,
		Store:      dsl.Value{Text: "config/.siphon/state.db", Known: true},
		Sources: []*dsl.Source{{Name: "vomo", Kind: "vomo", BaseURL: dsl.Value{Known: false, FromEnv: "VOMO_URL"},
			RateLimit: dsl.Rate{N: 60, Per: dsl.Duration(time.Minute)}}},
		Resources: []*dsl.Resource{{Name: "users", Source: "vomo", Path: "/users", Cadence: dsl.Duration(5 * time.Minute),
			Cursor: &dsl.Cursor{Field: "updated_at", Param: "updated_after", Overlap: dsl.Duration(2 * time.Minute)}}},
		Destinations: []*dsl.Destination{{Name: "warehouse", Plugin: "postgres", Builtin: true, BatchSize: 500,
			ConfigView: map[string]dsl.Value{"dsn": {Text: "postgres://u:" + secret + "@db", Known: true, Sensitive: true}, "schema": {Text: "sync", Known: true}}}},
		Pipelines: []*dsl.Pipeline{
			{Name: "v1", Resource: "users", Destination: "warehouse", Object: "volunteers", Fields: make([]dsl.MappedField, 2), Delivery: "queue",
				Rollout: &dsl.Rollout{Flag: "v2", Negate: true}},
			{Name: "v2", Resource: "users", Destination: "warehouse", Object: "volunteers", Fields: make([]dsl.MappedField, 3), Delivery: "direct",
				Direction: "both", Filter: `record.active`, Rollout: &dsl.Rollout{Flag: "v2"}},
		},
		Flags:   []*dsl.Flag{{Name: "v2", Stages: []string{"internal", "10%"}, Stage: "10%"}},
		Regions: []*dsl.Region{{Name: "eu", Store: &eu}, {Name: "us"}},
		Tenants: []*dsl.Tenant{
			{ID: "acme", Name: "Acme", Timezone: "America/Chicago", Location: chicago, Lane: "standard", Cohort: "internal",
				Credentials: "acme", Enabled: true, Store: eu, Region: "eu",
				RateLimits: map[string]dsl.Rate{"vomo": {N: 60, Per: dsl.Duration(time.Minute)}},
				Pipelines:  []string{"v1", "v2"}, Active: []string{"v2"},
				Variants: []dsl.Variant{{Flag: "v2", Selected: true, Reason: "cohort internal"}},
				Jobs: []*dsl.Job{{ID: "every-5m", Shape: "A", Cadence: dsl.Duration(5 * time.Minute), Stagger: dsl.Duration(47 * time.Second),
					Pipelines: []string{"v2"}, Fetches: []dsl.Fetch{{Resource: "users", Pipelines: []string{"v2"}}},
					NextRuns:        []dsl.RunTime{run(now.Add(47*time.Second), chicago)},
					RequestsPerHour: 12}},
				Reconciles: []*dsl.ReconcilePlan{{Pipeline: "v2", Daily: dsl.Clock{Hour: 3}, Weekly: &dsl.Weekly{Day: time.Sunday, At: dsl.Clock{Hour: 4}},
					Next: []dsl.RunKind{{Kind: "daily", RunTime: run(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), chicago)}}}},
				Budgets: []*dsl.TenantBudget{{Source: "vomo", RequestsPerHour: 12, LimitPerHour: 3600}}},
			{ID: "zed", Name: "zed", Timezone: "Asia/Kolkata", Lane: "standard", Credentials: "zed", Enabled: false,
				Store:     dsl.Value{Text: "config/.siphon/state.db", Known: true},
				Pipelines: []string{"v1", "v2"}, Active: []string{"v1"},
				Variants: []dsl.Variant{{Flag: "v2", Selected: false, Reason: "bucket 42 ≥ 10%"}},
				Jobs: []*dsl.Job{{ID: "every-5m", Shape: "A", Cadence: dsl.Duration(5 * time.Minute),
					Pipelines: []string{"v1"}, Fetches: []dsl.Fetch{{Resource: "users", Pipelines: []string{"v1"}}},
					NextRuns: []dsl.RunTime{{UTC: now.Add(5 * time.Minute), Local: "2026-11-26 14:35 IST"}}}},
				Reconciles: []*dsl.ReconcilePlan{{Pipeline: "v1", Daily: dsl.Clock{Hour: 3}, Weekly: &dsl.Weekly{Day: time.Sunday, At: dsl.Clock{Hour: 4}}}}},
		},
		HubBudgets: []*dsl.HubBudget{{Source: "vomo", RequestsPerHour: 12.5}},
	}
}

func TestHumanHandBuiltPlan(t *testing.T) {
	var out bytes.Buffer
	if err := Human(&out, &dsl.Result{Plan: handPlan()}, Options{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, secret) {
		t.Fatalf("the human view shows a secret:\n%s", text)
	}
	for _, want := range []string{
		"Plan of config at 2026-11-26 09:00:00 UTC",
		"config hash  0123456789ab\n",
		"vomo  vomo at (from env VOMO_URL); 60/1m per tenant, no hub limit",
		"warehouse  postgres (built in), batches of 500; dsn = (sensitive), schema = sync",
		"v1  users → warehouse.volunteers, 2 fields; rollout !flag.v2",
		"v2  users → warehouse.volunteers, 3 fields; filter record.active; both directions; direct delivery; rollout flag.v2",
		"v2  at 10% of internal, 10%",
		"eu  (sensitive)", "us  the hub's store",
		"Tenant acme (Acme)\n",
		"cohort internal · region eu",
		"store     (sensitive)",
		"inactive  v1 (not selected by their rollout)",
		"rollout   v2 selected: cohort internal",
		"budget    vomo 12 requests/hour of 3600 (0.3%) at 60/1m",
		"job every-5m: shape A, every 5m, stagger 47s, 12 requests/hour",
		"next runs 2026-11-26 09:00:47 UTC   2026-11-26 03:00:47 CST",
		"reconcile v2: daily 03:00, weekly sun 04:00",
		"next daily  2026-11-27 09:00:00 UTC   2026-11-27 03:00:00 CST",
		// The plan lists no weekly run; the view finds the next one.
		"next weekly 2026-11-29 10:00:00 UTC   2026-11-29 04:00:00 CST",
		// A zone known only by name is loaded to find it.
		"next weekly 2026-11-28 22:30:00 UTC   2026-11-29 04:00:00 IST",
		"Tenant zed [disabled: no jobs run, no budget counted]",
		"rollout   v2 not selected: bucket 42 ≥ 10%",
		// Without a *time.Location the text dsl rendered is shown.
		"next runs 2026-11-26 09:05:00 UTC   2026-11-26 14:35 IST",
		"vomo  12.5 requests/hour (no limit)",
		"Plan: 2 tenants, 2 jobs, 2 pipelines; 0 errors, 0 warnings.\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("human view lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasSuffix(text, "Plan: 2 tenants, 2 jobs, 2 pipelines; 0 errors, 0 warnings.\n") {
		t.Error("the summary is not the last line")
	}
}

// invalid loads a configuration with one error and one warning.
func invalid(t *testing.T) *dsl.Result {
	t.Helper()
	res := dsl.LoadFiles(map[string][]byte{"main.hcl": []byte("lane \"premium\" {\n  weight = 3\n  wieght = 4\n}\n")}, dsl.Options{})
	if !res.Diagnostics.HasErrors() {
		t.Fatalf("expected an error, got %v", res.Diagnostics)
	}
	return res
}

func TestHumanDiagnostics(t *testing.T) {
	var out bytes.Buffer
	res := invalid(t)
	if err := Human(&out, res, Options{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"Error: ", "on main.hcl line 3", "wieght = 4", "Plan: invalid configuration; "} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Error("color without Options.Color")
	}
	out.Reset()
	if err := Human(&out, res, Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[") {
		t.Error("no color with Options.Color")
	}
}

// A diagnostic with an expression and its evaluation context makes HCL's
// writer print the values referred to; a sensitive one must not appear.
func TestDiagnosticsNeverShowValues(t *testing.T) {
	src := []byte("x = var.token\n")
	file, _ := hclsyntax.ParseConfig(src, "main.hcl", hcl.InitialPos)
	attrs, _ := file.Body.JustAttributes()
	expr := attrs["x"].Expr
	subject := expr.Range()
	res := &dsl.Result{
		Files: map[string]*hcl.File{"main.hcl": file},
		Diagnostics: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad token", Detail: "It is bad.", Subject: &subject,
			Expression: expr, EvalContext: &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{"token": cty.StringVal(secret)})}}}},
	}
	var human, js bytes.Buffer
	if err := Human(&human, res, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(human.String(), secret) || strings.Contains(js.String(), secret) {
		t.Errorf("a value reached the output:\n%s\n%s", human.String(), js.String())
	}
	if res.Diagnostics[0].EvalContext == nil {
		t.Error("rendering changed the caller's diagnostics")
	}
}

// TestHumanBursts: a configured burst is shown beside its rate.
func TestHumanBursts(t *testing.T) {
	plan := handPlan()
	global := dsl.Rate{N: 600, Per: dsl.Duration(time.Minute)}
	plan.Sources[0].GlobalRateLimit = &global
	plan.Sources[0].RateLimitBurst, plan.Sources[0].GlobalRateLimitBurst = 5, 30
	var out bytes.Buffer
	if err := Human(&out, &dsl.Result{Plan: plan}, Options{}); err != nil {
		t.Fatal(err)
	}
	if want := "60/1m (burst 5) per tenant, 600/1m (burst 30) for the hub"; !strings.Contains(out.String(), want) {
		t.Errorf("the human view lacks %q:\n%s", want, out.String())
	}
}
