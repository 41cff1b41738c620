package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

var pipelineSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "resource", Required: true}, {Name: "destination", Required: true}, {Name: "object"},
		{Name: "filter"}, {Name: "fields", Required: true}, {Name: "reverse"}, {Name: "delivery"},
		{Name: "isolate"}, {Name: "cadence"}, {Name: "direction"}, {Name: "authority"},
		{Name: "rollout"}, {Name: "mapping_error_threshold"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "retry"}, {Type: "reconcile"}},
}

var pipelineRetrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "max_attempts"}},
}

var reconcileSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "daily"}, {Name: "weekly"}, {Name: "max_delete"}, {Name: "max_delete_min"}},
}

// decodePipelineBlock decodes a `pipeline` block: which resource goes to
// which destination, mapped how, delivered how, owned by whom.
func (d *decoder) decodePipelineBlock(block *hcl.Block) (*pipelineBlock, hcl.Diagnostics) {
	p := &pipelineBlock{
		Name:                  block.Labels[0],
		Object:                block.Labels[0],
		Delivery:              "queue",
		Direction:             "pull",
		MaxAttempts:           8,
		Reconcile:             Reconcile{Daily: Clock{Hour: 3}, MaxDeletePercent: 0.10, MaxDeleteMin: 25},
		MappingErrorThreshold: 0.20,
		DeclRange:             block.DefRange,
	}
	content, diags := block.Body.Content(pipelineSchema)
	a := content.Attributes
	if attr, ok := a["resource"]; ok {
		r, rd := reference(attr, "resource")
		diags = append(diags, rd...)
		p.Resource = r
	}
	if attr, ok := a["destination"]; ok {
		r, rd := reference(attr, "destination")
		diags = append(diags, rd...)
		p.Destination = r
	}
	if attr, ok := a["object"]; ok {
		s, sd := d.str(attr, `"volunteers"`)
		diags = append(diags, sd...)
		if !sd.HasErrors() && !labelPattern.MatchString(s) {
			diags = append(diags, errorIn(attr, "Invalid object name",
				fmt.Sprintf("object names a destination table; it must match [a-z][a-z0-9_-]*, got %q.", s)))
		}
		p.Object = s
	}
	if attr, ok := a["filter"]; ok {
		p.Filter = attr.Expr
	}
	if attr, ok := a["fields"]; ok {
		p.Fields = d.fieldExprs(attr, &diags)
	}
	if attr, ok := a["reverse"]; ok {
		p.Reverse = d.fieldExprs(attr, &diags)
	}
	if attr, ok := a["delivery"]; ok {
		s, sd := d.oneOf(attr, "queue", "direct")
		diags = append(diags, sd...)
		p.Delivery = s
	}
	if attr, ok := a["isolate"]; ok {
		b, bd := d.boolean(attr)
		diags = append(diags, bd...)
		p.Isolate = b
	}
	if attr, ok := a["cadence"]; ok {
		c, cd := d.duration(attr, minCadence)
		diags = append(diags, cd...)
		p.Cadence = &c
	}
	if attr, ok := a["direction"]; ok {
		s, sd := d.oneOf(attr, "pull", "both")
		diags = append(diags, sd...)
		p.Direction = s
	}
	if attr, ok := a["authority"]; ok {
		diags = append(diags, d.decodeAuthority(attr, p)...)
	}
	if attr, ok := a["rollout"]; ok {
		r, rd := decodeRollout(attr)
		diags = append(diags, rd...)
		p.Rollout = r
	}
	if attr, ok := a["mapping_error_threshold"]; ok {
		f, fd := d.percent(attr)
		diags = append(diags, fd...)
		p.MappingErrorThreshold = f
	}
	diags = append(diags, onlyOne(content.Blocks, "retry")...)
	diags = append(diags, onlyOne(content.Blocks, "reconcile")...)
	for _, b := range content.Blocks {
		switch b.Type {
		case "retry":
			rc, rd := b.Body.Content(pipelineRetrySchema)
			diags = append(diags, rd...)
			if attr, ok := rc.Attributes["max_attempts"]; ok {
				n, nd := d.integer(attr, 1, 1000)
				diags = append(diags, nd...)
				p.MaxAttempts = n
			}
		case "reconcile":
			diags = append(diags, d.decodeReconcile(b, &p.Reconcile)...)
		}
	}
	if !diags.HasErrors() {
		diags = append(diags, p.checkAuthority(block)...)
	}
	return p, diags
}

// fieldExprs reads an object of field expressions in declaration order.
// Their references are checked when the mapping compiles, where record's
// schema is known.
func (d *decoder) fieldExprs(attr *hcl.Attribute, diags *hcl.Diagnostics) []fieldExpr {
	items, id := objectItems(attr)
	*diags = append(*diags, id...)
	out := make([]fieldExpr, 0, len(items))
	for _, it := range items {
		out = append(out, fieldExpr{Name: it.Key, Expr: it.Value, Range: hcl.RangeBetween(it.KeyRange, it.Value.Range()), Text: d.text(it.Value.Range())})
	}
	return out
}

func (d *decoder) decodeAuthority(attr *hcl.Attribute, p *pipelineBlock) hcl.Diagnostics {
	items, diags := objectItems(attr)
	p.HasAuthority, p.AuthorityRange = true, attr.Expr.Range()
	p.Authority, p.AuthorityRanges = map[string]string{}, map[string]hcl.Range{}
	for _, it := range items {
		owner, od := d.oneOf(&hcl.Attribute{Name: "authority." + it.Key, Expr: it.Value, Range: it.Value.Range()}, "source", "destination")
		diags = append(diags, od...)
		p.Authority[it.Key] = owner
		p.AuthorityRanges[it.Key] = it.KeyRange
	}
	return diags
}

