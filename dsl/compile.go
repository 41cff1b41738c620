package dsl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// compiler turns a decoded config into a Plan: it resolves references,
// compiles mappings once per pipeline, and derives each tenant's jobs,
// schedules, budgets and rollout variants.
type compiler struct {
	cfg   *config
	funcs map[string]function.Function
	opts  Options
	plan  *Plan

	sources      map[string]*Source
	resources    map[string]*Resource
	destinations map[string]*Destination
	pipelines    map[string]*Pipeline
	flags        map[string]*Flag
	regions      map[string]*Region
	lanes        map[string]*Lane
	// chains is, per resource, its ancestors from the root down and then
	// itself: the fetch order a pipeline on it needs.
	chains map[string][]string
	// hub sums enabled tenants' requests per hour by source.
	hub map[string]float64
}

func compile(cfg *config, funcs map[string]function.Function, opts Options) (*Plan, hcl.Diagnostics) {
	c := &compiler{
		cfg: cfg, funcs: funcs, opts: opts,
		plan:         &Plan{ConfigDir: cfg.dir, Now: opts.Now.UTC()},
		sources:      map[string]*Source{},
		resources:    map[string]*Resource{},
		destinations: map[string]*Destination{},
		pipelines:    map[string]*Pipeline{},
		flags:        map[string]*Flag{},
		regions:      map[string]*Region{},
		lanes:        map[string]*Lane{},
		chains:       map[string][]string{},
		hub:          map[string]float64{},
	}
	var diags hcl.Diagnostics
	c.plan.Store = Value{Text: filepath.Join(cfg.dir, ".siphon", "state.db"), Known: true}
	if s := cfg.siphon; s != nil && s.StoreSet && (!s.Store.Known || s.Store.Text != "") {
		c.plan.Store = s.Store
	}
	c.compileSources()
	diags = append(diags, c.compileResources()...)
	c.compileDestinations()
	c.compileSmallBlocks()
	diags = append(diags, c.compilePipelines()...)
	if diags.HasErrors() {
		return nil, diags
	}
	diags = append(diags, c.compileTenants()...)
	c.compileHubBudgets(&diags)
	return c.plan, diags
}

func (c *compiler) compileSources() {
	for _, name := range sortedKeys(c.cfg.sources) {
		s := c.cfg.sources[name]
		out := &Source{
			Name: s.Name, Kind: s.Kind, BaseURL: s.BaseURL, Timeout: Duration(s.Timeout),
			RateLimit: s.RateLimit, GlobalRateLimit: s.GlobalRateLimit,
			RateLimitBurst: s.RateLimitBurst, GlobalRateLimitBurst: s.GlobalRateLimitBurst, Retry: s.Retry, DeclRange: s.DeclRange,
		}
		c.sources[name] = out
		c.plan.Sources = append(c.plan.Sources, out)
	}
}

// resolve reports a reference to a block that is not declared, suggesting
// the closest declared name.
func resolve[V any](r ref, kind string, declared map[string]V) (V, hcl.Diagnostics) {
	v, ok := declared[r.Name]
	if ok {
		return v, nil
	}
	names := sortedKeys(declared)
	detail := fmt.Sprintf("No %s named %q is declared.%s", kind, r.Name, didYouMean(r.Name, names))
	if suggest(r.Name, names) == "" && len(names) > 0 && len(names) <= 10 {
		detail += fmt.Sprintf(" Declared %ss: %s.", kind, strings.Join(names, ", "))
	}
	if len(names) == 0 {
		detail = fmt.Sprintf("No %s named %q is declared; there are no %s blocks. Declare one: %s %q { … }.", kind, r.Name, kind, kind, r.Name)
	}
	return v, hcl.Diagnostics{errorAt(r.Range, "Reference to undeclared "+kind, detail)}
}

