package dsl

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/hubgen"
)

// hubConfig generates a hub of n tenants, each on three pipelines: two
// sharing a cadence (one shape A job) and one faster (a shape B job whose
// resource has a parent), spread over a few time zones, cohorts and a flag.
// Tenants are written 1,000 to a file, as a hub that size would keep them.
func hubConfig(n int) map[string][]byte {
	files := map[string][]byte{}
	var b strings.Builder
	b.WriteString(`
source "vomo" {
  rate_limit        = "60/1m"
  global_rate_limit = "1000000/1h"
}
resource "users" {
  source = source.vomo
  path   = "/users"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}
resource "forms" {
  source = source.vomo
  path   = "/forms"
}
resource "form_completions" {
  source  = source.vomo
  path    = "/forms/{form_id}/completions"
  parent  = resource.forms
  cadence = "5m"
}
destination "warehouse" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.warehouse
  filter      = record.membership_status != "REMOVED"
  fields = {
    email      = lower(record.email)
    first_name = record.first_name
    last_name  = record.last_name
    phone      = record.phone
    tenant_id  = tenant.id
  }
}
pipeline "forms" {
  resource    = resource.forms
  destination = destination.warehouse
  fields      = { id = record.id, title = record.name }
  rollout     = flag.forms_v2
}
pipeline "completions" {
  resource    = resource.form_completions
  destination = destination.warehouse
  fields      = { id = record.id, form_id = record.form_id }
}
flag "forms_v2" {
  stages = ["internal", "friendly", "10%", "100%"]
  stage  = "10%"
}
lane "premium" { weight = 3 }
region "us" {}
region "eu" {}
`)
	zones := []string{"UTC", "America/Chicago", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney"}
	cohorts := []string{"none", "internal", "friendly"}
	files["hub.hcl"] = []byte(b.String())
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			b.Reset()
		}
		fmt.Fprintf(&b, `
tenant "tenant-%05d" {
  name      = "Tenant %d"
  timezone  = %q
  region    = %q
  cohort    = %q
  pipelines = [pipeline.volunteers, pipeline.forms, pipeline.completions]
}
`, i, i, zones[i%len(zones)], []string{"us", "eu"}[i%2], cohorts[i%len(cohorts)])
		if i%1000 == 999 || i == n-1 {
			files[fmt.Sprintf("tenants-%02d.hcl", i/1000)] = []byte(b.String())
		}
	}
	return files
}

// planCPU is the CPU time this process has used, user and system: on a
// shared machine it measures the work done where wall time would measure
// the neighbours.
func planCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPlan10kTenants loads and compiles a hub of 10,000 tenants × 3
// pipelines, the scale `plan` must handle in under 2 s. cpu-s/plan is the
// figure to read on a shared machine; s/plan is wall time.
func BenchmarkPlan10kTenants(b *testing.B) { benchmarkPlan(b, hubConfig(10000), 10000) }

// BenchmarkPlanHub10k plans the pipelines/hub-10k example as internal/hubgen
// writes it.
func BenchmarkPlanHub10k(b *testing.B) { benchmarkPlan(b, hubgen.Generate(10000), 10000) }

func benchmarkPlan(b *testing.B, files map[string][]byte, tenants int) {
	opts := loadOptions()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := planCPU()
	for i := 0; i < b.N; i++ {
		res := LoadFiles(files, opts)
		if res.Plan == nil || len(res.Plan.Tenants) != tenants {
			b.Fatalf("plan failed:\n%s", loadDiagText(res.Files, res.Diagnostics[:min(3, len(res.Diagnostics))]))
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/plan")
	b.ReportMetric((planCPU()-cpu).Seconds()/float64(b.N), "cpu-s/plan")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tenants), "ns/tenant")
}

// TestPlanScalesLinearly guards the O(tenants × pipelines) shape of
// compilation without timing anything: allocations per tenant must not
// grow with the number of tenants.
func TestPlanScalesLinearly(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a few thousand tenants")
	}
	perTenant := func(n int) float64 {
		files := hubConfig(n)
		opts := loadOptions()
		allocs := testing.AllocsPerRun(1, func() {
			if res := LoadFiles(files, opts); res.Plan == nil {
				t.Fatalf("plan failed: %v", res.Diagnostics)
			}
		})
		return allocs / float64(n)
	}
	small, large := perTenant(200), perTenant(2000)
	if large > small*1.5 {
		t.Errorf("allocations per tenant grow with the hub: %.0f at 200 tenants, %.0f at 2000", small, large)
	}
}
