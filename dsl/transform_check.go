package dsl

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// refScope is what a mapping (root "record") or reverse (root "row")
// expression may refer to. fields, when not nil, are the root's known
// fields: a reference to any other is a plan error, not a null at run time.
// tenant, when an object, is a tenant's scope, to check tenant.x against.
type refScope struct {
	root, other  string
	fields       map[string]string
	vars, locals cty.Value
	tenant       cty.Value
}

// check reports every reference in expr the scope does not allow.
func (s refScope) check(expr hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		diags = append(diags, s.checkTraversal(tr)...)
	}
	return diags
}

func (s refScope) checkTraversal(tr hcl.Traversal) hcl.Diagnostics {
	rng := tr.SourceRange()
	root := tr.RootName()
	switch root {
	case s.root:
		return s.checkField(tr)
	case "tenant":
		if len(tr) < 2 {
			return nil
		}
		return checkObjectRef(tr, s.tenant, "tenant attribute")
	case "var":
		return checkObjectRef(tr, s.vars, "variable")
	case "local":
		return checkObjectRef(tr, s.locals, "local value")
	case "record":
		return hcl.Diagnostics{errorDiag(rng, "Invalid use of record",
			"reverse expressions read the destination row, not the source record; write row.<field>, naming a mapped field.")}
	case "row":
		return hcl.Diagnostics{errorDiag(rng, "Invalid use of row",
			"row (the destination record) is only available in reverse; mapping and filter expressions read the source record: write record.<field>.")}
	}
	allowed := []string{s.root, "tenant", "var", "local"}
	return hcl.Diagnostics{errorDiag(rng, "Unknown name "+root,
		fmt.Sprintf("There is nothing named %q here; these expressions can use %s, tenant, var and local.%s",
			root, s.root, nameSuggestion(root, allowed)))}
}

// checkField reports root.x when the root's fields are known and x is not
// one of them.
func (s refScope) checkField(tr hcl.Traversal) hcl.Diagnostics {
	if s.fields == nil || len(tr) < 2 {
		return nil
	}
	name, ok := stepName(tr[1])
	if !ok {
		return nil
	}
	if typ, known := s.fields[name]; known {
		if len(tr) > 2 && typ != "json" {
			return hcl.Diagnostics{errorDiag(tr.SourceRange(), fmt.Sprintf("Invalid reference into %s.%s", s.root, name),
				fmt.Sprintf("%s.%s is a %s; it has no attributes or elements. Write %s.%s.", s.root, name, typ, s.root, name))}
		}
		return nil
	}
	whose := "The record's schema"
	if s.root == "row" {
		whose = "The mapping"
	}
	names := sortedNames(s.fields)
	return hcl.Diagnostics{errorDiag(tr.SourceRange(), fmt.Sprintf("Unknown field %s.%s", s.root, name),
		fmt.Sprintf("%s has no field %q.%s Its fields are %s.", whose, name, nameSuggestion(name, names), strings.Join(names, ", ")))}
}

// checkObjectRef reports var.x, local.x or tenant.x when obj has no
// attribute x. An obj that is not an object (not known here) checks nothing.
func checkObjectRef(tr hcl.Traversal, obj cty.Value, what string) hcl.Diagnostics {
	root := tr.RootName()
	if len(tr) < 2 {
		return hcl.Diagnostics{errorDiag(tr.SourceRange(), "Invalid reference to "+root,
			fmt.Sprintf("%s needs a name after it, like %s.example.", root, root))}
	}
	name, ok := stepName(tr[1])
	if !ok || !obj.Type().IsObjectType() || obj.Type().HasAttribute(name) {
		return nil
	}
	names := make([]string, 0, len(obj.Type().AttributeTypes()))
	for n := range obj.Type().AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	if root == "tenant" {
		return hcl.Diagnostics{errorDiag(tr.SourceRange(), "Unknown tenant attribute",
			fmt.Sprintf("Tenants have no attribute %q.%s Expressions can read tenant.%s.", name, nameSuggestion(name, names), strings.Join(names, ", tenant.")))}
	}
	return hcl.Diagnostics{errorDiag(tr.SourceRange(), "Reference to undeclared "+what,
		fmt.Sprintf("No %s named %q is declared.%s", what, name, nameSuggestion(name, names)))}
}

// inferContext evaluates expressions at compile time over unknown values:
// obj stands for every record, and the tenant for every tenant. What
// survives is each expression's result type, and any error that would
// fail every record.
func (t *Transform) inferContext(root string, obj, tenant cty.Value) *hcl.EvalContext {
	anyTenant := cty.DynamicVal
	if tenant.Type().IsObjectType() {
		anyTenant = cty.UnknownVal(tenant.Type())
	}
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{root: obj, "tenant": anyTenant, "var": t.vars, "local": t.locals},
		Functions: t.funcs,
	}
}

