package dsl

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// testMapping is a pipeline's mapping written as HCL snippets: each field
// and reverse entry as "name = expression".
type testMapping struct {
	fields  []string
	filter  string
	reverse []string
	schema  map[string]string
	vars    map[string]cty.Value
	locals  map[string]cty.Value
	tenant  cty.Value
}

// parseTestEntry parses "name = expression".
func parseTestEntry(tb testing.TB, entry string) fieldExpr {
	tb.Helper()
	name, src, ok := strings.Cut(entry, "=")
	if !ok {
		tb.Fatalf("entry %q has no =", entry)
	}
	name, src = strings.TrimSpace(name), strings.TrimSpace(src)
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		tb.Fatalf("parse %q: %s", src, diags)
	}
	return fieldExpr{Name: name, Expr: expr, Range: expr.Range(), Text: src}
}

// specForTest builds the transformSpec of m with the standard functions.
func specForTest(tb testing.TB, m testMapping) transformSpec {
	tb.Helper()
	spec := transformSpec{
		Pipeline: "volunteers",
		Schema:   m.schema,
		Vars:     cty.ObjectVal(m.vars),
		Locals:   cty.ObjectVal(m.locals),
		Funcs:    functionTable(func(string) (string, bool) { return "", false }, nil, ".", ModeRun),
		Tenant:   m.tenant,
	}
	if m.vars == nil {
		spec.Vars = cty.EmptyObjectVal
	}
	if m.locals == nil {
		spec.Locals = cty.EmptyObjectVal
	}
	for _, f := range m.fields {
		spec.Fields = append(spec.Fields, parseTestEntry(tb, f))
	}
	for _, f := range m.reverse {
		spec.Reverse = append(spec.Reverse, parseTestEntry(tb, f))
	}
	if m.filter != "" {
		expr, diags := hclsyntax.ParseExpression([]byte(m.filter), "test.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			tb.Fatalf("parse filter: %s", diags)
		}
		spec.Filter = expr
	}
	return spec
}

// compileForTest compiles m and fails the test on any error diagnostic.
func compileForTest(tb testing.TB, m testMapping) *Transform {
	tb.Helper()
	tr, _, diags := compileTransform(specForTest(tb, m))
	if diags.HasErrors() {
		tb.Fatalf("compile: %s", diags)
	}
	return tr
}

// decodeBoth decodes a JSON record the two ways the runtime may: plain
// float64 numbers and json.Number.
func decodeBoth(tb testing.TB, doc string) map[string]map[string]any {
	tb.Helper()
	var plain, numbers map[string]any
	if err := json.Unmarshal([]byte(doc), &plain); err != nil {
		tb.Fatalf("record %s: %v", doc, err)
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&numbers); err != nil {
		tb.Fatalf("record %s: %v", doc, err)
	}
	return map[string]map[string]any{"float64": plain, "json.Number": numbers}
}

// withoutFastPaths returns a copy of the compiled m whose expressions
// are all evaluated by HCL, except plain references (which HCL never
// evaluates), to check the Go fast paths give the same answers.
func withoutFastPaths(tb testing.TB, m testMapping) *Transform {
	tb.Helper()
	tr := compileForTest(tb, m)
	slow := &Transform{pipeline: tr.pipeline, names: tr.names, filter: tr.filter, reverse: tr.reverse,
		implicit: tr.implicit, reads: tr.reads, rowReads: tr.rowReads, schema: tr.schema,
		vars: tr.vars, locals: tr.locals, funcs: tr.funcs}
	for _, f := range tr.fields {
		if _, plain := f.fast.(pathExpr); !plain {
			f.fast = nil
		}
		slow.fields = append(slow.fields, f)
	}
	return slow
}

