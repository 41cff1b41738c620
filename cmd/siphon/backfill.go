package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/progress"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "backfill",
		Usage:     "estimate, schedule and watch a tenant's backfill (a capped full scan of its resources)",
		ArgsUsage: "TENANT",
		Description: "With --estimate it reads page 1 of each of the tenant's resources and prints records,\n" +
			"pages, requests and the wall time under the tenant's rate_limit and its share of the\n" +
			"global_rate_limit. Otherwise it schedules the backfill at --at (tenant-local HH:MM or now;\n" +
			"default the tenant's backfill_at; a time of day plus the tenant's fixed stagger within the\n" +
			"hour): siphon run starts it then. Pipelines that already have\n" +
			"a cursor are backfilled again. --wait shows the progress, read from the store, until done.",
		Flags: operatorFlags(
			&cli.StringFlag{Name: "at", Usage: "start at `HH:MM` in the tenant's time zone, or now (default: its backfill_at)"},
			&cli.StringFlag{Name: "resources", Usage: "backfill only these `RESOURCES` (comma-separated)"},
			&cli.BoolFlag{Name: "estimate", Usage: "print what the backfill costs instead of scheduling it"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON (the estimate; with --wait, progress lines)"},
			&cli.BoolFlag{Name: "wait", Usage: "show the backfill's progress until every chosen pipeline completes"},
			&cli.DurationFlag{Name: "interval", Hidden: true, Value: time.Second, Usage: "testing only: how often --wait reads the store"},
		),
		Action: runBackfill,
	})
}

// backfillTarget is a tenant's pipelines a backfill covers, by resource.
type backfillTarget struct {
	resources []*dsl.Resource
	pipelines map[string][]string // resource → pipelines
	skipped   []string            // resources every poll scans whole anyway
}

