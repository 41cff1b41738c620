package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/internal/state"
)

func init() {
	flags := operatorFlags
	commands = append(commands, &cli.Command{
		Name:  "checkpoint",
		Usage: "show, move or reset where a tenant's pipelines resume polling",
		Subcommands: []*cli.Command{
			{
				Name:      "get",
				Usage:     "show the cursor, any walk in progress and the generation of TENANT's pipelines",
				ArgsUsage: "TENANT [PIPELINE]",
				Flags:     flags(&cli.BoolFlag{Name: "json", Usage: "print JSON"}),
				Action:    runCheckpointGet,
			},
			{
				Name:      "set",
				Usage:     "move the cursor (records updated after it are read again); drops any walk in progress",
				ArgsUsage: "TENANT PIPELINE --cursor TIME",
				Flags:     flags(&cli.StringFlag{Name: "cursor", Usage: "the new cursor, `TIME` in RFC 3339"}),
				Action:    runCheckpointSet,
			},
			{
				Name:      "reset",
				Usage:     "drop the cursor and any walk: the next poll rebuilds the cursor from the destination (or backfills when it holds nothing)",
				ArgsUsage: "TENANT PIPELINE",
				Flags:     flags(),
				Action:    runCheckpointReset,
			},
		},
	})
}

// checkpointView is one (tenant, pipeline) checkpoint as get shows it.
type checkpointView struct {
	Tenant   string    `json:"tenant"`
	Pipeline string    `json:"pipeline"`
	Cursor   time.Time `json:"cursor,omitzero"`
	// AgeSeconds is how far the cursor is behind now, named as in status;
	// absent without a cursor.
	AgeSeconds *float64  `json:"checkpoint_age_seconds,omitempty"`
	Walk       *walkView `json:"walk"`
	Generation int64     `json:"generation"`
}

// walkView is a walk in progress over the window (After, Cap]: Position
// is the next record position, Total the source's last count.
type walkView struct {
	After    time.Time `json:"after"`
	Cap      time.Time `json:"cap"`
	Position int64     `json:"position"`
	Total    int64     `json:"total"`
}

func viewOf(tenant, pipeline string, cp state.Checkpoint, now time.Time) checkpointView {
	v := checkpointView{Tenant: tenant, Pipeline: pipeline, Cursor: cp.Cursor.UTC(), Generation: cp.Generation}
	if !cp.Cursor.IsZero() {
		age := now.Sub(cp.Cursor).Seconds()
		v.AgeSeconds = &age
	}
	if w := cp.Walk; w != nil {
		v.Walk = &walkView{After: w.After.UTC(), Cap: w.Cap.UTC(), Position: w.Position, Total: w.Total}
	}
	return v
}

func runCheckpointGet(c *cli.Context) error {
	tg, err := operatorTarget(c, "checkpoint get TENANT [PIPELINE]", 1, 2)
	if err != nil {
		return err
	}
	pipelines := tg.tenant.Active
	if len(tg.args) == 2 {
		if err := tg.activePipeline(tg.args[1]); err != nil {
			return err
		}
		pipelines = tg.args[1:]
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	out := []checkpointView{}
	for _, p := range pipelines {
		cp, err := st.Checkpoint(c.Context, tg.tenant.ID, p)
		if err != nil {
			return err
		}
		out = append(out, viewOf(tg.tenant.ID, p, cp, now))
	}
	if tg.json {
		return printJSON(c.App.Writer, out)
	}
	for _, v := range out {
		printCheckpoint(c.App.Writer, v)
	}
	return nil
}

func printCheckpoint(w io.Writer, v checkpointView) {
	cursor := "no cursor: the next poll reads from the start"
	if v.AgeSeconds != nil {
		cursor = fmt.Sprintf("cursor %s (%s old)", v.Cursor.Format(time.RFC3339Nano), ageText(*v.AgeSeconds))
	}
	fmt.Fprintf(w, "%s/%s  %s  generation %d\n", v.Tenant, v.Pipeline, cursor, v.Generation)
	if wk := v.Walk; wk != nil {
		fmt.Fprintf(w, "  walk in progress over (%s, %s]: position %d of %d\n",
			wk.After.Format(time.RFC3339Nano), wk.Cap.Format(time.RFC3339Nano), wk.Position, wk.Total)
	}
}

func ageText(seconds float64) string {
	return (time.Duration(seconds) * time.Second).String()
}

// cursorText is a cursor for messages and audit details.
func cursorText(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// checkpointTarget checks TENANT PIPELINE for set and reset.
func checkpointTarget(c *cli.Context, usage string) (target, string, error) {
	tg, err := operatorTarget(c, usage, 2, 2)
	if err != nil {
		return tg, "", err
	}
	return tg, tg.args[1], tg.activePipeline(tg.args[1])
}

func runCheckpointSet(c *cli.Context) error {
	tg, pipeline, err := checkpointTarget(c, "checkpoint set TENANT PIPELINE --cursor TIME")
	if err != nil {
		return err
	}
	if !c.IsSet("cursor") {
		return &exitError{code: 1, msg: "checkpoint set needs --cursor TIME (RFC 3339, e.g. 2026-01-02T15:04:05Z); checkpoint reset drops the cursor"}
	}
	at, err := time.Parse(time.RFC3339Nano, c.String("cursor"))
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("--cursor %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", c.String("cursor"))}
	}
	// A cursor ahead of now would skip every update until then.
	if at.After(time.Now()) {
		return &exitError{code: 1, msg: fmt.Sprintf("--cursor %s is in the future: records updated until then would never be read", at.Format(time.RFC3339Nano))}
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	before, err := st.Checkpoint(c.Context, tg.tenant.ID, pipeline)
	if err != nil {
		return err
	}
	cp, err := st.SetCursor(c.Context, tg.tenant.ID, pipeline, at)
	if err != nil {
		return err
	}
	at = at.UTC()
	was := cursorText(before.Cursor)
	w := c.App.Writer
	fmt.Fprintf(w, "set the cursor of %s/%s to %s (was %s); generation %d\n", tg.tenant.ID, pipeline, at.Format(time.RFC3339Nano), was, cp.Generation)
	if before.Walk != nil {
		fmt.Fprintln(w, "dropped the walk in progress: it will not write its progress or its cursor")
	}
	return audit(c, tg, st, "checkpoint set",
		fmt.Sprintf("pipeline %s cursor %s (was %s), generation %d", pipeline, at.Format(time.RFC3339Nano), was, cp.Generation))
}

func runCheckpointReset(c *cli.Context) error {
	tg, pipeline, err := checkpointTarget(c, "checkpoint reset TENANT PIPELINE")
	if err != nil {
		return err
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	before, err := st.Checkpoint(c.Context, tg.tenant.ID, pipeline)
	if err != nil {
		return err
	}
	cp, err := st.ResetCheckpoint(c.Context, tg.tenant.ID, pipeline)
	if err != nil {
		return err
	}
	was := cursorText(before.Cursor)
	fmt.Fprintf(c.App.Writer, "reset the checkpoint of %s/%s (cursor was %s); generation %d: the next poll rebuilds it from the destination (or backfills when it holds nothing)\n",
		tg.tenant.ID, pipeline, was, cp.Generation)
	return audit(c, tg, st, "checkpoint reset", fmt.Sprintf("pipeline %s (cursor was %s), generation %d", pipeline, was, cp.Generation))
}
