package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	_ "github.com/siphonhq/siphon/internal/state/local" // the embedded store
	_ "github.com/siphonhq/siphon/internal/state/redis" // the networked store
	"github.com/siphonhq/siphon/runtime"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "run",
		Usage:     "sync: poll every tenant's sources into the queues and write them to the destinations",
		ArgsUsage: "[DIR]",
		Description: "Runs the configuration in DIR (default --config, else .) against the state store\n" +
			"(--store > SIPHON_STORE > siphon { store } > .siphon/state.db in DIR). With --once it\n" +
			"runs every job of every enabled tenant now, drains the queues and exits: 0 when all\n" +
			"synced, 1 when anything failed, went to a dead-letter queue or a tenant is paused.\n" +
			"The configuration becomes the hub's active one; a configuration older than the active\n" +
			"one is refused unless --force (a deliberate rollback, which makes it active again).\n\n" +
			"Regions: without --region, run runs the tenants whose state is in the hub store (no\n" +
			"region, or a region without a store of its own). --region NAME runs only that region's\n" +
			"tenants, keeping their state in the region's store and taking hub-wide state (the active\n" +
			"configuration, global budgets, throttle) from the hub store; a region with its own store\n" +
			"needs a run of its own. Two regions, or a region and the hub, resolving to one store are\n" +
			"refused.",
		Flags: append([]cli.Flag{
			configFlag(),
			storeFlag(),
			regionFlag(),
			unsafeStoreFlag(),
			&cli.BoolFlag{Name: "once", Usage: "run every job now, drain the queues and exit"},
			&cli.IntFlag{Name: "workers", Usage: "process `N` queues at a time", Value: 4},
			&cli.IntFlag{Name: "poll-slots", Usage: "poll `N` jobs at a time; due jobs start as slots free",
				DefaultText: "a slot per job start a second of the plan, 8 to 1024"},
			&cli.BoolFlag{Name: "force", Usage: "run this configuration even though a newer one is active"},
		}, testingFlags...),
		Action: runRun,
	})
}

// testingFlags exist for the end-to-end tests (package e2e), which run
// `siphon run` as real processes against vomosim and need minutes of
// cadence, settle and lease time to pass in seconds. They are hidden from
// help and are not an interface for operators.
var testingFlags = []cli.Flag{
	&cli.Float64Flag{Name: "clock-scale", Hidden: true, Value: 1,
		Usage: "testing only: run the scheduler and source clock this many times faster than real time"},
	&cli.TimestampFlag{Name: "clock-epoch", Hidden: true, Layout: time.RFC3339Nano,
		Usage: "testing only: the real instant at which the scaled clock reads the wall clock (as vomosim --clock-epoch)"},
	&cli.DurationFlag{Name: "lease-ttl", Hidden: true, Usage: "testing only: job lease time to live (default 30s)"},
	&cli.DurationFlag{Name: "visibility", Hidden: true, Usage: "testing only: how long a claimed queue entry stays invisible (default 5m)"},
}

// testingClock is the clock --clock-scale and --clock-epoch ask for.
func testingClock(c *cli.Context) (clock.Clock, error) {
	scale := c.Float64("clock-scale")
	if scale <= 0 {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("--clock-scale must be positive, got %g", scale)}
	}
	if epoch := c.Timestamp("clock-epoch"); epoch != nil {
		return clock.NewScaledSince(*epoch, scale), nil
	}
	if scale != 1 {
		return clock.NewScaled(time.Now(), scale), nil
	}
	return clock.Real{}, nil
}

