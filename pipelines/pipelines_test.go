// Package pipelines holds the example pipeline sets; this test keeps every
// one of them planning cleanly as the language evolves.
package pipelines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/hubgen"
)

// now is fixed so that the plans, and any failure message, are the same on
// every run.
var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// options plan with an empty environment, as CI does.
func options() dsl.Options {
	return dsl.Options{Now: now, LookupEnv: func(string) (string, bool) { return "", false }}
}

func TestExamplesPlanCleanly(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	planned := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		hclFiles, _ := filepath.Glob(filepath.Join(e.Name(), "*.hcl"))
		if len(hclFiles) == 0 {
			continue // hub-10k until it is generated
		}
		planned++
		t.Run(e.Name(), func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(e.Name(), "README.md")); err != nil {
				t.Errorf("%s has no README.md", e.Name())
			}
			res := dsl.Load(e.Name(), options())
			expectClean(t, res)
		})
	}
	for _, want := range []string{"demo", "multiregion", "bidirectional", "rollout"} {
		if _, err := os.Stat(want); err != nil {
			t.Errorf("example set %s is missing", want)
		}
	}
	if planned < 4 {
		t.Errorf("planned %d example sets, want at least 4", planned)
	}
}

func TestGeneratedHubPlansCleanly(t *testing.T) {
	res := dsl.LoadFiles(hubgen.Generate(250), options())
	expectClean(t, res)
	if res.Plan == nil {
		return
	}
	if got := len(res.Plan.Tenants); got != 250 {
		t.Errorf("planned %d tenants, want 250", got)
	}
	for _, tn := range res.Plan.Tenants {
		if len(tn.Active) != 3 {
			t.Fatalf("tenant %s has %d active pipelines, want 3", tn.ID, len(tn.Active))
		}
	}
}

func TestDemoShape(t *testing.T) {
	res := dsl.Load("demo", options())
	if res.Plan == nil {
		t.Fatal("demo does not plan")
	}
	zones := map[string]bool{}
	for _, tn := range res.Plan.Tenants {
		zones[tn.Timezone] = true
	}
	if len(res.Plan.Tenants) != 3 || len(zones) != 3 {
		t.Errorf("demo has %d tenants in %d time zones, want 3 in 3", len(res.Plan.Tenants), len(zones))
	}
	var parent bool
	for _, r := range res.Plan.Resources {
		parent = parent || r.Parent != ""
	}
	if !parent {
		t.Error("demo has no parent/child resource")
	}
}

func TestRolloutSelectsByCohortAndBucket(t *testing.T) {
	res := dsl.Load("rollout", options())
	if res.Plan == nil {
		t.Fatal("rollout does not plan")
	}
	reasons := map[string]bool{}
	for _, tn := range res.Plan.Tenants {
		if len(tn.Active) != 1 {
			t.Errorf("tenant %s runs %v, want exactly one variant", tn.ID, tn.Active)
		}
		for _, v := range tn.Variants {
			state := " out"
			if v.Selected {
				state = " in"
			}
			reasons[strings.Fields(v.Reason)[0]+state] = true
		}
	}
	for _, want := range []string{"cohort in", "bucket in", "bucket out"} {
		if !reasons[want] {
			t.Errorf("no tenant is selected as %q; reasons seen: %v", want, reasons)
		}
	}
}

// expectClean fails the test with every diagnostic, rendered as the CLI
// would, when the result has any: an example that warns teaches the warning.
func expectClean(t *testing.T, res *dsl.Result) {
	t.Helper()
	if len(res.Diagnostics) == 0 && res.Plan != nil {
		return
	}
	var b strings.Builder
	_ = hcl.NewDiagnosticTextWriter(&b, res.Files, 0, false).WriteDiagnostics(res.Diagnostics)
	t.Errorf("%d diagnostics (plan nil: %v):\n%s", len(res.Diagnostics), res.Plan == nil, b.String())
}
