package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/planview"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "test",
		Usage:     "run the mapping tests (*.test.hcl) of a configuration",
		ArgsUsage: "[DIR]",
		Description: "Loads the configuration in DIR (default --config, else .) as plan does, then runs\n" +
			"every test block of its *.test.hcl files: each record goes through the pipeline's\n" +
			"compiled filter and mapping, exactly as siphon run maps it, and is compared with the\n" +
			"test's expect, expect_filtered, expect_error or golden file. Prints a field-by-field\n" +
			"diff per failing record with where each field is mapped, the pipelines that have no\n" +
			"tests, and a summary. Exit 0 when every test passes, 1 otherwise. Makes no network\n" +
			"requests and writes nothing but golden files (-update).",
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "run", Usage: "run only the tests whose name matches `REGEX`"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document: diagnostics, tests, failures, untested pipelines"},
			&cli.BoolFlag{Name: "update", Usage: "rewrite the golden files from what the mappings produce now"},
			&cli.GenericFlag{Name: "var", Usage: "set a variable: `NAME=VALUE` (repeatable), as for plan", Value: &varFlag{}},
			&cli.GenericFlag{Name: "var-file", Usage: "read variable values from `FILE` (repeatable), as for plan", Value: &listFlag{}},
		},
		Action: runTest,
	})
}

// testReport is what `siphon test` found, for either view.
type testReport struct {
	files    map[string]*hcl.File
	diags    hcl.Diagnostics
	results  []dsl.TestResult
	untested []string
	// updated are the golden files -update wrote.
	updated []string
	// loaded is false when the configuration or the tests did not decode.
	loaded bool
	// keys are the primary key fields of each pipeline's resource, to
	// name a failing record by its key.
	keys map[string][]string
}

func runTest(c *cli.Context) error {
	dir, err := dirArg(c)
	if err != nil {
		return err
	}
	var match *regexp.Regexp
	if s := c.String("run"); s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("invalid -run %q: %v", s, err)}
		}
		match = re
	}
	opts := dsl.Options{Mode: dsl.ModePlan, Vars: c.Generic("var").(*varFlag).values, VarFiles: c.Generic("var-file").(*listFlag).values}
	rep, err := runTests(dir, opts, match, c.Bool("update"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		err = printJSON(c.App.Writer, rep.document())
	} else {
		color, width := terminal(c.App.Writer)
		err = rep.human(c.App.Writer, planview.Options{Color: color, Width: width})
	}
	if err != nil {
		return err
	}
	if !rep.passed() {
		return &exitError{code: 1}
	}
	return nil
}

// runTests loads the configuration (as plan does, with opts) and its tests
// and runs the tests whose names match (all when match is nil); with
// update it writes the golden files from what the mappings produce.
func runTests(dir string, opts dsl.Options, match *regexp.Regexp, update bool) (*testReport, error) {
	rep := &testReport{}
	res := dsl.Load(dir, opts)
	rep.files = res.Files
	if res.Plan == nil || res.Diagnostics.HasErrors() {
		rep.diags = res.Diagnostics
		return rep, nil
	}
	suite := dsl.LoadTests(dir, res.Plan, dsl.TestOptions{Update: update})
	for name, f := range suite.Files {
		rep.files[name] = f
	}
	rep.diags = suite.Diagnostics
	if suite.Diagnostics.HasErrors() {
		return rep, nil
	}
	rep.loaded = true
	rep.keys = map[string][]string{}
	for _, p := range res.Plan.Pipelines {
		for _, r := range res.Plan.Resources {
			if r.Name == p.Resource {
				rep.keys[p.Name] = r.PrimaryKey
			}
		}
	}
	tested := suite.TestedPipelines()
	for _, p := range res.Plan.Pipelines {
		if !slices.Contains(tested, p.Name) {
			rep.untested = append(rep.untested, p.Name)
		}
	}
	for _, t := range suite.Tests {
		if match != nil && !match.MatchString(t.Name) {
			continue
		}
		r := t.Run()
		if update && t.GoldenPath != "" {
			if err := writeGolden(&r); err != nil {
				return nil, err
			}
			rep.updated = append(rep.updated, t.GoldenPath)
			// The golden file now holds exactly these outcomes.
			for i := range r.Cases {
				r.Cases[i].Problem, r.Cases[i].Diffs = "", nil
			}
			r.Failed = 0
		}
		rep.results = append(rep.results, r)
	}
	return rep, nil
}