func (c *compiler) compileResources() hcl.Diagnostics {
	var diags hcl.Diagnostics
	deps := map[string][]string{}
	for _, name := range sortedKeys(c.cfg.resources) {
		r := c.cfg.resources[name]
		src, sd := resolve(r.Source, "source", c.cfg.sources)
		diags = append(diags, sd...)
		out := &Resource{
			Name: r.Name, Source: r.Source.Name, Path: r.Path, PrimaryKey: r.PrimaryKey,
			Cursor: r.Cursor, Cadence: Duration(r.Cadence), Placeholder: r.PlaceholderName,
			VersionField: r.VersionField, VersionHash: r.VersionHash, DeclRange: r.DeclRange,
		}
		if r.VersionHash {
			out.VersionField = ""
		}
		schema := r.Schema
		if schema == nil && src != nil {
			schema = builtinSchema(src.Kind, r.Path)
		}
		for _, f := range sortedKeys(schema) {
			out.Schema = append(out.Schema, Field{Name: f, Type: schema[f]})
		}
		if schema != nil {
			diags = append(diags, checkKeyFields(r, schema)...)
		}
		if r.Parent != nil {
			_, pd := resolve(*r.Parent, "resource", c.cfg.resources)
			diags = append(diags, pd...)
			if !pd.HasErrors() {
				out.Parent = r.Parent.Name
				deps[name] = []string{r.Parent.Name}
				if parent := c.cfg.resources[r.Parent.Name]; len(parent.PrimaryKey) > 1 && r.ParentKey == nil {
					diags = append(diags, errorAt(r.Parent.Range, "Parent with a composite key needs parent_key",
						fmt.Sprintf("Parent %s has the composite primary key %s, so {%s} in the path cannot tell which part to use. Set parent_key = record.<field> on %s.", r.Parent.Name, strings.Join(parent.PrimaryKey, ", "), r.PlaceholderName, name)))
				}
				if r.Parent.Name != name && c.cfg.resources[r.Parent.Name].Source.Name != r.Source.Name {
					diags = append(diags, errorAt(r.Parent.Range, "Parent on another source",
						fmt.Sprintf("Resource %s reads source %s but its parent %s reads source %s; a parent and its children come from one API.", name, r.Source.Name, r.Parent.Name, c.cfg.resources[r.Parent.Name].Source.Name)))
				}
			}
		}
		if r.ParentKey != nil {
			k, kd := compileKeyFunc(r.ParentKey, c.funcs)
			diags = append(diags, kd...)
			out.ParentKey = k
		}
		c.resources[name] = out
		c.plan.Resources = append(c.plan.Resources, out)
	}
	order, cycles := topoSort(sortedKeys(c.cfg.resources), deps)
	for _, cyc := range cycles {
		diags = append(diags, errorAt(c.cfg.resources[cyc[0]].Parent.Range, "Cycle in resource parents",
			fmt.Sprintf("These resources are each other's parents: %s. A parent must be fetched before its child, so the chain has to end at a resource without a parent.", cycleText("resource.", cyc))))
	}
	if len(cycles) == 0 {
		for _, name := range order {
			chain := []string{name}
			if p := c.resources[name].Parent; p != "" {
				chain = append(append([]string{}, c.chains[p]...), name)
			}
			c.chains[name] = chain
		}
	}
	return diags
}

// checkKeyFields checks the fields a resource reads records by (primary
// key, cursor, version) against its schema, where one is known: a typo
// there would make every record fail at run time.
func checkKeyFields(r *resourceBlock, schema map[string]string) hcl.Diagnostics {
	fields := sortedKeys(schema)
	missing := func(field, role string, rng hcl.Range, fix string) *hcl.Diagnostic {
		return errorAt(rng, "Unknown field in "+role,
			fmt.Sprintf("Records of resource %s have no field %q.%s %s", r.Name, field, didYouMean(field, fields), fix))
	}
	var diags hcl.Diagnostics
	for _, k := range r.PrimaryKey {
		if _, ok := schema[k]; !ok {
			diags = append(diags, missing(k, "primary_key", r.PrimaryKeyRange,
				"Set primary_key to the field or fields that identify a record, like [\"project_date_id\", \"user_id\"]."))
		}
	}
	if r.Cursor != nil {
		if _, ok := schema[r.Cursor.Field]; !ok {
			diags = append(diags, missing(r.Cursor.Field, "cursor", r.CursorRange, "The cursor field is the record's last-modified time."))
		}
	}
	if r.VersionRange != nil {
		if _, ok := schema[r.VersionField]; !ok {
			diags = append(diags, missing(r.VersionField, "version", *r.VersionRange, "Name the field that versions records, or write version = \"hash\"."))
		}
	}
	return diags
}

