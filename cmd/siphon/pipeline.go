package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/internal/state"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:  "pipeline",
		Usage: "operate a tenant's pipeline",
		Subcommands: []*cli.Command{
			{
				Name: "resume",
				Usage: "resume a pipeline paused for its mapping-error rate: it is polled again and its queued " +
					"records are processed (runs notice within seconds)",
				ArgsUsage: "TENANT PIPELINE",
				Flags:     operatorFlags(),
				Action:    runPipelineResume,
			},
		},
	})
}

func runPipelineResume(c *cli.Context) error {
	tg, err := operatorTarget(c, "pipeline resume TENANT PIPELINE", 2, 2)
	if err != nil {
		return err
	}
	name := tg.args[1]
	if err := tg.activePipeline(name); err != nil {
		return err
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	t := tg.tenant
	flags, err := st.Flags(c.Context, t.ID)
	if err != nil {
		return fmt.Errorf("flags of %s: %w", t.ID, err)
	}
	var was *state.Flag
	for i, f := range flags {
		if f.Kind == state.FlagPipelinePaused && f.Scope == name {
			was = &flags[i]
		}
	}
	if was == nil {
		// Nothing to do is not a failure: a script may resume twice.
		fmt.Fprintf(c.App.Writer, "pipeline %s of %s is not paused\n", name, t.ID)
		return nil
	}
	if err := st.ClearFlag(c.Context, t.ID, state.FlagPipelinePaused, name); err != nil {
		return fmt.Errorf("resume %s/%s: %w", t.ID, name, err)
	}
	fmt.Fprintf(c.App.Writer, "resumed pipeline %s of %s (was paused: %s)\n", name, t.ID, was.Reason)
	// The reason quotes a record's mapping error: the tenant's data.
	return audit(c, tg, st, "pipeline resume", "pipeline "+name, "was paused: "+was.Reason)
}