func TestApply(t *testing.T) {
	acme := &Tenant{ID: "acme", scope: tenantScope(map[string]cty.Value{
		"id": cty.StringVal("acme"), "name": cty.StringVal("Acme Food Bank"),
	})}
	cases := []struct {
		name    string
		m       testMapping
		rec     string
		tenant  *Tenant
		want    map[string]any
		drop    bool
		wantErr string
	}{
		{
			name: "plain references of every JSON type",
			m:    testMapping{fields: []string{"s = record.s", "i = record.i", "f = record.f", "b = record.b", "n = record.n", "absent = record.nope"}},
			rec:  `{"s": "x", "i": 42, "f": 1.5, "b": true, "n": null}`,
			want: map[string]any{"s": "x", "i": int64(42), "f": 1.5, "b": true, "n": nil, "absent": nil},
		},
		{
			name: "number formats",
			m:    testMapping{fields: []string{"exp = record.exp", "neg = record.neg", "big = record.big", "tiny = record.tiny", "t = tostring(record.exp)"}},
			rec:  `{"exp": 1e3, "neg": -7.0, "big": 1e300, "tiny": 0.000001}`,
			want: map[string]any{"exp": int64(1000), "neg": int64(-7), "big": 1e300, "tiny": 0.000001, "t": "1000"},
		},
		{
			name: "nested objects and lists",
			m:    testMapping{fields: []string{"city = record.address.city", "address = record.address", "tags = record.tags", "first = record.tags[0]", "zip = record[\"address\"][\"zip\"]"}},
			rec:  `{"address": {"city": "Springfield", "zip": "62701", "geo": [1, 2.5]}, "tags": ["a", 3]}`,
			want: map[string]any{
				"city":    "Springfield",
				"address": map[string]any{"city": "Springfield", "zip": "62701", "geo": []any{int64(1), 2.5}},
				"tags":    []any{"a", int64(3)},
				"first":   "a",
				"zip":     "62701",
			},
		},
		{
			name:    "attributes of an absent or null object read as null",
			m:       testMapping{fields: []string{"city = record.address.city", "upper_city = upper(record.address.city)", "c = coalesce(record.other.city, \"none\")"}},
			rec:     `{"other": null}`,
			wantErr: `pipeline volunteers field upper_city: Invalid function argument: Invalid value for "str" parameter: argument must not be null.`,
		},
		{
			name: "null-safe forms",
			m:    testMapping{fields: []string{"city = record.address.city", "c = coalesce(record.other.city, \"none\")", "t = try(record.address.city, \"x\")"}},
			rec:  `{"other": null}`,
			want: map[string]any{"city": nil, "c": "none", "t": nil},
		},
		{
			name: "coalesce with a literal",
			m: testMapping{fields: []string{`a = coalesce(record.nick, "none")`, `b = lower(coalesce(record.nick, "X"))`,
				`c = "${coalesce(record.first, "")} ${coalesce(record.nick, "?")}"`, `d = coalesce(record.num, "x")`}},
			rec:  `{"first": "Ada", "num": 5}`,
			want: map[string]any{"a": "none", "b": "x", "c": "Ada ?", "d": "5"},
		},
		{
			name:    "attribute of a string",
			m:       testMapping{fields: []string{"city = record.address.city"}},
			rec:     `{"address": "12 Main St"}`,
			wantErr: `pipeline volunteers field city: `,
		},
		{
			name: "functions and templates",
			m: testMapping{fields: []string{
				`email = lower(record.email)`, `up = upper(record.first)`, `trimmed = trimspace(record.pad)`,
				`full = "${record.first} ${record.last}"`, `num = "#${record.id}"`, `lowered_id = lower(record.id)`,
				`json = jsonencode(record.address)`, `count = length(keys(record))`, `hash = sha256(record.email)`,
			}},
			rec: `{"email": "Ada@Example.ORG", "first": "Ada", "last": "Lovelace", "pad": "  x ", "id": 42, "address": {"city": "X"}}`,
			want: map[string]any{
				"email": "ada@example.org", "up": "ADA", "trimmed": "x", "full": "Ada Lovelace", "num": "#42",
				"lowered_id": "42", "json": `{"city":"X"}`, "count": int64(6),
				"hash": "876f24276207f6e8b6dde29f8b0f589278b245f0e05458c93a51a99af2bac946",
			},
		},
		{
			name: "jsonencode of keys that are not NFC",
			m:    testMapping{fields: []string{"a = jsonencode(record.a)"}},
			rec:  `{"a": {"e\u0301": 1, "a": 2}}`,
			want: map[string]any{"a": `{"a":2,"é":1}`},
		},
		{
			name: "jsonencode",
			m:    testMapping{fields: []string{"a = jsonencode(record.a)", "b = jsonencode(record.b)", "n = jsonencode(record.n)", "s = jsonencode(record.s)"}},
			rec:  `{"a": {"z": [1, 2.5, -0.0, 1e300, 1e-7, null, true], "a": "<tag> & \u2028 Cafe\u0301", "\u00e9": {}}, "b": [], "n": null, "s": "x"}`,
			want: map[string]any{
				"a": `{"a":"\u003ctag\u003e \u0026 \u2028 Café","z":[1,2.5,-0,1` + strings.Repeat("0", 300) + `,0.0000001,null,true],"é":{}}`,
				"b": `[]`, "n": `null`, "s": `"x"`,
			},
		},
		{
			name:    "template over a null field fails the record",
			m:       testMapping{fields: []string{`full = "${record.first} ${record.last}"`}},
			rec:     `{"first": "Ada"}`,
			wantErr: "pipeline volunteers field full: Invalid template interpolation value",
		},
		{
			name:    "function error names the pipeline and field",
			m:       testMapping{fields: []string{`email = lower(record.email)`}},
			rec:     `{"email": {"a": 1}}`,
			wantErr: `pipeline volunteers field email: Invalid function argument: Invalid value for "str" parameter: string required`,
		},
		{
			name: "filter keeps",
			m:    testMapping{fields: []string{"s = record.s"}, filter: `record.status != "REMOVED"`},
			rec:  `{"s": "x", "status": "ACTIVE"}`,
			want: map[string]any{"s": "x"},
		},
		{
			name: "filter keeps a record without the field",
			m:    testMapping{fields: []string{"s = record.s"}, filter: `record.status != "REMOVED"`},
			rec:  `{"s": "x"}`,
			want: map[string]any{"s": "x"},
		},
		{
			name: "filter drops",
			m:    testMapping{fields: []string{"s = record.s"}, filter: `"REMOVED" == record.status`},
			rec:  `{"s": "x", "status": "ACTIVE"}`,
			drop: true,
		},
		{
			name: "filter compares types as HCL does",
			m:    testMapping{fields: []string{"s = record.s"}, filter: `record.status == "1"`},
			rec:  `{"status": 1}`,
			drop: true,
		},
		{
			name: "filter combinations",
			m:    testMapping{fields: []string{"s = record.s"}, filter: `!(record.status == "REMOVED" || record.blocked == true) && contains(["ACTIVE", "PENDING"], record.status)`},
			rec:  `{"s": "x", "status": "PENDING", "blocked": false}`,
			want: map[string]any{"s": "x"},
		},
		{
			name: "filter combinations drop",
			m:    testMapping{fields: []string{"s = record.s"}, filter: `!(record.status == "REMOVED" || record.blocked == true) && contains(["ACTIVE", "PENDING"], record.status)`},
			rec:  `{"s": "x", "status": "PENDING", "blocked": true}`,
			drop: true,
		},
		{
			name:    "contains over an absent untyped field",
			m:       testMapping{fields: []string{"s = record.s"}, filter: `contains(["A"], record.status)`},
			rec:     `{"s": "x"}`,
			wantErr: "pipeline volunteers filter: the result is not known: a function was given a field that is absent or null",
		},
		{
			name: "contains over an absent typed field",
			m:    testMapping{fields: []string{"s = record.email"}, filter: `contains(["A"], record.membership_status)`, schema: vomoUserSchema},
			rec:  `{"email": "x"}`,
			drop: true,
		},
		{
			name:    "null filter is an error, not a delete",
			m:       testMapping{fields: []string{"s = record.s"}, filter: `record.active`},
			rec:     `{"s": "x"}`,
			wantErr: "pipeline volunteers filter: the filter is null for this record",
		},
		{
			name:    "filter error",
			m:       testMapping{fields: []string{"s = record.s"}, filter: `lower(record.status) == "x"`},
			rec:     `{"status": [1]}`,
			wantErr: "pipeline volunteers filter: Invalid function argument",
		},
		{
			name: "filter over booleans and numbers",
			m:    testMapping{fields: []string{"s = record.s"}, filter: `record.active && record.hours > 2`},
			rec:  `{"s": "x", "active": true, "hours": 2.5}`,
			want: map[string]any{"s": "x"},
		},
		{
			name:   "tenant, var and local",
			m:      testMapping{fields: []string{"t = tenant.id", "n = tenant.name", "v = var.region", "l = local.prefix"}, vars: map[string]cty.Value{"region": cty.StringVal("us")}, locals: map[string]cty.Value{"prefix": cty.NumberIntVal(7)}},
			rec:    `{}`,
			tenant: acme,
			want:   map[string]any{"t": "acme", "n": "Acme Food Bank", "v": "us", "l": int64(7)},
		},
		{
			name:   "constants are folded once",
			m:      testMapping{fields: []string{`c = upper(var.region)`, `n = 3`, `z = null`, `l = [var.region]`, `f = local.f`}, vars: map[string]cty.Value{"region": cty.StringVal("us")}, locals: map[string]cty.Value{"f": cty.NumberFloatVal(2.5)}},
			rec:    `{}`,
			tenant: acme,
			want:   map[string]any{"c": "US", "n": int64(3), "z": nil, "l": []any{"us"}, "f": 2.5},
		},
		{
			name:    "a tenant attribute the tenant lacks",
			m:       testMapping{fields: []string{"x = tenant.missing"}},
			rec:     `{}`,
			tenant:  acme,
			wantErr: `pipeline volunteers field x: Unsupported attribute`,
		},
		{
			name: "no tenant",
			m:    testMapping{fields: []string{"t = tenant.id"}},
			rec:  `{}`,
			want: map[string]any{"t": ""},
		},
		{
			name: "sensitive values are written unmarked",
			m:    testMapping{fields: []string{"v = \"${var.secret}-${record.id}\""}, vars: map[string]cty.Value{"secret": markSensitive(cty.StringVal("s3"))}},
			rec:  `{"id": 1}`,
			want: map[string]any{"v": "s3-1"},
		},
		{
			name: "strings are NFC-normalized on every path",
			m:    testMapping{fields: []string{"plain = record.s", "low = lower(record.s)", "tmpl = \"${record.s}!\"", "nested = record.o"}},
			rec:  `{"s": "Cafe\u0301", "o": {"k": "e\u0301"}}`,
			want: map[string]any{"plain": "Café", "low": "café", "tmpl": "Café!", "nested": map[string]any{"k": "é"}},
		},
		{
			name: "names that are not identifiers",
			m:    testMapping{fields: []string{`dash = record["first-name"]`, `low = lower(record["first-name"])`}},
			rec:  `{"first-name": "Ada"}`,
			want: map[string]any{"dash": "Ada", "low": "ada"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fast := compileForTest(t, tc.m)
			slow := withoutFastPaths(t, tc.m)
			for decoding, rec := range decodeBoth(t, tc.rec) {
				for path, tr := range map[string]*Transform{"fast": fast, "hcl": slow} {
					row, keep, err := tr.Apply(rec, tc.tenant)
					where := decoding + "/" + path
					if tc.wantErr != "" {
						if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
							t.Fatalf("%s: error %v, want %q", where, err, tc.wantErr)
						}
						continue
					}
					if err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					if keep == tc.drop {
						t.Fatalf("%s: keep = %v, want %v", where, keep, !tc.drop)
					}
					if !tc.drop && !reflect.DeepEqual(row, tc.want) {
						t.Fatalf("%s: row\n got %#v\nwant %#v", where, row, tc.want)
					}
				}
			}
		})
	}
}

