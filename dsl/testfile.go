package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// TestOptions are the inputs to LoadTests beyond the files.
type TestOptions struct {
	// ReadFile reads fixture and golden files; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Update is set by `siphon test -update`: a golden file that does not
	// exist yet is then not an error, because the run writes it.
	Update bool
}

// TestSuite is the mapping tests of a configuration directory: every
// `test` block of its *.test.hcl files, decoded against the compiled plan.
type TestSuite struct {
	Tests []*MappingTest
	// Files are the test files and the fixture and golden files read, by
	// name, so that diagnostics can show their source.
	Files       map[string]*hcl.File
	Diagnostics hcl.Diagnostics
}

// MappingTest is one `test` block: records fed to a pipeline's compiled
// filter and mapping (the Transform the runtime runs), each with what it
// must come out as.
type MappingTest struct {
	Name     string
	Pipeline *Pipeline
	// Tenant is the tenant the records are mapped for; nil when the test
	// names none: expressions then see a tenant whose attributes are all
	// empty ("" and enabled = false), as plan checks mappings.
	Tenant *Tenant
	Cases  []TestCase
	// Golden is the golden file (as written, and its path to read and
	// write) the outcomes are compared with; empty when the test writes
	// its expectations itself.
	Golden     string
	GoldenPath string
	DeclRange  hcl.Range
}

// TestCase is one record of a test and what it must map to.
type TestCase struct {
	// Record is the source record as the runtime sees it: decoded from
	// JSON with json.Number numbers.
	Record map[string]any
	// Range is where the record is written: its HCL value, or its element
	// of a JSON fixture file.
	Range hcl.Range
	Want  Outcome
	// HasWant is false for the records of a golden file not written yet.
	HasWant bool
	// Partial: the expectation is written in the test, so Want.Fields
	// lists only the fields to check and Want.Error is a part of the
	// message; a golden file's entries are whole outcomes.
	Partial bool
	// WantRanges are where the expected fields are written (expect only).
	WantRanges map[string]hcl.Range
}

// Outcome is what a record maps to: its fields, or filtered out, or a
// mapping error (as a substring to find when it is an expectation). It is
// also the JSON form of one entry of a golden file.
type Outcome struct {
	Fields   map[string]any `json:"output,omitempty"`
	Filtered bool           `json:"filtered,omitempty"`
	Error    string         `json:"error,omitempty"`
}

var testFileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "test", LabelNames: []string{"name"}}},
}

var testBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "pipeline", Required: true}, {Name: "tenant"},
		{Name: "record"}, {Name: "records"},
		{Name: "expect"}, {Name: "expect_filtered"}, {Name: "expect_error"}, {Name: "golden"},
	},
}

// LoadTests reads every *.test.hcl file of dir (not recursively) and
// decodes its tests against plan, which must be the valid plan of the same
// directory. Relative fixture and golden paths are relative to dir.
func LoadTests(dir string, plan *Plan, opts TestOptions) *TestSuite {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &TestSuite{Diagnostics: hcl.Diagnostics{{Severity: hcl.DiagError,
			Summary: "Cannot read the configuration directory", Detail: err.Error()}}}
	}
	files := map[string][]byte{}
	var diags hcl.Diagnostics
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".test.hcl") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		src, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read a test file", Detail: err.Error()})
			continue
		}
		files[name] = src
	}
	s := LoadTestFiles(dir, files, plan, opts)
	s.Diagnostics = append(diags, s.Diagnostics...)
	return s
}

// LoadTestFiles is LoadTests over test files held in memory, keyed by name.
func LoadTestFiles(dir string, files map[string][]byte, plan *Plan, opts TestOptions) *TestSuite {
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	s := &TestSuite{Files: map[string]*hcl.File{}}
	l := &testLoader{dir: dir, plan: plan, opts: opts, suite: s, seen: map[string]hcl.Range{}}
	for _, name := range sortedKeys(files) {
		f, diags := hclsyntax.ParseConfig(files[name], name, hcl.InitialPos)
		s.Diagnostics = append(s.Diagnostics, diags...)
		if f == nil {
			continue
		}
		s.Files[name] = f
		if diags.HasErrors() {
			continue
		}
		content, cd := f.Body.Content(testFileSchema)
		s.Diagnostics = append(s.Diagnostics, cd...)
		for _, b := range content.Blocks {
			t, bd := l.decodeTestBlock(b)
			s.Diagnostics = append(s.Diagnostics, bd...)
			if t != nil && !bd.HasErrors() {
				s.Tests = append(s.Tests, t)
			}
		}
	}
	sortDiagnostics(s.Diagnostics)
	return s
}

