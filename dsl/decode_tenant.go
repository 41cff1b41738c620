package dsl

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var tenantSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "name"}, {Name: "region"}, {Name: "timezone"}, {Name: "lane"}, {Name: "cohort"},
		{Name: "credentials"}, {Name: "pipelines", Required: true}, {Name: "cadence"},
		{Name: "rate_limit"}, {Name: "enabled"}, {Name: "backfill_at"},
	},
}

// cohorts are the named groups a staged rollout reaches before percentages.
var cohorts = []string{"internal", "friendly", "none"}

// decodeTenantBlock decodes a `tenant` block: one customer, its pipelines
// and the settings that place and pace its work.
func (d *decoder) decodeTenantBlock(block *hcl.Block) (*tenantBlock, hcl.Diagnostics) {
	id := block.Labels[0]
	t := &tenantBlock{
		ID: id, Name: id, Timezone: "UTC", Location: time.UTC,
		Lane: ref{Name: "standard", Range: block.DefRange}, Credentials: id,
		Enabled: true, BackfillAt: Clock{Hour: 2}, DeclRange: block.DefRange,
	}
	content, diags := block.Body.Content(tenantSchema)
	a := content.Attributes
	if attr, ok := a["name"]; ok {
		s, sd := d.str(attr, `"Acme Food Bank"`)
		diags = append(diags, sd...)
		t.Name = s
	}
	if attr, ok := a["region"]; ok {
		s, sd := d.str(attr, `"us"`)
		diags = append(diags, sd...)
		t.Region = &ref{Name: s, Range: attr.Expr.Range()}
	}
	if attr, ok := a["timezone"]; ok {
		s, sd := d.str(attr, `"America/Chicago"`)
		diags = append(diags, sd...)
		if !sd.HasErrors() {
			loc, err := d.location(s)
			if err != nil {
				diags = append(diags, errorIn(attr, "Unknown time zone",
					fmt.Sprintf("%q is not an IANA time zone name; write one like \"America/Chicago\", \"Europe/Berlin\" or \"UTC\".", s)))
			} else {
				t.Timezone, t.Location = s, loc
			}
		}
	}
	if attr, ok := a["lane"]; ok {
		s, sd := d.str(attr, `"standard"`)
		diags = append(diags, sd...)
		t.Lane = ref{Name: s, Range: attr.Expr.Range()}
	}
	if attr, ok := a["cohort"]; ok {
		s, sd := d.oneOf(attr, cohorts...)
		diags = append(diags, sd...)
		t.Cohort = s
	}
	if attr, ok := a["credentials"]; ok {
		s, sd := d.str(attr, `"acme"`)
		diags = append(diags, sd...)
		t.Credentials = s
	}
	if attr, ok := a["pipelines"]; ok {
		exprs, ed := hcl.ExprList(attr.Expr)
		if ed.HasErrors() {
			diags = append(diags, errorIn(attr, "Invalid pipelines",
				"pipelines is a list of pipeline references, like [pipeline.volunteers, pipeline.shifts]."))
		}
		for _, e := range exprs {
			r, rd := referenceExpr(e, "pipelines", "pipeline")
			diags = append(diags, rd...)
			if !rd.HasErrors() {
				t.Pipelines = append(t.Pipelines, r)
			}
		}
	}
	if attr, ok := a["cadence"]; ok {
		items, id := objectItems(attr)
		diags = append(diags, id...)
		for _, it := range items {
			c, cd := d.duration(&hcl.Attribute{Name: "cadence", Expr: it.Value, Range: it.Value.Range()}, minCadence)
			diags = append(diags, cd...)
			t.Cadences = append(t.Cadences, tenantCadence{Pipeline: ref{Name: it.Key, Range: it.KeyRange}, Cadence: c})
		}
	}
	if attr, ok := a["rate_limit"]; ok {
		r, rd := d.rate(attr)
		diags = append(diags, rd...)
		t.RateLimit, t.RateLimitRange = &r, attr.Expr.Range()
	}
	if attr, ok := a["enabled"]; ok {
		b, bd := d.boolean(attr)
		diags = append(diags, bd...)
		t.Enabled = b
	}
	if attr, ok := a["backfill_at"]; ok {
		c, cd := parsedStr(d, attr, `"02:00" or "now"`, "time", parseBackfillAt)
		diags = append(diags, cd...)
		t.BackfillAt = c
	}
	t.Attrs = tenantAttrs(t)
	return t, diags
}

// tenantAttrs are a tenant's values as mapping expressions see them
// (tenant.name, tenant.id, …). Every tenant has the same attributes, so
// mappings can be checked against any one of them.
func tenantAttrs(t *tenantBlock) map[string]cty.Value {
	region := ""
	if t.Region != nil {
		region = t.Region.Name
	}
	return map[string]cty.Value{
		"id":          cty.StringVal(t.ID),
		"name":        cty.StringVal(t.Name),
		"region":      cty.StringVal(region),
		"timezone":    cty.StringVal(t.Timezone),
		"lane":        cty.StringVal(t.Lane.Name),
		"cohort":      cty.StringVal(t.Cohort),
		"credentials": cty.StringVal(t.Credentials),
		"enabled":     cty.BoolVal(t.Enabled),
	}
}

// location loads a time zone once per load: thousands of tenants share a
// handful of zones.
func (d *decoder) location(name string) (*time.Location, error) {
	if loc, ok := d.locations[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("no zone")
	}
	d.locations[name] = loc
	return loc, nil
}

// parseBackfillAt reads backfill_at: a local time of day, or "now" to
// backfill a new tenant at once.
func parseBackfillAt(s string) (Clock, error) {
	if strings.TrimSpace(s) == "now" {
		return Clock{Now: true}, nil
	}
	c, err := ParseClock(s)
	if err != nil {
		return Clock{}, fmt.Errorf("%w, or \"now\"", err)
	}
	return c, nil
}
