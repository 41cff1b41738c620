package dsl

import "github.com/hashicorp/hcl/v2"

var siphonSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "store"}},
}

// decodeSiphonBlock decodes the `siphon` block: hub-wide settings.
func (d *decoder) decodeSiphonBlock(block *hcl.Block) (*siphonBlock, hcl.Diagnostics) {
	s := &siphonBlock{DeclRange: block.DefRange}
	content, diags := block.Body.Content(siphonSchema)
	if attr, ok := content.Attributes["store"]; ok {
		v, vd := d.value(attr)
		diags = append(diags, vd...)
		s.Store, s.StoreSet = v, true
		if v.Known && v.Text != "" {
			diags = append(diags, checkStoreURL(v.Text, attr.Expr.Range())...)
		}
	}
	return s, diags
}
