package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// TestResult is what running one test found.
type TestResult struct {
	Test  *MappingTest
	Cases []CaseResult
	// Failed counts the cases that did not pass.
	Failed int
}

// Passed reports whether every record came out as expected.
func (r *TestResult) Passed() bool { return r.Failed == 0 }

// CaseResult is one record's outcome against its expectation.
type CaseResult struct {
	Case *TestCase
	Got  Outcome
	// Problem says how the outcome differs when it is not of the expected
	// kind (mapped, filtered, an error) or its error does not match; empty
	// otherwise.
	Problem string
	// Diffs are the fields whose values differ, in the pipeline's field
	// order (fields it does not map last).
	Diffs []FieldDiff
}

// Passed reports whether the record came out as expected.
func (c *CaseResult) Passed() bool { return c.Problem == "" && len(c.Diffs) == 0 }

// FieldDiff is one field whose mapped value is not the expected one.
type FieldDiff struct {
	Field string
	// Want and Got are the values; WantAbsent and GotAbsent say the field
	// is missing on that side (a golden file of an older mapping).
	Want, Got             any
	WantAbsent, GotAbsent bool
	// Mapping is the pipeline's field: its expression and the range in
	// the configuration that produced the value; nil for a field the
	// pipeline does not map.
	Mapping *MappedField
}

// Run maps every record of the test with the pipeline's compiled
// Transform, exactly as the runtime does, and compares each outcome with
// its expectation. A case without an expectation (a golden file still to
// be written) fails with a problem saying so.
func (t *MappingTest) Run() TestResult {
	res := TestResult{Test: t, Cases: make([]CaseResult, len(t.Cases))}
	for i := range t.Cases {
		c := &t.Cases[i]
		cr := CaseResult{Case: c, Got: t.apply(c.Record)}
		switch {
		case !c.HasWant:
			cr.Problem = fmt.Sprintf("the golden file %s has no entry for this record; run siphon test -update to write it", t.Golden)
		default:
			cr.Problem, cr.Diffs = t.compare(c, cr.Got)
		}
		if !cr.Passed() {
			res.Failed++
		}
		res.Cases[i] = cr
	}
	return res
}

// blankTenant is the tenant of a test that names none: every attribute
// present and empty, the tenant plan type-checks mappings with.
var blankTenant = &Tenant{scope: tenantScope(tenantAttrs(&tenantBlock{}))}

// apply maps one record for the test's tenant.
func (t *MappingTest) apply(rec map[string]any) Outcome {
	tenant := t.Tenant
	if tenant == nil {
		tenant = blankTenant
	}
	row, keep, err := t.Pipeline.Transform.Apply(rec, tenant)
	switch {
	case err != nil:
		return Outcome{Error: err.Error()}
	case !keep:
		return Outcome{Filtered: true}
	}
	return Outcome{Fields: row}
}

// compare checks an outcome against a case's expectation.
func (t *MappingTest) compare(c *TestCase, got Outcome) (string, []FieldDiff) {
	want := c.Want
	filter := ""
	if t.Pipeline.Filter != "" {
		filter = " (filter: " + t.Pipeline.Filter + ")"
	}
	switch {
	case want.Error != "" && got.Error != "":
		switch {
		case c.Partial && strings.Contains(got.Error, want.Error), !c.Partial && got.Error == want.Error:
			return "", nil
		case c.Partial:
			return fmt.Sprintf("want an error containing %q, got the error %q", want.Error, got.Error), nil
		}
		return fmt.Sprintf("want the error %q, got the error %q", want.Error, got.Error), nil
	case want.Error != "":
		return fmt.Sprintf("want an error containing %q, got the record %s", want.Error, describe(got, filter)), nil
	case got.Error != "":
		return fmt.Sprintf("want the record %s, got the error %q", describe(want, filter), got.Error), nil
	case want.Filtered && got.Filtered:
		return "", nil
	case want.Filtered || got.Filtered:
		return fmt.Sprintf("want the record %s, got it %s", describe(want, filter), describe(got, filter)), nil
	}
	return "", t.fieldDiffs(c, got.Fields)
}

// describe says what happened to a record, for a problem message.
func describe(o Outcome, filter string) string {
	if o.Filtered {
		return "filtered out" + filter
	}
	return "mapped"
}

// fieldDiffs compares the fields: those expected with a partial
// expectation, every field on either side with a golden file.
func (t *MappingTest) fieldDiffs(c *TestCase, got map[string]any) []FieldDiff {
	mapped := map[string]*MappedField{}
	order := map[string]int{}
	for i := range t.Pipeline.Fields {
		f := &t.Pipeline.Fields[i]
		mapped[f.Name], order[f.Name] = f, i
	}
	names := map[string]bool{}
	for k := range c.Want.Fields {
		names[k] = true
	}
	if !c.Partial {
		for k := range got {
			names[k] = true
		}
	}
	var diffs []FieldDiff
	for name := range names {
		w, wok := c.Want.Fields[name]
		g, gok := got[name]
		if wok == gok && reflect.DeepEqual(w, g) {
			continue
		}
		diffs = append(diffs, FieldDiff{Field: name, Want: w, Got: g, WantAbsent: !wok, GotAbsent: !gok, Mapping: mapped[name]})
	}
	sort.Slice(diffs, func(i, j int) bool {
		oi, iok := order[diffs[i].Field]
		oj, jok := order[diffs[j].Field]
		switch {
		case iok != jok:
			return iok
		case iok && oi != oj:
			return oi < oj
		}
		return diffs[i].Field < diffs[j].Field
	})
	return diffs
}

// GoldenJSON is the golden file of a test's results: one entry per record,
// in order, indented, with a final newline. `siphon test -update` writes it.
func (r *TestResult) GoldenJSON() ([]byte, error) {
	outs := make([]Outcome, len(r.Cases))
	for i, c := range r.Cases {
		outs[i] = c.Got
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(outs); err != nil {
		return nil, fmt.Errorf("test %s: golden output: %w", r.Test.Name, err)
	}
	return buf.Bytes(), nil
}
