package dsl

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var sourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "kind"}, {Name: "base_url"}, {Name: "timeout"}, {Name: "rate_limit"}, {Name: "global_rate_limit"},
		{Name: "rate_limit_burst"}, {Name: "global_rate_limit_burst"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "retry"}},
}

var sourceRetrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "attempts"}, {Name: "backoff"}, {Name: "max_backoff"}},
}

// sourceKinds are the APIs Siphon can read.
var sourceKinds = []string{"vomo"}

// decodeSourceBlock decodes a `source` block: an API and the per-tenant
// and hub-wide request budgets against it.
func (d *decoder) decodeSourceBlock(block *hcl.Block) (*sourceBlock, hcl.Diagnostics) {
	s := &sourceBlock{
		Name:      block.Labels[0],
		Kind:      "vomo",
		BaseURL:   Value{Known: true},
		Timeout:   30 * time.Second,
		RateLimit: Rate{N: 60, Per: Duration(time.Minute)},
		Retry:     Retry{Attempts: 6, Backoff: Duration(time.Second), MaxBackoff: Duration(2 * time.Minute)},
		DeclRange: block.DefRange,
	}
	content, diags := block.Body.Content(sourceSchema)
	a := content.Attributes
	if attr, ok := a["kind"]; ok {
		k, kd := d.oneOf(attr, sourceKinds...)
		diags = append(diags, kd...)
		s.Kind = k
	}
	if attr, ok := a["base_url"]; ok {
		v, vd := d.value(attr)
		diags = append(diags, vd...)
		s.BaseURL = v
	}
	if attr, ok := a["timeout"]; ok {
		t, td := d.duration(attr, time.Millisecond)
		diags = append(diags, td...)
		s.Timeout = t
	}
	if attr, ok := a["rate_limit"]; ok {
		r, rd := d.rate(attr)
		diags = append(diags, rd...)
		s.RateLimit = r
	}
	if attr, ok := a["global_rate_limit"]; ok {
		r, rd := d.rate(attr)
		diags = append(diags, rd...)
		s.GlobalRateLimit = &r
	}
	diags = append(diags, d.bursts(s, a)...)
	diags = append(diags, onlyOne(content.Blocks, "retry")...)
	for _, b := range content.Blocks {
		rc, rd := b.Body.Content(sourceRetrySchema)
		diags = append(diags, rd...)
		if attr, ok := rc.Attributes["attempts"]; ok {
			n, nd := d.integer(attr, 1, 100)
			diags = append(diags, nd...)
			s.Retry.Attempts = n
		}
		if attr, ok := rc.Attributes["backoff"]; ok {
			t, td := d.duration(attr, time.Millisecond)
			diags = append(diags, td...)
			s.Retry.Backoff = Duration(t)
		}
		if attr, ok := rc.Attributes["max_backoff"]; ok {
			t, td := d.duration(attr, time.Millisecond)
			diags = append(diags, td...)
			s.Retry.MaxBackoff = Duration(t)
		}
	}
	return s, diags
}

// maxBurst bounds a configured burst; the rate's N bounds it further.
const maxBurst = 1_000_000

// bursts decodes rate_limit_burst and global_rate_limit_burst: how many
// requests a full budget lets through at once (absent: 1). A burst is at
// most the rate's N, since more would let over N requests into one period
// on top of the steady rate; global_rate_limit_burst needs a
// global_rate_limit to apply to.
func (d *decoder) bursts(s *sourceBlock, a hcl.Attributes) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if attr, ok := a["rate_limit_burst"]; ok {
		n, nd := d.integer(attr, 1, maxBurst)
		diags = append(diags, nd...)
		if !nd.HasErrors() && n > s.RateLimit.N {
			diags = append(diags, errorIn(attr, "Burst above the rate",
				fmt.Sprintf("rate_limit_burst %d is more than the %d requests rate_limit %s allows per period; a burst on top of the steady rate would double the source's window. Use at most %d.", n, s.RateLimit.N, s.RateLimit, s.RateLimit.N)))
		} else if !nd.HasErrors() {
			s.RateLimitBurst = n
		}
	}
	if attr, ok := a["global_rate_limit_burst"]; ok {
		n, nd := d.integer(attr, 1, maxBurst)
		diags = append(diags, nd...)
		switch {
		case nd.HasErrors():
		case s.GlobalRateLimit == nil:
			diags = append(diags, errorIn(attr, "Burst without a global rate",
				"global_rate_limit_burst applies to the source's global_rate_limit, which is not set. Set global_rate_limit or remove the burst."))
		case n > s.GlobalRateLimit.N:
			diags = append(diags, errorIn(attr, "Burst above the rate",
				fmt.Sprintf("global_rate_limit_burst %d is more than the %d requests global_rate_limit %s allows per period; a burst on top of the steady rate would double the source's window. Use at most %d.", n, s.GlobalRateLimit.N, *s.GlobalRateLimit, s.GlobalRateLimit.N)))
		default:
			s.GlobalRateLimitBurst = n
		}
	}
	return diags
}

// onlyOne reports every nested block of the type after the first.
func onlyOne(blocks hcl.Blocks, typ string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	var first *hcl.Block
	for _, b := range blocks {
		if b.Type != typ {
			continue
		}
		if first == nil {
			first = b
			continue
		}
		diags = append(diags, errorAt(b.DefRange, "Duplicate "+typ+" block",
			"Only one "+typ+" block is allowed here; the first is at "+first.DefRange.String()+". Merge them."))
	}
	return diags
}
