package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/runtime"
)

// BackfillEstimate is what a tenant's backfill will cost: per resource and
// in total, the records, pages and source requests of its capped full
// scans, and the wall time those requests take under the tenant's own
// rate_limit and under its share of the source's global_rate_limit.
type BackfillEstimate struct {
	Tenant    string             `json:"tenant"`
	Resources []ResourceEstimate `json:"resources"`
	Records   int64              `json:"records"`
	Pages     int64              `json:"pages"`
	Requests  int64              `json:"requests"`
	// Budgets is one line per source the resources read from.
	Budgets []EstimateBudget `json:"budgets"`
}

// ResourceEstimate is one resource's part of a backfill estimate.
type ResourceEstimate struct {
	Resource  string   `json:"resource"`
	Source    string   `json:"source"`
	Path      string   `json:"path"`
	Pipelines []string `json:"pipelines"`
	// Records is meta.total of the first page; for a child resource, which
	// is read per parent, it is unknown (0) and Estimated says so.
	Records int64 `json:"records"`
	PerPage int   `json:"per_page"`
	Pages   int64 `json:"pages"`
	// Requests is pages + 1: the scan's pages and the probe that fixes its
	// cap against the source's clock.
	Requests int64 `json:"requests"`
	// Estimated: the figures are a guess, not read from the source (a
	// child resource: one page per parent record); Note says how.
	Estimated bool   `json:"estimated,omitempty"`
	Note      string `json:"note,omitempty"`
}

// EstimateBudget is the wall time of a backfill's requests to one source,
// at the pace the runtime holds a backfill to (runtime.BackfillPace).
type EstimateBudget struct {
	Source   string `json:"source"`
	Requests int64  `json:"requests"`
	// TenantRate is the tenant's effective rate_limit for the source;
	// BackfillShare the share of it a backfill may use (the rest is kept
	// for polling) and TenantSeconds the wall time at that share.
	TenantRate    string  `json:"tenant_rate"`
	BackfillShare float64 `json:"backfill_share"`
	TenantSeconds float64 `json:"tenant_seconds"`
	// HubRate is the backfill's share of the tenant's lane's share of the
	// source's global_rate_limit (by lane weight among the enabled
	// tenants), empty when the source has none; HubSeconds the wall time
	// at the slower of that and the tenant's backfill share.
	HubRate    string  `json:"hub_rate,omitempty"`
	HubSeconds float64 `json:"hub_seconds,omitempty"`
}

// EstimateBackfill reads page 1 of each of the tenant's active resources
// (only those named in resources, when it is not empty) with the tenant's
// token and estimates the backfill. A child resource is estimated from its
// parent's count at one page per parent. tweak, when not nil, adjusts each
// source client's settings (tests). tenant onboard calls it too.
func EstimateBackfill(ctx context.Context, plan *dsl.Plan, t *dsl.Tenant, token string, resources []string,
	tweak func(*vomo.Config)) (BackfillEstimate, error) {
	est := BackfillEstimate{Tenant: t.ID, Resources: []ResourceEstimate{}, Budgets: []EstimateBudget{}}
	byName := map[string]*dsl.Resource{}
	for _, r := range plan.Resources {
		byName[r.Name] = r
	}
	sources := map[string]*dsl.Source{}
	for _, s := range plan.Sources {
		sources[s.Name] = s
	}
	// The tenant's resources, in the order its pipelines list them.
	var order []string
	users := map[string][]string{}
	for _, p := range plan.Pipelines {
		if !slices.Contains(t.Active, p.Name) {
			continue
		}
		if len(resources) > 0 && !slices.Contains(resources, p.Resource) {
			continue
		}
		if _, ok := users[p.Resource]; !ok {
			order = append(order, p.Resource)
		}
		users[p.Resource] = append(users[p.Resource], p.Name)
	}
	clients := map[string]*vomo.Client{}
	client := func(src string) (*vomo.Client, error) {
		if c := clients[src]; c != nil {
			return c, nil
		}
		s := sources[src]
		if s == nil {
			return nil, fmt.Errorf("unknown source %s", src)
		}
		if !s.BaseURL.Known || s.BaseURL.Text == "" {
			return nil, fmt.Errorf("source %s: base_url has no value", s.Name)
		}
		cfg := vomo.Config{BaseURL: s.BaseURL.Text, Tenant: t.ID, Token: vomo.StaticToken(token), Timeout: s.Timeout.D(),
			Retry: vomo.Retry{Attempts: s.Retry.Attempts, Backoff: s.Retry.Backoff.D(), MaxBackoff: s.Retry.MaxBackoff.D()}}
		if tweak != nil {
			tweak(&cfg)
		}
		c, err := vomo.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("source %s for %s: %w", s.Name, t.ID, err)
		}
		clients[src] = c
		return c, nil
	}
	// Parent totals are read once, whether the parent is estimated itself
	// or only counted for its children.
	totals := map[string]vomo.Estimate{}
	read := func(res *dsl.Resource) (vomo.Estimate, error) {
		if e, ok := totals[res.Name]; ok {
			return e, nil
		}
		c, err := client(res.Source)
		if err != nil {
			return vomo.Estimate{}, err
		}
		e, err := c.Estimate(ctx, vomo.Resource{Path: res.Path, PrimaryKey: res.PrimaryKey})
		if err != nil {
			return vomo.Estimate{}, fmt.Errorf("estimate %s/%s: %w", t.ID, res.Name, err)
		}
		totals[res.Name] = e
		return e, nil
	}
	for _, name := range order {
		res := byName[name]
		if res == nil {
			return est, fmt.Errorf("estimate %s: unknown resource %s", t.ID, name)
		}
		re := ResourceEstimate{Resource: res.Name, Source: res.Source, Path: res.Path, Pipelines: users[name]}
		if res.Parent == "" {
			e, err := read(res)
			if err != nil {
				return est, err
			}
			re.Records, re.PerPage, re.Pages = int64(e.Total), e.PerPage, int64(e.Pages)
			re.Requests = re.Pages + 1
		} else {
			parent := byName[res.Parent]
			if parent == nil {
				return est, fmt.Errorf("estimate %s: resource %s has unknown parent %s", t.ID, res.Name, res.Parent)
			}
			e, err := read(parent)
			if err != nil {
				return est, err
			}
			// The parent's scan for ids, then at least one page per parent.
			re.PerPage, re.Pages = e.PerPage, int64(e.Total)
			re.Requests = int64(e.Pages) + re.Pages + 1
			re.Estimated = true
			re.Note = fmt.Sprintf("estimated: one page per %s record (%d), records unknown", parent.Name, e.Total)
		}
		est.Resources = append(est.Resources, re)
		est.Records += re.Records
		est.Pages += re.Pages
		est.Requests += re.Requests
	}
	est.Budgets = estimateBudgets(plan, t, est.Resources, sources)
	return est, nil
}

