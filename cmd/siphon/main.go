// Command siphon is the CLI of Siphon: it plans, formats and runs pipeline
// configurations. Each subcommand lives in its own file and registers itself
// in commands; this file only assembles the app and maps errors to exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/plugins/host"
)

// commands is filled by the init functions of the files beside this one.
var commands []*cli.Command

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitCoder lets a command choose its exit code (plan uses 1 for an invalid
// configuration and 2 for "changes present").
type exitCoder interface{ ExitCode() int }

// exitError is a failure with a chosen exit code. An empty message means
// the command has already said everything (a plan with errors printed its
// diagnostics), so run adds no "siphon:" line.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

// resetter is a flag value that accumulates (a repeatable -var); it is
// emptied before every run because urfave/cli keeps generic flag values in
// the command, and tests run the app many times in one process.
type resetter interface{ Reset() }

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is the whole CLI with its output streams passed in, so that tests
// run commands in-process and compare what they print.
func run(args []string, stdout, stderr io.Writer) int {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	for _, cmd := range commands {
		for _, f := range cmd.Flags {
			if g, ok := f.(*cli.GenericFlag); ok {
				if r, ok := g.Value.(resetter); ok {
					r.Reset()
				}
			}
		}
	}
	app := &cli.App{
		Name:                 "siphon",
		Usage:                "declarative runner for pull-based SaaS sync integrations",
		Version:              version,
		Commands:             commands,
		EnableBashCompletion: true,
		Writer:               stdout,
		ErrWriter:            stderr,
		ExitErrHandler:       func(*cli.Context, error) {},
	}
	// SIGINT or SIGTERM cancels the commands' context, so a command winds
	// down and returns; stopping the notification then gives a second
	// signal its default effect, ending siphon at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	// Whatever a command did with the plugins it started, none outlives
	// it; if siphon dies instead of returning, the plugins' parent-death
	// signal and their parent watch end them.
	defer host.Shutdown()
	err := app.RunContext(ctx, flagsFirst(commands, args))
	if err == nil {
		return 0
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "siphon:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "siphon:", err)
	return 1
}
