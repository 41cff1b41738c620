package main

import (
	"encoding/json"
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
			"state and makes no network requests, except to read the store given with --store:\n" +
			"then it also lists what changes against the config that store last ran (tenants,\n" +
			"pipelines, cadences, mappings), and with --detailed-exitcode exits 2 when\n" +
			"anything does (0: no changes, 1: error).",
		Flags: []cli.Flag{
			configFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document: format_version, valid, counts, diagnostics, plan"},
			&cli.StringFlag{Name: "now", Usage: "plan as if it were `TIME` (RFC 3339), for stable output"},
			&cli.GenericFlag{Name: "var", Usage: "set a variable: `NAME=VALUE` (repeatable; wins over variable files)", Value: &varFlag{}},
			&cli.GenericFlag{Name: "var-file", Usage: "read variable values from `FILE`, after *.auto.vars.hcl (repeatable)", Value: &listFlag{}},
			&cli.StringFlag{Name: "store", Usage: "diff against the config the store at `URL` last ran (only reads it)"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "with --store: exit 0 when nothing changes, 2 when something does, 1 on errors"},
		},
		Action: runPlan,
	})
}

func runPlan(c *cli.Context) error {
	if c.Bool("detailed-exitcode") && c.String("store") == "" {
		return &exitError{code: 1, msg: "--detailed-exitcode reports whether the plan differs from what a store last ran: give that store with --store URL"}
	}
	dir, err := dirArg(c)
	if err != nil {
		return err
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
	valid := res.Plan != nil && !res.Diagnostics.HasErrors()
	var diff *storeDiff
	if s := c.String("store"); s != "" && valid {
		u, err := storeURL(s, res.Plan, dir)
		if err == nil {
			diff, err = diffAgainstStore(c.Context, u, res.Plan)
		}
		if err != nil {
			return &exitError{code: 1, msg: "plan --store: " + err.Error()}
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(planWithDiff{Document: planview.NewDocument(res), StoreDiff: diff})
	} else {
		color, width := terminal(c.App.Writer)
		err = planview.Human(c.App.Writer, res, planview.Options{Color: color, Width: width})
		if err == nil && diff != nil {
			printStoreDiff(c.App.Writer, diff)
		}
	}
	if err != nil {
		return err
	}
	if !valid {
		return &exitError{code: 1}
	}
	if diff != nil && diff.Changed && c.Bool("detailed-exitcode") {
		return &exitError{code: 2}
	}
	return nil
}

// planWithDiff is the plan -json document, with the store diff after the
// plan when --store is given.
type planWithDiff struct {
	*planview.Document
	StoreDiff *storeDiff `json:"store_diff,omitempty"`
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
