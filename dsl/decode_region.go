package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

var regionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "store"}},
}

// decodeRegionBlock decodes a `region` block: a data-residency region whose
// tenants keep their state in its store (or the hub's when it has none).
func (d *decoder) decodeRegionBlock(block *hcl.Block) (*regionBlock, hcl.Diagnostics) {
	r := &regionBlock{Name: block.Labels[0], DeclRange: block.DefRange}
	content, diags := block.Body.Content(regionSchema)
	if attr, ok := content.Attributes["store"]; ok {
		v, vd := d.value(attr)
		for _, diag := range vd {
			// An unset env() names the variable; say whose store it is.
			if diag.Severity == hcl.DiagError {
				diag.Detail += fmt.Sprintf(" It is region %s's store, and run does not fall back to the hub's store: the region's tenants' data must stay in the region.", r.Name)
			}
		}
		diags = append(diags, vd...)
		r.Store = &v
		switch {
		case v.Known && v.Text != "":
			diags = append(diags, checkStoreURL(v.Text, attr.Expr.Range())...)
		case v.Known && d.mode == ModeRun:
			from := "it is empty"
			if v.FromEnv != "" {
				from = "the environment variable " + v.FromEnv + " it reads is set but empty"
			}
			diags = append(diags, errorIn(attr, "Region store is empty",
				fmt.Sprintf("Region %s declares a store, but %s: its tenants' data must stay in the region, so run will not fall back to the hub's store. Set the value, or remove store to use the hub's.", r.Name, from)))
		}
	}
	return r, diags
}

// checkStoreURL reports a store address of a scheme Siphon cannot open.
func checkStoreURL(s string, rng hcl.Range) hcl.Diagnostics {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return nil // file:PATH or a bare path: the embedded file store
	}
	switch scheme {
	case "redis", "rediss", "redis+cluster":
		return nil
	}
	return hcl.Diagnostics{errorAt(rng, "Unsupported store",
		fmt.Sprintf("A store is file:PATH or a path (the embedded file store), redis://, rediss:// or redis+cluster://h1:p1,h2:p2; %q is none of these.", scheme+"://"))}
}
