package sdk

import (
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// The helpers below read a destination's config object attribute by
// attribute, appending a diagnostic with the attribute's path to diags when
// a value has the wrong type, so Configure can report every problem at once:
//
//	var diags sdk.Diagnostics
//	diags = append(diags, cfg.Unexpected("dir")...)
//	dir := cfg.String("dir", &diags)
//	if cfg.Known("dir") && dir == "" {
//		diags = append(diags, sdk.Errorf([]string{"dir"}, "dir is required")...)
//	}
//
// An absent, null or unknown attribute reads as the zero value with no
// diagnostic; use Known to tell "unknown until run" (plan time) apart.

// Attr returns the attribute name of the config object, or a null value
// when the config is not a known object or lacks the attribute.
func (c Config) Attr(name string) cty.Value {
	v := c.Value
	if v.Type() == cty.NilType || v.IsNull() || !v.IsKnown() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	v, _ = v.Unmark()
	if v.Type().IsObjectType() {
		if !v.Type().HasAttribute(name) {
			return cty.NullVal(cty.DynamicPseudoType)
		}
		return v.GetAttr(name)
	}
	key := cty.StringVal(name)
	if !v.HasIndex(key).True() {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return v.Index(key)
}

// Known reports whether attribute name is known: absent and null attributes
// are known; a value computed only at run time is not.
func (c Config) Known(name string) bool {
	if c.Value.Type() != cty.NilType && !c.Value.IsKnown() {
		return false
	}
	return c.Attr(name).IsWhollyKnown()
}

// String reads a string attribute (numbers and bools are converted).
func (c Config) String(name string, diags *Diagnostics) string {
	var s string
	c.decode(name, cty.String, &s, diags)
	return s
}

// Int reads a whole-number attribute.
func (c Config) Int(name string, diags *Diagnostics) int64 {
	var n int64
	c.decode(name, cty.Number, &n, diags)
	return n
}

// Bool reads a bool attribute.
func (c Config) Bool(name string, diags *Diagnostics) bool {
	var b bool
	c.decode(name, cty.Bool, &b, diags)
	return b
}

// Unexpected returns an error diagnostic for each attribute of the config
// not in allowed, so a typo in the destination block is caught at plan.
func (c Config) Unexpected(allowed ...string) Diagnostics {
	v := c.Value
	if v.Type() == cty.NilType || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() {
		return nil
	}
	var names []string
	for n := range v.Type().AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	var diags Diagnostics
	for _, n := range names {
		if !contains(allowed, n) {
			diags = append(diags, Diagnostic{
				Severity: SeverityError,
				Summary:  "unsupported argument " + n,
				Detail:   "this destination accepts: " + strings.Join(allowed, ", "),
				Path:     []string{n},
			})
		}
	}
	return diags
}

func (c Config) decode(name string, want cty.Type, into any, diags *Diagnostics) {
	v := c.Attr(name)
	if v.IsNull() || !v.IsWhollyKnown() {
		return
	}
	v, _ = v.UnmarkDeep()
	conv, err := convert.Convert(v, want)
	if err == nil {
		err = gocty.FromCtyValue(conv, into)
	}
	if err != nil {
		*diags = append(*diags, Diagnostic{
			Severity: SeverityError,
			Summary:  "invalid value for " + name,
			Detail:   err.Error(),
			Path:     []string{name},
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