// unknownObject is an object of unknown values of the given field types,
// or an unknown value of any type when the fields are not known.
func unknownObject(types map[string]string) cty.Value {
	if types == nil {
		return cty.DynamicVal
	}
	attrs := make(map[string]cty.Value, len(types))
	for name, t := range types {
		attrs[name] = cty.UnknownVal(schemaCtyType(t))
	}
	return cty.ObjectVal(attrs)
}

// inferType evaluates expr over unknowns and names its result type. It
// also returns the value, which is known when expr depends on nothing that
// varies per record or tenant.
func inferType(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, string, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.DynamicVal, "json", diags
	}
	switch v.Type() {
	case cty.String:
		return v, "string", diags
	case cty.Number:
		return v, "number", diags
	case cty.Bool:
		return v, "bool", diags
	}
	return v, "json", diags
}

// constantField returns the value of an expression that reads neither the
// record nor the tenant, when it is known and primitive.
func constantField(expr hcl.Expression, v cty.Value) (fastExpr, bool) {
	for _, tr := range expr.Variables() {
		if root := tr.RootName(); root != "var" && root != "local" {
			return nil, false
		}
	}
	plain, _ := v.UnmarkDeep()
	if !plain.IsKnown() || !(plain.IsNull() || plain.Type().IsPrimitiveType()) {
		return nil, false
	}
	out, err := fromPlainCty(plain)
	if err != nil {
		return nil, false
	}
	return constExpr{v: out}, true
}

// checkFilterType reports a filter that cannot be true or false.
func checkFilterType(expr hcl.Expression, ctx *hcl.EvalContext) hcl.Diagnostics {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	if ty := v.Type(); ty != cty.Bool && ty != cty.DynamicPseudoType {
		diags = append(diags, errorDiag(expr.Range(), "Filter is not a condition",
			fmt.Sprintf("The filter yields a %s; it must be true or false, like record.membership_status != \"REMOVED\".", ty.FriendlyName())))
	}
	return diags
}

// nameSuggestion is " Did you mean "x"?" for the candidate closest to a
// misspelled name (an edit distance below 3), or "".
func nameSuggestion(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// sortedNames returns a schema's field names in order.
func sortedNames(fields map[string]string) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// mismatchedComparisons reports record.x == LITERAL (or !=) where the
// schema gives x a type the literal cannot have: HCL compares without
// converting, so the result would be the same for every record.
func mismatchedComparisons(expr hcl.Expression, schema map[string]string) hcl.Diagnostics {
	node, ok := expr.(hclsyntax.Node)
	if !ok || schema == nil {
		return nil
	}
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		op, ok := n.(*hclsyntax.BinaryOpExpr)
		if !ok || (op.Op != hclsyntax.OpEqual && op.Op != hclsyntax.OpNotEqual) {
			return nil
		}
		path, other := plainPath(op.LHS, "record"), op.RHS
		if path == nil {
			path, other = plainPath(op.RHS, "record"), op.LHS
		}
		lit, isLit := literalValue(other)
		if path == nil || len(path) != 1 || !isLit {
			return nil
		}
		fieldType := schemaCtyType(schema[path[0]])
		if fieldType == cty.DynamicPseudoType || lit.Type() == fieldType {
			return nil
		}
		ref := traversalString(append(hcl.Traversal{hcl.TraverseRoot{Name: "record"}}, hcl.TraverseAttr{Name: path[0]}))
		hint := ""
		if fieldType == cty.Number && lit.Type() == cty.String {
			if _, err := cty.ParseNumberVal(lit.AsString()); err == nil {
				hint = fmt.Sprintf(" Write the number without quotes: %s.", lit.AsString())
			}
		}
		if fieldType == cty.String && lit.Type() != cty.String {
			hint = fmt.Sprintf(" Quote the value: \"%s\".", literalText(lit))
		}
		diags = append(diags, errorDiag(op.Range(), "Comparison of different types",
			fmt.Sprintf("%s is a %s and %s is a %s; HCL compares without converting, so this is %v for every record.%s",
				ref, schema[path[0]], literalText(lit), lit.Type().FriendlyName(), op.Op == hclsyntax.OpNotEqual, hint)))
		return nil
	})
	return diags
}

// literalValue is the value of a literal string, number or bool.
func literalValue(expr hcl.Expression) (cty.Value, bool) {
	if s, ok := stringLiteral(expr); ok {
		return cty.StringVal(s), true
	}
	lit, ok := expr.(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.IsNull() || !lit.Val.IsKnown() || !lit.Val.Type().IsPrimitiveType() {
		return cty.NilVal, false
	}
	return lit.Val, true
}

// literalText prints a primitive literal as written.
func literalText(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case cty.Bool:
		return fmt.Sprint(v.True())
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	}
	return v.GoString()
}
