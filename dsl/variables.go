package dsl

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// varAssignment is a variable's value and where it was given. Later
// assignments replace earlier ones, in precedence order: default <
// *.auto.vars.hcl (lexical order) < -var-file < -var.
type varAssignment struct {
	value cty.Value
	rng   hcl.Range
}

// assignVarFile reads `name = value` pairs of a parsed variable file into
// assigned, warning about names no variable block declares.
func assignVarFile(file *hcl.File, vars map[string]*variableBlock, assigned map[string]varAssignment) hcl.Diagnostics {
	attrs, diags := file.Body.JustAttributes()
	for _, name := range sortedKeys(attrs) {
		attr := attrs[name]
		v, ok := vars[name]
		if !ok {
			diags = append(diags, warningAt(attr.NameRange, "Value for undeclared variable",
				fmt.Sprintf("No variable named %q is declared, so this value is ignored.%s Declare it with a variable block, or remove the value.", name, didYouMean(name, sortedKeys(vars)))))
			continue
		}
		val, vd := attr.Expr.Value(nil)
		diags = append(diags, vd...)
		if vd.HasErrors() {
			continue
		}
		conv, err := v.convert(val)
		if err != nil {
			diags = append(diags, errorIn(attr, "Invalid value for variable",
				fmt.Sprintf("The value of variable %q does not fit its type %s: %s.", name, typeexpr.TypeString(v.Type), err)))
			continue
		}
		assigned[name] = varAssignment{value: conv, rng: attr.Expr.Range()}
	}
	return diags
}

// assignVarFlags reads -var name=value flags. Like Terraform, a string
// variable (or one without a type) takes the text literally; any other
// type parses it as an HCL expression, so -var 'ids=["a","b"]' works.
func assignVarFlags(flags map[string]string, vars map[string]*variableBlock, assigned map[string]varAssignment) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(flags) {
		raw := flags[name]
		rng := hcl.Range{Filename: "<value for var." + name + ">", Start: hcl.InitialPos, End: hcl.InitialPos}
		v, ok := vars[name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Value for undeclared variable",
				Detail: fmt.Sprintf("-var %s=… sets no declared variable, so it is ignored.%s", name, didYouMean(name, sortedKeys(vars)))})
			continue
		}
		var val cty.Value
		if v.Type == cty.String || v.Type == cty.DynamicPseudoType {
			val = cty.StringVal(raw)
		} else {
			expr, pd := hclsyntax.ParseExpression([]byte(raw), rng.Filename, hcl.InitialPos)
			ev, ed := cty.DynamicVal, pd
			if !pd.HasErrors() {
				ev, ed = expr.Value(nil)
			}
			if ed.HasErrors() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
					Detail: fmt.Sprintf("-var %s=%s is not a valid %s value; write it as an HCL literal, like -var 'n=5' for a number or -var '%s=[\"a\"]' for a list.", name, raw, typeexpr.TypeString(v.Type), name)})
				continue
			}
			val = ev
		}
		conv, err := v.convert(val)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
				Detail: fmt.Sprintf("-var %s=%s does not fit the variable's type %s: %s.", name, raw, typeexpr.TypeString(v.Type), err)})
			continue
		}
		assigned[name] = varAssignment{value: conv, rng: rng}
	}
	return diags
}

// finalVars resolves each declared variable to its value (the assigned
// one, else the default), marks sensitive ones, and runs the validations.
func finalVars(vars map[string]*variableBlock, assigned map[string]varAssignment, funcs map[string]function.Function) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	values := make(map[string]cty.Value, len(vars))
	for _, name := range sortedKeys(vars) {
		v := vars[name]
		a, ok := assigned[name]
		switch {
		case ok:
		case v.Default != cty.NilVal:
			a = varAssignment{value: v.Default, rng: v.DeclRange}
		default:
			diags = append(diags, errorAt(v.DeclRange, "No value for required variable",
				fmt.Sprintf("Variable %q has no default, so it needs a value: set it in a *.auto.vars.hcl file, with -var-file, or -var %s=….", name, name)))
			values[name] = cty.DynamicVal
			continue
		}
		val := a.value
		if v.Sensitive {
			val = markSensitive(val)
		}
		values[name] = val
		diags = append(diags, validateVar(v, val, a.rng, funcs)...)
	}
	return cty.ObjectVal(values), diags
}

func validateVar(v *variableBlock, val cty.Value, valueRange hcl.Range, funcs map[string]function.Function) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})},
		Functions: funcs,
	}
	for _, rule := range v.Validations {
		ok, cd := rule.Condition.Value(ctx)
		if cd.HasErrors() {
			diags = append(diags, cd...)
			continue
		}
		ok, _ = ok.Unmark()
		if !ok.IsKnown() || ok.IsNull() {
			continue
		}
		if b, err := convert.Convert(ok, cty.Bool); err != nil || b.IsNull() {
			diags = append(diags, errorAt(rule.Condition.Range(), "Invalid validation condition",
				"A validation condition must be true or false."))
			continue
		} else if b.True() {
			continue
		}
		msg := "the value is not valid"
		if m, md := rule.ErrorMessage.Value(ctx); !md.HasErrors() {
			if m, _ = m.Unmark(); m.IsKnown() && m.Type() == cty.String && !m.IsNull() {
				msg = m.AsString()
			}
		}
		subject := valueRange
		if subject.Filename == "" || subject.Filename[0] == '<' {
			subject = rule.Condition.Range()
		}
		diags = append(diags, errorAt(subject, "Invalid value for variable",
			fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", msg, rule.DeclRange)))
	}
	return diags
}
