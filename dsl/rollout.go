package dsl

import (
	"github.com/siphonhq/siphon/internal/schedule"
)

// rollouts decides which of a tenant's pipelines apply: a pipeline with
// rollout = flag.x applies when the flag selects the tenant, one with
// !flag.x when it does not. Each flag involved is reported once, with the
// reason (cohort or percentage bucket).
func (c *compiler) rollouts(t *Tenant) (active []string, variants []Variant) {
	selected := map[string]bool{}
	for _, name := range t.Pipelines {
		r := c.pipelines[name].Rollout
		if r == nil {
			active = append(active, name)
			continue
		}
		sel, done := selected[r.Flag]
		if !done {
			f := c.flags[r.Flag]
			var reason string
			sel, reason = schedule.Selects(f.Stages, f.Stage, t.Cohort, schedule.Bucket(f.Name, t.ID))
			selected[r.Flag] = sel
			variants = append(variants, Variant{Flag: r.Flag, Selected: sel, Reason: reason})
		}
		if sel != r.Negate {
			active = append(active, name)
		}
	}
	return active, variants
}
