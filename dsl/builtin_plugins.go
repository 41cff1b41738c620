package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// builtinAttr is one config attribute a built-in destination takes.
type builtinAttr struct {
	Name     string
	Required bool
}

// builtinDestinations are the destinations shipped in the siphon binary,
// with the config each takes, so plan can check it without launching them.
// They mirror plugins/destinations; external plugins describe their own
// config at run time.
var builtinDestinations = map[string][]builtinAttr{
	"sqlite":   {{Name: "path"}},
	"postgres": {{Name: "dsn", Required: true}, {Name: "schema"}},
	"jsonl":    {{Name: "dir", Required: true}},
}

func builtinList() string {
	names := sortedKeys(builtinDestinations)
	return strings.Join(names, ", ")
}

// checkBuiltinConfig checks a built-in destination's config: unknown
// attributes (with a suggestion), missing required ones, non-strings.
// Values unknown at plan time pass: they are checked when run has them.
func checkBuiltinConfig(dst *destinationBlock) hcl.Diagnostics {
	attrs, builtin := builtinDestinations[dst.Plugin]
	dst.PluginBuiltin = builtin
	if !builtin {
		return nil
	}
	rng := dst.ConfigRange
	if dst.ConfigExpr == nil {
		rng = dst.DeclRange
	}
	v, _ := dst.Config.UnmarkDeep()
	if !v.IsKnown() || v.IsNull() {
		return nil
	}
	keyRanges := map[string]hcl.Range{}
	if dst.ConfigExpr != nil {
		if pairs, d := hcl.ExprMap(dst.ConfigExpr); !d.HasErrors() {
			for _, p := range pairs {
				if k, kd := p.Key.Value(nil); !kd.HasErrors() && k.Type() == cty.String && k.IsKnown() && !k.IsNull() {
					keyRanges[k.AsString()] = p.Key.Range()
				}
			}
		}
	}
	rangeOf := func(name string) hcl.Range {
		if r, ok := keyRanges[name]; ok {
			return r
		}
		return rng
	}
	taken := make([]string, len(attrs))
	for i, a := range attrs {
		taken[i] = a.Name
	}
	var diags hcl.Diagnostics
	present := map[string]cty.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		present[k.AsString()] = val
	}
	for _, name := range sortedKeys(present) {
		if !contains(taken, name) {
			diags = append(diags, errorAt(rangeOf(name), "Unsupported "+dst.Plugin+" config attribute",
				fmt.Sprintf("The %s destination takes %s; %q is not one of them.%s", dst.Plugin, strings.Join(taken, ", "), name, didYouMean(name, taken))))
			continue
		}
		val := present[name]
		if val.IsKnown() && !val.IsNull() && val.Type() != cty.String {
			diags = append(diags, errorAt(rangeOf(name), "Incorrect value type for "+name,
				fmt.Sprintf("%s of the %s destination must be a string; this is a %s.", name, dst.Plugin, val.Type().FriendlyName())))
		} else if val.IsKnown() && !val.IsNull() && val.AsString() == "" {
			diags = append(diags, errorAt(rangeOf(name), "Empty "+name,
				fmt.Sprintf("%s of the %s destination is empty; write a value or leave it out.", name, dst.Plugin)))
		}
	}
	for _, a := range attrs {
		if _, ok := present[a.Name]; a.Required && !ok {
			diags = append(diags, errorAt(rng, "Missing "+dst.Plugin+" config attribute "+a.Name,
				fmt.Sprintf("The %s destination needs config = { %s = \"…\" }.", dst.Plugin, a.Name)))
		}
	}
	return diags
}