// TestApplyWeirdInput feeds values a JSON decoder never makes: Apply
// returns an error or a row, never panics.
func TestApplyWeirdInput(t *testing.T) {
	tr := compileForTest(t, testMapping{
		fields: []string{"a = record.a", "b = lower(record.b)", "c = jsonencode(record.c)", `d = "${record.d}"`},
		filter: `record.e != "x"`,
	})
	weird := []map[string]any{
		nil,
		{"a": math.NaN()},
		{"a": math.Inf(1)},
		{"b": struct{}{}},
		{"c": []int{1}},
		{"c": map[string]any{"x": math.NaN()}},
		{"d": json.Number("not a number")},
		{"e": make(chan int)},
		{"a": []any{map[string]any{"x": json.Number("1e400")}}},
		{"a": int(3), "b": "x", "c": int64(4)},
	}
	for i, rec := range weird {
		row, keep, err := tr.Apply(rec, nil)
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Errorf("%d: Apply panicked: %v", i, err)
		}
		t.Logf("%d: row=%v keep=%v err=%v", i, row, keep, err)
	}
	_, _, err := tr.Apply(map[string]any{"a": "x", "c": map[string]any{"geo": []any{1.0, math.NaN()}}}, nil)
	if want := "pipeline volunteers: record.c.geo[1]: NaN is not a number a record can hold"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestFields(t *testing.T) {
	tr := compileForTest(t, testMapping{fields: []string{"b = record.b", "a = record.a"}})
	got := tr.Fields()
	got[0] = "changed"
	if want := []string{"b", "a"}; !reflect.DeepEqual(tr.Fields(), want) {
		t.Fatalf("Fields() = %v, want %v", tr.Fields(), want)
	}
}

