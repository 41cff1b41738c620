package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/internal/progress"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "reconcile",
		Usage:     "compare a tenant's source with its destinations now: repair what is missing or stale, delete what the source deleted",
		ArgsUsage: "TENANT [PIPELINE]",
		Description: "Runs the tenant's reconcile in this process, under the job's lease (a reconcile that another\n" +
			"process runs is refused), resuming one that stopped: a full ID scan of each resource, records\n" +
			"missing or older at the destination queued again, records the filter now drops deleted, and after\n" +
			"a complete scan the records the source no longer has deleted once confirmed (404, or two complete\n" +
			"scans agreeing). A reconcile that would delete more than max_delete and max_delete_min deletes\n" +
			"nothing and raises an alert in status; --allow-mass-delete proceeds (audited). The tenant's queues are\n" +
			"then drained, so the repairs are written when it exits. Exit 1 when a scan was cut short or the\n" +
			"safeguard stopped it.",
		Flags: operatorFlags(
			&cli.BoolFlag{Name: "deep", Usage: "also compare content hashes (what the weekly reconcile does)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "report what it would do; write nothing"},
			&cli.BoolFlag{Name: "allow-mass-delete", Usage: "make deletions over the safeguard and clear its alert"},
			&cli.BoolFlag{Name: "json", Usage: "print the reports as JSON"},
		),
		Action: runReconcile,
	})
}

func runReconcile(c *cli.Context) error {
	tg, err := operatorTarget(c, "reconcile TENANT [PIPELINE]", 1, 2)
	if err != nil {
		return err
	}
	var pipelines []string
	if len(tg.args) == 2 {
		if err := tg.activePipeline(tg.args[1]); err != nil {
			return err
		}
		pipelines = tg.args[1:]
	}
	if !tg.tenant.Enabled {
		return &exitError{code: 1, msg: fmt.Sprintf("tenant %s is not enabled in %s", tg.tenant.ID, tg.config)}
	}
	kms, err := secrets.LoadKeyring(tg.config, "", false, nil)
	if err != nil {
		// Without it the runtime would pause the tenant for lack of
		// credentials; an operator's reconcile says so instead.
		return &exitError{code: 1, msg: "reconcile needs the master key to open the tenant's token: " + err.Error()}
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	region, hub := runtime.HubTenants, state.Store(nil)
	if _, own := runtime.RegionStore(tg.plan, tg.tenant.Region); own {
		region = tg.tenant.Region
		u, err := storeURL(tg.store, tg.plan, tg.config)
		if err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		if hub, err = openStoreURL(c, u, false); err != nil {
			return err
		}
		defer hub.Close()
	}
	opts := runtime.ReconcileOptions{Tenant: tg.tenant.ID, Pipelines: pipelines, Deep: c.Bool("deep"),
		DryRun: c.Bool("dry-run"), AllowMassDelete: c.Bool("allow-mass-delete"), Drain: !c.Bool("dry-run")}
	if !opts.DryRun {
		detail := fmt.Sprintf("pipelines=%s deep=%v allow_mass_delete=%v", strings.Join(orAll(pipelines), ","), opts.Deep, opts.AllowMassDelete)
		if err := audit(c, tg, st, "reconcile", detail); err != nil {
			return err
		}
	}
	// The runtime's own lines go to stderr at warning level and above: the
	// progress display and the report say what happened.
	log := slog.New(slog.NewJSONHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := runtime.New(runtime.Config{Plan: tg.plan, Store: st, HubStore: hub, Region: region,
		Credentials: runtime.SealedCredentials{Store: st, KMS: kms}, Logger: log})
	if err != nil {
		return err
	}
	defer r.Close(context.WithoutCancel(c.Context))
	disp := progress.New(c.App.ErrWriter, progress.Options{JSON: tg.json})
	opts.Progress = func(p runtime.ReconcileProgress) {
		disp.Update([]progress.Item{{Name: p.Tenant + "/" + p.Resource, Records: p.Records, Total: p.Total, Pages: p.Pages,
			Done: p.Done && !p.Failed, Failed: p.Failed, Note: progressNote(p)}})
	}
	reports, err := r.Reconcile(c.Context, opts)
	disp.Close()
	if err != nil && len(reports) == 0 {
		if errors.Is(err, context.Canceled) {
			return &exitError{code: 1, msg: "reconcile interrupted; running it again resumes the scan where it stopped"}
		}
		return &exitError{code: 1, msg: err.Error()}
	}
	if tg.json {
		if jerr := printJSON(c.App.Writer, reports); jerr != nil {
			return jerr
		}
	} else {
		for _, rep := range reports {
			printReconcile(c.App.Writer, rep)
		}
	}
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	for _, rep := range reports {
		if !rep.Complete || rep.MassDelete {
			return &exitError{code: 1, msg: "a scan was cut short or the mass-delete safeguard stopped deletions: see the report"}
		}
	}
	return nil
}

func orAll(pipelines []string) []string {
	if len(pipelines) == 0 {
		return []string{"all"}
	}
	return pipelines
}

func progressNote(p runtime.ReconcileProgress) string {
	switch {
	case p.Failed:
		return "incomplete: " + p.Note
	case p.Phase == "merge":
		return "finding deletions"
	}
	return ""
}

// printReconcile writes one report for a person.
func printReconcile(w io.Writer, r runtime.ReconcileReport) {
	kind := "daily"
	if r.Deep {
		kind = "deep"
	}
	how := "complete"
	if !r.Complete {
		how = "INCOMPLETE: " + r.Incomplete
	}
	dry := ""
	if r.DryRun {
		dry = " (dry run: nothing written; counts are what it would do)"
	}
	fmt.Fprintf(w, "%s/%s (%s, %s): %s in %s, %d source requests%s\n", r.Tenant, r.Pipeline, r.Resource, kind, how,
		(time.Duration(r.DurationSeconds * float64(time.Second))).Round(time.Millisecond), r.Requests, dry)
	fmt.Fprintf(w, "  scanned %d: unchanged %d, missing %d, stale %d, changed %d (queued again), filtered deletes %d, dead-lettered %d\n",
		r.Scanned, r.Unchanged, r.Missing, r.Stale, r.Changed, r.FilteredDeletes, r.DeadLettered)
	fmt.Fprintf(w, "  destination held %d: deletion candidates %d, confirmed %d, unconfirmed %d, deleted %d\n",
		r.Held, r.Candidates, r.Confirmed, r.Unconfirmed, r.Deleted)
	if r.MassDelete {
		fmt.Fprintf(w, "  MASS DELETE STOPPED: %s; nothing deleted. Check the source, then: siphon reconcile %s %s --allow-mass-delete\n",
			r.MassDeleteReason, r.Tenant, r.Pipeline)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
