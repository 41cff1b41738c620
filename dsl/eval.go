package dsl

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Values that must not be shown (secrets) or that came from the
// environment carry cty marks. cty functions and HCL operators carry marks
// from their arguments to their results, so a secret stays marked through
// lower(), templates and the rest without any function knowing about it.

// sensitiveMark marks a value that plan output and logs must redact: every
// env() result and every value of a `sensitive = true` variable.
type sensitiveMark struct{}

// envMark records the environment variable a value came from, so plan can
// print "(from env X)" for a value it cannot know yet.
type envMark struct{ Name string }

// markSensitive returns v marked as a secret.
func markSensitive(v cty.Value) cty.Value { return v.Mark(sensitiveMark{}) }

// markFromEnv returns v marked as a secret read from the environment
// variable name.
func markFromEnv(v cty.Value, name string) cty.Value {
	return v.WithMarks(cty.NewValueMarks(sensitiveMark{}, envMark{Name: name}))
}

// isSensitive reports whether v, or anything nested in it, is a secret.
func isSensitive(v cty.Value) bool { return v.HasMarkDeep(sensitiveMark{}) }

// envName returns the environment variable v (or something nested in it)
// came from, or "" when none did. With several, any one of them is returned.
func envName(v cty.Value) string {
	for _, inner := range cty.DeepValues(v) {
		for m := range inner.Marks() {
			if e, ok := m.(envMark); ok {
				return e.Name
			}
		}
	}
	return ""
}

// toValue turns an evaluated configuration value into the Value the plan
// holds: unknown values keep the variable name they wait for, secrets stay
// flagged, and non-string values are shown as their string or JSON form so
// that plan output stays readable.
func toValue(v cty.Value) Value {
	out := Value{Sensitive: isSensitive(v), FromEnv: envName(v)}
	plain, _ := v.UnmarkDeep()
	if !plain.IsWhollyKnown() {
		return out
	}
	out.Known = true
	switch {
	case plain.IsNull():
	case plain.Type() == cty.String:
		out.Text = plain.AsString()
	default:
		if s, err := convert.Convert(plain, cty.String); err == nil && !s.IsNull() {
			out.Text = s.AsString()
		} else if b, err := ctyjson.Marshal(plain, plain.Type()); err == nil {
			out.Text = string(b)
		}
	}
	return out
}
