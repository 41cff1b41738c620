package planview

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/siphonhq/siphon/dsl"
)

// Options say how the human view is drawn.
type Options struct {
	// Color adds ANSI color to diagnostics; only for a terminal.
	Color bool
	// Width wraps diagnostic detail text; 0 does not wrap.
	Width uint
}

// Human writes the plan for people: the shared blocks, then per tenant its
// jobs, schedules, reconciles, budgets and rollout variants, then the hub's
// budget, the diagnostics, and a one-line summary.
func Human(w io.Writer, res *dsl.Result, opts Options) error {
	bw := bufio.NewWriter(w)
	p := &printer{w: bw}
	if res.Plan != nil {
		p.plan(res.Plan)
	}
	if err := p.err; err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := WriteDiagnostics(w, res.Files, res.Diagnostics, opts); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, Summary(res))
	return err
}

// Summary is the last line of the human view, the one a CI log is read
// for: "Plan: 3 tenants, 7 jobs, 12 pipelines; 0 errors, 1 warning."
func Summary(res *dsl.Result) string {
	errs, warns := counts(res.Diagnostics)
	tail := fmt.Sprintf("%s, %s.", count(errs, "error"), count(warns, "warning"))
	if res.Plan == nil {
		return "Plan: invalid configuration; " + tail
	}
	var jobs, pipelines int
	for _, t := range res.Plan.Tenants {
		jobs += len(t.Jobs)
		pipelines += len(t.Active)
	}
	return fmt.Sprintf("Plan: %s, %s, %s; %s", count(len(res.Plan.Tenants), "tenant"), count(jobs, "job"), count(pipelines, "pipeline"), tail)
}

// printer writes lines and keeps the first write error, so the sections
// read as plain sequences of lines.
type printer struct {
	w   io.Writer
	now time.Time
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p *printer) plan(plan *dsl.Plan) {
	p.now = plan.Now
	p.line("Plan of %s at %s", plan.ConfigDir, plan.Now.UTC().Format(utcLayout))
	p.line("  hub store    %s", plan.Store)
	p.line("  config hash  %s", short(plan.ConfigHash))
	p.line("")
	p.shared(plan)
	for _, t := range plan.Tenants {
		p.tenant(t)
	}
	p.hub(plan)
}

// burstText names a configured burst; the default of 1 is not shown.
func burstText(burst int) string {
	if burst <= 1 {
		return ""
	}
	return fmt.Sprintf(" (burst %d)", burst)
}

// shared lists the blocks every tenant uses.
func (p *printer) shared(plan *dsl.Plan) {
	p.line("Sources")
	for _, s := range plan.Sources {
		global := "no hub limit"
		if s.GlobalRateLimit != nil {
			global = s.GlobalRateLimit.String() + burstText(s.GlobalRateLimitBurst) + " for the hub"
		}
		p.line("  %s  %s at %s; %s%s per tenant, %s", s.Name, s.Kind, s.BaseURL, s.RateLimit, burstText(s.RateLimitBurst), global)
	}
	p.line("Resources")
	width := 0
	for _, r := range plan.Resources {
		width = max(width, len(r.Name))
	}
	for _, r := range plan.Resources {
		read := "full scan"
		if r.Cursor != nil {
			read = fmt.Sprintf("incremental on %s (overlap %s)", r.Cursor.Field, r.Cursor.Overlap)
		}
		if r.Parent != "" {
			read += ", per " + r.Parent + " record"
		}
		p.line("  %-*s  %s %s every %s, %s", width, r.Name, r.Source, r.Path, r.Cadence, read)
	}
	p.line("Destinations")
	for _, d := range plan.Destinations {
		kind := "plugin"
		if d.Builtin {
			kind = "built in"
		}
		p.line("  %s  %s (%s), batches of %d%s", d.Name, d.Plugin, kind, d.BatchSize, configText(d.ConfigView))
	}
	p.line("Pipelines")
	width = 0
	for _, pl := range plan.Pipelines {
		width = max(width, len(pl.Name))
	}
	for _, pl := range plan.Pipelines {
		p.line("  %-*s  %s → %s.%s, %s%s", width, pl.Name, pl.Resource, pl.Destination, pl.Object, count(len(pl.Fields), "field"), pipelineNotes(pl))
	}
	if len(plan.Flags) > 0 {
		p.line("Flags")
		for _, f := range plan.Flags {
			p.line("  %s  at %s of %s", f.Name, f.Stage, strings.Join(f.Stages, ", "))
		}
	}
	if len(plan.Regions) > 0 {
		p.line("Regions")
		for _, r := range plan.Regions {
			store := "the hub's store"
			if r.Store != nil {
				store = r.Store.String()
			}
			p.line("  %s  %s", r.Name, store)
		}
	}
	p.line("")
}

func pipelineNotes(pl *dsl.Pipeline) string {
	var notes []string
	if pl.Filter != "" {
		notes = append(notes, "filter "+pl.Filter)
	}
	if pl.Direction == "both" {
		notes = append(notes, "both directions")
	}
	if pl.Isolate {
		notes = append(notes, "isolated")
	}
	if pl.Delivery != "" && pl.Delivery != "queue" {
		notes = append(notes, pl.Delivery+" delivery")
	}
	if pl.Rollout != nil {
		notes = append(notes, "rollout "+rolloutText(pl.Rollout))
	}
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}

func rolloutText(r *dsl.Rollout) string {
	if r.Negate {
		return "!flag." + r.Flag
	}
	return "flag." + r.Flag
}

// configText prints a destination's config, each value redacted as
// dsl.Value says.
func configText(config map[string]dsl.Value) string {
	if len(config) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(config)) {
		parts = append(parts, k+" = "+config[k].String())
	}
	return "; " + strings.Join(parts, ", ")
}

func (p *printer) hub(plan *dsl.Plan) {
	if len(plan.HubBudgets) == 0 {
		return
	}
	p.line("Hub budget")
	for _, b := range plan.HubBudgets {
		p.line("  %s  %s", b.Source, budgetText(b.RequestsPerHour, b.LimitPerHour))
	}
	p.line("")
}

// budgetText is "38 requests/hour of 36000 (0.1%)", or without a limit
// just the requests.
func budgetText(used, limit float64) string {
	if limit <= 0 {
		return number(used) + " requests/hour (no limit)"
	}
	return fmt.Sprintf("%s requests/hour of %s (%.1f%%)", number(used), number(limit), 100*used/limit)
}

// number prints whole numbers without decimals and others with one.
func number(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}

// count says "1 tenant" or "3 tenants".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// short is the first 12 characters of a hash: enough to tell configs apart.
func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

const (
	utcLayout   = "2006-01-02 15:04:05 UTC"
	localLayout = "2006-01-02 15:04:05 MST"
)

// localTime prints an instant in the tenant's zone. The compiled plan
// carries the zone; a plan without one (from JSON) falls back to the text
// dsl rendered.
func localTime(t *dsl.Tenant, rt dsl.RunTime) string {
	if t.Location == nil {
		return rt.Local
	}
	return rt.UTC.In(t.Location).Format(localLayout)
}

func utc(t time.Time) string { return t.UTC().Format(utcLayout) }
