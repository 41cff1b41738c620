package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:  "tenant",
		Usage: "disable, enable, onboard or offboard a tenant",
		Subcommands: []*cli.Command{
			{
				Name: "disable",
				Usage: "stop TENANT's polling, processing and reconcile (queued records stay queued) until tenant enable; " +
					"wins over enabled = true in the configuration",
				ArgsUsage: "TENANT --reason TEXT",
				Flags:     operatorFlags(&cli.StringFlag{Name: "reason", Usage: "why (shown in status and the audit log; required)"}),
				Action:    runTenantDisable,
			},
			{
				Name:      "enable",
				Usage:     "undo tenant disable: TENANT's jobs get their due times back and its queues are processed again",
				ArgsUsage: "TENANT",
				Flags:     operatorFlags(),
				Action:    runTenantEnable,
			},
			{
				Name: "onboard",
				Usage: "verify TENANT's stored token, record its organization, estimate the backfill and schedule it " +
					"(at the tenant's backfill_at, local time, unless --at)",
				ArgsUsage: "TENANT",
				Flags: operatorFlags(
					&cli.StringFlag{Name: "at", Usage: "start the backfill at `HH:MM` tenant-local time, or now"},
					&cli.BoolFlag{Name: "reverify", Usage: "record the organization the token answers for now, replacing the one recorded before"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				),
				Action: runTenantOnboard,
			},
			{
				Name: "offboard",
				Usage: "disable TENANT, remove its jobs, credential and every bit of its state (the hub audit log keeps its entries); " +
					"with --purge-destination also delete its rows from every destination it writes to",
				ArgsUsage: "TENANT",
				Flags: operatorFlags(
					&cli.BoolFlag{Name: "purge-destination", Usage: "also delete the tenant's rows from its destinations"},
					&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"},
				),
				Action: runTenantOffboard,
			},
		},
	})
}

func runTenantDisable(c *cli.Context) error {
	tg, err := operatorTarget(c, "tenant disable TENANT --reason TEXT", 1, 1)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(c.String("reason"))
	if reason == "" {
		return &exitError{code: 1, msg: "tenant disable needs --reason: say why (status and the audit log show it)"}
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	was, parked, err := disableTenant(c.Context, st, tg.plan, tg.tenant.ID, reason)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if was != nil {
		fmt.Fprintf(w, "%s was already disabled (by %s at %s: %s); the reason is now: %s\n", tg.tenant.ID, was.By,
			was.At.UTC().Format(time.RFC3339), was.Reason, reason)
	} else {
		fmt.Fprintf(w, "disabled %s: its polling, processing and reconcile stop (a running siphon run notices within seconds); "+
			"queued records stay queued\n", tg.tenant.ID)
	}
	fmt.Fprintf(w, "parked its jobs (%s); siphon tenant enable %s resumes it\n", strings.Join(parked, ", "), tg.tenant.ID)
	return audit(c, tg, st, "tenant disable", "reason: "+reason)
}

// disableTenant sets the operator's disable flag (by whoever runs the
// command, now) and parks the tenant's jobs. It returns the disable flag
// that was set before, if any, and the jobs it parked.
func disableTenant(ctx context.Context, st state.Store, plan *dsl.Plan, tenant, reason string) (*state.Flag, []string, error) {
	was, err := flagOf(ctx, st, tenant, state.FlagDisabled)
	if err != nil {
		return nil, nil, err
	}
	f := state.Flag{Kind: state.FlagDisabled, Reason: reason, By: operatorName(), At: time.Now().UTC()}
	// The flag first: it stops every worker at its next look; parking the
	// jobs then keeps them from even being leased.
	if err := st.SetFlag(ctx, tenant, f); err != nil {
		return nil, nil, fmt.Errorf("disable %s: %w", tenant, err)
	}
	jobs, err := runtime.TenantJobs(ctx, plan, st, tenant)
	if err != nil {
		return nil, nil, fmt.Errorf("disable %s: %w", tenant, err)
	}
	parked, err := runtime.ParkJobs(ctx, st, tenant, jobs)
	if err != nil {
		return nil, nil, fmt.Errorf("disable %s (the tenant is disabled; run the command again to park its jobs): %w", tenant, err)
	}
	return was, parked, nil
}

func runTenantEnable(c *cli.Context) error {
	tg, err := operatorTarget(c, "tenant enable TENANT", 1, 1)
	if err != nil {
		return err
	}
	t := tg.tenant
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := c.Context
	was, err := flagOf(ctx, st, t.ID, state.FlagDisabled)
	if err != nil {
		return err
	}
	if was != nil {
		if err := st.ClearFlag(ctx, t.ID, state.FlagDisabled, ""); err != nil {
			return fmt.Errorf("enable %s: %w", t.ID, err)
		}
	}
	// Unparked whether or not the flag was still there: an enable that
	// failed after clearing it is finished by running it again.
	jobs, err := runtime.TenantJobs(ctx, tg.plan, st, t.ID)
	if err != nil {
		return fmt.Errorf("enable %s: %w", t.ID, err)
	}
	resumed, err := runtime.UnparkJobs(ctx, st, t.ID, jobs, time.Now())
	if err != nil {
		return fmt.Errorf("enable %s (the tenant is enabled; run the command again to give its jobs their due times back): %w", t.ID, err)
	}
	w := c.App.Writer
	if was == nil && len(resumed) == 0 {
		fmt.Fprintf(w, "%s is not disabled; nothing to do\n", t.ID)
	} else {
		fmt.Fprintf(w, "enabled %s", t.ID)
		if was != nil {
			fmt.Fprintf(w, " (disabled by %s at %s: %s)", was.By, was.At.UTC().Format(time.RFC3339), was.Reason)
		}
		fmt.Fprintln(w)
		if len(resumed) > 0 {
			fmt.Fprintf(w, "its jobs are scheduled again (%s)\n", strings.Join(resumed, ", "))
		}
	}
	if !t.Enabled {
		fmt.Fprintf(w, "note: the configuration still disables %s (enabled = false): nothing runs until it says enabled = true\n", t.ID)
	}
	if f, err := flagOf(ctx, st, t.ID, state.FlagOrgMismatch); err != nil {
		return err
	} else if f != nil {
		fmt.Fprintf(w, "note: %s stays paused: %s\n", t.ID, f.Reason)
	}
	if was == nil && len(resumed) == 0 {
		return nil
	}
	detail := "was not disabled"
	if was != nil {
		detail = fmt.Sprintf("was disabled by %s at %s: %s", was.By, was.At.UTC().Format(time.RFC3339), was.Reason)
	}
	return audit(c, tg, st, "tenant enable", detail)
}

// flagOf returns the tenant's tenant-wide flag of the kind, or nil.
func flagOf(ctx context.Context, st state.Store, tenant string, kind state.FlagKind) (*state.Flag, error) {
	fs, err := st.Flags(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("flags of %s: %w", tenant, err)
	}
	for _, f := range fs {
		if f.Kind == kind && f.Scope == "" {
			return &f, nil
		}
	}
	return nil, nil
}

// errNotConfirmed: the operator did not confirm a destructive command.
var errNotConfirmed = errors.New("not confirmed")
