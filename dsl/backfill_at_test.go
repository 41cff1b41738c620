package dsl

import (
	"strings"
	"testing"
)

// backfill_at takes a local time of day (default 02:00) or "now"; the
// reconcile times, which share its type, do not take "now".
func TestBackfillAt(t *testing.T) {
	base := `
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
  RECONCILE
}
tenant "dflt" {
  pipelines = [pipeline.volunteers]
}
tenant "early" {
  pipelines   = [pipeline.volunteers]
  backfill_at = "01:30"
}
tenant "asap" {
  pipelines   = [pipeline.volunteers]
  backfill_at = "now"
}
`
	p, _ := mustPlan(t, loadOptions(), map[string]string{"main.hcl": strings.Replace(base, "RECONCILE", "", 1)})
	for id, want := range map[string]Clock{"dflt": {Hour: 2}, "early": {Hour: 1, Minute: 30}, "asap": {Now: true}} {
		if got := tenantByID(t, p, id).BackfillAt; got != want {
			t.Errorf("tenant %s: backfill_at = %+v, want %+v", id, got, want)
		}
	}
	if s := tenantByID(t, p, "asap").BackfillAt.String(); s != "now" {
		t.Errorf("String of now = %q", s)
	}

	bad := strings.Replace(base, `backfill_at = "now"`, `backfill_at = "soon"`, 1)
	bad = strings.Replace(bad, "RECONCILE", "", 1)
	res := loadString(t, loadOptions(), map[string]string{"main.hcl": bad})
	if !res.Diagnostics.HasErrors() || !strings.Contains(loadDiagText(res.Files, res.Diagnostics), `"soon"`) ||
		!strings.Contains(loadDiagText(res.Files, res.Diagnostics), `or "now"`) {
		t.Fatalf("backfill_at = \"soon\": %s", loadDiagText(res.Files, res.Diagnostics))
	}
	res = loadString(t, loadOptions(), map[string]string{"main.hcl": strings.Replace(base, "RECONCILE", `reconcile { daily = "now" }`, 1)})
	if !res.Diagnostics.HasErrors() {
		t.Fatal("reconcile daily = \"now\" was accepted")
	}
}