// decodeRollout reads `flag.x` or `!flag.x`.
func decodeRollout(attr *hcl.Attribute) (*rolloutRef, hcl.Diagnostics) {
	expr, negate := attr.Expr, false
	if u, ok := expr.(*hclsyntax.UnaryOpExpr); ok && u.Op == hclsyntax.OpLogicalNot {
		expr, negate = u.Val, true
	}
	r, diags := referenceExpr(expr, "rollout", "flag")
	if diags.HasErrors() {
		diags[0].Detail = "rollout takes flag.NAME (the tenants the flag selects) or !flag.NAME (the others), without quotes."
		return nil, diags
	}
	return &rolloutRef{Flag: r, Negate: negate}, nil
}

func (d *decoder) decodeReconcile(b *hcl.Block, rec *Reconcile) hcl.Diagnostics {
	content, diags := b.Body.Content(reconcileSchema)
	a := content.Attributes
	if attr, ok := a["daily"]; ok {
		c, cd := d.clock(attr)
		diags = append(diags, cd...)
		rec.Daily = c
	}
	if attr, ok := a["weekly"]; ok {
		w, wd := d.weekly(attr)
		diags = append(diags, wd...)
		rec.Weekly = &w
	}
	if attr, ok := a["max_delete"]; ok {
		f, fd := d.percent(attr)
		diags = append(diags, fd...)
		rec.MaxDeletePercent = f
	}
	if attr, ok := a["max_delete_min"]; ok {
		n, nd := d.integer(attr, 0, 1<<30)
		diags = append(diags, nd...)
		rec.MaxDeleteMin = n
	}
	return diags
}

// checkAuthority enforces the bidirectional rules: authority only on a
// "both" pipeline, complete there, naming only mapped fields; and every
// destination-owned field can be written back.
func (p *pipelineBlock) checkAuthority(block *hcl.Block) hcl.Diagnostics {
	if !p.HasAuthority {
		if p.Direction == "both" {
			return hcl.Diagnostics{errorAt(block.DefRange, "Missing authority",
				fmt.Sprintf("Pipeline %s has direction = \"both\", so it needs an authority map saying who owns each field, like authority = { \"*\" = \"source\", phone = \"destination\" }.", p.Name))}
		}
		if len(p.Reverse) > 0 {
			return hcl.Diagnostics{errorAt(p.Reverse[0].Range, "reverse on a pull pipeline",
				"reverse writes destination-owned fields back to the source; it applies only with direction = \"both\" and an authority map. Remove it, or set both.")}
		}
		return nil
	}
	if p.Direction != "both" {
		return hcl.Diagnostics{errorAt(p.AuthorityRange, "Authority on a pull pipeline",
			fmt.Sprintf("Pipeline %s only pulls (direction = \"pull\"), so nothing is written back and authority has no effect. Remove authority, or set direction = \"both\".", p.Name))}
	}
	var diags hcl.Diagnostics
	mapped := make([]string, 0, len(p.Fields))
	exprs := map[string]hcl.Expression{}
	for _, f := range p.Fields {
		mapped = append(mapped, f.Name)
		exprs[f.Name] = f.Expr
	}
	for _, k := range sortedKeys(p.Authority) {
		if k != "*" && !contains(mapped, k) {
			diags = append(diags, errorAt(p.AuthorityRanges[k], "Authority for a field the mapping does not produce",
				fmt.Sprintf("Pipeline %s maps no field %q, so no one can own it.%s", p.Name, k, didYouMean(k, mapped))))
		}
	}
	if _, star := p.Authority["*"]; !star {
		var missing []string
		for _, f := range mapped {
			if _, ok := p.Authority[f]; !ok {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			diags = append(diags, errorAt(p.AuthorityRange, "Incomplete authority",
				fmt.Sprintf("Pipeline %s has direction = \"both\", so every mapped field needs an owner; %s %s none. Add them, or a default: \"*\" = \"source\".", p.Name, strings.Join(missing, ", "), plural(len(missing), "has", "have"))))
		}
	}
	// reverse is keyed by the source field written back; a
	// destination-owned field is covered when a reverse expression reads it.
	reversed := map[string]bool{}
	for _, r := range p.Reverse {
		for _, tr := range r.Expr.Variables() {
			if tr.RootName() == "row" && len(tr) > 1 {
				reversed[attrName(tr[1])] = true
			}
		}
	}
	for _, f := range p.Fields {
		if p.owner(f.Name) != "destination" || reversed[f.Name] {
			continue
		}
		if _, ok := plainRecordField(f.Expr); !ok {
			diags = append(diags, errorAt(f.Range, "Destination-owned field needs a reverse mapping",
				fmt.Sprintf("%q is owned by the destination but its mapping is not a plain record.<field>, so Siphon cannot tell which source field to write back. Add reverse = { <source field> = row.%s } (row is the destination record), or map it as record.<field>.", f.Name, f.Name)))
		}
	}
	return diags
}

// owner is who owns a mapped field: its authority entry, else "*".
func (p *pipelineBlock) owner(field string) string {
	if o, ok := p.Authority[field]; ok {
		return o
	}
	return p.Authority["*"]
}

// plainRecordField returns x when expr is exactly record.x.
func plainRecordField(expr hcl.Expression) (string, bool) {
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || tr.RootName() != "record" || len(tr) != 2 {
		return "", false
	}
	name := attrName(tr[1])
	return name, name != ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
