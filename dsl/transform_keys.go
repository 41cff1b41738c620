package dsl

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// compileKeyFunc compiles a child resource's parent_key: an expression over
// the parent `record` yielding the id (a string or number) or ids (a list)
// that fill the child path's placeholder. Only record may be referenced.
func compileKeyFunc(expr hcl.Expression, funcs map[string]function.Function) (*KeyFunc, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		if root := tr.RootName(); root != "record" {
			diags = append(diags, errorDiag(tr.SourceRange(), "Invalid reference in parent_key",
				fmt.Sprintf("parent_key is computed from the parent record alone; %q is not available here. Write an expression over record, like record.id or record.form_ids.%s",
					root, nameSuggestion(root, []string{"record"}))))
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	k := &KeyFunc{funcs: funcs}
	if path := plainPath(expr, "record"); path != nil {
		k.path = path
		return k, nil
	}
	k.expr = expr
	k.reads = &readShape{}
	collectReads(k.reads, expr, "record")
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"record": cty.DynamicVal}, Functions: funcs}
	v, evalDiags := expr.Value(ctx)
	diags = append(diags, evalDiags...)
	if evalDiags.HasErrors() {
		return nil, diags
	}
	if ty := v.Type(); !keyType(ty) {
		diags = append(diags, errorDiag(expr.Range(), "Invalid parent_key",
			fmt.Sprintf("parent_key yields a value of type %s; it must be a string, a number or a list of them, like record.id or record.form_ids.", ty.FriendlyName())))
		return nil, diags
	}
	return k, diags
}

// keyType reports whether a parent_key result of type ty can give ids.
func keyType(ty cty.Type) bool {
	switch {
	case ty == cty.String || ty == cty.Number || ty == cty.DynamicPseudoType:
		return true
	case ty.IsListType() || ty.IsSetType():
		return keyType(ty.ElementType())
	case ty.IsTupleType():
		for _, e := range ty.TupleElementTypes() {
			if !keyType(e) {
				return false
			}
		}
		return true
	}
	return false
}

// Keys returns the parent ids of one parent record, in order and without
// repeats. A null key (or null list elements) yields no id: that parent
// has no children to read. rec is a JSON-decoded record, as for Apply.
// Whole numbers print without a decimal point ("42", not "42.0").
func (k *KeyFunc) Keys(rec map[string]any) (keys []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			keys, err = nil, fmt.Errorf("parent_key: internal error: %v", p)
		}
	}()
	var v any
	if k.path != nil {
		raw, _, err := lookupPath(rec, k.path)
		if err != nil {
			return nil, fmt.Errorf("parent_key: %w", err)
		}
		if v, err = normalizeValue(raw); err != nil {
			return nil, fmt.Errorf("parent_key: %w", err)
		}
	} else {
		obj, err := recordObject(rec, k.reads, nil)
		if err != nil {
			return nil, fmt.Errorf("parent_key: record%w", err)
		}
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"record": obj}, Functions: k.funcs}
		cv, diags := k.expr.Value(ctx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parent_key: %w", diagError(diags))
		}
		if v, err = fromCty(cv); err != nil {
			return nil, fmt.Errorf("parent_key: %w", err)
		}
	}
	var out []string
	seen := make(map[string]bool)
	add := func(e any) error {
		s, ok, err := keyText(e)
		if err != nil || !ok || seen[s] {
			return err
		}
		seen[s] = true
		out = append(out, s)
		return nil
	}
	if list, ok := v.([]any); ok {
		for i, e := range list {
			if err := add(e); err != nil {
				return nil, fmt.Errorf("parent_key [%d]: %w", i, err)
			}
		}
		return out, nil
	}
	if err := add(v); err != nil {
		return nil, fmt.Errorf("parent_key: %w", err)
	}
	return out, nil
}

// keyText prints one id; ok is false for null.
func keyText(v any) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		if x == "" {
			return "", false, fmt.Errorf("the id is an empty string")
		}
		return x, true, nil
	case int64:
		return strconv.FormatInt(x, 10), true, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true, nil
	}
	return "", false, fmt.Errorf("an id must be a string or a number, not %s", goKind(v))
}
