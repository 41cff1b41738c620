package dsl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var flagSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "stages", Required: true}, {Name: "stage", Required: true}},
}

// decodeFlagBlock decodes a `flag` block: a staged rollout. Stages are
// cumulative, so their order is the rollout's order: "internal", then
// "friendly", then ascending percentages.
func (d *decoder) decodeFlagBlock(block *hcl.Block) (*flagBlock, hcl.Diagnostics) {
	f := &flagBlock{Name: block.Labels[0], DeclRange: block.DefRange}
	content, diags := block.Body.Content(flagSchema)
	if attr, ok := content.Attributes["stages"]; ok {
		v, vd := d.structural(attr, cty.List(cty.String), `["internal", "friendly", "10%", "100%"]`)
		diags = append(diags, vd...)
		if !vd.HasErrors() {
			for _, s := range v.AsValueSlice() {
				if s.IsNull() {
					diags = append(diags, errorIn(attr, "Invalid flag stage", "A stage is null; write \"internal\", \"friendly\" or a percentage like \"10%\"."))
					continue
				}
				f.Stages = append(f.Stages, s.AsString())
			}
			diags = append(diags, checkStages(f.Stages, attr.Expr.Range())...)
		}
	}
	if attr, ok := content.Attributes["stage"]; ok {
		s, sd := d.str(attr, `"10%"`)
		diags = append(diags, sd...)
		f.Stage = s
		if !sd.HasErrors() && f.Stages != nil && !contains(f.Stages, s) {
			diags = append(diags, errorIn(attr, "Unknown flag stage",
				fmt.Sprintf("Stage %q is not one of the flag's stages (%s).%s", s, strings.Join(f.Stages, ", "), didYouMean(s, f.Stages))))
		}
	}
	return f, diags
}

// checkStages enforces the stage order: "internal", "friendly", then
// strictly ascending whole percentages from 0% to 100%.
func checkStages(stages []string, rng hcl.Range) hcl.Diagnostics {
	if len(stages) == 0 {
		return hcl.Diagnostics{errorAt(rng, "No flag stages", `A flag needs at least one stage, like ["internal", "friendly", "10%", "100%"].`)}
	}
	rank, last := 0, -1
	seen := map[string]bool{}
	for _, s := range stages {
		if seen[s] {
			return hcl.Diagnostics{errorAt(rng, "Duplicate flag stage", fmt.Sprintf("Stage %q is listed twice.", s))}
		}
		seen[s] = true
		var r int
		switch {
		case s == "internal":
			r = 1
		case s == "friendly":
			r = 2
		case strings.HasSuffix(s, "%"):
			n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
			if err != nil || n < 0 || n > 100 {
				return hcl.Diagnostics{errorAt(rng, "Invalid flag stage",
					fmt.Sprintf("%q is not a stage; a percentage stage is a whole number from 0 to 100 followed by %%, like \"10%%\".", s))}
			}
			if n <= last {
				return hcl.Diagnostics{errorAt(rng, "Percentage stages not ascending",
					fmt.Sprintf("Stage %q follows %d%%; percentages must rise, like \"10%%\", \"50%%\", \"100%%\".", s, last))}
			}
			last, r = n, 3
		default:
			return hcl.Diagnostics{errorAt(rng, "Invalid flag stage",
				fmt.Sprintf("%q is not a stage; write \"internal\", \"friendly\" or a percentage like \"10%%\".%s", s, didYouMean(s, []string{"internal", "friendly"})))}
		}
		if r < rank {
			return hcl.Diagnostics{errorAt(rng, "Flag stages out of order",
				fmt.Sprintf("Stage %q comes too late: stages are \"internal\", then \"friendly\", then ascending percentages.", s))}
		}
		rank = r
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
