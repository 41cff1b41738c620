package dsl

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/ctystrings"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"golang.org/x/text/unicode/norm"
)

// The shapes most mappings are made of — lower(x), "${a} ${b}",
// coalesce(x, ""), x != "LITERAL" — are computed here in plain Go on the
// decoded record, without cty. Each gives exactly what HCL would, and
// declines (ok = false) whenever the input is not the simple case it
// handles (a number where a string was expected, a null object on the
// way, …): the expression is then evaluated by HCL, which gives the same
// answer or the error message users know.
//
// A plain reference (record.a.b) is not evaluated by HCL at all: it reads
// the record directly, and reads as null when a or b is absent or null.

// fastExpr computes a field's value from the decoded record.
type fastExpr interface {
	eval(rec map[string]any, tenant *Tenant) (v any, ok bool, err error)
}

// pathExpr is a plain reference: record.a.b.
type pathExpr struct{ path []string }

func (p pathExpr) eval(rec map[string]any, _ *Tenant) (any, bool, error) {
	v, _, err := lookupPath(rec, p.path)
	if err != nil {
		return nil, true, err
	}
	v, err = normalizeValue(v)
	return v, true, err
}

// tenantAttrExpr is tenant.x: an attribute of the tenant's precomputed
// scope, converted without evaluating anything.
type tenantAttrExpr struct{ name string }

func (e tenantAttrExpr) eval(_ map[string]any, tenant *Tenant) (any, bool, error) {
	scope := tenantValue(tenant)
	if !scope.Type().IsObjectType() || !scope.Type().HasAttribute(e.name) {
		return nil, false, nil
	}
	v, err := fromCty(scope.GetAttr(e.name))
	return v, true, err
}

// constExpr is an expression that reads neither the record nor the tenant
// (var.x, local.x, "literal", upper(var.x)) and was evaluated once at
// compile time. Only primitive values are kept, so that no two rows share
// a map or a list.
type constExpr struct{ v any }

func (c constExpr) eval(map[string]any, *Tenant) (any, bool, error) { return c.v, true, nil }

// jsonencodeExpr is jsonencode(record.a…), written as cty writes JSON:
// object keys sorted, strings NFC-normalized, numbers in plain decimal
// (json.Number ones parsed as cty parses them).
// compileTransform drops it when another expression reads attributes
// inside the value (HCL would then also see those attributes as null).
type jsonencodeExpr struct{ path []string }

func (j jsonencodeExpr) eval(rec map[string]any, _ *Tenant) (any, bool, error) {
	v, viaNull, err := lookupPath(rec, j.path)
	if err != nil || viaNull || v == nil {
		return nil, false, nil
	}
	var b strings.Builder
	if !writeJSON(&b, v) {
		return nil, false, nil
	}
	return ctystrings.Normalize(b.String()), true, nil
}