// testLoader holds what decoding the test blocks of one directory shares.
type testLoader struct {
	dir   string
	plan  *Plan
	opts  TestOptions
	suite *TestSuite
	// seen holds the test names declared so far, with where.
	seen map[string]hcl.Range
}

// decodeTestBlock decodes one `test` block. It returns nil when the block
// cannot be run at all.
func (l *testLoader) decodeTestBlock(b *hcl.Block) (*MappingTest, hcl.Diagnostics) {
	diags := checkLabel(b)
	name := b.Labels[0]
	if prev, dup := l.seen[name]; dup {
		return nil, append(diags, errorAt(b.LabelRanges[0], fmt.Sprintf("Duplicate test %q", name),
			fmt.Sprintf("A test named %q is already declared at %s; test names are unique within a directory.", name, prev)))
	}
	l.seen[name] = b.DefRange
	content, cd := b.Body.Content(testBlockSchema)
	diags = append(diags, cd...)
	a := content.Attributes
	attr, ok := a["pipeline"]
	if !ok {
		return nil, diags
	}
	t := &MappingTest{Name: name, DeclRange: b.DefRange}
	r, rd := reference(attr, "pipeline")
	diags = append(diags, rd...)
	if rd.HasErrors() {
		return nil, diags
	}
	names := make([]string, len(l.plan.Pipelines))
	for i, p := range l.plan.Pipelines {
		names[i] = p.Name
		if p.Name == r.Name {
			t.Pipeline = p
		}
	}
	if t.Pipeline == nil {
		return nil, append(diags, errorAt(r.Range, "Reference to an undeclared pipeline",
			fmt.Sprintf("There is no pipeline %q in this configuration.%s", r.Name, didYouMean(r.Name, names))))
	}
	if t.Pipeline.Transform == nil {
		return nil, append(diags, errorAt(r.Range, "Pipeline without a mapping",
			fmt.Sprintf("pipeline %q has no compiled mapping to test.", r.Name)))
	}
	ctx := t.Pipeline.Transform.valueContext()
	if attr, ok := a["tenant"]; ok {
		td := l.tenant(t, attr, ctx)
		diags = append(diags, td...)
	}

	cases, cd2 := l.records(a, ctx, b)
	diags = append(diags, cd2...)
	if cd2.HasErrors() {
		return nil, diags
	}
	t.Cases = cases
	diags = append(diags, l.expectations(t, a, ctx, b)...)
	return t, diags
}

// tenant reads the optional tenant the records are mapped for.
func (l *testLoader) tenant(t *MappingTest, attr *hcl.Attribute, ctx *hcl.EvalContext) hcl.Diagnostics {
	id, diags := evalString(attr, ctx, `"acme"`)
	if diags.HasErrors() {
		return diags
	}
	ids := make([]string, len(l.plan.Tenants))
	for i, tn := range l.plan.Tenants {
		ids[i] = tn.ID
		if tn.ID == id {
			t.Tenant = tn
		}
	}
	if t.Tenant == nil {
		return append(diags, errorIn(attr, "Reference to an undeclared tenant",
			fmt.Sprintf("There is no tenant %q in this configuration.%s", id, didYouMean(id, ids))))
	}
	return diags
}

