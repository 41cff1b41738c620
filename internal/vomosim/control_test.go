package vomosim

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestControlSurface drives /_sim/ over HTTP as a demo script would.
func TestControlSurface(t *testing.T) {
	srv, hs, _ := start(t, quiet(40))
	tok := token(t, srv, "t001")
	ctl := hs.URL + "/_sim"

	status, _, b := call(t, "POST", ctl+"/tenants", "", `{"users":25}`)
	var ti TenantInfo
	if status != 201 || json.Unmarshal(b, &ti) != nil || ti.ID != "t002" || ti.Users != 25 {
		t.Fatalf("add tenant: %d %s", status, b)
	}
	if p := getPage(t, hs.URL+"/v1/users", ti.Token); p.Meta.Total != 25 {
		t.Errorf("new tenant serves %d users", p.Meta.Total)
	}

	if status, _, _ := call(t, "POST", ctl+"/tenants/t001/revoke", "", ""); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if status, _, _ := call(t, "GET", hs.URL+"/v1/users", tok, ""); status != 401 {
		t.Errorf("revoked token: %d", status)
	}
	call(t, "POST", ctl+"/tenants/t001/restore", "", "")
	if status, _, b := call(t, "POST", ctl+"/tenants/t001/forbid", "", `{"resource":"forms","forbidden":true}`); status != 200 {
		t.Errorf("forbid: %d %s", status, b)
	}
	if status, _, _ := call(t, "GET", hs.URL+"/v1/forms", tok, ""); status != 403 {
		t.Errorf("forbidden forms: %d", status)
	}

	if status, _, b := call(t, "PATCH", ctl+"/faults", "", `{"enabled":true,"rate_limit":1}`); status != 200 || !strings.Contains(string(b), `"rate_limit": 1`) {
		t.Fatalf("patch faults: %d %s", status, b)
	}
	call(t, "GET", hs.URL+"/v1/users", tok, "")
	if status, _, _ := call(t, "GET", hs.URL+"/v1/users", tok, ""); status != 429 {
		t.Errorf("after PATCH rate_limit 1: %d", status)
	}
	if status, _, _ := call(t, "PATCH", ctl+"/faults", "", `{"enabled":false,"error_rate":7}`); status != 400 {
		t.Errorf("invalid patch accepted: %d", status)
	}
	call(t, "PATCH", ctl+"/faults", "", `{"enabled":false}`)

	status, _, b = call(t, "GET", ctl+"/truth/t001/users", "", "")
	var tr Truth
	if status != 200 || json.Unmarshal(b, &tr) != nil || len(tr.Records) != 40 || len(tr.Keys) != 40 {
		t.Errorf("truth: %d, %d records", status, len(tr.Records))
	}
	var first map[string]any
	if err := json.Unmarshal(tr.Records[0], &first); err != nil || first["updated_at"] == nil || first["email"] == nil {
		t.Errorf("truth record lacks fields: %v", first)
	}
	if status, _, _ := call(t, "GET", ctl+"/truth/t001/volunteers", "", ""); status != 400 {
		t.Errorf("unknown truth resource: %d", status)
	}

	status, _, b = call(t, "GET", ctl+"/counters", "", "")
	var counters map[string]map[string]int64
	if status != 200 || json.Unmarshal(b, &counters) != nil || counters["t001"]["GET /v1/users"] < 3 {
		t.Errorf("counters: %d %s", status, b)
	}
	for _, p := range []string{"/", "/scenario", "/churn", "/switches", "/tenants"} {
		if status, _, _ := call(t, "GET", ctl+p, "", ""); status != 200 {
			t.Errorf("GET /_sim%s: %d", p, status)
		}
	}
}

// TestScenarios loads each built-in scenario and checks adversarial's
// promise of 50 tenants.
func TestScenarios(t *testing.T) {
	for _, name := range Scenarios() {
		sc, err := LoadScenario(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sc.Name != name {
			t.Errorf("%s: named %q", name, sc.Name)
		}
	}
	if sc, _ := LoadScenario("adversarial"); sc.Tenants != 50 || !sc.Churn.Enabled || !sc.Faults.Enabled {
		t.Errorf("adversarial: %+v", sc)
	}
	if _, err := LoadScenario("nope"); err == nil {
		t.Error("unknown scenario loaded")
	}
	if _, err := ParseScenario([]byte(`{"switches":{"count_qeury":"before"}}`)); err == nil {
		t.Error("a misspelt switch was accepted")
	}
}
