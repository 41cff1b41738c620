package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/sdk"
	"github.com/siphonhq/siphon/runtime"
)

// offboardReport is what tenant offboard removed.
type offboardReport struct {
	Jobs        []string
	Destination []destPurge
	Credential  string // the credential name deleted
	StateKeys   int
}

// destPurge is what a destination purge deleted from one object.
type destPurge struct {
	Destination, Object string
	Deleted, Failed     int
	FirstFailure        string
}

// purgePage is how many keys a destination purge reads and deletes at a
// time.
const purgePage = 500

func runTenantOffboard(c *cli.Context) error {
	tg, err := operatorTarget(c, "tenant offboard TENANT [--purge-destination] [--yes]", 1, 1)
	if err != nil {
		return err
	}
	t := tg.tenant
	ctx := c.Context
	// A credential name shared with another tenant is that tenant's token
	// too: offboarding must not take it away.
	name := runtime.CredentialName(t)
	var sharing []string
	for _, o := range tg.plan.Tenants {
		if o.ID != t.ID && (runtime.CredentialName(o) == name || runtime.CredentialName(o) == t.ID) {
			sharing = append(sharing, o.ID)
		}
	}
	if len(sharing) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%s shares its credential %q with %s: give them credentials of their own first; nothing was changed",
			t.ID, name, strings.Join(sharing, ", "))}
	}
	purge := c.Bool("purge-destination")
	if !c.Bool("yes") {
		what := fmt.Sprintf("offboarding %s disables it and deletes its jobs, its credential %q and all of its state (checkpoints, queues, DLQ, notes)", t.ID, name)
		if purge {
			what += ", and deletes its rows from " + strings.Join(tenantObjects(tg.plan, t), ", ")
		}
		if err := confirm(c, t.ID, what); err != nil {
			return err
		}
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	var rep offboardReport
	if _, rep.Jobs, err = disableTenant(ctx, st, tg.plan, t.ID, "offboarding"); err != nil {
		return err
	}
	if purge {
		if rep.Destination, err = purgeDestinations(ctx, tg, c.App.ErrWriter); err != nil {
			return fmt.Errorf("offboard %s: the tenant is disabled; its state is kept until its destination rows are gone "+
				"(run the command again): %w", t.ID, err)
		}
	}
	// Recorded before the purge, which empties the tenant's own log: the
	// hub log keeps the entry.
	if err := audit(c, tg, st, "tenant offboard", offboardDetail(rep, name, purge)); err != nil {
		return err
	}
	if err := st.DeleteCredential(ctx, name); err != nil {
		return fmt.Errorf("offboard %s: delete credential %s: %w", t.ID, name, err)
	}
	rep.Credential = name
	if rep.StateKeys, err = st.PurgeTenant(ctx, t.ID); err != nil {
		return fmt.Errorf("offboard %s: purge its state (run the command again to finish): %w", t.ID, err)
	}
	// What stays: the disable flag and parked jobs, so that siphon run,
	// which still finds the tenant in the configuration, neither polls it
	// nor schedules its jobs again.
	reason := fmt.Sprintf("offboarded on %s: remove its tenant block from the configuration", time.Now().UTC().Format("2006-01-02"))
	if _, _, err := disableTenant(ctx, st, tg.plan, t.ID, reason); err != nil {
		return fmt.Errorf("offboard %s: its state is purged, but: %w", t.ID, err)
	}
	printOffboard(c.App.Writer, t.ID, tg.config, rep)
	return nil
}

// confirm asks the operator to type the tenant's id.
func confirm(c *cli.Context, tenant, what string) error {
	fmt.Fprintf(c.App.ErrWriter, "%s.\ntype the tenant id (%s) to confirm: ", what, tenant)
	in := c.App.Reader
	if in == nil {
		in = os.Stdin
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("read the confirmation: %w", err)
	}
	if strings.TrimSpace(line) != tenant {
		fmt.Fprintln(c.App.ErrWriter)
		return &exitError{code: 1, msg: fmt.Sprintf("%s: nothing was changed (pass --yes to skip the question)", errNotConfirmed)}
	}
	return nil
}

// tenantObjects names the (destination, object) pairs the tenant's active
// pipelines write to, as "destination/object".
func tenantObjects(plan *dsl.Plan, t *dsl.Tenant) []string {
	var out []string
	for _, p := range plan.Pipelines {
		if slices.Contains(t.Active, p.Name) && !slices.Contains(out, p.Destination+"/"+p.Object) {
			out = append(out, p.Destination+"/"+p.Object)
		}
	}
	slices.Sort(out)
	return out
}