// records reads `record` (one) or `records` (a list, or a JSON fixture
// file through file()), exactly one of them.
func (l *testLoader) records(a hcl.Attributes, ctx *hcl.EvalContext, b *hcl.Block) ([]TestCase, hcl.Diagnostics) {
	one, hasOne := a["record"]
	many, hasMany := a["records"]
	switch {
	case hasOne && hasMany:
		return nil, hcl.Diagnostics{errorAt(many.NameRange, "Both record and records",
			"A test maps either one record (record = { … }) or several (records = [ … ] or records = file(\"fixtures/x.json\")); split it into two tests.")}
	case !hasOne && !hasMany:
		return nil, hcl.Diagnostics{errorAt(b.DefRange, "Missing record",
			"A test needs the source record to map: record = { id = 1, email = \"a@example.org\" }, or records = file(\"fixtures/users.json\").")}
	case hasOne:
		v, diags := one.Expr.Value(ctx)
		if diags.HasErrors() {
			return nil, diags
		}
		rec, err := recordFromCty(v)
		if err != nil {
			return nil, append(diags, errorIn(one, "Invalid record", "record must be an object of the source record's fields, like { id = 1, email = \"a@example.org\" }: "+err.Error()+"."))
		}
		return []TestCase{{Record: rec, Range: one.Expr.Range()}}, diags
	}
	if path, ok := fileCall(many.Expr); ok {
		return l.fixtureRecords(many, path)
	}
	v, diags := many.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
		// JSON text from elsewhere (file() of a computed path, a heredoc):
		// decoded as a fixture, with the attribute as every record's range.
		recs, err := decodeFixture([]byte(v.AsString()), many.Expr.Range().Filename)
		if err != nil {
			return nil, append(diags, errorIn(many, "Invalid records", err.Error()))
		}
		out := make([]TestCase, len(recs))
		for i, r := range recs {
			out[i] = TestCase{Record: r.rec, Range: many.Expr.Range()}
		}
		return out, diags
	}
	if !v.IsKnown() || v.IsNull() || !(v.Type().IsTupleType() || v.Type().IsListType()) {
		return nil, append(diags, errorIn(many, "Invalid records",
			"records must be a list of records, like [{ id = 1 }, { id = 2 }], or a JSON fixture file: records = file(\"fixtures/users.json\")."))
	}
	elems, _ := hcl.ExprList(many.Expr)
	var out []TestCase
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		rng := many.Expr.Range()
		if i < len(elems) {
			rng = elems[i].Range()
		}
		rec, err := recordFromCty(ev)
		if err != nil {
			diags = append(diags, errorAt(rng, "Invalid record", fmt.Sprintf("record %d of records must be an object of the source record's fields: %s.", i+1, err)))
			continue
		}
		out = append(out, TestCase{Record: rec, Range: rng})
	}
	if len(out) == 0 && !diags.HasErrors() {
		diags = append(diags, errorIn(many, "No records", "records is empty; a test needs at least one record."))
	}
	return out, diags
}

// fixtureRecords reads the records of a JSON fixture file, each with its
// own range in the file.
func (l *testLoader) fixtureRecords(attr *hcl.Attribute, path string) ([]TestCase, hcl.Diagnostics) {
	full := l.path(path)
	src, err := l.opts.ReadFile(full)
	if err != nil {
		return nil, hcl.Diagnostics{errorIn(attr, "Cannot read the fixture file", fmt.Sprintf("file(%q): %s.", path, rootErr(err)))}
	}
	l.suite.Files[full] = &hcl.File{Bytes: src}
	recs, err := decodeFixture(src, full)
	if err != nil {
		return nil, hcl.Diagnostics{fixtureError(err, attr, "Invalid fixture file",
			"A fixture file holds a JSON array of source records, or a saved VOMO list page ({\"data\": [ … ]})")}
	}
	if len(recs) == 0 {
		return nil, hcl.Diagnostics{errorIn(attr, "No records", fmt.Sprintf("the fixture file %s holds no records; a test needs at least one.", path))}
	}
	out := make([]TestCase, len(recs))
	for i, r := range recs {
		out[i] = TestCase{Record: r.rec, Range: r.rng}
	}
	return out, nil
}

// path resolves a fixture or golden path against the test directory.
func (l *testLoader) path(p string) string {
	if filepath.IsAbs(p) || l.dir == "" {
		return p
	}
	return filepath.Join(l.dir, p)
}

