package dsl

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/siphonhq/siphon/internal/schedule"
)

// parallelTenants is how many tenants each extra compiling goroutine
// needs to be worth starting.
const parallelTenants = 200

// nextRunCount is how many upcoming runs plan shows per job and reconcile.
const nextRunCount = 3

// compileTenants resolves each tenant's references and derives its jobs,
// schedules, budgets and rollout variants. Its cost is linear in tenants ×
// pipelines: everything shared (mappings, fetch chains, flags) was
// compiled once before. Tenants are independent of each other, so a large
// hub compiles them in parallel.
func (c *compiler) compileTenants() hcl.Diagnostics {
	ids := sortedKeys(c.cfg.tenants)
	tenants := make([]*Tenant, len(ids))
	tenantDiags := make([]hcl.Diagnostics, len(ids))
	work := func(w, workers int) {
		cache := map[reconcileKey][]RunKind{}
		for i := w; i < len(ids); i += workers {
			tenants[i], tenantDiags[i] = c.compileTenant(c.cfg.tenants[ids[i]], cache)
		}
	}
	if workers := min(runtime.GOMAXPROCS(0), len(ids)/parallelTenants); workers < 2 {
		work(0, 1)
	} else {
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				work(w, workers)
			}()
		}
		wg.Wait()
	}
	var diags hcl.Diagnostics
	for i, t := range tenants {
		diags = append(diags, tenantDiags[i]...)
		if t == nil {
			continue
		}
		c.plan.Tenants = append(c.plan.Tenants, t)
		for _, b := range t.Budgets {
			c.hub[b.Source] += b.RequestsPerHour
		}
	}
	return diags
}

