package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/planview"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "plan",
		Usage:     "validate a configuration and show what would run, when, for whom and at what cost",
		ArgsUsage: "[DIR]",
		Description: "Loads every *.hcl file of DIR (default --config, else .), reports problems with\n" +
			"file, line and a snippet, and prints per tenant its jobs, next runs, reconciles,\n" +
			"budgets and rollout variants. Exit 0 when valid, 1 when not. plan never writes\n" +
			"state and makes no network requests.",
		Flags: []cli.Flag{
			configFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document: format_version, valid, counts, diagnostics, plan"},
			&cli.StringFlag{Name: "now", Usage: "plan as if it were `TIME` (RFC 3339), for stable output"},
			&cli.GenericFlag{Name: "var", Usage: "set a variable: `NAME=VALUE` (repeatable; wins over variable files)", Value: &varFlag{}},
			&cli.GenericFlag{Name: "var-file", Usage: "read variable values from `FILE`, after *.auto.vars.hcl (repeatable)", Value: &listFlag{}},
			&cli.StringFlag{Name: "store", Usage: "diff against what the store at `URL` last ran (not available yet)"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 2 when the plan differs from the store's (not available yet)"},
		},
		Action: runPlan,
	})
}

func runPlan(c *cli.Context) error {
	if c.IsSet("store") {
		return &exitError{code: 1, msg: "--store needs the state store, which this version does not have yet"}
	}
	if c.Bool("detailed-exitcode") {
		return &exitError{code: 1, msg: "--detailed-exitcode compares with the state store (--store), which this version does not have yet"}
	}
	dir := c.String("config")
	switch c.NArg() {
	case 0:
	case 1:
		dir = c.Args().First()
	default:
		return &exitError{code: 1, msg: fmt.Sprintf("plan takes one configuration directory, not %d arguments: %s", c.NArg(), strings.Join(c.Args().Slice(), " "))}
	}
	opts := dsl.Options{Mode: dsl.ModePlan, Vars: c.Generic("var").(*varFlag).values, VarFiles: c.Generic("var-file").(*listFlag).values}
	if s := c.String("now"); s != "" {
		now, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("invalid --now %q: write an RFC 3339 time like 2026-11-26T09:00:00Z", s)}
		}
		opts.Now = now
	}

	res := dsl.Load(dir, opts)
	var err error
	if c.Bool("json") {
		err = planview.JSON(c.App.Writer, res)
	} else {
		color, width := terminal(c.App.Writer)
		err = planview.Human(c.App.Writer, res, planview.Options{Color: color, Width: width})
	}
	if err != nil {
		return err
	}
	if res.Plan == nil || res.Diagnostics.HasErrors() {
		return &exitError{code: 1}
	}
	return nil
}

// varFlag collects repeated -var NAME=VALUE flags; a later value for the
// same name wins, as on Terraform's command line.
type varFlag struct{ values map[string]string }

func (v *varFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("write NAME=VALUE, like -var vomo_url=http://127.0.0.1:8089/v1")
	}
	if v.values == nil {
		v.values = map[string]string{}
	}
	v.values[strings.TrimSpace(name)] = value
	return nil
}

func (v *varFlag) String() string { return "" }
func (v *varFlag) Reset()         { v.values = nil }

// listFlag collects a repeatable flag's values in order. Unlike
// cli.StringSliceFlag it never splits a value at commas.
type listFlag struct{ values []string }

func (l *listFlag) Set(s string) error { l.values = append(l.values, s); return nil }
func (l *listFlag) String() string     { return strings.Join(l.values, ",") }
func (l *listFlag) Reset()             { l.values = nil }
