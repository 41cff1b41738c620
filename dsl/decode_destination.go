package dsl

import (
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var destinationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "plugin", Required: true}, {Name: "sha256"}, {Name: "config"}, {Name: "batch_size"},
		{Name: "timeout"}, {Name: "allow_single_node"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "circuit_breaker"}},
}

var breakerSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "failures"}, {Name: "cooldown"}},
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// decodeDestinationBlock decodes a `destination` block: a plugin, its
// config, and how the host batches writes to it and backs off failures.
func (d *decoder) decodeDestinationBlock(block *hcl.Block) (*destinationBlock, hcl.Diagnostics) {
	dst := &destinationBlock{
		Name:      block.Labels[0],
		Config:    cty.EmptyObjectVal,
		BatchSize: 500,
		Timeout:   30 * time.Second,
		Breaker:   Breaker{Failures: 5, Cooldown: Duration(time.Minute)},
		DeclRange: block.DefRange,
	}
	content, diags := block.Body.Content(destinationSchema)
	a := content.Attributes
	if attr, ok := a["plugin"]; ok {
		p, pd := d.str(attr, `"sqlite"`)
		diags = append(diags, pd...)
		dst.Plugin = p
		if !pd.HasErrors() && !labelPattern.MatchString(p) {
			diags = append(diags, errorIn(attr, "Invalid plugin name",
				fmt.Sprintf("plugin is a built-in destination (%s) or the NAME of a binary siphon-destination-NAME on the plugin path; %q is neither.", builtinList(), p)))
		}
	}
	if attr, ok := a["sha256"]; ok {
		s, sd := d.str(attr, `"<64 hex digits>"`)
		diags = append(diags, sd...)
		if !sd.HasErrors() && !sha256Pattern.MatchString(s) {
			diags = append(diags, errorIn(attr, "Invalid sha256",
				"sha256 pins an external plugin binary: 64 lowercase hexadecimal digits, as `sha256sum` prints them."))
		}
		dst.SHA256 = s
	}
	if attr, ok := a["config"]; ok {
		v, vd := d.eval(attr.Expr)
		diags = append(diags, vd...)
		dst.ConfigExpr, dst.ConfigRange = attr.Expr, attr.Expr.Range()
		if !vd.HasErrors() {
			ty := v.Type()
			if v.IsNull() || !(ty.IsObjectType() || ty.IsMapType() || ty == cty.DynamicPseudoType) {
				diags = append(diags, errorIn(attr, "Invalid destination config",
					"config must be an object, like { path = \"data.db\" }."))
			} else {
				dst.Config = v
				diags = append(diags, d.warnUnknown(v, attr.Expr.Range())...)
			}
		}
	}
	if attr, ok := a["batch_size"]; ok {
		n, nd := d.integer(attr, 1, 10000)
		diags = append(diags, nd...)
		dst.BatchSize = n
	}
	if attr, ok := a["timeout"]; ok {
		t, td := d.duration(attr, time.Millisecond)
		diags = append(diags, td...)
		dst.Timeout = t
	}
	if attr, ok := a["allow_single_node"]; ok {
		b, bd := d.boolean(attr)
		diags = append(diags, bd...)
		dst.AllowSingleNode = b
	}
	diags = append(diags, onlyOne(content.Blocks, "circuit_breaker")...)
	for _, b := range content.Blocks {
		bc, bd := b.Body.Content(breakerSchema)
		diags = append(diags, bd...)
		if attr, ok := bc.Attributes["failures"]; ok {
			n, nd := d.integer(attr, 1, 1000)
			diags = append(diags, nd...)
			dst.Breaker.Failures = n
		}
		if attr, ok := bc.Attributes["cooldown"]; ok {
			t, td := d.duration(attr, time.Second)
			diags = append(diags, td...)
			dst.Breaker.Cooldown = Duration(t)
		}
	}
	if dst.Plugin != "" && !diags.HasErrors() {
		diags = append(diags, checkBuiltinConfig(dst)...)
	}
	return dst, diags
}