// scaledSleeps makes the source client's waits (retry backoff, a 429's
// Retry-After, both in the source's time) pass scale times faster, like
// the clock they are measured on; nil when the clock is not scaled.
func scaledSleeps(scale float64) func(*vomo.Config) {
	if scale == 1 {
		return nil
	}
	return func(vc *vomo.Config) {
		vc.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(time.Duration(float64(d) / scale))
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

func storeFlag() cli.Flag {
	return &cli.StringFlag{Name: "store", Usage: "state store `URL` (a file path, redis://, redis+cluster://)", EnvVars: []string{"SIPHON_STORE"}}
}

func runRun(c *cli.Context) error {
	for _, f := range []string{"workers", "poll-slots"} {
		// Without --poll-slots the runner sizes the slots for the plan.
		if n := c.Int(f); n < 1 && (f != "poll-slots" || c.IsSet(f)) {
			return &exitError{code: 1, msg: fmt.Sprintf("--%s must be at least 1, got %d", f, n)}
		}
	}
	dir, err := configDir(c)
	if err != nil {
		return err
	}
	plan, err := loadRunPlan(dir)
	if err != nil {
		return err
	}
	ctx := c.Context // cancelled on SIGINT/SIGTERM by main
	region := c.String("region")
	st, hub, err := openRunStores(c, plan, dir, region)
	if err != nil {
		return err
	}
	defer st.Close()
	if hub != st {
		defer hub.Close()
	}
	kms, err := secrets.LoadKeyring(dir, "", false, nil)
	var creds runtime.Credentials
	if err == nil {
		creds = runtime.SealedCredentials{Store: st, KMS: kms}
	} else {
		// Without a master key no credential can be opened: every tenant
		// pauses with "no credentials", which says what to do.
		fmt.Fprintln(c.App.ErrWriter, "siphon: warning:", err)
	}
	level, err := logLevel()
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	log := slog.New(slog.NewJSONHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
	tel, err := telemetryFromEnv(ctx)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	tel.install(log)
	defer tel.flush(ctx, log) // after the runner's Close: deferred calls run last first
	clk, err := testingClock(c)
	if err != nil {
		return err
	}
	r, err := runtime.New(runtime.Config{Plan: plan, Store: st, HubStore: hub, Region: region, Credentials: creds, Logger: log, Workers: c.Int("workers"),
		PollSlots: c.Int("poll-slots"), Force: c.Bool("force"), Clock: clk, LeaseTTL: c.Duration("lease-ttl"),
		Visibility: c.Duration("visibility"), Source: scaledSleeps(c.Float64("clock-scale"))})
	if err != nil {
		return err
	}
	defer r.Close(context.WithoutCancel(ctx))
	if !c.Bool("once") {
		if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	sum, err := r.RunOnce(ctx)
	held := ""
	if sum.Paused > 0 {
		held = fmt.Sprintf("; %d queues held by a paused pipeline", sum.Paused)
	}
	if sum.DestinationDown > 0 {
		held += fmt.Sprintf("; %d queues left queued for the next run: their destination is down", sum.DestinationDown)
	}
	fmt.Fprintf(c.App.Writer, "jobs run %d, skipped %d; enqueued %d, written %d, retried %d, dead-lettered %d; failed jobs %d%s\n",
		sum.JobsRun, sum.JobsSkipped, sum.Enqueued, sum.Written, sum.Retried, sum.Dead, sum.PollErrors, held)
	if err != nil {
		return err
	}
	if sum.Failed() {
		return &exitError{code: 1, msg: "some records failed or went to a dead-letter queue, or a tenant or pipeline is paused, or a destination is down: see siphon status"}
	}
	return nil
}

// configDir is the configuration directory, absolute: the argument, else
// --config.
func configDir(c *cli.Context) (string, error) {
	dir, err := dirArg(c)
	if err != nil {
		return "", err
	}
	return absDir(dir)
}

// dirArg is the configuration directory as the user wrote it: the
// argument, else --config. plan and test keep it relative, so what they
// print names files the way the user does.
func dirArg(c *cli.Context) (string, error) {
	dir := c.String("config")
	switch c.NArg() {
	case 0:
	case 1:
		dir = c.Args().First()
	default:
		return "", &exitError{code: 1, msg: fmt.Sprintf("%s takes one configuration directory, not %d arguments: %s", c.Command.Name, c.NArg(), strings.Join(c.Args().Slice(), " "))}
	}
	return dir, nil
}

func absDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("configuration directory %s: %w", dir, err)
	}
	return abs, nil
}

// loadConfig makes dir absolute and loads the configuration there for
// running.
func loadConfig(dir string) (string, *dsl.Plan, error) {
	abs, err := absDir(dir)
	if err != nil {
		return "", nil, err
	}
	plan, err := loadRunPlan(abs)
	return abs, plan, err
}

// logLevel is the level of siphon run's log: SIPHON_LOG_LEVEL (debug,
// info, warn or error; info when unset). Debug adds the source client's
// retries and the plugins' own debug lines.
func logLevel() (slog.Level, error) {
	v := os.Getenv("SIPHON_LOG_LEVEL")
	if v == "" {
		return slog.LevelInfo, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return 0, fmt.Errorf("SIPHON_LOG_LEVEL=%q: want debug, info, warn or error", v)
	}
	return l, nil
}

// loadRunPlan loads a configuration for running: every value must be known.
func loadRunPlan(dir string) (*dsl.Plan, error) {
	res := dsl.Load(dir, dsl.Options{Mode: dsl.ModeRun})
	if res.Plan == nil || res.Diagnostics.HasErrors() {
		var msgs []string
		for _, d := range res.Diagnostics {
			if d.Severity == hcl.DiagError {
				msgs = append(msgs, d.Error())
			}
		}
		return nil, &exitError{code: 1, msg: "the configuration has errors (siphon plan shows them in full):\n  " + strings.Join(msgs, "\n  ")}
	}
	return res.Plan, nil
}

// storeURL resolves the store: --store > SIPHON_STORE > siphon { store } >
// .siphon/state.db in the config directory. A relative file path is
// relative to the config directory.
func storeURL(flag string, plan *dsl.Plan, dir string) (string, error) {
	u := flag
	if u == "" {
		if !plan.Store.Known || plan.Store.Text == "" {
			return "", errors.New("the store has no value: set --store, SIPHON_STORE or siphon { store }")
		}
		u = plan.Store.Text
	}
	if strings.Contains(u, "://") {
		return u, nil
	}
	path := strings.TrimPrefix(u, "file:")
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	return path, nil
}

// openRunStores opens the stores a run of region works with: the store
// its tenants' state lives in, and the hub store (the same store unless
// the region has one of its own). It refuses a region the configuration
// does not have, and stores that are not kept apart.
func openRunStores(c *cli.Context, plan *dsl.Plan, dir, region string) (st, hub state.Store, err error) {
	hubURL, err := storeURL(c.String("store"), plan, dir)
	if err != nil {
		return nil, nil, &exitError{code: 1, msg: err.Error()}
	}
	if err := checkStoresApart(hubURL, plan, dir); err != nil {
		return nil, nil, &exitError{code: 1, msg: err.Error()}
	}
	regionURL := ""
	if region != runtime.HubTenants {
		if regionURL, err = regionStoreURL(plan, region, dir); err != nil {
			return nil, nil, &exitError{code: 1, msg: err.Error()}
		}
	} else if others := otherRegions(plan, region); len(others) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "siphon: the tenants of region %s keep their state in their region's store: run them with siphon run --region NAME\n",
			strings.Join(others, ", "))
	}
	if regionURL == "" {
		st, err := openStoreURL(c, hubURL, true)
		return st, st, err
	}
	if st, err = openStoreURL(c, regionURL, true); err != nil {
		return nil, nil, err
	}
	// The hub's own run may hold an embedded hub store: go through its
	// socket then.
	if hub, err = openStoreURL(c, hubURL, false); err != nil {
		st.Close()
		return nil, nil, err
	}
	if err := checkDifferentStores(c.Context, region, st, hub); err != nil {
		st.Close()
		hub.Close()
		return nil, nil, &exitError{code: 1, msg: err.Error()}
	}
	return st, hub, nil
}

// openStoreIn opens the resolved store, creating a local store's directory.
func openStoreIn(c *cli.Context, store string, plan *dsl.Plan, dir string) (state.Store, error) {
	u, err := storeURL(store, plan, dir)
	if err != nil {
		return nil, &exitError{code: 1, msg: err.Error()}
	}
	// siphon run needs the embedded store to itself (it is single-node);
	// operator commands may go through the socket of the run that holds it.
	return openStoreURL(c, u, c.Command.Name == "run")
}

// openStoreURL opens a resolved store URL, creating a local store's
// directory. exclusive refuses an embedded store another process holds
// instead of going through its socket.
func openStoreURL(c *cli.Context, u string, exclusive bool) (state.Store, error) {
	if !strings.Contains(u, "://") {
		if err := os.MkdirAll(filepath.Dir(u), 0o700); err != nil {
			return nil, fmt.Errorf("store directory: %w", err)
		}
	}
	opt := storeOptions(c)
	opt.Exclusive = exclusive
	st, err := state.Open(c.Context, u, opt)
	if err != nil {
		return nil, &exitError{code: 1, msg: err.Error()}
	}
	return st, nil
}