func TestReverse(t *testing.T) {
	tr := compileForTest(t, testMapping{
		fields:  []string{"phone = record.phone", "email = lower(record.email)", "name = record.first_name", "city = record.address.city"},
		reverse: []string{`first_name = trimspace(row.name)`, `email = row.email`},
		schema:  vomoUserSchema,
	})
	got, err := tr.Reverse(map[string]any{"phone": "+1 555", "email": "a@b.org", "name": " Ada ", "city": "X"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"phone": "+1 555", "first_name": "Ada", "email": "a@b.org"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Reverse = %#v, want %#v", got, want)
	}
	for field, want := range map[string]string{"phone": "phone", "email": "", "city": "", "name": ""} {
		if src, _ := tr.WriteBackSource(field); src != want {
			t.Errorf("WriteBackSource(%s) = %q, want %q", field, src, want)
		}
	}
	if _, err := tr.Reverse(map[string]any{"name": 5}, nil); err != nil {
		t.Errorf("a number converts to the string trimspace wants: %v", err)
	}
	if _, err := tr.Reverse(map[string]any{"name": []any{}}, nil); err == nil || !strings.Contains(err.Error(), "pipeline volunteers reverse first_name:") {
		t.Errorf("Reverse of a list: error %v", err)
	}
}

func TestMappedFieldTypes(t *testing.T) {
	_, mapped, diags := compileTransform(specForTest(t, testMapping{
		fields: []string{
			"email = lower(record.email)", "phone = record.phone", "id = record.id", "created = record.created_at",
			`full = "${coalesce(record.first_name, "")} x"`, "address = record.address", "city = record.address.city",
			"n = length(record.email)", "ok = record.membership_status == \"ACTIVE\"", "wrapped = \"${record.updated_at}\"",
			"anything = try(record.phone, null)", "tenant_name = tenant.name", "constant = upper(var.region)",
		},
		schema: vomoUserSchema,
		tenant: testTenantScope,
		vars:   map[string]cty.Value{"region": cty.StringVal("us")},
	}))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := map[string]string{
		"email": "string", "phone": "string", "id": "number", "created": "timestamp", "full": "string",
		"address": "json", "city": "json", "n": "number", "ok": "bool", "wrapped": "timestamp", "anything": "json",
		"tenant_name": "string", "constant": "string",
	}
	for _, m := range mapped {
		if m.Type != want[m.Name] {
			t.Errorf("%s: type %q, want %q", m.Name, m.Type, want[m.Name])
		}
	}
	_, untyped, _ := compileTransform(specForTest(t, testMapping{fields: []string{"phone = record.phone", "email = lower(record.email)"}}))
	if untyped[0].Type != "json" || untyped[1].Type != "string" || untyped[0].Expr != "record.phone" {
		t.Errorf("untyped: %+v", untyped)
	}
}

func TestCompileDiagnostics(t *testing.T) {
	cases := []struct {
		name     string
		m        testMapping
		severity hcl.DiagnosticSeverity
		summary  string
		detail   string
	}{
		{"misspelled root", testMapping{fields: []string{"e = recrod.email"}}, hcl.DiagError, "Unknown name recrod", `Did you mean "record"?`},
		{"block reference", testMapping{fields: []string{"e = resource.users"}}, hcl.DiagError, "Unknown name resource", "can use record, tenant, var and local"},
		{"row in a mapping", testMapping{fields: []string{"e = row.email"}}, hcl.DiagError, "Invalid use of row", "write record.<field>"},
		{"record in reverse", testMapping{fields: []string{"e = record.email"}, reverse: []string{"email = record.email"}}, hcl.DiagError, "Invalid use of record", "write row.<field>"},
		{"field not in schema", testMapping{fields: []string{"e = lower(record.emial)"}, schema: vomoUserSchema}, hcl.DiagError, "Unknown field record.emial", `Did you mean "email"?`},
		{"plain field not in schema", testMapping{fields: []string{"e = record.Email"}, schema: vomoUserSchema}, hcl.DiagError, "Unknown field record.Email", `Did you mean "email"?`},
		{"filter field not in schema", testMapping{fields: []string{"e = record.email"}, filter: `record.membership != "x"`, schema: vomoUserSchema}, hcl.DiagError, "Unknown field record.membership", "Its fields are address, birthday,"},
		{"undeclared variable", testMapping{fields: []string{"e = var.regoin"}, vars: map[string]cty.Value{"region": cty.StringVal("us")}}, hcl.DiagError, "Reference to undeclared variable", `Did you mean "region"?`},
		{"unknown tenant attribute", testMapping{fields: []string{"t = tenant.nmae"}, tenant: testTenantScope}, hcl.DiagError, "Unknown tenant attribute", `Did you mean "name"? Expressions can read tenant.id, tenant.name.`},
		{"undeclared local", testMapping{fields: []string{"e = local.x"}}, hcl.DiagError, "Reference to undeclared local value", `No local value named "x"`},
		{"reserved name", testMapping{fields: []string{"key = record.id"}}, hcl.DiagError, "Reserved field name", `for example to "source_key"`},
		{"reserved prefix", testMapping{fields: []string{"siphon_seq = record.id"}}, hcl.DiagError, "Reserved field name", `for example to "source_seq"`},
		{"duplicate field", testMapping{fields: []string{"a = record.id", "a = record.x"}}, hcl.DiagError, "Duplicate field", `"a" is mapped twice`},
		{"nullable template", testMapping{fields: []string{`full = "${record.first_name} ${record.last_name}"`}, schema: vomoUserSchema}, hcl.DiagWarning, "Template over a field that may be null", `${coalesce(record.first_name, "")}`},
		{"secret in a field", testMapping{fields: []string{`k = "${var.key}:${record.id}"`}, vars: map[string]cty.Value{"key": markSensitive(cty.StringVal("s3"))}}, hcl.DiagWarning, "Secret written to the destination", "nonsensitive(...)"},
		{"number compared with a string", testMapping{fields: []string{"a = record.email"}, filter: `record.id == "5"`, schema: vomoUserSchema}, hcl.DiagError, "Comparison of different types", `record.id is a number and "5" is a string; HCL compares without converting, so this is false for every record. Write the number without quotes: 5.`},
		{"string compared with a bool", testMapping{fields: []string{`a = record.email != true ? 1 : 2`}, schema: vomoUserSchema}, hcl.DiagError, "Comparison of different types", `so this is true for every record. Quote the value: "true".`},
		{"string filter", testMapping{fields: []string{"a = record.id"}, filter: `"yes"`}, hcl.DiagError, "Filter is not a condition", "yields a string"},
		{"type error over the schema", testMapping{fields: []string{"a = record.created_at.year"}, schema: vomoUserSchema}, hcl.DiagError, "Invalid reference into record.created_at", "is a timestamp"},
		{"type error found by evaluation", testMapping{fields: []string{"a = length(record.id)"}, schema: vomoUserSchema}, hcl.DiagError, "Invalid function argument", "length needs a string"},
		{"unknown function", testMapping{fields: []string{"a = lowr(record.email)"}}, hcl.DiagError, "Call to unknown function", `no function named "lowr"`},
		{"wrong argument count", testMapping{fields: []string{"a = lower(record.email, 1)"}}, hcl.DiagError, "Too many function arguments", ""},
		{"reverse to an unknown source field", testMapping{fields: []string{"p = record.phone"}, reverse: []string{"phon = row.p"}, schema: vomoUserSchema}, hcl.DiagError, "Unknown source field", `Did you mean "phone"?`},
		{"reverse of an unmapped field", testMapping{fields: []string{"phone_e164 = record.phone"}, reverse: []string{"phone = row.phone_e16"}}, hcl.DiagError, "Unknown field row.phone_e16", `Did you mean "phone_e164"?`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, diags := compileTransform(specForTest(t, tc.m))
			for _, d := range diags {
				if d.Severity == tc.severity && strings.Contains(d.Summary, tc.summary) && strings.Contains(d.Detail, tc.detail) {
					if d.Subject == nil || d.Subject.Filename != "test.hcl" {
						t.Errorf("diagnostic without a source range: %+v", d)
					}
					return
				}
			}
			t.Fatalf("want %v %q / %q, got %s", tc.severity, tc.summary, tc.detail, diags)
		})
	}
}