// writeGolden writes a test's outcomes to its golden file.
func writeGolden(r *dsl.TestResult) error {
	out, err := r.GoldenJSON()
	if err != nil {
		return err
	}
	path := r.Test.GoldenPath
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("test %s: golden file: %w", r.Test.Name, err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("test %s: golden file: %w", r.Test.Name, err)
	}
	return nil
}

// passed is the exit status: everything loaded and no test failed.
func (rep *testReport) passed() bool {
	if !rep.loaded {
		return false
	}
	for i := range rep.results {
		if !rep.results[i].Passed() {
			return false
		}
	}
	return true
}

// counts returns the tests passed and failed, and the records run.
func (rep *testReport) counts() (passed, failed, records int) {
	for i := range rep.results {
		records += len(rep.results[i].Cases)
		if rep.results[i].Passed() {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed, records
}

// human writes the report for people: a line per test, the diff of every
// failing record, the diagnostics, the untested pipelines and a summary.
func (rep *testReport) human(w io.Writer, opts planview.Options) error {
	var b strings.Builder
	for i := range rep.results {
		rep.writeResult(&b, &rep.results[i])
	}
	for _, path := range rep.updated {
		fmt.Fprintf(&b, "updated %s\n", path)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := planview.WriteDiagnostics(w, rep.files, rep.diags, opts); err != nil {
		return err
	}
	b.Reset()
	if len(rep.untested) > 0 {
		fmt.Fprintf(&b, "Pipelines without tests: %s\n", strings.Join(rep.untested, ", "))
	}
	b.WriteString(rep.summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// summary is the last line, the one a CI log is read for.
func (rep *testReport) summary() string {
	errs := 0
	for _, d := range rep.diags {
		if d.Severity == hcl.DiagError {
			errs++
		}
	}
	if !rep.loaded {
		return fmt.Sprintf("Test: invalid configuration or tests; %s.", plural(errs, "error"))
	}
	passed, failed, records := rep.counts()
	return fmt.Sprintf("Test: %d passed, %d failed (%s).", passed, failed, plural(records, "record"))
}

// writeResult writes one test's line and, when it failed, what differs
// for each failing record.
func (rep *testReport) writeResult(b *strings.Builder, r *dsl.TestResult) {
	t := r.Test
	subject := t.Pipeline.Name
	if t.Tenant != nil {
		subject += " for " + t.Tenant.ID
	}
	if r.Passed() {
		fmt.Fprintf(b, "ok   %s (%s, %s)\n", t.Name, subject, plural(len(r.Cases), "record"))
		return
	}
	fmt.Fprintf(b, "FAIL %s (%s, %d of %s) at %s\n", t.Name, subject, r.Failed, plural(len(r.Cases), "record"), where(t.DeclRange))
	for i := range r.Cases {
		c := &r.Cases[i]
		if c.Passed() {
			continue
		}
		fmt.Fprintf(b, "  record %d%s at %s\n", i+1, recordKey(rep.keys[t.Pipeline.Name], c.Case.Record), where(c.Case.Range))
		if c.Problem != "" {
			fmt.Fprintf(b, "    %s\n", c.Problem)
		}
		for _, d := range c.Diffs {
			if d.Mapping != nil {
				fmt.Fprintf(b, "    %s = %s at %s\n", d.Field, d.Mapping.Expr, where(d.Mapping.Range))
			} else {
				fmt.Fprintf(b, "    %s (the pipeline maps no such field)\n", d.Field)
			}
			fmt.Fprintf(b, "      want: %s\n", shownValue(d.Want, d.WantAbsent, "(absent)"))
			fmt.Fprintf(b, "      got:  %s\n", shownValue(d.Got, d.GotAbsent, "(not mapped)"))
		}
	}
}

// recordKey names a record by its primary key, " (id 201)", or "" when
// the record does not hold it.
func recordKey(fields []string, rec map[string]any) string {
	var parts []string
	for _, f := range fields {
		v, ok := rec[f]
		if !ok || v == nil {
			return ""
		}
		parts = append(parts, fmt.Sprintf("%s %v", f, v))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// where is a range's start as file:line:col.
func where(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// shownValue renders a field value as JSON (strings quoted, so "" and
// null differ), or absent when the side has no such field.
func shownValue(v any, isAbsent bool, absent string) string {
	if isAbsent {
		return absent
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// testDocument is `siphon test -json`: the diagnostics in the shape plan
// -json uses, every test run, and the counts.
type testDocument struct {
	FormatVersion string                `json:"format_version"`
	Valid         bool                  `json:"valid"`
	Diagnostics   []planview.Diagnostic `json:"diagnostics"`
	Tests         []testJSON            `json:"tests"`
	Untested      []string              `json:"untested_pipelines"`
	Updated       []string              `json:"updated,omitempty"`
	Summary       map[string]int        `json:"summary"`
	Passed        bool                  `json:"passed"`
}

type testJSON struct {
	Name     string         `json:"name"`
	Pipeline string         `json:"pipeline"`
	Tenant   string         `json:"tenant,omitempty"`
	Range    planview.Range `json:"range"`
	Records  int            `json:"records"`
	Passed   bool           `json:"passed"`
	Failures []failureJSON  `json:"failures"`
	Golden   string         `json:"golden,omitempty"`
}

type failureJSON struct {
	Record  int            `json:"record"`
	Range   planview.Range `json:"range"`
	Problem string         `json:"problem,omitempty"`
	Fields  []fieldJSON    `json:"fields"`
}

type fieldJSON struct {
	Field      string          `json:"field"`
	Want       any             `json:"want"`
	Got        any             `json:"got"`
	WantAbsent bool            `json:"want_absent,omitempty"`
	GotAbsent  bool            `json:"got_absent,omitempty"`
	Expr       string          `json:"expr,omitempty"`
	MappedAt   *planview.Range `json:"mapped_at,omitempty"`
}

func jsonRange(r hcl.Range) planview.Range {
	pos := func(p hcl.Pos) planview.Pos { return planview.Pos{Line: p.Line, Column: p.Column, Byte: p.Byte} }
	return planview.Range{Filename: r.Filename, Start: pos(r.Start), End: pos(r.End)}
}

func (rep *testReport) document() *testDocument {
	passed, failed, records := rep.counts()
	doc := &testDocument{
		FormatVersion: dsl.FormatVersion,
		Valid:         rep.loaded,
		Diagnostics:   planview.JSONDiagnostics(rep.files, rep.diags),
		Tests:         []testJSON{},
		Untested:      append([]string{}, rep.untested...),
		Updated:       rep.updated,
		Summary:       map[string]int{"passed": passed, "failed": failed, "records": records},
		Passed:        rep.passed(),
	}
	for i := range rep.results {
		r := &rep.results[i]
		tj := testJSON{Name: r.Test.Name, Pipeline: r.Test.Pipeline.Name, Range: jsonRange(r.Test.DeclRange),
			Records: len(r.Cases), Passed: r.Passed(), Failures: []failureJSON{}, Golden: r.Test.Golden}
		if r.Test.Tenant != nil {
			tj.Tenant = r.Test.Tenant.ID
		}
		for j := range r.Cases {
			c := &r.Cases[j]
			if c.Passed() {
				continue
			}
			fj := failureJSON{Record: j + 1, Range: jsonRange(c.Case.Range), Problem: c.Problem, Fields: []fieldJSON{}}
			for _, d := range c.Diffs {
				f := fieldJSON{Field: d.Field, Want: d.Want, Got: d.Got, WantAbsent: d.WantAbsent, GotAbsent: d.GotAbsent}
				if d.Mapping != nil {
					rng := jsonRange(d.Mapping.Range)
					f.Expr, f.MappedAt = d.Mapping.Expr, &rng
				}
				fj.Fields = append(fj.Fields, f)
			}
			tj.Failures = append(tj.Failures, fj)
		}
		doc.Tests = append(doc.Tests, tj)
	}
	return doc
}
