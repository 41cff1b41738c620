package dsl

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// decodeLocalsBlock decodes a `locals` block: named expressions evaluated
// once, in dependency order, after the variables.
func decodeLocalsBlock(block *hcl.Block) ([]*localDecl, hcl.Diagnostics) {
	attrs, diags := block.Body.JustAttributes()
	var out []*localDecl
	for _, name := range sortedKeys(attrs) {
		attr := attrs[name]
		if !labelPattern.MatchString(name) {
			diags = append(diags, errorAt(attr.NameRange, "Invalid local name",
				fmt.Sprintf("The name %q must start with a lowercase letter and hold only lowercase letters, digits, \"_\" and \"-\".", name)))
			continue
		}
		out = append(out, &localDecl{Name: name, Expr: attr.Expr, DeclRange: attr.Range})
	}
	return out, diags
}
