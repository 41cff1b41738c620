// Command siphon is the CLI of Siphon: it plans, formats and runs pipeline
// configurations. Each subcommand lives in its own file and registers itself
// in commands; this file only assembles the app and maps errors to exit codes.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/urfave/cli/v2"
)

// commands is filled by the init functions of the files beside this one.
var commands []*cli.Command

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitCoder lets a command choose its exit code (plan uses 1 for an invalid
// configuration and 2 for "changes present").
type exitCoder interface{ ExitCode() int }

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	app := &cli.App{
		Name:                 "siphon",
		Usage:                "declarative runner for pull-based SaaS sync integrations",
		Version:              version,
		Commands:             commands,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
	}
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "siphon:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "siphon:", err)
	return 1
}
