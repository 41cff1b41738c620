package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// estimateSim starts a calm simulator (15 records per page, no churn)
// with two tenants of the given size.
func estimateSim(t *testing.T, users int) (*vomosim.Server, string) {
	t.Helper()
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 2, users, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	return sim, hs.URL + "/v1"
}

// EstimateBackfill reads page 1 of the tenant's resource and derives the
// pages, the requests (pages + 1) and the wall time under the tenant's
// rate_limit and its lane's share of the global_rate_limit.
func TestEstimateBackfill(t *testing.T) {
	sim, url := estimateSim(t, 250)
	ts := sim.Tenants()
	dir := twoTenantConfig(t, url, ts[0].ID, ts[1].ID)
	writeFiles(t, dir, map[string]string{"main.hcl": strings.Replace(readFile(t, dir+"/main.hcl"),
		`base_url = "`+url+`"`, `base_url = "`+url+`"
  rate_limit        = "60/1m"
  global_rate_limit = "20/1m"`, 1)})
	_, plan, err := loadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tenant *dsl.Tenant
	for _, x := range plan.Tenants {
		if x.ID == ts[0].ID {
			tenant = x
		}
	}
	sim.ResetCounters()
	est, err := EstimateBackfill(context.Background(), plan, tenant, ts[0].Token, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := sim.Counters()[ts[0].ID]["GET /v1/users"]; got != 1 {
		t.Fatalf("the estimate made %d requests, want 1", got)
	}
	if len(est.Resources) != 1 {
		t.Fatalf("resources: %+v", est.Resources)
	}
	r := est.Resources[0]
	// 250 records at 15 per page: 17 pages, and the probe fixing the cap.
	if r.Resource != "users" || r.Records != 250 || r.PerPage != 15 || r.Pages != 17 || r.Requests != 18 ||
		est.Requests != 18 || est.Records != 250 {
		t.Fatalf("estimate: %+v", est)
	}
	// A backfill may use half the tenant's 60/min: 18 requests take 36s.
	// Both tenants are in one lane, which has the whole global 20/min,
	// and the backfill half of it (600/h): at the slower of the two, 108s.
	if len(est.Budgets) != 1 || est.Budgets[0].TenantSeconds != 36 || est.Budgets[0].BackfillShare != runtime.BackfillShare ||
		est.Budgets[0].HubSeconds != 108 || est.Budgets[0].TenantRate != "60/1m" || est.Budgets[0].HubRate != "600.0/h" {
		t.Fatalf("budgets: %+v", est.Budgets)
	}
	var out strings.Builder
	if err := printEstimate(&out, est); err != nil {
		t.Fatal(err)
	}
	want := `RESOURCE  PIPELINES   RECORDS  PER PAGE  PAGES  REQUESTS  
users     volunteers  250      15        17     18        
total                 250                17     18        
vomo: 18 requests; about 36s at the backfill's 50% of the tenant's rate_limit 60/1m; about 1m48s at the backfill's 50% of its lane's share of the global_rate_limit (600.0/h, shared with the lane's busy tenants)
`
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}
