package dsl

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true}, {Name: "error_message", Required: true},
	},
}

// decodeVariableBlock decodes a `variable` block. Its attributes are
// literals: a variable's type and default cannot depend on other values.
func decodeVariableBlock(block *hcl.Block) (*variableBlock, hcl.Diagnostics) {
	v := &variableBlock{Name: block.Labels[0], Type: cty.DynamicPseudoType, DeclRange: block.DefRange}
	content, diags := block.Body.Content(variableSchema)
	if attr, ok := content.Attributes["type"]; ok {
		ty, defaults, td := typeexpr.TypeConstraintWithDefaults(attr.Expr)
		diags = append(diags, td...)
		if !td.HasErrors() {
			v.Type, v.Defaults = ty, defaults
		}
	}
	if attr, ok := content.Attributes["description"]; ok {
		// Documentation for readers of the file; checked, not kept.
		_, sd := literal(attr, cty.String)
		diags = append(diags, sd...)
	}
	if attr, ok := content.Attributes["sensitive"]; ok {
		b, bd := literal(attr, cty.Bool)
		diags = append(diags, bd...)
		if !bd.HasErrors() && !b.IsNull() {
			v.Sensitive = b.True()
		}
	}
	if attr, ok := content.Attributes["default"]; ok {
		// A default in error still counts as given, so the variable is not
		// also reported as missing a value; it stays unknown.
		v.Default = cty.DynamicVal
		val, vd := attr.Expr.Value(nil)
		diags = append(diags, vd...)
		if !vd.HasErrors() {
			conv, err := v.convert(val)
			if err != nil {
				diags = append(diags, errorIn(attr, "Invalid default value for variable",
					fmt.Sprintf("The default of variable %q does not fit its type %s: %s.", v.Name, typeexpr.TypeString(v.Type), err)))
			} else {
				v.Default = conv
			}
		}
	}
	for _, b := range content.Blocks {
		vc, vd := b.Body.Content(validationSchema)
		diags = append(diags, vd...)
		cond, okC := vc.Attributes["condition"]
		msg, okM := vc.Attributes["error_message"]
		if !okC || !okM {
			continue
		}
		for _, tr := range cond.Expr.Variables() {
			if tr.RootName() != "var" || len(tr) < 2 || attrName(tr[1]) != v.Name {
				diags = append(diags, errorAt(tr.SourceRange(), "Invalid reference in variable validation",
					fmt.Sprintf("A validation condition may refer only to the variable itself, var.%s.", v.Name)))
			}
		}
		v.Validations = append(v.Validations, &variableValidation{Condition: cond.Expr, ErrorMessage: msg.Expr, DeclRange: b.DefRange})
	}
	return v, diags
}

// convert fits a given value to the variable's type, applying the type's
// optional-attribute defaults first, as Terraform does.
func (v *variableBlock) convert(val cty.Value) (cty.Value, error) {
	if v.Defaults != nil {
		val = v.Defaults.Apply(val)
	}
	return convert.Convert(val, v.Type)
}

// literal evaluates an attribute that may not refer to anything.
func literal(attr *hcl.Attribute, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	val, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		return cty.NilVal, hcl.Diagnostics{errorIn(attr, "Incorrect value type for "+attr.Name,
			fmt.Sprintf("%s must be a %s.", attr.Name, ty.FriendlyName()))}
	}
	if !conv.IsKnown() {
		return cty.NilVal, hcl.Diagnostics{errorIn(attr, "Invalid value for "+attr.Name, "The value must be a literal.")}
	}
	return conv, nil
}

func attrName(step hcl.Traverser) string {
	if a, ok := step.(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}
