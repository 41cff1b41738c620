package planview

import (
	"strings"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/schedule"
)

// tenant prints one tenant: who and where, its budget and variants, each
// job with its next runs, and its reconcile schedules.
func (p *printer) tenant(t *dsl.Tenant) {
	title := "Tenant " + t.ID
	if t.Name != "" && t.Name != t.ID {
		title += " (" + t.Name + ")"
	}
	if !t.Enabled {
		title += " [disabled: no jobs run, no budget counted]"
	}
	p.line("%s", title)
	region := "none"
	if t.Region != "" {
		region = t.Region
	}
	cohort := "none"
	if t.Cohort != "" {
		cohort = t.Cohort
	}
	p.line("  time zone %s · lane %s · cohort %s · region %s · credentials %s", t.Timezone, t.Lane, cohort, region, t.Credentials)
	p.line("  store     %s", t.Store)
	p.line("  pipelines %s", list(t.Active))
	if inactive := minus(t.Pipelines, t.Active); len(inactive) > 0 {
		p.line("  inactive  %s (not selected by their rollout)", strings.Join(inactive, ", "))
	}
	for _, v := range t.Variants {
		state := "not selected"
		if v.Selected {
			state = "selected"
		}
		p.line("  rollout   %s %s: %s", v.Flag, state, v.Reason)
	}
	for _, b := range t.Budgets {
		rate := ""
		if r, ok := t.RateLimits[b.Source]; ok {
			rate = " at " + r.String()
		}
		p.line("  budget    %s %s%s", b.Source, budgetText(b.RequestsPerHour, b.LimitPerHour), rate)
	}
	for _, j := range t.Jobs {
		p.job(t, j)
	}
	p.reconciles(t)
	p.line("")
}

func (p *printer) job(t *dsl.Tenant, j *dsl.Job) {
	p.line("  job %s: shape %s, every %s, stagger %s, %s requests/hour", j.ID, j.Shape, j.Cadence, j.Stagger, number(j.RequestsPerHour))
	p.line("    pipelines %s", list(j.Pipelines))
	for i, f := range j.Fetches {
		label := "    fetches   "
		if i > 0 {
			label = "              "
		}
		p.line("%s%s", label, fetchText(f))
	}
	for i, r := range j.NextRuns {
		label := "    next runs "
		if i > 0 {
			label = "              "
		}
		p.line("%s%s   %s", label, utc(r.UTC), localTime(t, r))
	}
}

// fetchText is "users → volunteers", "forms (parent, read for its
// children)" or "form_completions per forms record → form_answers".
func fetchText(f dsl.Fetch) string {
	text := f.Resource
	if f.Parent != "" {
		text += " per " + f.Parent + " record"
	}
	if len(f.Pipelines) == 0 {
		return text + " (parent, read for its children)"
	}
	return text + " → " + strings.Join(f.Pipelines, ", ")
}

// reconciles prints the tenant's reconcile schedules, one group per
// distinct schedule so that pipelines sharing one are listed together, each
// with its next daily and next weekly run.
func (p *printer) reconciles(t *dsl.Tenant) {
	type group struct {
		pipelines []string
		plan      *dsl.ReconcilePlan
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, r := range t.Reconciles {
		key := scheduleText(r)
		g, ok := byKey[key]
		if !ok {
			g = &group{plan: r}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.pipelines = append(g.pipelines, r.Pipeline)
	}
	for _, g := range groups {
		p.line("  reconcile %s: %s", strings.Join(g.pipelines, ", "), scheduleText(g.plan))
		if r, ok := firstOf(g.plan.Next, "daily"); ok {
			p.line("    next daily  %s   %s", utc(r.UTC), localTime(t, r))
		}
		if g.plan.Weekly == nil {
			continue
		}
		r, ok := firstOf(g.plan.Next, "weekly")
		if !ok {
			r, ok = p.nextWeekly(t, g.plan)
		}
		if ok {
			p.line("    next weekly %s   %s", utc(r.UTC), localTime(t, r))
		}
	}
}

// firstOf finds the first scheduled reconcile of a kind.
func firstOf(next []dsl.RunKind, kind string) (dsl.RunTime, bool) {
	for _, n := range next {
		if n.Kind == kind {
			return n.RunTime, true
		}
	}
	return dsl.RunTime{}, false
}

// nextWeekly finds the next weekly reconcile when it falls beyond the few
// runs the plan lists (a Monday plan of a Sunday weekly), with the same
// schedule arithmetic the plan uses.
func (p *printer) nextWeekly(t *dsl.Tenant, r *dsl.ReconcilePlan) (dsl.RunTime, bool) {
	loc := t.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation(t.Timezone); err != nil {
			return dsl.RunTime{}, false
		}
	}
	w := r.Weekly
	at := schedule.NextWeekly(p.now, loc, w.Day, w.At.Hour, w.At.Minute)
	return dsl.RunTime{UTC: at.UTC(), Local: at.Format(localLayout)}, true
}

// scheduleText is "daily 03:00" or "daily 03:00, weekly sun 04:00 (replaces the daily)".
func scheduleText(r *dsl.ReconcilePlan) string {
	text := "daily " + r.Daily.String()
	if r.Weekly != nil {
		text += ", weekly " + r.Weekly.String() + " (replaces that day's daily)"
	}
	return text
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// minus is all minus some, in all's order.
func minus(all, some []string) []string {
	drop := map[string]bool{}
	for _, s := range some {
		drop[s] = true
	}
	var out []string
	for _, a := range all {
		if !drop[a] {
			out = append(out, a)
		}
	}
	return out
}
