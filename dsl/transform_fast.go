package dsl

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/ctystrings"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"golang.org/x/text/unicode/norm"
)

// The shapes most mappings are made of — a plain reference, lower(x),
// "${a} ${b}", x != "LITERAL" — are computed here in plain Go on the
// decoded record, without cty. Each gives exactly what HCL would, and
// declines (ok = false) whenever the input is not the simple case it
// handles (a null, a number where a string was expected, …): the
// expression is then evaluated by HCL, which gives the same answer or the
// error message users know.

// fastExpr computes a field's value from the decoded record.
type fastExpr interface {
	eval(rec map[string]any) (v any, ok bool, err error)
}

// pathExpr is a plain reference: record.a.b.
type pathExpr struct{ path []string }

func (p pathExpr) eval(rec map[string]any) (any, bool, error) {
	v, err := lookupPath(rec, p.path)
	if err != nil {
		return nil, true, err
	}
	v, err = normalizeValue(v)
	return v, true, err
}

// stringFuncExpr is lower, upper or trimspace of a reference to a string.
type stringFuncExpr struct {
	path []string
	fn   func(string) string
}

func (s stringFuncExpr) eval(rec map[string]any) (any, bool, error) {
	str, ok := lookupString(rec, s.path)
	if !ok {
		return nil, false, nil
	}
	return ctystrings.Normalize(s.fn(str)), true, nil
}

// templateExpr is a template of literal text and references to strings.
type templateExpr struct {
	parts []templatePart
	size  int
}

type templatePart struct {
	text string
	// path is nil for literal text.
	path []string
}

func (t templateExpr) eval(rec map[string]any) (any, bool, error) {
	var b strings.Builder
	b.Grow(t.size)
	for _, p := range t.parts {
		if p.path == nil {
			b.WriteString(p.text)
			continue
		}
		s, ok := lookupString(rec, p.path)
		if !ok {
			return nil, false, nil
		}
		b.WriteString(s)
	}
	return ctystrings.Normalize(b.String()), true, nil
}

// lookupString reads a reference that holds a string, NFC-normalized as
// cty normalizes every string; ok is false for anything else.
func lookupString(rec map[string]any, path []string) (string, bool) {
	v, err := lookupPath(rec, path)
	if err != nil {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	if !norm.NFC.IsNormalString(s) {
		s = ctystrings.Normalize(s)
	}
	return s, true
}

// fastCond is a filter computed from the decoded record.
type fastCond interface {
	keep(rec map[string]any) (keep bool, ok bool)
}

// compareExpr is record.a == "LITERAL" or !=. As in HCL, a value of
// another type (or null) equals no string.
type compareExpr struct {
	path   []string
	lit    string
	negate bool
}

func (c compareExpr) keep(rec map[string]any) (bool, bool) {
	v, err := lookupPath(rec, c.path)
	if err != nil {
		return false, false
	}
	var equal bool
	switch x := v.(type) {
	case string:
		if !norm.NFC.IsNormalString(x) {
			x = ctystrings.Normalize(x)
		}
		equal = x == c.lit
	case nil, bool, float64, map[string]any, []any:
	default:
		return false, false
	}
	return equal != c.negate, true
}

// fastStringFunc is a function stringFuncExpr computes: the cty standard
// function and the Go function its implementation applies.
type fastStringFunc struct {
	std function.Function
	fn  func(string) string
}

var fastStringFuncs = map[string]fastStringFunc{
	"lower":     {stdlib.LowerFunc, strings.ToLower},
	"upper":     {stdlib.UpperFunc, strings.ToUpper},
	"trimspace": {stdlib.TrimSpaceFunc, strings.TrimSpace},
}

// fastFor returns the Go computation of expr over root, or nil when expr
// is not one of the shapes computed without HCL. A function is computed in
// Go only when funcs holds its standard implementation under that name.
func fastFor(expr hcl.Expression, root string, funcs map[string]function.Function) fastExpr {
	if path := plainPath(expr, root); path != nil {
		return pathExpr{path: path}
	}
	switch e := expr.(type) {
	case *hclsyntax.FunctionCallExpr:
		f, ok := fastStringFuncs[e.Name]
		if !ok || len(e.Args) != 1 || e.ExpandFinal || funcs[e.Name] != f.std {
			return nil
		}
		if path := plainPath(e.Args[0], root); path != nil {
			return stringFuncExpr{path: path, fn: f.fn}
		}
	case *hclsyntax.TemplateExpr:
		if e.IsStringLiteral() {
			return nil
		}
		var t templateExpr
		for _, part := range e.Parts {
			if lit, ok := stringLiteral(part); ok {
				t.parts = append(t.parts, templatePart{text: lit})
				t.size += len(lit)
				continue
			}
			path := plainPath(part, root)
			if path == nil {
				return nil
			}
			t.parts = append(t.parts, templatePart{path: path})
			t.size += 16
		}
		return t
	}
	return nil
}

// fastFilterFor returns the Go computation of a filter, or nil.
func fastFilterFor(expr hcl.Expression) fastCond {
	e, ok := expr.(*hclsyntax.BinaryOpExpr)
	if !ok || (e.Op != hclsyntax.OpEqual && e.Op != hclsyntax.OpNotEqual) {
		return nil
	}
	path, litExpr := plainPath(e.LHS, "record"), e.RHS
	if path == nil {
		path, litExpr = plainPath(e.RHS, "record"), e.LHS
	}
	if path == nil {
		return nil
	}
	lit, ok := stringLiteral(litExpr)
	if !ok {
		return nil
	}
	return compareExpr{path: path, lit: lit, negate: e.Op == hclsyntax.OpNotEqual}
}

// stringLiteral returns the value of a literal string expression ("x").
func stringLiteral(expr hcl.Expression) (string, bool) {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		if !e.IsStringLiteral() {
			return "", false
		}
		expr = e.Parts[0]
	case *hclsyntax.LiteralValueExpr:
	default:
		return "", false
	}
	lit, ok := expr.(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.Type() != cty.String || lit.Val.IsNull() || !lit.Val.IsKnown() || lit.Val.IsMarked() {
		return "", false
	}
	return lit.Val.AsString(), true
}
