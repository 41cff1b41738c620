package runtime

import (
	"fmt"
	"slices"

	"github.com/siphonhq/siphon/dsl"
)

// HubTenants is the Config.Region that selects the tenants whose state
// lives in the hub store: those of no region, and those of a region that
// declares no store of its own.
const HubTenants = ""

// RegionStore reports whether the plan has a region of that name and
// whether it declares a store of its own (its tenants' state lives there,
// not in the hub store).
func RegionStore(plan *dsl.Plan, region string) (exists, ownStore bool) {
	for _, r := range plan.Regions {
		if r.Name == region {
			// An empty store is the hub's (plan's reading; run refuses it).
			return true, r.Store != nil && (!r.Store.Known || r.Store.Text != "")
		}
	}
	return false, false
}

// InRegion reports whether a runner for region (HubTenants, or a region's
// name) runs the tenant: a tenant's state must live in exactly one store,
// so a tenant of a region with its own store is run only by that region's
// runners, and every other tenant only by the hub's (or, when its region
// has no store, also by that region's, which uses the hub store).
func InRegion(plan *dsl.Plan, t *dsl.Tenant, region string) bool {
	if region != HubTenants {
		return t.Region == region
	}
	if t.Region == "" {
		return true
	}
	_, own := RegionStore(plan, t.Region)
	return !own
}

// regionPlan is the plan a runner works from: the whole configuration
// with only the tenants its region runs. Everything that walks the
// tenants (scheduling, processing, sweeps, metrics) then stays in the
// runner's store. Hub-wide figures that must be the same in every region
// (the lane split of the global budget, the summary of the active
// configuration) read Config.Plan, which keeps every tenant.
func regionPlan(plan *dsl.Plan, region string) (*dsl.Plan, error) {
	if region != HubTenants {
		if ok, _ := RegionStore(plan, region); !ok {
			names := make([]string, len(plan.Regions))
			for i, r := range plan.Regions {
				names[i] = r.Name
			}
			return nil, fmt.Errorf("runtime: no region %q in the configuration (regions: %v)", region, names)
		}
	}
	p := *plan
	p.Tenants = slices.DeleteFunc(slices.Clone(plan.Tenants), func(t *dsl.Tenant) bool { return !InRegion(plan, t, region) })
	return &p, nil
}