// writeJSON writes v as cty's JSON encoder would write its cty form; false
// for what it leaves to HCL (invalid numbers, NaN, keys that are not in
// NFC, Go types JSON never decodes).
func writeJSON(b *strings.Builder, v any) bool {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		writeJSONString(b, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	case json.Number:
		n, err := cty.ParseNumberVal(string(x))
		if err != nil {
			return false
		}
		b.WriteString(n.AsBigFloat().Text('f', -1))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if !writeJSON(b, e) {
				return false
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !norm.NFC.IsNormalString(k) {
				return false // cty normalizes names, which may merge keys
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			if !writeJSON(b, x[k]) {
				return false
			}
		}
		b.WriteByte('}')
	default:
		return false
	}
	return true
}

// writeJSONString writes s NFC-normalized and quoted as encoding/json
// quotes it (cty uses encoding/json for strings).
func writeJSONString(b *strings.Builder, s string) {
	if !norm.NFC.IsNormalString(s) {
		s = ctystrings.Normalize(s)
	}
	quoted, _ := json.Marshal(s)
	b.Write(quoted)
}

// strOperand is a string read from the record: a reference that must hold
// a string, or coalesce(reference, "literal") when fallback is set.
type strOperand struct {
	path     []string
	fallback *string
}

// get returns the operand's string, NFC-normalized as cty normalizes every
// string; ok is false when the record holds something else (HCL then
// decides).
func (o strOperand) get(rec map[string]any) (string, bool) {
	v, viaNull, err := lookupPath(rec, o.path)
	if err != nil || viaNull {
		return "", false
	}
	switch x := v.(type) {
	case string:
		if !norm.NFC.IsNormalString(x) {
			x = ctystrings.Normalize(x)
		}
		return x, true
	case nil:
		if o.fallback != nil {
			return *o.fallback, true
		}
	}
	return "", false
}

// operandExpr is coalesce(reference, "literal") as a field.
type operandExpr struct{ op strOperand }

func (o operandExpr) eval(rec map[string]any, _ *Tenant) (any, bool, error) {
	s, ok := o.op.get(rec)
	if !ok {
		return nil, false, nil
	}
	return s, true, nil
}

// stringFuncExpr is lower, upper or trimspace of a string operand.
type stringFuncExpr struct {
	arg strOperand
	fn  func(string) string
}

func (s stringFuncExpr) eval(rec map[string]any, _ *Tenant) (any, bool, error) {
	str, ok := s.arg.get(rec)
	if !ok {
		return nil, false, nil
	}
	return ctystrings.Normalize(s.fn(str)), true, nil
}

// templateExpr is a template of literal text and string operands.
type templateExpr struct {
	parts []templatePart
	size  int
}

type templatePart struct {
	text string
	// op is nil for literal text.
	op *strOperand
}

func (t templateExpr) eval(rec map[string]any, _ *Tenant) (any, bool, error) {
	var b strings.Builder
	b.Grow(t.size)
	for _, p := range t.parts {
		if p.op == nil {
			b.WriteString(p.text)
			continue
		}
		s, ok := p.op.get(rec)
		if !ok {
			return nil, false, nil
		}
		b.WriteString(s)
	}
	return ctystrings.Normalize(b.String()), true, nil
}

// fastCond is a filter computed from the decoded record.
type fastCond interface {
	keep(rec map[string]any) (keep bool, ok bool)
}

// compareExpr is record.a == LITERAL or !=, the literal a string or a
// bool. As in HCL, values of different types (or null) are not equal.
type compareExpr struct {
	path   []string
	lit    any
	negate bool
}

func (c compareExpr) keep(rec map[string]any) (bool, bool) {
	v, viaNull, err := lookupPath(rec, c.path)
	if err != nil || viaNull {
		return false, false
	}
	var equal bool
	switch x := v.(type) {
	case string:
		if !norm.NFC.IsNormalString(x) {
			x = ctystrings.Normalize(x)
		}
		lit, ok := c.lit.(string)
		equal = ok && x == lit
	case bool:
		lit, ok := c.lit.(bool)
		equal = ok && x == lit
	case nil, float64, map[string]any, []any:
	default:
		return false, false
	}
	return equal != c.negate, true
}

// containsExpr is contains(["A", "B"], record.a) for a string field.
type containsExpr struct {
	path []string
	set  []string
}

func (c containsExpr) keep(rec map[string]any) (bool, bool) {
	v, viaNull, err := lookupPath(rec, c.path)
	s, isString := v.(string)
	if err != nil || viaNull || !isString {
		return false, false
	}
	if !norm.NFC.IsNormalString(s) {
		s = ctystrings.Normalize(s)
	}
	for _, e := range c.set {
		if e == s {
			return true, true
		}
	}
	return false, true
}

// notExpr is !cond.
type notExpr struct{ c fastCond }

func (n notExpr) keep(rec map[string]any) (bool, bool) {
	k, ok := n.c.keep(rec)
	return !k, ok
}

// logicExpr is a && b or a || b. HCL evaluates both operands, so both are
// computed here too: either declining means HCL decides the whole.
type logicExpr struct {
	a, b fastCond
	and  bool
}

func (l logicExpr) keep(rec map[string]any) (bool, bool) {
	a, okA := l.a.keep(rec)
	b, okB := l.b.keep(rec)
	if !okA || !okB {
		return false, false
	}
	if l.and {
		return a && b, true
	}
	return a || b, true
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
	if path := plainPath(expr, "tenant"); len(path) == 1 {
		return tenantAttrExpr{name: path[0]}
	}
	if op, ok := operandFor(expr, root, funcs); ok {
		return operandExpr{op: op}
	}
	switch e := expr.(type) {
	case *hclsyntax.FunctionCallExpr:
		if e.Name == "jsonencode" && len(e.Args) == 1 && !e.ExpandFinal && funcs["jsonencode"] == stdlib.JSONEncodeFunc {
			if path := plainPath(e.Args[0], root); path != nil {
				return jsonencodeExpr{path: path}
			}
			return nil
		}
		f, ok := fastStringFuncs[e.Name]
		if !ok || len(e.Args) != 1 || e.ExpandFinal || funcs[e.Name] != f.std {
			return nil
		}
		if op, ok := operandFor(e.Args[0], root, funcs); ok {
			return stringFuncExpr{arg: op, fn: f.fn}
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
			op, ok := operandFor(part, root, funcs)
			if !ok {
				return nil
			}
			t.parts = append(t.parts, templatePart{op: &op})
			t.size += 16
		}
		return t
	}
	return nil
}

// operandFor recognizes a string operand: root.a.b, or
// coalesce(root.a.b, "literal") with the standard coalesce.
func operandFor(expr hcl.Expression, root string, funcs map[string]function.Function) (strOperand, bool) {
	if path := plainPath(expr, root); path != nil {
		return strOperand{path: path}, true
	}
	call, ok := expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "coalesce" || len(call.Args) != 2 || call.ExpandFinal || funcs["coalesce"] != stdlib.CoalesceFunc {
		return strOperand{}, false
	}
	path := plainPath(call.Args[0], root)
	lit, ok := stringLiteral(call.Args[1])
	if path == nil || !ok {
		return strOperand{}, false
	}
	return strOperand{path: path, fallback: &lit}, true
}

// fastFilterFor returns the Go computation of a filter, or nil: string
// and bool comparisons of a record field with a literal, contains() over a
// literal list of strings, and !, && and || of those.
func fastFilterFor(expr hcl.Expression, funcs map[string]function.Function) fastCond {
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return fastFilterFor(e.Expression, funcs)
	case *hclsyntax.UnaryOpExpr:
		if e.Op != hclsyntax.OpLogicalNot {
			return nil
		}
		if c := fastFilterFor(e.Val, funcs); c != nil {
			return notExpr{c: c}
		}
	case *hclsyntax.BinaryOpExpr:
		switch e.Op {
		case hclsyntax.OpLogicalAnd, hclsyntax.OpLogicalOr:
			a, b := fastFilterFor(e.LHS, funcs), fastFilterFor(e.RHS, funcs)
			if a == nil || b == nil {
				return nil
			}
			return logicExpr{a: a, b: b, and: e.Op == hclsyntax.OpLogicalAnd}
		case hclsyntax.OpEqual, hclsyntax.OpNotEqual:
			path, litExpr := plainPath(e.LHS, "record"), e.RHS
			if path == nil {
				path, litExpr = plainPath(e.RHS, "record"), e.LHS
			}
			if path == nil {
				return nil
			}
			lit, ok := primitiveLiteral(litExpr)
			if !ok {
				return nil
			}
			return compareExpr{path: path, lit: lit, negate: e.Op == hclsyntax.OpNotEqual}
		}
	case *hclsyntax.FunctionCallExpr:
		if e.Name != "contains" || len(e.Args) != 2 || e.ExpandFinal || funcs["contains"] != stdlib.ContainsFunc {
			return nil
		}
		list, ok := e.Args[0].(*hclsyntax.TupleConsExpr)
		path := plainPath(e.Args[1], "record")
		if !ok || path == nil || len(list.Exprs) == 0 {
			return nil
		}
		c := containsExpr{path: path}
		for _, item := range list.Exprs {
			s, ok := stringLiteral(item)
			if !ok {
				return nil
			}
			c.set = append(c.set, s)
		}
		return c
	}
	return nil
}

// primitiveLiteral returns the value of a literal string or bool.
func primitiveLiteral(expr hcl.Expression) (any, bool) {
	v, ok := literalValue(expr)
	switch {
	case !ok:
		return nil, false
	case v.Type() == cty.String:
		return v.AsString(), true
	case v.Type() == cty.Bool:
		return v.True(), true
	}
	return nil, false
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