// testTenantScope is a tenant as mapping expressions see it.
var testTenantScope = tenantScope(map[string]cty.Value{"id": cty.StringVal("acme"), "name": cty.StringVal("Acme")})

func TestCompileCleanMappingHasNoDiagnostics(t *testing.T) {
	_, _, diags := compileTransform(specForTest(t, testMapping{
		fields: []string{
			"email = lower(record.email)", `full_name = "${coalesce(record.first_name, "")} ${coalesce(record.last_name, "")}"`,
			"phone = record.phone", "city = record.address.city", "tenant_name = tenant.name",
			"everything = jsonencode(tenant)", "key_id = nonsensitive(var.key)",
		},
		vars:    map[string]cty.Value{"key": markSensitive(cty.StringVal("k"))},
		tenant:  testTenantScope,
		filter:  `record.membership_status != "REMOVED"`,
		reverse: []string{"phone = row.phone"},
		schema:  vomoUserSchema,
	}))
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %s", diags)
	}
}

func TestBuiltinSchema(t *testing.T) {
	cases := []struct {
		kind, path string
		field      string
		want       string
	}{
		{"vomo", "/users", "address", "json"},
		{"vomo", "/users/", "updated_at", "timestamp"},
		{"vomo", "/projects/date/{date_id}", "verified", "bool"},
		{"vomo", "/projects/date/{id}/participations", "hours", "number"},
		{"vomo", "/projects", "name", "string"},
		{"vomo", "/forms", "completion_count", "number"},
		{"vomo", "/forms/{form_id}/completions", "answers", "json"},
		{"vomo", "/forms/{id}/completions/", "submitted_at", "timestamp"},
		{"vomo", "/groups/{group}/members", "email", "string"},
		{"vomo", "/widgets", "", ""},
		{"vomo", "/forms/{id}/completions/{completion}", "", ""},
		{"other", "/users", "", ""},
	}
	for _, tc := range cases {
		s := builtinSchema(tc.kind, tc.path)
		if tc.field == "" {
			if s != nil {
				t.Errorf("%s %s: schema %v, want none", tc.kind, tc.path, s)
			}
			continue
		}
		if s[tc.field] != tc.want {
			t.Errorf("%s %s: %s is %q, want %q", tc.kind, tc.path, tc.field, s[tc.field], tc.want)
		}
	}
	for _, f := range []string{"type", "id", "first_name", "last_name", "full_name", "email", "address", "phone", "birthday", "gender", "user_status", "membership_status", "membership_role", "created_at", "updated_at"} {
		if _, ok := vomoUserSchema[f]; !ok {
			t.Errorf("user schema lacks %s", f)
		}
	}
}

