package dsl

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func compileKeyForTest(t *testing.T, src string) (*KeyFunc, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags)
	}
	return compileKeyFunc(expr, functionTable(testEnv, testFiles, "/conf", ModeRun))
}

func TestKeyFunc(t *testing.T) {
	cases := []struct {
		expr, rec string
		want      []string
		wantErr   string
	}{
		{"record.id", `{"id": 42}`, []string{"42"}, ""},
		{"record.id", `{"id": "f-1"}`, []string{"f-1"}, ""},
		{"record.id", `{}`, nil, ""},
		{"record.meta.form", `{"meta": {"form": 7.5}}`, []string{"7.5"}, ""},
		{"record.form_ids", `{"form_ids": [3, 1, 3, null, "x"]}`, []string{"3", "1", "x"}, ""},
		{"[for f in record.forms : f.id]", `{"forms": [{"id": 1}, {"id": 2}]}`, []string{"1", "2"}, ""},
		{`"${record.org}-${record.id}"`, `{"org": "a", "id": 1}`, []string{"a-1"}, ""},
		{"record.id", `{"id": {"a": 1}}`, nil, "parent_key: an id must be a string or a number, not an object"},
		{"record.ids", `{"ids": [[1]]}`, nil, "parent_key [0]: an id must be a string or a number, not a list"},
		{"record.id", `{"id": ""}`, nil, "the id is an empty string"},
		{"lower(record.id)", `{"id": true}`, nil, ""},
		{"lower(record.id)", `{"id": [1]}`, nil, "parent_key: Invalid function argument"},
	}
	for _, tc := range cases {
		t.Run(tc.expr+" "+tc.rec, func(t *testing.T) {
			k, diags := compileKeyForTest(t, tc.expr)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for decoding, rec := range decodeBoth(t, tc.rec) {
				got, err := k.Keys(rec)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("%s: error %v, want %q", decoding, err, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", decoding, err)
				}
				if tc.want == nil && tc.expr == "lower(record.id)" {
					tc.want = []string{"true"}
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("%s: Keys = %q, want %q", decoding, got, tc.want)
				}
			}
		})
	}
}

func TestKeyFuncDiagnostics(t *testing.T) {
	cases := []struct{ expr, summary, detail string }{
		{"tenant.id", "Invalid reference in parent_key", `"tenant" is not available here`},
		{"recod.id", "Invalid reference in parent_key", `Did you mean "record"?`},
		{"{a = record.id}", "Invalid parent_key", "yields a value of type object"},
		{"record.id == 1", "Invalid parent_key", "yields a value of type bool"},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			k, diags := compileKeyForTest(t, tc.expr)
			if k != nil || !diags.HasErrors() {
				t.Fatalf("compiled %s without errors", tc.expr)
			}
			d := diags[0]
			if d.Summary != tc.summary || !strings.Contains(d.Detail, tc.detail) || d.Subject == nil {
				t.Fatalf("diagnostic %s: %s, want %s / %s", d.Summary, d.Detail, tc.summary, tc.detail)
			}
		})
	}
}
