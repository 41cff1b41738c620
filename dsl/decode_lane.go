package dsl

import "github.com/hashicorp/hcl/v2"

var laneSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "weight"}},
}

// decodeLaneBlock decodes a `lane` block: a priority lane whose weight is
// its share of the workers against other lanes.
func (d *decoder) decodeLaneBlock(block *hcl.Block) (*laneBlock, hcl.Diagnostics) {
	l := &laneBlock{Name: block.Labels[0], Weight: 1, DeclRange: block.DefRange}
	content, diags := block.Body.Content(laneSchema)
	if attr, ok := content.Attributes["weight"]; ok {
		w, wd := d.integer(attr, 1, 1000)
		diags = append(diags, wd...)
		l.Weight = w
	}
	return l, diags
}
