package main

import (
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:  "dev",
		Usage: "development tools",
		Subcommands: []*cli.Command{{
			Name:            "vomosim",
			Usage:           "serve a simulated VOMO API (same flags as the vomosim binary; try --scenario adversarial)",
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				return vomosim.Main(c.Context, "siphon dev vomosim", c.Args().Slice(), c.App.Writer, c.App.ErrWriter)
			},
		}, devSQLCommand()},
	})
}