func (c *compiler) compileDestinations() {
	for _, name := range sortedKeys(c.cfg.destinations) {
		d := c.cfg.destinations[name]
		// The plugin gets the plain values (secrets included: it needs
		// them, and marked values cannot be encoded); display keeps marks.
		plain, _ := d.Config.UnmarkDeep()
		out := &Destination{
			Name: d.Name, Plugin: d.Plugin, Builtin: d.PluginBuiltin, SHA256: d.SHA256, Config: plain,
			ConfigView: configView(d.Config), BatchSize: d.BatchSize, Timeout: Duration(d.Timeout),
			Breaker: d.Breaker, AllowSingleNode: d.AllowSingleNode, DeclRange: d.DeclRange,
		}
		c.destinations[name] = out
		c.plan.Destinations = append(c.plan.Destinations, out)
	}
}

// configView is a destination config for display, each value redacted as
// its marks say.
func configView(v cty.Value) map[string]Value {
	view := map[string]Value{}
	plain, _ := v.Unmark()
	if !plain.IsKnown() || plain.IsNull() || !(plain.Type().IsObjectType() || plain.Type().IsMapType()) {
		return view
	}
	for it := plain.ElementIterator(); it.Next(); {
		k, val := it.Element()
		view[k.AsString()] = toValue(val)
	}
	return view
}

// compileSmallBlocks compiles lanes, flags and regions, which need nothing
// resolved.
func (c *compiler) compileSmallBlocks() {
	if _, ok := c.cfg.lanes["standard"]; !ok {
		c.cfg.lanes["standard"] = &laneBlock{Name: "standard", Weight: 1}
	}
	for _, name := range sortedKeys(c.cfg.lanes) {
		l := &Lane{Name: name, Weight: c.cfg.lanes[name].Weight}
		c.lanes[name] = l
		c.plan.Lanes = append(c.plan.Lanes, l)
	}
	for _, name := range sortedKeys(c.cfg.flags) {
		f := c.cfg.flags[name]
		out := &Flag{Name: name, Stages: f.Stages, Stage: f.Stage}
		c.flags[name] = out
		c.plan.Flags = append(c.plan.Flags, out)
	}
	for _, name := range sortedKeys(c.cfg.regions) {
		out := &Region{Name: name, Store: c.cfg.regions[name].Store}
		c.regions[name] = out
		c.plan.Regions = append(c.plan.Regions, out)
	}
}

func (c *compiler) compilePipelines() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(c.cfg.pipelines) {
		p := c.cfg.pipelines[name]
		res, rd := resolve(p.Resource, "resource", c.cfg.resources)
		diags = append(diags, rd...)
		_, dd := resolve(p.Destination, "destination", c.cfg.destinations)
		diags = append(diags, dd...)
		out := &Pipeline{
			Name: name, Resource: p.Resource.Name, Destination: p.Destination.Name, Object: p.Object,
			Delivery: p.Delivery, Isolate: p.Isolate, Direction: p.Direction, MaxAttempts: p.MaxAttempts,
			Reconcile: p.Reconcile, MappingErrorThreshold: p.MappingErrorThreshold, DeclRange: p.DeclRange,
		}
		if p.Cadence != nil {
			cd := Duration(*p.Cadence)
			out.Cadence = &cd
		}
		if p.HasAuthority {
			out.Authority = p.Authority
		}
		if p.Rollout != nil {
			_, fd := resolve(p.Rollout.Flag, "flag", c.cfg.flags)
			diags = append(diags, fd...)
			out.Rollout = &Rollout{Flag: p.Rollout.Flag.Name, Negate: p.Rollout.Negate}
		}
		if p.Filter != nil {
			out.Filter = exprText(c.cfg, p.Filter)
		}
		var schema map[string]string
		if res != nil {
			schema = res.Schema
			if schema == nil {
				if src, ok := c.cfg.sources[res.Source.Name]; ok {
					schema = builtinSchema(src.Kind, res.Path)
				}
			}
		}
		t, fields, td := compileTransform(transformSpec{
			Pipeline: name, Fields: p.Fields, Filter: p.Filter, Reverse: p.Reverse, Schema: schema,
			Vars: c.cfg.varValues, Locals: c.cfg.localValues, Funcs: c.funcs,
			Tenant: tenantScope(tenantAttrs(&tenantBlock{})),
		})
		diags = append(diags, td...)
		out.Transform, out.Fields = t, fields
		out.Reverse = reverseMap(p)
		out.MappingHash = mappingHash(c.cfg, p)
		c.pipelines[name] = out
		c.plan.Pipelines = append(c.plan.Pipelines, out)
	}
	return diags
}