func (c *compiler) compileTenant(tb *tenantBlock, cache map[reconcileKey][]RunKind) (*Tenant, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	t := &Tenant{
		ID: tb.ID, Name: tb.Name, Timezone: tb.Timezone, Lane: tb.Lane.Name, Cohort: tb.Cohort,
		Credentials: tb.Credentials, Enabled: tb.Enabled, Store: c.plan.Store, BackfillAt: tb.BackfillAt,
		Location: tb.Location, DeclRange: tb.DeclRange, RateLimits: map[string]Rate{},
	}
	if _, ld := resolve(tb.Lane, "lane", c.cfg.lanes); ld.HasErrors() {
		diags = append(diags, ld...)
	}
	if tb.Region != nil {
		region, rd := resolve(*tb.Region, "region", c.regions)
		diags = append(diags, rd...)
		if region != nil {
			t.Region = region.Name
			if region.Store != nil && (!region.Store.Known || region.Store.Text != "") {
				t.Store = *region.Store
			}
		}
	}
	seen := map[string]hcl.Range{}
	for _, r := range tb.Pipelines {
		if prev, dup := seen[r.Name]; dup {
			diags = append(diags, errorAt(r.Range, "Pipeline listed twice on a tenant",
				fmt.Sprintf("Tenant %s already lists pipeline.%s at %s; a tenant runs each pipeline once. Remove one.", tb.ID, r.Name, prev)))
			continue
		}
		seen[r.Name] = r.Range
		if _, pd := resolve(r, "pipeline", c.pipelines); pd.HasErrors() {
			diags = append(diags, pd...)
			continue
		}
		t.Pipelines = append(t.Pipelines, r.Name)
	}
	overrides := map[string]time.Duration{}
	for _, o := range tb.Cadences {
		if _, ok := seen[o.Pipeline.Name]; !ok {
			diags = append(diags, errorAt(o.Pipeline.Range, "Cadence override for a pipeline the tenant does not run",
				fmt.Sprintf("Tenant %s has no pipeline %q; cadence keys are names of the tenant's pipelines.%s", tb.ID, o.Pipeline.Name, didYouMean(o.Pipeline.Name, t.Pipelines))))
			continue
		}
		overrides[o.Pipeline.Name] = o.Cadence
		t.Cadences = append(t.Cadences, Override{Pipeline: o.Pipeline.Name, Cadence: Duration(o.Cadence)})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	for name, s := range c.sources {
		t.RateLimits[name] = s.RateLimit
		if tb.RateLimit != nil {
			t.RateLimits[name] = *tb.RateLimit
		}
	}
	t.scope = tenantScope(tb.Attrs)
	t.Active, t.Variants = c.rollouts(t)
	if d := c.checkObjects(t, tb); d.HasErrors() {
		return nil, d
	}
	c.buildJobs(t, overrides)
	c.reconciles(t, cache)
	diags = append(diags, c.tenantBudgets(t, tb)...)
	return t, diags
}

// checkObjects refuses two active pipelines of a tenant that write the same
// destination object: their writes would overwrite each other's rows. (A
// v1/v2 pair on one object is fine: a flag and its negation never both
// apply.)
func (c *compiler) checkObjects(t *Tenant, tb *tenantBlock) hcl.Diagnostics {
	type target struct{ destination, object string }
	writers := map[target]string{}
	var diags hcl.Diagnostics
	for _, name := range t.Active {
		p := c.pipelines[name]
		key := target{p.Destination, p.Object}
		prev, taken := writers[key]
		if !taken {
			writers[key] = name
			continue
		}
		rng := tb.DeclRange
		for _, r := range tb.Pipelines {
			if r.Name == name {
				rng = r.Range
			}
		}
		diags = append(diags, errorAt(rng, "Two pipelines write one object",
			fmt.Sprintf("For tenant %s, pipelines %s and %s both write object %q of destination %s, so each would overwrite the other's rows. Give one a different object, or make them a rollout pair (rollout = flag.x and !flag.x).", t.ID, prev, name, p.Object, p.Destination)))
	}
	return diags
}

// effectiveCadence is a pipeline's cadence for a tenant: the tenant's
// override, else the pipeline's, else its resource's.
func (c *compiler) effectiveCadence(p *Pipeline, overrides map[string]time.Duration) time.Duration {
	if d, ok := overrides[p.Name]; ok {
		return d
	}
	if p.Cadence != nil {
		return p.Cadence.D()
	}
	return c.resources[p.Resource].Cadence.D()
}

// buildJobs groups a tenant's active pipelines into jobs. Pipelines that
// share a cadence form one shape A job ("every-<cadence>") polled in
// sequence; an isolated pipeline, or one whose cadence no other pipeline
// of the tenant shares while other cadences exist, is a shape B job
// ("pipeline-<name>"). A tenant whose pipelines all share one cadence has
// one shape A job even if it runs a single pipeline, which keeps its job
// ID when a second pipeline at that cadence is added.
func (c *compiler) buildJobs(t *Tenant, overrides map[string]time.Duration) {
	type group struct {
		cadence   time.Duration
		pipelines []*Pipeline
	}
	var groups []*group
	byCadence := map[time.Duration]*group{}
	for _, name := range t.Active {
		p := c.pipelines[name]
		cad := c.effectiveCadence(p, overrides)
		if p.Isolate {
			t.Jobs = append(t.Jobs, c.job(t, "pipeline-"+name, "B", cad, []*Pipeline{p}))
			continue
		}
		g, ok := byCadence[cad]
		if !ok {
			g = &group{cadence: cad}
			byCadence[cad] = g
			groups = append(groups, g)
		}
		g.pipelines = append(g.pipelines, p)
	}
	for _, g := range groups {
		if len(g.pipelines) == 1 && len(groups) > 1 {
			p := g.pipelines[0]
			t.Jobs = append(t.Jobs, c.job(t, "pipeline-"+p.Name, "B", g.cadence, g.pipelines))
			continue
		}
		t.Jobs = append(t.Jobs, c.job(t, "every-"+FormatDuration(g.cadence), "A", g.cadence, g.pipelines))
	}
	sortJobs(t.Jobs)
}

// job builds one job: its fetches (parents first, one per resource), its
// stagger and next runs, and its request rate.
func (c *compiler) job(t *Tenant, id, shape string, cadence time.Duration, pipelines []*Pipeline) *Job {
	j := &Job{ID: id, Shape: shape, Cadence: Duration(cadence)}
	index := map[string]int{}
	for _, p := range pipelines {
		j.Pipelines = append(j.Pipelines, p.Name)
		for _, res := range c.chains[p.Resource] {
			if _, ok := index[res]; !ok {
				index[res] = len(j.Fetches)
				j.Fetches = append(j.Fetches, Fetch{Resource: res, Pipelines: []string{}, Parent: c.resources[res].Parent})
			}
		}
		f := &j.Fetches[index[p.Resource]]
		f.Pipelines = append(f.Pipelines, p.Name)
	}
	j.RequestsPerHour = float64(len(j.Fetches)) * float64(time.Hour) / float64(cadence)
	stagger := schedule.Stagger(t.ID, id, cadence)
	j.Stagger = Duration(stagger)
	if t.Enabled {
		for _, at := range schedule.NextRuns(c.plan.Now, cadence, stagger, nextRunCount) {
			j.NextRuns = append(j.NextRuns, RunTime{UTC: at, Local: localTime(at, t.Location)})
		}
	}
	return j
}

// reconcileKey identifies a reconcile schedule: tenants in one time zone
// with the same policy have the same upcoming runs.
type reconcileKey struct {
	zone   string
	daily  Clock
	weekly Weekly
	hasW   bool
}

// reconciles schedules each active pipeline's reconcile in the tenant's
// time zone; on the weekly day the weekly run replaces the daily. cache
// holds the schedules already computed by this worker.
func (c *compiler) reconciles(t *Tenant, cache map[reconcileKey][]RunKind) {
	for _, name := range t.Active {
		rec := c.pipelines[name].Reconcile
		rp := &ReconcilePlan{Pipeline: name, Daily: rec.Daily, Weekly: rec.Weekly}
		if t.Enabled {
			key := reconcileKey{zone: t.Timezone, daily: rec.Daily, hasW: rec.Weekly != nil}
			if rec.Weekly != nil {
				key.weekly = *rec.Weekly
			}
			next, ok := cache[key]
			if !ok {
				for _, r := range schedule.NextReconciles(c.plan.Now, t.Location, rec.Daily.Hour, rec.Daily.Minute,
					key.hasW, key.weekly.Day, key.weekly.At.Hour, key.weekly.At.Minute, nextRunCount) {
					next = append(next, RunKind{Kind: r.Kind, RunTime: RunTime{UTC: r.At.UTC(), Local: localTime(r.At, t.Location)}})
				}
				cache[key] = next
			}
			rp.Next = append([]RunKind(nil), next...)
		}
		t.Reconciles = append(t.Reconciles, rp)
	}
}