// expectations reads what the records must map to: expect (fields),
// expect_filtered, expect_error or golden, exactly one of them.
func (l *testLoader) expectations(t *MappingTest, a hcl.Attributes, ctx *hcl.EvalContext, b *hcl.Block) hcl.Diagnostics {
	var given []*hcl.Attribute
	for _, n := range []string{"expect", "expect_filtered", "expect_error", "golden"} {
		if attr, ok := a[n]; ok {
			given = append(given, attr)
		}
	}
	switch len(given) {
	case 0:
		return hcl.Diagnostics{errorAt(b.DefRange, "Missing expectation",
			"A test says what its records must map to: expect = { field = value, … }, expect_filtered = true, expect_error = \"part of the message\", or (for records) golden = \"fixtures/x.golden.json\".")}
	case 1:
	default:
		return hcl.Diagnostics{errorAt(given[1].NameRange, "More than one expectation",
			fmt.Sprintf("%s and %s both say what the records must map to; keep one (mixed outcomes over a fixture file belong in a golden file).", given[0].Name, given[1].Name))}
	}
	attr := given[0]
	_, multi := a["records"]
	switch attr.Name {
	case "expect_filtered":
		v, diags := attr.Expr.Value(ctx)
		if diags.HasErrors() {
			return diags
		}
		if !v.IsKnown() || v.IsNull() || v.Type() != cty.Bool || v.False() {
			return append(diags, errorIn(attr, "Invalid expect_filtered",
				"expect_filtered takes true: the filter must drop every record of the test. To expect mapped fields, write expect = { … }."))
		}
		for i := range t.Cases {
			t.Cases[i].Want, t.Cases[i].HasWant = Outcome{Filtered: true}, true
		}
		return diags
	case "expect_error":
		msg, diags := evalString(attr, ctx, `"field email"`)
		if diags.HasErrors() {
			return diags
		}
		if msg == "" {
			return append(diags, errorIn(attr, "Invalid expect_error", "expect_error takes a part of the error message to find, like \"field email\"; it cannot be empty."))
		}
		for i := range t.Cases {
			t.Cases[i].Want, t.Cases[i].HasWant, t.Cases[i].Partial = Outcome{Error: msg}, true, true
		}
		return diags
	case "golden":
		if !multi {
			return hcl.Diagnostics{errorIn(attr, "Golden file without records",
				"golden checks the records of a fixture file (records = file(…)); for one record, write expect = { … }.")}
		}
		return l.golden(t, attr, ctx)
	}
	if !multi {
		want, ranges, diags := l.expectObject(t, attr.Expr, attr.Name)
		if !diags.HasErrors() {
			t.Cases[0].Want, t.Cases[0].WantRanges, t.Cases[0].HasWant, t.Cases[0].Partial = Outcome{Fields: want}, ranges, true, true
		}
		return diags
	}
	elems, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		return hcl.Diagnostics{errorIn(attr, "Invalid expect",
			"With records, expect is a list with one object of expected fields per record, in order: expect = [{ email = \"a@example.org\" }, …].")}
	}
	if len(elems) != len(t.Cases) {
		return hcl.Diagnostics{errorIn(attr, "Wrong number of expectations",
			fmt.Sprintf("expect has %d entries for %d records; write one per record, in order, or use a golden file (golden = \"fixtures/x.golden.json\", written by siphon test -update).", len(elems), len(t.Cases)))}
	}
	for i, e := range elems {
		want, ranges, ed := l.expectObject(t, e, fmt.Sprintf("expect[%d]", i))
		diags = append(diags, ed...)
		if !ed.HasErrors() {
			t.Cases[i].Want, t.Cases[i].WantRanges, t.Cases[i].HasWant, t.Cases[i].Partial = Outcome{Fields: want}, ranges, true, true
		}
	}
	return diags
}