// purgeDestinations deletes the tenant's rows from every object its
// active pipelines write to: the keys are read a page at a time (Keys)
// and each page is deleted with versioned deletes at the version held, so
// a row is removed only at the version it was listed with.
func purgeDestinations(ctx context.Context, tg target, logTo io.Writer) ([]destPurge, error) {
	t := tg.tenant
	var out []destPurge
	for _, pair := range tenantObjects(tg.plan, t) {
		destName, object, _ := strings.Cut(pair, "/")
		var dest *dsl.Destination
		for _, d := range tg.plan.Destinations {
			if d.Name == destName {
				dest = d
			}
		}
		if dest == nil {
			return out, fmt.Errorf("destination %s is missing from the plan", destName)
		}
		dp, err := purgeObject(ctx, tg, dest, object, logTo)
		out = append(out, dp)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func purgeObject(ctx context.Context, tg target, dest *dsl.Destination, object string, logTo io.Writer) (destPurge, error) {
	t := tg.tenant
	dp := destPurge{Destination: dest.Name, Object: object}
	d, err := host.Launch(ctx, host.LaunchConfig{Name: dest.Name, Plugin: dest.Plugin, SHA256: dest.SHA256,
		Config: dest.Config, Dir: tg.config, Logger: slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Timeouts: host.Timeouts{Write: dest.Timeout.D()}})
	if err != nil {
		return dp, fmt.Errorf("destination %s: %w", dest.Name, err)
	}
	defer d.Close(context.WithoutCancel(ctx))
	after := ""
	for {
		keys, err := d.Keys(ctx, sdk.KeysRequest{Tenant: t.ID, Object: object, After: after, Limit: purgePage})
		if err != nil {
			return dp, fmt.Errorf("destination %s: keys of %s/%s: %w", dest.Name, t.ID, object, err)
		}
		if len(keys) == 0 {
			return dp, nil
		}
		recs := make([]sdk.Record, len(keys))
		for i, k := range keys {
			recs[i] = sdk.Record{Op: sdk.OpDelete, Object: object, Key: k.Key, Version: k.Version, ContentHash: k.ContentHash}
		}
		results, err := d.Write(ctx, sdk.Batch{Tenant: t.ID, Records: recs})
		if err != nil {
			return dp, fmt.Errorf("destination %s: delete rows of %s/%s: %w", dest.Name, t.ID, object, err)
		}
		for i, res := range results {
			if res.Status == sdk.StatusOK && !res.Skipped {
				dp.Deleted++
				continue
			}
			dp.Failed++
			if dp.FirstFailure == "" {
				dp.FirstFailure = fmt.Sprintf("key %s: %s", keys[i].Key, res.Message)
			}
		}
		after = keys[len(keys)-1].Key
	}
}

func offboardDetail(rep offboardReport, credential string, purge bool) string {
	parts := []string{"jobs parked: " + strings.Join(rep.Jobs, ", "), "credential " + credential + " and all state deleted"}
	if purge {
		for _, d := range rep.Destination {
			parts = append(parts, fmt.Sprintf("%s/%s: %d rows deleted, %d not", d.Destination, d.Object, d.Deleted, d.Failed))
		}
	}
	return strings.Join(parts, "; ")
}

func printOffboard(w io.Writer, tenant, config string, rep offboardReport) {
	fmt.Fprintf(w, "offboarded %s:\n", tenant)
	fmt.Fprintf(w, "  disabled; its jobs will not run (%s)\n", strings.Join(rep.Jobs, ", "))
	for _, d := range rep.Destination {
		fmt.Fprintf(w, "  destination %s: deleted %d rows of %s", d.Destination, d.Deleted, d.Object)
		if d.Failed > 0 {
			fmt.Fprintf(w, "; %d could not be deleted (%s): run the command again", d.Failed, d.FirstFailure)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  credential %q deleted\n", rep.Credential)
	fmt.Fprintf(w, "  state: %d keys removed (checkpoints, walks, queues, DLQ, flags, notes, scans, its own audit log); "+
		"the hub audit log keeps its entries (siphon audit %s)\n", rep.StateKeys, tenant)
	fmt.Fprintf(w, "%s is still in the configuration in %s: remove its tenant block. Until then it stays disabled and siphon run leaves it alone.\n",
		tenant, config)
}