// reverseMap lists, for a bidirectional pipeline, what is written back to
// each source field: the explicit reverse expressions, and row.<field> for
// each destination-owned field mapped as a plain record.<field>.
func reverseMap(p *pipelineBlock) map[string]string {
	if p.Direction != "both" {
		return nil
	}
	out := map[string]string{}
	for _, f := range p.Fields {
		if src, ok := plainRecordField(f.Expr); ok && p.owner(f.Name) == "destination" {
			out[src] = "row." + f.Name
		}
	}
	for _, r := range p.Reverse {
		out[r.Name] = r.Text
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// exprText is an expression's source text.
func exprText(cfg *config, expr hcl.Expression) string { return sourceText(cfg.files, expr.Range()) }

// mappingHash identifies what a record maps to: the filter, fields and
// reverse as written, plus the values of every variable and local they
// read. Renaming the pipeline or changing its cadence leaves it alone.
func mappingHash(cfg *config, p *pipelineBlock) string {
	h := sha256.New()
	var exprs []hcl.Expression
	if p.Filter != nil {
		fmt.Fprintf(h, "filter\x00%s\x00", exprText(cfg, p.Filter))
		exprs = append(exprs, p.Filter)
	}
	for _, f := range p.Fields {
		fmt.Fprintf(h, "field\x00%s\x00%s\x00", f.Name, exprText(cfg, f.Expr))
		exprs = append(exprs, f.Expr)
	}
	for _, f := range p.Reverse {
		fmt.Fprintf(h, "reverse\x00%s\x00%s\x00", f.Name, exprText(cfg, f.Expr))
		exprs = append(exprs, f.Expr)
	}
	fmt.Fprintf(h, "object\x00%s\x00", p.Object)
	used := map[string]cty.Value{}
	for _, e := range exprs {
		for _, tr := range e.Variables() {
			root := tr.RootName()
			if (root != "var" && root != "local") || len(tr) < 2 {
				continue
			}
			name := attrName(tr[1])
			obj := cfg.varValues
			if root == "local" {
				obj = cfg.localValues
			}
			if obj.Type().IsObjectType() && obj.Type().HasAttribute(name) {
				used[root+"."+name] = obj.GetAttr(name)
			}
		}
	}
	keys := sortedKeys(used)
	for _, k := range keys {
		v, _ := used[k].UnmarkDeep()
		if v.IsWhollyKnown() {
			if b, err := ctyjson.Marshal(v, v.Type()); err == nil {
				fmt.Fprintf(h, "%s\x00%s\x00", k, b)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// localTime is how plan shows an instant in a tenant's time zone.
func localTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// sortJobs orders a tenant's jobs by cadence, then ID.
func sortJobs(jobs []*Job) {
	sort.Slice(jobs, func(i, j int) bool {
		if jobs[i].Cadence != jobs[j].Cadence {
			return jobs[i].Cadence < jobs[j].Cadence
		}
		return jobs[i].ID < jobs[j].ID
	})
}