// estimateBudgets turns the requests per source into wall times at the
// runtime's own pace for a backfill. The tenant counts as enabled (it is
// estimated to run), so its lane shares the global budget even before it
// is enabled.
func estimateBudgets(plan *dsl.Plan, t *dsl.Tenant, res []ResourceEstimate, sources map[string]*dsl.Source) []EstimateBudget {
	out := []EstimateBudget{}
	for _, re := range res {
		i := slices.IndexFunc(out, func(b EstimateBudget) bool { return b.Source == re.Source })
		if i < 0 {
			out = append(out, EstimateBudget{Source: re.Source})
			i = len(out) - 1
		}
		out[i].Requests += re.Requests
	}
	running := *t
	running.Enabled = true
	pl := *plan
	pl.Tenants = make([]*dsl.Tenant, 0, len(plan.Tenants))
	for _, x := range plan.Tenants {
		if x.ID == t.ID {
			x = &running
		}
		pl.Tenants = append(pl.Tenants, x)
	}
	for i := range out {
		b := &out[i]
		s := sources[b.Source]
		if s == nil {
			continue
		}
		tenant, hub := runtime.BackfillPace(&pl, &running, s)
		if tenant > 0 {
			b.TenantRate = t.RateLimits[b.Source].String()
			b.BackfillShare = runtime.BackfillShare
			b.TenantSeconds = wall(b.Requests, tenant)
		}
		if hub > 0 {
			b.HubRate = fmt.Sprintf("%.1f/h", float64(time.Hour)/float64(hub))
			b.HubSeconds = wall(b.Requests, max(hub, tenant))
		}
	}
	return out
}

// wall is the wall time of n requests spaced by iv, in seconds rounded
// to a tenth.
func wall(n int64, iv time.Duration) float64 {
	return math.Round(float64(n)*iv.Seconds()*10) / 10
}

// printEstimate writes the estimate as a table.
func printEstimate(w io.Writer, est BackfillEstimate) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tPIPELINES\tRECORDS\tPER PAGE\tPAGES\tREQUESTS\t")
	for _, r := range est.Resources {
		records := fmt.Sprint(r.Records)
		if r.Estimated {
			records = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", r.Resource, strings.Join(r.Pipelines, ","), records, r.PerPage, r.Pages,
			r.Requests, r.Note)
	}
	fmt.Fprintf(tw, "total\t\t%d\t\t%d\t%d\t\n", est.Records, est.Pages, est.Requests)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, b := range est.Budgets {
		line := fmt.Sprintf("%s: %d requests", b.Source, b.Requests)
		if b.TenantRate != "" {
			line += fmt.Sprintf("; %s at the backfill's %.0f%% of the tenant's rate_limit %s", wallText(b.TenantSeconds),
				b.BackfillShare*100, b.TenantRate)
		}
		if b.HubRate != "" {
			line += fmt.Sprintf("; %s at the backfill's %.0f%% of its lane's share of the global_rate_limit (%s, shared with the lane's busy tenants)",
				wallText(b.HubSeconds), runtime.BackfillShare*100, b.HubRate)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// wallText prints a wall time in whole seconds, "about 2h3m0s".
func wallText(s float64) string {
	return "about " + (time.Duration(math.Ceil(s)) * time.Second).String()
}
