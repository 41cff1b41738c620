package destinations

import (
	"sort"

	"github.com/siphonhq/siphon/plugins/sdk"
	"github.com/zclconf/go-cty/cty"
)

// Attr is one string attribute a built-in destination's config takes.
type Attr struct {
	Name     string
	Required bool
}

// Settings is a decoded config: the known string values, and whether every
// attribute was known (at plan time some are not yet).
type Settings struct {
	values   map[string]string
	Complete bool
}

// Get returns the attribute's value, or def when it was not set.
func (s Settings) Get(name, def string) string {
	if v, ok := s.values[name]; ok {
		return v
	}
	return def
}

// DecodeStrings checks a built-in's config object against the attributes it
// takes, all of them strings: unknown attributes, missing required ones,
// non-strings and empty strings are errors with the attribute's path. Values
// unknown at plan time are accepted and leave Settings incomplete, so the
// destination validates what it can and applies nothing.
func DecodeStrings(cfg sdk.Config, attrs ...Attr) (Settings, sdk.Diagnostics) {
	s := Settings{values: map[string]string{}, Complete: true}
	v := cfg.Value
	if v == cty.NilVal || v.IsNull() {
		v = cty.EmptyObjectVal
	}
	if !v.IsKnown() {
		s.Complete = false
		return s, nil
	}
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		return s, sdk.Errorf(nil, "config must be an object, not %s", ty.FriendlyName())
	}
	var diags sdk.Diagnostics
	taken := map[string]bool{}
	for _, a := range attrs {
		taken[a.Name] = true
	}
	present := map[string]cty.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		present[k.AsString()] = val
	}
	var unknownNames []string
	for name := range present {
		if !taken[name] {
			unknownNames = append(unknownNames, name)
		}
	}
	sort.Strings(unknownNames)
	for _, name := range unknownNames {
		diags = append(diags, sdk.Errorf([]string{name}, "unsupported attribute %q", name)...)
	}
	for _, a := range attrs {
		val, ok := present[a.Name]
		if !ok || val.IsNull() {
			if a.Required {
				diags = append(diags, sdk.Errorf([]string{a.Name}, "%s is required", a.Name)...)
			}
			continue
		}
		if !val.IsKnown() {
			s.Complete = false
			continue
		}
		if val.Type() != cty.String {
			diags = append(diags, sdk.Errorf([]string{a.Name}, "%s must be a string, not %s", a.Name, val.Type().FriendlyName())...)
			continue
		}
		str := val.AsString()
		if str == "" {
			diags = append(diags, sdk.Errorf([]string{a.Name}, "%s must not be empty", a.Name)...)
			continue
		}
		s.values[a.Name] = str
	}
	return s, diags
}
