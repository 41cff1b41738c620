package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "status",
		Usage:     "show per tenant: checkpoint age per pipeline, queue and DLQ depth, pauses and last errors",
		ArgsUsage: "[TENANT]",
		Flags:     []cli.Flag{configFlag(), storeFlag(), unsafeStoreFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action:    runStatus,
	})
}

// tenantStatus is what status reports for one tenant.
type tenantStatus struct {
	Tenant    string           `json:"tenant"`
	Enabled   bool             `json:"enabled"`
	Paused    string           `json:"paused,omitempty"`
	Pipelines []pipelineStatus `json:"pipelines"`
	Queues    []queueStatus    `json:"queues"`
	DLQ       int64            `json:"dlq"`
	Flags     []flagStatus     `json:"flags,omitempty"`
}

type pipelineStatus struct {
	Pipeline string    `json:"pipeline"`
	Cursor   time.Time `json:"cursor,omitzero"`
	// AgeSeconds is how far the cursor is behind now; absent before the
	// first completed walk.
	AgeSeconds *float64 `json:"checkpoint_age_seconds,omitempty"`
	Walking    bool     `json:"walk_in_progress"`
	// FullScan: the pipeline's resource has no cursor (or is a child
	// resource), so every poll reads it whole and it never has a cursor.
	FullScan bool `json:"full_scan"`
	// LastComplete is when the last walk or full scan completed (absent
	// before the first), LastRecords how many records it read.
	LastComplete time.Time `json:"last_complete,omitzero"`
	LastRecords  int64     `json:"last_complete_records"`
	LastError    string    `json:"last_error,omitempty"`
	// Paused is why the pipeline is paused for the tenant (its
	// mapping-error rate); siphon pipeline resume clears it.
	Paused string `json:"paused,omitempty"`
	// LastReconcile is the report of the pipeline's last reconcile;
	// MassDelete the alert of one the safeguard stopped (reconcile_status.go).
	LastReconcile *runtime.ReconcileReport `json:"last_reconcile,omitempty"`
	MassDelete    string                   `json:"mass_delete,omitempty"`
}

type queueStatus struct {
	Destination string `json:"destination"`
	Depth       int64  `json:"depth"`
	Pending     int64  `json:"pending"`
	Retry       int64  `json:"retry"`
	// LastWriteError is why the last failed write to the destination
	// failed; it is cleared by the next clean write.
	LastWriteError   string    `json:"last_write_error,omitempty"`
	LastWriteErrorAt time.Time `json:"last_write_error_at,omitzero"`
}

type flagStatus struct {
	Kind   string    `json:"kind"`
	Scope  string    `json:"scope,omitempty"`
	Reason string    `json:"reason"`
	By     string    `json:"by,omitempty"`
	At     time.Time `json:"at"`
}

func runStatus(c *cli.Context) error {
	a := argsOf(c)
	if len(a.args) > 1 {
		return &exitError{code: 1, msg: "status takes at most one TENANT (the configuration directory goes in --config)"}
	}
	dir, plan, err := loadConfig(a.config)
	if err != nil {
		return err
	}
	// Each tenant is read from its own region's store, or the hub's.
	stores := newTenantStores(c, a.store, plan, dir)
	defer stores.Close()
	var out []tenantStatus
	for _, t := range plan.Tenants {
		if len(a.args) == 1 && t.ID != a.args[0] {
			continue
		}
		st, err := stores.of(t)
		if err != nil {
			return err
		}
		ts, err := statusOf(c, st, plan, t)
		if err != nil {
			return err
		}
		out = append(out, ts)
	}
	if len(a.args) == 1 && len(out) == 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("no tenant %q in %s", a.args[0], dir)}
	}
	if a.json {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printStatus(c.App.Writer, out)
	return nil
}

