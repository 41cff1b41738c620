package runtime_test

import (
	"strings"
	"testing"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/runtime"
)

// A tenant is run by exactly the runners of the store its state lives in.
func TestInRegion(t *testing.T) {
	store := &dsl.Value{Text: "redis://eu:6379", Known: true}
	plan := &dsl.Plan{Regions: []*dsl.Region{{Name: "eu", Store: store}, {Name: "us"}}}
	cases := []struct {
		tenant, region string // the tenant's region; the runner's
		want           bool
	}{
		{"", runtime.HubTenants, true},
		{"", "eu", false},
		{"eu", runtime.HubTenants, false}, // its own store: never the hub's runner
		{"eu", "eu", true},
		{"eu", "us", false},
		{"us", runtime.HubTenants, true}, // no store of its own: the hub store
		{"us", "us", true},
		{"us", "eu", false},
	}
	for _, c := range cases {
		if got := runtime.InRegion(plan, &dsl.Tenant{ID: "x", Region: c.tenant}, c.region); got != c.want {
			t.Errorf("tenant of region %q, runner of %q: %v, want %v", c.tenant, c.region, got, c.want)
		}
	}
	if ok, own := runtime.RegionStore(plan, "eu"); !ok || !own {
		t.Errorf("eu: exists %v, own store %v", ok, own)
	}
	if ok, own := runtime.RegionStore(plan, "us"); !ok || own {
		t.Errorf("us: exists %v, own store %v", ok, own)
	}
}

// A runner for a region the plan does not have is refused, not run with
// no tenants.
func TestNewRefusesUnknownRegion(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 1, users: 1, pipeline: volunteers})
	_, err := runtime.New(runtime.Config{Plan: h.plan, Store: h.store, Region: "mars"})
	if err == nil || !strings.Contains(err.Error(), `no region "mars"`) {
		t.Fatalf("New with an unknown region: %v", err)
	}
}
