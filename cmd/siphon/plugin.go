package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/plugintest"
	"github.com/siphonhq/siphon/plugins/sdk"
)

func init() {
	pluginDirFlag := func() cli.Flag {
		return &cli.StringSliceFlag{Name: "plugin-dir", Usage: "search `DIR` for siphon-destination-* plugins first (repeatable)"}
	}
	commands = append(commands, &cli.Command{
		Name:  "plugin",
		Usage: "list, serve and test destination plugins",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the built-in destinations and the plugins found on the plugin path",
				Flags: []cli.Flag{pluginDirFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					return pluginList(c.App.Writer, host.SearchPath(c.StringSlice("plugin-dir")...), c.Bool("json"))
				},
			},
			{
				Name:      "serve",
				Usage:     "serve a built-in destination as a plugin (siphon runs this itself)",
				ArgsUsage: "NAME",
				Hidden:    true,
				Action: func(c *cli.Context) error {
					return pluginServe(c.Args().First())
				},
			},
			{
				Name:      "test",
				Usage:     "run the conformance kit against a plugin binary or a plugin name",
				ArgsUsage: "[flags] PATH|NAME",
				Flags: []cli.Flag{
					pluginDirFlag(),
					&cli.StringSliceFlag{Name: "config", Usage: "set config attribute `KEY=VALUE` (repeatable)"},
					&cli.IntFlag{Name: "records", Value: 10_000, Usage: "records written by the scale case"},
					&cli.StringFlag{Name: "sha256", Usage: "refuse the plugin unless its binary has this `HASH`"},
					&cli.BoolFlag{Name: "verbose", Usage: "show the plugin's logs on stderr"},
				},
				Action: pluginTest,
			},
		},
	})
}

func pluginList(w io.Writer, dirs []string, asJSON bool) error {
	plugins := host.List(dirs)
	if asJSON {
		type entry struct {
			Name    string `json:"name"`
			Builtin bool   `json:"builtin"`
			Path    string `json:"path,omitempty"`
		}
		out := make([]entry, len(plugins))
		for i, p := range plugins {
			out[i] = entry{Name: p.Name, Builtin: p.Builtin}
			if !p.Builtin {
				out[i].Path = p.Path
			}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tPATH")
	for _, p := range plugins {
		if p.Builtin {
			fmt.Fprintf(tw, "%s\tbuilt-in\t\n", p.Name)
		} else {
			fmt.Fprintf(tw, "%s\texternal\t%s\n", p.Name, p.Path)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// A built-in has no path: its KIND cell is padded for a column that
	// stays empty, and the padding would end the line in spaces.
	var out strings.Builder
	for line := range strings.Lines(table.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	fmt.Fprintf(&out, "searched: %s\n", strings.Join(dirs, ", "))
	_, err := io.WriteString(w, out.String())
	return err
}

// pluginServe runs a built-in destination as a plugin subprocess. Nothing
// may be printed to stdout here: it carries the handshake.
func pluginServe(name string) error {
	factory, ok := destinations.Lookup(name)
	if !ok {
		return fmt.Errorf("plugin serve: unknown built-in destination %q (built-in: %s)", name, strings.Join(destinations.Names(), ", "))
	}
	sdk.Serve(factory())
	return nil
}

func pluginTest(c *cli.Context) error {
	target := c.Args().First()
	if target == "" || c.NArg() > 1 {
		return cli.Exit("usage: siphon plugin test [--config KEY=VALUE]... PATH|NAME (flags come before the plugin)", 1)
	}
	cfg, err := configFlags(c.StringSlice("config"))
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if c.Bool("verbose") {
		logger = slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
	}
	launch := host.LaunchConfig{Name: target, Dirs: c.StringSlice("plugin-dir"), SHA256: c.String("sha256"), Logger: logger}
	if isPath(target) {
		abs, err := filepath.Abs(target)
		if err != nil {
			return err
		}
		launch.Path, launch.Plugin = abs, strings.TrimPrefix(filepath.Base(abs), host.BinaryPrefix)
	} else {
		launch.Plugin = target
	}
	rep := plugintest.Check(c.Context, func(ctx context.Context) (sdk.Destination, error) {
		return host.Launch(ctx, launch)
	}, plugintest.WithConfig(cfg), plugintest.WithRecords(c.Int("records")))
	if err := rep.Write(c.App.Writer, target); err != nil {
		return err
	}
	if !rep.OK() {
		return cli.Exit("", 1)
	}
	return nil
}

// isPath tells a plugin binary's path from a plugin name.
func isPath(s string) bool {
	if strings.ContainsRune(s, filepath.Separator) {
		return true
	}
	fi, err := os.Stat(s)
	return err == nil && fi.Mode().IsRegular()
}

// configFlags builds the config object from KEY=VALUE flags; values are
// strings, which plugins convert to the type they need.
func configFlags(pairs []string) (cty.Value, error) {
	if len(pairs) == 0 {
		return cty.EmptyObjectVal, nil
	}
	attrs := map[string]cty.Value{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return cty.NilVal, fmt.Errorf("--config %q: want KEY=VALUE", p)
		}
		attrs[k] = cty.StringVal(v)
	}
	return cty.ObjectVal(attrs), nil
}