// expectObject reads one `{ field = value, … }` of expected fields; every
// field must be one the pipeline maps.
func (l *testLoader) expectObject(t *MappingTest, expr hcl.Expression, what string) (map[string]any, map[string]hcl.Range, hcl.Diagnostics) {
	items, diags := objectItems(&hcl.Attribute{Name: what, Expr: expr, Range: expr.Range()})
	if diags.HasErrors() {
		return nil, nil, diags
	}
	if len(items) == 0 {
		return nil, nil, hcl.Diagnostics{errorAt(expr.Range(), "Empty expectation",
			what+" lists no fields, so it checks nothing; name the fields the record must map to.")}
	}
	fields := t.Pipeline.Transform.Fields()
	ctx := t.Pipeline.Transform.valueContext()
	want := make(map[string]any, len(items))
	ranges := make(map[string]hcl.Range, len(items))
	for _, it := range items {
		if !contains(fields, it.Key) {
			diags = append(diags, errorAt(it.KeyRange, "Expected field the mapping does not produce",
				fmt.Sprintf("pipeline %q maps no field %q (it maps %s).%s", t.Pipeline.Name, it.Key, strings.Join(fields, ", "), didYouMean(it.Key, fields))))
			continue
		}
		v, vd := it.Value.Value(ctx)
		diags = append(diags, vd...)
		if vd.HasErrors() {
			continue
		}
		gv, err := fromCty(v)
		if err != nil {
			diags = append(diags, errorAt(it.Value.Range(), "Invalid expected value", fmt.Sprintf("%s.%s: %s.", what, it.Key, err)))
			continue
		}
		want[it.Key] = gv
		ranges[it.Key] = hcl.RangeBetween(it.KeyRange, it.Value.Range())
	}
	return want, ranges, diags
}

// golden reads the golden file of a test, when it exists.
func (l *testLoader) golden(t *MappingTest, attr *hcl.Attribute, ctx *hcl.EvalContext) hcl.Diagnostics {
	path, diags := evalString(attr, ctx, `"fixtures/users.golden.json"`)
	if diags.HasErrors() {
		return diags
	}
	t.Golden, t.GoldenPath = path, l.path(path)
	src, err := l.opts.ReadFile(t.GoldenPath)
	if err != nil {
		if os.IsNotExist(err) && l.opts.Update {
			return diags
		}
		detail := fmt.Sprintf("golden %q: %s.", path, rootErr(err))
		if os.IsNotExist(err) {
			detail += " Run siphon test -update to write it from what the mapping produces now, then review it."
		}
		return append(diags, errorIn(attr, "Cannot read the golden file", detail))
	}
	l.suite.Files[t.GoldenPath] = &hcl.File{Bytes: src}
	outs, err := decodeGolden(src, t.GoldenPath)
	if err != nil {
		if l.opts.Update {
			// -update rewrites it whole; what it held does not matter.
			return diags
		}
		return append(diags, fixtureError(err, attr, "Invalid golden file",
			"A golden file holds a JSON array with one entry per record: {\"output\": { … }}, {\"filtered\": true} or {\"error\": \"…\"}; siphon test -update writes it"))
	}
	for i := range t.Cases {
		if i < len(outs) {
			t.Cases[i].Want, t.Cases[i].HasWant = outs[i], true
		}
	}
	return diags
}

// valueContext is what the values of a test (records, expectations) may
// use: the configuration's var and local, and the functions.
func (t *Transform) valueContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": t.vars, "local": t.locals},
		Functions: t.funcs,
	}
}

// fileCall recognizes `file("path")` with a literal path, so that the
// fixture's records can be located in the file for diagnostics and diffs.
func fileCall(expr hcl.Expression) (string, bool) {
	call, ok := expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "file" || len(call.Args) != 1 {
		return "", false
	}
	v, diags := call.Args[0].Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// evalString evaluates a string attribute of a test.
func evalString(attr *hcl.Attribute, ctx *hcl.EvalContext, example string) (string, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", append(diags, errorIn(attr, "Incorrect value type for "+attr.Name,
			fmt.Sprintf("%s must be a string, like %s.", attr.Name, example)))
	}
	v, _ = v.Unmark()
	return v.AsString(), diags
}

// recordFromCty turns an HCL record value into the record the runtime
// would see for the same JSON: the value is encoded as JSON and decoded
// with json.Number numbers, as the VOMO client decodes pages.
func recordFromCty(v cty.Value) (map[string]any, error) {
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("its value is not known when testing")
	}
	if v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil, fmt.Errorf("it is a %s, not an object", v.Type().FriendlyName())
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// rootErr is an error's message without the path an *os.PathError repeats.
func rootErr(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// TestedPipelines returns the names of the pipelines the suite's tests
// exercise, sorted.
func (s *TestSuite) TestedPipelines() []string {
	seen := map[string]bool{}
	for _, t := range s.Tests {
		seen[t.Pipeline.Name] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