func TestTenantScope(t *testing.T) {
	s := tenantScope(map[string]cty.Value{"name": cty.StringVal("Acme")})
	if s.GetAttr("id").AsString() != "" || s.GetAttr("name").AsString() != "Acme" {
		t.Fatalf("scope %#v", s)
	}
	s = tenantScope(map[string]cty.Value{"id": cty.StringVal("acme")})
	if s.GetAttr("id").AsString() != "acme" {
		t.Fatalf("scope %#v", s)
	}
}

// jsonText prints a mapped value as JSON, for compact comparisons.
func jsonText(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestApplyConcurrent runs one Transform from many goroutines, as the
// runtime's workers do (run with -race).
func TestApplyConcurrent(t *testing.T) {
	tr := compileForTest(t, fuzzMapping)
	recs := benchUsers(t, 64)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, rec := range recs {
				if _, _, err := tr.Apply(rec, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestFastPathsChosen pins which expressions skip HCL, so that a change
// cannot silently move the common shapes back to the slow path.
func TestFastPathsChosen(t *testing.T) {
	tr := compileForTest(t, testMapping{
		fields: []string{
			"a = record.a", "b = record.a.b", `c = "${record.c}"`, "d = lower(record.d)", `e = upper(coalesce(record.e, "x"))`,
			`f = "${coalesce(record.f, "")} ${record.g}!"`, `g = coalesce(record.g, "")`, "h = tenant.id", "i = var.v", `j = "lit"`,
			"k = lower(record.a.b)", "l = jsonencode(record.l)", "slow = jsonencode(record.x)", "m = lower(record.x.y)", `h2 = "${tenant.id}"`, "slow3 = lower(trimspace(record.a))",
		},
		filter: `record.status != "REMOVED"`,
		vars:   map[string]cty.Value{"v": cty.StringVal("x")},
	})
	want := map[string]string{
		"a": "dsl.pathExpr", "b": "dsl.pathExpr", "c": "dsl.pathExpr", "d": "dsl.stringFuncExpr", "e": "dsl.stringFuncExpr",
		"f": "dsl.templateExpr", "g": "dsl.operandExpr", "h": "dsl.tenantAttrExpr", "i": "dsl.constExpr", "j": "dsl.constExpr",
		"k": "dsl.stringFuncExpr", "l": "dsl.jsonencodeExpr", "slow": "<nil>", "m": "dsl.stringFuncExpr", "h2": "dsl.tenantAttrExpr", "slow3": "<nil>",
	}
	for _, f := range tr.fields {
		if got := fmt.Sprintf("%T", f.fast); got != want[f.name] {
			t.Errorf("%s: fast path %s, want %s", f.name, got, want[f.name])
		}
	}
	if _, ok := tr.fastFilter.(compareExpr); !ok {
		t.Errorf("filter fast path %T", tr.fastFilter)
	}
	combined := compileForTest(t, testMapping{fields: []string{"a = record.a"}, filter: `!(record.a == true) || contains(["x"], record.b)`})
	if _, ok := combined.fastFilter.(logicExpr); !ok {
		t.Errorf("combined filter fast path %T", combined.fastFilter)
	}
}

// TestDemoTransforms applies the demo configuration's compiled mappings,
// as the runtime will, to VOMO user records.
func TestDemoTransforms(t *testing.T) {
	res := Load("../pipelines/demo", Options{Mode: ModePlan, LookupEnv: func(string) (string, bool) { return "", false }})
	if res.Plan == nil {
		t.Fatalf("demo does not load: %s", res.Diagnostics)
	}
	var volunteers *Pipeline
	for _, p := range res.Plan.Pipelines {
		if p.Transform == nil {
			t.Fatalf("pipeline %s has no compiled transform", p.Name)
		}
		if p.Resource == "users" && volunteers == nil {
			volunteers = p
		}
	}
	if volunteers == nil {
		t.Skip("the demo has no pipeline over users")
	}
	tenant := res.Plan.Tenants[0]
	kept := 0
	for _, rec := range benchUsers(t, 10) {
		row, keep, err := volunteers.Transform.Apply(rec, tenant)
		if err != nil {
			t.Fatalf("%s: %v", volunteers.Name, err)
		}
		if !keep {
			continue
		}
		kept++
		if email, _ := row["email"].(string); email != "" && email != strings.ToLower(rec["email"].(string)) {
			t.Errorf("email %q from %q", email, rec["email"])
		}
		if len(row) != len(volunteers.Fields) {
			t.Errorf("row %v has not the pipeline's %d fields", row, len(volunteers.Fields))
		}
	}
	if kept == 0 || kept == 10 {
		t.Errorf("the filter kept %d of 10 users (2 are REMOVED)", kept)
	}
}

// A plain record.x of a known VOMO resource lands typed: a project's name
// is a string column, not JSON text with its quotes; a field the schema
// does not know is a plan error, and a resource's own schema wins.
func TestBuiltinSchemaTypesMappedFields(t *testing.T) {
	files := map[string]string{"main.hcl": strings.Replace(jobsConfig, `fields      = { id = record.id }
}
tenant "acme"`, `fields      = { id = record.id, name = record.name, capacity = record.capacity }
}
tenant "acme"`, 1)}
	plan, _ := mustPlan(t, Options{}, files)
	types := map[string]string{}
	for _, p := range plan.Pipelines {
		for _, f := range p.Fields {
			types[p.Name+"."+f.Name] = f.Type
		}
	}
	for field, want := range map[string]string{
		"projects.id": "number", "projects.name": "string", "projects.capacity": "number",
		"completions.id": "number", "volunteers.email": "string",
	} {
		if types[field] != want {
			t.Errorf("%s is %q, want %q (all: %v)", field, types[field], want, types)
		}
	}

	files["main.hcl"] = strings.Replace(files["main.hcl"], "record.capacity", "record.capacity_max", 1)
	res := loadString(t, Options{}, files)
	if got := loadDiagText(res.Files, res.Diagnostics); !strings.Contains(got, `Unknown field record.capacity_max`) {
		t.Errorf("an unknown project field: %s", got)
	}
	files["main.hcl"] = strings.Replace(files["main.hcl"], `path   = "/projects"`, `path   = "/projects"
  schema {
    id           = "number"
    name         = "string"
    capacity_max = "number"
  }`, 1)
	plan, _ = mustPlan(t, Options{}, files)
	for _, p := range plan.Pipelines {
		for _, f := range p.Fields {
			if p.Name == "projects" && f.Name == "capacity" && f.Type != "number" {
				t.Errorf("declared schema: capacity is %q", f.Type)
			}
		}
	}
}
