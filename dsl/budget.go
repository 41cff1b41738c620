package dsl

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// tenantBudgets estimates a tenant's requests per hour against each source
// it reads: one request per fetch per cycle (a parent's fetch counts one
// page, as plan makes no source requests and has no page counts). Over
// the tenant's rate limit is an error: its jobs could never keep their
// cadence. A disabled tenant counts nothing.
func (c *compiler) tenantBudgets(t *Tenant, tb *tenantBlock) hcl.Diagnostics {
	if !t.Enabled {
		return nil
	}
	used := map[string]float64{}
	fastest := map[string]*Job{}
	for _, j := range t.Jobs {
		for _, f := range j.Fetches {
			src := c.resources[f.Resource].Source
			used[src] += float64(time.Hour) / float64(j.Cadence)
			if fastest[src] == nil || j.Cadence < fastest[src].Cadence {
				fastest[src] = j
			}
		}
	}
	var diags hcl.Diagnostics
	for _, src := range sortedKeys(used) {
		rate := t.RateLimits[src]
		b := &TenantBudget{Source: src, RequestsPerHour: used[src], LimitPerHour: rate.PerHour()}
		t.Budgets = append(t.Budgets, b)
		if b.RequestsPerHour <= b.LimitPerHour+1e-9 {
			continue
		}
		subject, whose := tb.DeclRange, "source "+src+"'s"
		if tb.RateLimit != nil {
			subject, whose = tb.RateLimitRange, "its"
		}
		diags = append(diags, errorAt(subject, "Tenant over its request budget",
			fmt.Sprintf("tenant %s needs %s requests/hour against source %s but %s rate_limit %s allows %s. Its jobs could not keep their cadence: slow the cadence (the fastest job, %s, polls every %s), or raise rate_limit.",
				t.ID, number(b.RequestsPerHour), src, whose, rate, number(b.LimitPerHour), fastest[src].ID, fastest[src].Cadence)))
	}
	return diags
}

// compileHubBudgets sums the enabled tenants' estimates per source against
// the source's global_rate_limit; over it is a warning, since the hub's
// throttle spreads the load rather than failing.
func (c *compiler) compileHubBudgets(diags *hcl.Diagnostics) {
	for _, s := range c.plan.Sources {
		hb := &HubBudget{Source: s.Name, RequestsPerHour: c.hub[s.Name]}
		if s.GlobalRateLimit != nil {
			hb.LimitPerHour = s.GlobalRateLimit.PerHour()
			if hb.RequestsPerHour > hb.LimitPerHour+1e-9 {
				*diags = append(*diags, warningAt(s.DeclRange, "Hub over the source's global budget",
					fmt.Sprintf("The enabled tenants together need %s requests/hour against source %s but its global_rate_limit %s allows %s; the hub will throttle them and cadences will slip. Raise global_rate_limit or slow some cadences.",
						number(hb.RequestsPerHour), s.Name, *s.GlobalRateLimit, number(hb.LimitPerHour))))
			}
		}
		c.plan.HubBudgets = append(c.plan.HubBudgets, hb)
	}
}

// number prints a request rate with at most one decimal.
func number(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}
