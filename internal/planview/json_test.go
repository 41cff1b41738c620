package planview

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/dsl"
)

func TestJSONValid(t *testing.T) {
	var out bytes.Buffer
	if err := JSON(&out, &dsl.Result{Plan: handPlan()}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), secret) {
		t.Fatalf("the JSON document shows a secret:\n%s", out.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["format_version"] != dsl.FormatVersion || doc["valid"] != true || doc["error_count"] != 0.0 || doc["warning_count"] != 0.0 {
		t.Errorf("header = %v %v %v %v", doc["format_version"], doc["valid"], doc["error_count"], doc["warning_count"])
	}
	if d, ok := doc["diagnostics"].([]any); !ok || len(d) != 0 {
		t.Errorf("diagnostics = %#v, want []", doc["diagnostics"])
	}
	if _, ok := doc["plan"].(map[string]any); !ok {
		t.Errorf("plan = %#v, want an object", doc["plan"])
	}
}

func TestJSONDiagnosticShape(t *testing.T) {
	var out bytes.Buffer
	if err := JSON(&out, invalid(t)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Valid       bool            `json:"valid"`
		ErrorCount  int             `json:"error_count"`
		Diagnostics []Diagnostic    `json:"diagnostics"`
		Plan        json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Valid || doc.ErrorCount == 0 || string(doc.Plan) != "null" {
		t.Fatalf("valid %v, errors %d, plan %s", doc.Valid, doc.ErrorCount, doc.Plan)
	}
	var d *Diagnostic
	for i := range doc.Diagnostics {
		if doc.Diagnostics[i].Severity == "error" {
			d = &doc.Diagnostics[i]
		}
	}
	if d == nil || d.Range == nil || d.Snippet == nil {
		t.Fatalf("no error with a range and snippet: %s", out.String())
	}
	if d.Range.Filename != "main.hcl" || d.Range.Start != (Pos{Line: 3, Column: 3, Byte: 32}) {
		t.Errorf("range = %+v", d.Range)
	}
	s := d.Snippet
	if s.Context == nil || *s.Context != `lane "premium"` {
		t.Errorf("context = %v", s.Context)
	}
	if s.StartLine != 3 || s.Code != "  wieght = 4" || s.Code[s.HighlightStartOffset:s.HighlightEndOffset] != "wieght" {
		t.Errorf("snippet = %+v", s)
	}
	if !strings.Contains(out.String(), `"values": []`) {
		t.Error("snippet.values is not an empty list")
	}
}

func TestSnippetClampsAndSkipsMissingFiles(t *testing.T) {
	res := invalid(t)
	for _, d := range res.Diagnostics {
		if d.Subject != nil {
			r := *d.Subject
			r.End.Byte += 1000 // past the end of the file
			if s := snippet(res.Files["main.hcl"], r, nil); s == nil || s.HighlightEndOffset > len(s.Code) {
				t.Errorf("snippet out of bounds: %+v", s)
			}
			if s := snippet(nil, r, nil); s != nil {
				t.Errorf("snippet of a missing file = %+v", s)
			}
		}
	}
}