func statusOf(c *cli.Context, st state.Store, plan *dsl.Plan, t *dsl.Tenant) (tenantStatus, error) {
	ctx := c.Context
	now := time.Now()
	ts := tenantStatus{Tenant: t.ID, Enabled: t.Enabled, Pipelines: []pipelineStatus{}, Queues: []queueStatus{}}
	flags, err := st.Flags(ctx, t.ID)
	if err != nil {
		return ts, fmt.Errorf("flags of %s: %w", t.ID, err)
	}
	lastErr, paused := map[string]string{}, map[string]string{}
	massDelete := map[string]string{}
	writeErr := map[string]state.Flag{}
	for _, f := range flags {
		ts.Flags = append(ts.Flags, flagStatus{Kind: string(f.Kind), Scope: f.Scope, Reason: f.Reason, By: f.By, At: f.At})
		switch f.Kind {
		case state.FlagDisabled:
			// The operator's decision explains every other pause.
			ts.Paused = fmt.Sprintf("disabled by %s at %s: %s", f.By, f.At.UTC().Format(time.RFC3339), f.Reason)
		case state.FlagAuthPaused, state.FlagOrgMismatch:
			if !strings.HasPrefix(ts.Paused, "disabled by ") {
				ts.Paused = f.Reason
			}
		case state.FlagLastError:
			lastErr[f.Scope] = f.Reason
		case state.FlagPipelinePaused:
			paused[f.Scope] = f.Reason
		case state.FlagMassDelete:
			massDelete[f.Scope] = f.Reason
		case state.FlagWriteError:
			writeErr[f.Scope] = f
		}
	}
	var dests []string
	for _, name := range t.Active {
		cp, err := st.Checkpoint(ctx, t.ID, name)
		if err != nil {
			return ts, fmt.Errorf("checkpoint %s/%s: %w", t.ID, name, err)
		}
		ps := pipelineStatus{Pipeline: name, Cursor: cp.Cursor, Walking: cp.Walk != nil, FullScan: fullScan(plan, name),
			LastComplete: cp.LastComplete, LastRecords: cp.LastRecords, LastError: lastErr[name], Paused: paused[name]}
		if !cp.Cursor.IsZero() {
			age := now.Sub(cp.Cursor).Seconds()
			ps.AgeSeconds = &age
		}
		if ps.LastReconcile, err = lastReconcile(ctx, st, t.ID, name); err != nil {
			return ts, err
		}
		ps.MassDelete = massDelete[name]
		ts.Pipelines = append(ts.Pipelines, ps)
		for _, p := range plan.Pipelines {
			if p.Name == name && !slices.Contains(dests, p.Destination) {
				dests = append(dests, p.Destination)
			}
		}
	}
	for _, d := range dests {
		depth, err := st.Depth(ctx, state.QueueRef{Tenant: t.ID, Destination: d, Lane: t.Lane})
		if err != nil {
			return ts, fmt.Errorf("queue %s/%s: %w", t.ID, d, err)
		}
		we := writeErr[d]
		ts.Queues = append(ts.Queues, queueStatus{Destination: d, Depth: depth.Stream, Pending: depth.Pending, Retry: depth.Retry,
			LastWriteError: we.Reason, LastWriteErrorAt: we.At})
		ts.DLQ = depth.Dead
	}
	return ts, nil
}

// fullScan reports whether the pipeline's resource is read whole on every
// poll: it has no cursor, or it is a child resource.
func fullScan(plan *dsl.Plan, pipeline string) bool {
	for _, p := range plan.Pipelines {
		if p.Name != pipeline {
			continue
		}
		for _, r := range plan.Resources {
			if r.Name == p.Resource {
				return r.Cursor == nil || r.Parent != ""
			}
		}
	}
	return false
}

// progressLine says how far a pipeline has got: its cursor's age for a
// walked resource, and when the last walk or full scan completed.
func progressLine(p pipelineStatus, now time.Time) string {
	kind := "walk"
	if p.FullScan {
		kind = "full scan"
	}
	var parts []string
	if p.AgeSeconds != nil {
		parts = append(parts, "checkpoint "+(time.Duration(*p.AgeSeconds)*time.Second).String()+" old")
	}
	if !p.LastComplete.IsZero() {
		parts = append(parts, fmt.Sprintf("last %s completed %s (%s ago), %d records", kind,
			p.LastComplete.UTC().Format("2006-01-02 15:04:05 UTC"), now.Sub(p.LastComplete).Truncate(time.Second), p.LastRecords))
	}
	if len(parts) == 0 {
		parts = append(parts, "no completed "+kind+" yet")
	}
	if p.Walking {
		parts = append(parts, "walk in progress")
	}
	return strings.Join(parts, ", ")
}

func printStatus(w io.Writer, out []tenantStatus) {
	now := time.Now()
	for _, ts := range out {
		summary := "ok"
		switch {
		case !ts.Enabled:
			summary = "disabled in the configuration"
		case ts.Paused != "":
			summary = "paused: " + ts.Paused
		}
		fmt.Fprintf(w, "%s  %s  dlq %d\n", ts.Tenant, summary, ts.DLQ)
		for _, p := range ts.Pipelines {
			fmt.Fprintf(w, "  pipeline %s: %s\n", p.Pipeline, progressLine(p, now))
			if p.Paused != "" {
				fmt.Fprintf(w, "    paused: %s\n", p.Paused)
			}
			if p.LastError != "" {
				fmt.Fprintf(w, "    last error: %s\n", p.LastError)
			}
			printReconcileStatus(w, p, now)
		}
		for _, q := range ts.Queues {
			fmt.Fprintf(w, "  queue %s: %d queued (%d in flight), %d waiting to retry\n", q.Destination, q.Depth, q.Pending, q.Retry)
			if q.LastWriteError != "" {
				fmt.Fprintf(w, "    last write error (%s ago): %s\n", now.Sub(q.LastWriteErrorAt).Truncate(time.Second), q.LastWriteError)
			}
		}
		for _, f := range ts.Flags {
			switch f.Kind {
			case string(state.FlagLastError), string(state.FlagPipelinePaused), string(state.FlagWriteError), string(state.FlagMassDelete):
				continue // shown under their pipeline or queue
			}
			scope := ""
			if f.Scope != "" {
				scope = " " + f.Scope
			}
			fmt.Fprintf(w, "  flag %s%s: %s\n", f.Kind, scope, f.Reason)
		}
	}
}
