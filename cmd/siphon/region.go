package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

func regionFlag() cli.Flag {
	return &cli.StringFlag{Name: "region", Usage: "run only the tenants of region `NAME`, against that region's store " +
		"(without it: the tenants whose state is in the hub store — no region, or a region without a store)"}
}

// regionStoreURL is where a region's tenants keep their state: the
// region's own store resolved like the hub's (a relative file path is
// relative to the configuration directory), or "" when the region has no
// store of its own and uses the hub's.
func regionStoreURL(plan *dsl.Plan, region, dir string) (string, error) {
	for _, r := range plan.Regions {
		if r.Name != region {
			continue
		}
		if _, own := runtime.RegionStore(plan, region); !own {
			return "", nil
		}
		if !r.Store.Known {
			// dsl refuses this when loading for run; a plan loaded
			// otherwise must not fall back to the hub store either.
			return "", fmt.Errorf("region %s: its store %s has no value", region, r.Store)
		}
		return storeURL(r.Store.Text, plan, dir)
	}
	return "", fmt.Errorf("no region %q in %s%s", region, dir, closeNames("regions", region, regionNames(plan)))
}

func regionNames(plan *dsl.Plan) []string {
	out := make([]string, len(plan.Regions))
	for i, r := range plan.Regions {
		out[i] = r.Name
	}
	return out
}

// tenantStoreURL is the store a tenant's state lives in: its region's own
// store, else the hub store (flag, that is --store or SIPHON_STORE, else
// siphon { store }). --store never redirects a regional tenant: its data
// stays in its region. A nil tenant (one the configuration no longer
// has) is the hub's.
func tenantStoreURL(flag string, plan *dsl.Plan, t *dsl.Tenant, dir string) (string, error) {
	if t != nil && t.Region != "" {
		u, err := regionStoreURL(plan, t.Region, dir)
		if err != nil || u != "" {
			return u, err
		}
	}
	return storeURL(flag, plan, dir)
}

// checkStoresApart refuses a configuration in which two regions, or a
// region and the hub, resolve to the same store: the tenants of both
// would keep their state side by side, which is what a region with its
// own store promises not to do.
func checkStoresApart(hubURL string, plan *dsl.Plan, dir string) error {
	owner := map[string]string{storeKey(hubURL): "the hub store"}
	for _, r := range plan.Regions {
		u, err := regionStoreURL(plan, r.Name, dir)
		if err != nil {
			return err
		}
		if u == "" {
			continue
		}
		k := storeKey(u)
		if other, ok := owner[k]; ok {
			return fmt.Errorf("region %s's store is also %s: a region's tenants must keep their state apart, so give it a store of its own (or remove its store to use the hub's)", r.Name, other)
		}
		owner[k] = "region " + r.Name + "'s"
	}
	return nil
}

// storeKey is a store URL in a form two spellings of one store share:
// a clean file path, or a Redis address without credentials, lower-case,
// with the default port and database filled in and cluster nodes sorted.
func storeKey(u string) string {
	if !strings.Contains(u, "://") {
		return "file:" + filepath.Clean(u)
	}
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	hosts := strings.Split(strings.ToLower(p.Host), ",")
	for i, h := range hosts {
		if !strings.Contains(h, ":") {
			hosts[i] = h + ":6379"
		}
	}
	sort.Strings(hosts)
	db := strings.Trim(p.Path, "/")
	if db == "" {
		db = "0"
	}
	q := p.Query()
	return strings.ToLower(p.Scheme) + "://" + strings.Join(hosts, ",") + "/" + db + "?prefix=" + q.Get("prefix")
}

// checkDifferentStores refuses a regional run whose region store is the
// hub store under another address (another host name for one Redis): the
// stores' epochs are random at creation, so two stores that share one are
// one store.
func checkDifferentStores(ctx context.Context, region string, st, hub state.Store) error {
	a, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("region %s's store: %w", region, err)
	}
	b, err := hub.Info(ctx)
	if err != nil {
		return fmt.Errorf("the hub store: %w", err)
	}
	if a.Epoch == b.Epoch {
		return fmt.Errorf("region %s's store is the hub store under another address (both have epoch %s): its tenants' state must stay apart from the hub's", region, a.Epoch)
	}
	return nil
}

// otherRegions names the regions with their own store whose tenants a run
// of region leaves to runs of their own.
func otherRegions(plan *dsl.Plan, region string) []string {
	var out []string
	for _, t := range plan.Tenants {
		if t.Region != "" && !runtime.InRegion(plan, t, region) && !slices.Contains(out, t.Region) {
			if _, own := runtime.RegionStore(plan, t.Region); own {
				out = append(out, t.Region)
			}
		}
	}
	sort.Strings(out)
	return out
}