func runBackfill(c *cli.Context) error {
	tg, err := operatorTarget(c, "backfill TENANT [--at HH:MM|now] [--resources a,b] [--estimate] [--wait]", 1, 1)
	if err != nil {
		return err
	}
	var names []string
	if s := strings.TrimSpace(c.String("resources")); s != "" {
		for _, n := range strings.Split(s, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	bt, err := chooseBackfill(tg, names)
	if err != nil {
		return err
	}
	if c.Bool("estimate") {
		if c.IsSet("at") || c.Bool("wait") {
			return &exitError{code: 1, msg: "--estimate only reads the source: it takes neither --at nor --wait"}
		}
		return runEstimate(c, tg, names)
	}
	at := tg.tenant.BackfillAt
	if c.IsSet("at") {
		if at, err = parseAt(c.String("at")); err != nil {
			return &exitError{code: 1, msg: "--at: " + err.Error()}
		}
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := c.Context
	t := *tg.tenant
	t.BackfillAt = at
	due := runtime.NextBackfill(&t, time.Now())
	if due, err = st.ScheduleJob(ctx, t.ID, runtime.BackfillJob, due, true); err != nil {
		return fmt.Errorf("schedule the backfill of %s: %w", t.ID, err)
	}
	var again, fresh []string
	for _, res := range bt.resources {
		for _, p := range bt.pipelines[res.Name] {
			cp, err := st.Checkpoint(ctx, t.ID, p)
			if err != nil {
				return fmt.Errorf("checkpoint %s/%s: %w", t.ID, p, err)
			}
			if cp.Cursor.IsZero() {
				fresh = append(fresh, p)
				continue
			}
			f := state.Flag{Kind: state.FlagBackfillRequested, Scope: p, Reason: "siphon backfill", By: operatorName(), At: time.Now().UTC()}
			if err := st.SetFlag(ctx, t.ID, f); err != nil {
				return fmt.Errorf("request the backfill of %s/%s: %w", t.ID, p, err)
			}
			again = append(again, p)
		}
	}
	local := due.In(location(&t)).Format("2006-01-02 15:04:05 MST")
	// A time of day is staggered within the hour after it by tenant (see
	// runtime.NextBackfill), so a zone's tenants do not start together.
	when := fmt.Sprintf("%s local (%s)", local, due.UTC().Format(time.RFC3339))
	if !at.Now {
		when = fmt.Sprintf("%s local (%s; %02d:%02d plus the tenant's stagger of %s)", local, due.UTC().Format(time.RFC3339),
			at.Hour, at.Minute, runtime.BackfillStagger(t.ID))
	}
	detail := fmt.Sprintf("at %s; resources %s", when, strings.Join(resourceNames(bt.resources), ","))
	if len(again) > 0 {
		detail += "; again: " + strings.Join(again, ",")
	}
	if err := audit(c, tg, st, "backfill", detail); err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "backfill of %s scheduled at %s; siphon run starts it then\n", t.ID, when)
	if len(fresh) > 0 {
		fmt.Fprintf(w, "  new: %s\n", strings.Join(fresh, ", "))
	}
	if len(again) > 0 {
		fmt.Fprintf(w, "  backfilled again (they have a cursor): %s\n", strings.Join(again, ", "))
	}
	for _, r := range bt.skipped {
		fmt.Fprintf(w, "  %s: read whole on every poll; nothing to backfill\n", r)
	}
	if !c.Bool("wait") {
		return nil
	}
	return waitBackfill(ctx, c, st, &t, bt, due, again)
}

// parseAt reads --at: "now" or a 24-hour time.
func parseAt(s string) (dsl.Clock, error) {
	if strings.TrimSpace(s) == "now" {
		return dsl.Clock{Now: true}, nil
	}
	return dsl.ParseClock(s)
}

func location(t *dsl.Tenant) *time.Location {
	if t.Location != nil {
		return t.Location
	}
	return time.UTC
}

func resourceNames(rs []*dsl.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

// chooseBackfill finds the tenant's resources (all, or those named) and
// the active pipelines on each. Child and cursorless resources are read
// whole by every poll, so they have nothing to backfill.
func chooseBackfill(tg target, names []string) (backfillTarget, error) {
	bt := backfillTarget{pipelines: map[string][]string{}}
	byName := map[string]*dsl.Resource{}
	for _, r := range tg.plan.Resources {
		byName[r.Name] = r
	}
	var have []string
	for _, p := range tg.plan.Pipelines {
		if !slices.Contains(tg.tenant.Active, p.Name) {
			continue
		}
		if !slices.Contains(have, p.Resource) {
			have = append(have, p.Resource)
		}
		if len(names) > 0 && !slices.Contains(names, p.Resource) {
			continue
		}
		res := byName[p.Resource]
		if res.Cursor == nil || res.Parent != "" {
			if !slices.Contains(bt.skipped, res.Name) {
				bt.skipped = append(bt.skipped, res.Name)
			}
			continue
		}
		if _, ok := bt.pipelines[res.Name]; !ok {
			bt.resources = append(bt.resources, res)
		}
		bt.pipelines[res.Name] = append(bt.pipelines[res.Name], p.Name)
	}
	for _, n := range names {
		if !slices.Contains(have, n) {
			return bt, &exitError{code: 1, msg: fmt.Sprintf("--resources: tenant %s reads no resource %q%s", tg.tenant.ID, n, closeNames("resources", n, have))}
		}
	}
	return bt, nil
}

// runEstimate prints the backfill estimate of the tenant's resources.
func runEstimate(c *cli.Context, tg target, names []string) error {
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	kms, err := secrets.LoadKeyring(tg.config, "", false, nil)
	if err != nil {
		return &exitError{code: 1, msg: "estimate " + tg.tenant.ID + ": the token cannot be opened: " + err.Error()}
	}
	tok, err := runtime.SealedCredentials{Store: st, KMS: kms}.Token(c.Context, tg.tenant)
	if errors.Is(err, runtime.ErrNoCredentials) {
		return &exitError{code: 1, msg: fmt.Sprintf("estimate %s: no credentials: run siphon credentials set %s", tg.tenant.ID, tg.tenant.ID)}
	}
	if err != nil {
		return fmt.Errorf("estimate %s: %w", tg.tenant.ID, err)
	}
	est, err := EstimateBackfill(c.Context, tg.plan, tg.tenant, tok, names, nil)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, est)
	}
	return printEstimate(c.App.Writer, est)
}

// waitBackfill shows each chosen resource's backfill until all complete:
// bars on a terminal, structured lines elsewhere. It reads only the store
// (the checkpoints the workers write), so it works whichever process does
// the work.
func waitBackfill(ctx context.Context, c *cli.Context, st state.Store, t *dsl.Tenant, bt backfillTarget, due time.Time, again []string) error {
	d := progress.New(c.App.Writer, progress.Options{JSON: c.Bool("json")})
	defer d.Close()
	tick := time.NewTicker(c.Duration("interval"))
	defer tick.Stop()
	for {
		items, done, err := backfillProgress(ctx, st, t, bt, due, again)
		if err != nil {
			return err
		}
		d.Update(items)
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// backfillProgress reads each chosen resource's backfill from the store:
// a scan in progress is its walk with mode "scan" (records, position,
// meta.total); a resource is done when every pipeline on it has a cursor,
// no walk, and no backfill request left.
func backfillProgress(ctx context.Context, st state.Store, t *dsl.Tenant, bt backfillTarget, due time.Time, again []string) ([]progress.Item, bool, error) {
	flags, err := st.Flags(ctx, t.ID)
	if err != nil {
		return nil, false, fmt.Errorf("flags of %s: %w", t.ID, err)
	}
	requested := func(p string) bool {
		return slices.ContainsFunc(flags, func(f state.Flag) bool { return f.Kind == state.FlagBackfillRequested && f.Scope == p })
	}
	all := true
	var items []progress.Item
	for _, res := range bt.resources {
		it := progress.Item{Name: res.Name, Done: true}
		for _, p := range bt.pipelines[res.Name] {
			cp, err := st.Checkpoint(ctx, t.ID, p)
			if err != nil {
				return nil, false, fmt.Errorf("checkpoint %s/%s: %w", t.ID, p, err)
			}
			if cp.Walk == nil && !cp.Cursor.IsZero() && !requested(p) {
				if cp.LastRecords > it.Records {
					it.Records, it.Total = cp.LastRecords, cp.LastRecords
				}
				continue
			}
			it.Done = false
			if cp.Walk == nil {
				continue
			}
			var pp vomo.Progress
			if json.Unmarshal(cp.Walk.Progress, &pp) != nil || pp.Mode != "scan" {
				// A walk still finishing before its backfill can start.
				it.Note = "walk in progress"
				continue
			}
			it.Records, it.Total, it.Pages = cp.Walk.Records, cp.Walk.Total, int64(pp.Pages)
			if pp.PerPage > 0 {
				it.PagesTotal = (cp.Walk.Total + int64(pp.PerPage) - 1) / int64(pp.PerPage)
			}
			it.Note = ""
		}
		if !it.Done && it.Records == 0 && time.Now().Before(due) {
			it.Note = "starts at " + due.In(location(t)).Format("15:04 MST") + " local"
		}
		all = all && it.Done
		items = append(items, it)
	}
	return items, all, nil
}
