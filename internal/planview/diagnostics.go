package planview

import (
	"bufio"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostic is one diagnostic in the shape `terraform validate -json`
// prints, so tools written for Terraform's output read ours.
type Diagnostic struct {
	Severity string   `json:"severity"`
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail"`
	Range    *Range   `json:"range,omitempty"`
	Snippet  *Snippet `json:"snippet,omitempty"`
}

// Range is a diagnostic's subject: start inclusive, end exclusive.
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// Pos is a position in a file: one-based line and column (in characters),
// zero-based byte offset.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// Snippet is the source around a diagnostic: the lines of Code start at
// StartLine, and the subject is Code[HighlightStartOffset:HighlightEndOffset]
// (byte offsets). Context names the enclosing block, like `tenant "acme"`.
// Values is always empty: Terraform lists the values of the expression's
// references there, and a value may be a secret.
type Snippet struct {
	Context              *string    `json:"context"`
	Code                 string     `json:"code"`
	StartLine            int        `json:"start_line"`
	HighlightStartOffset int        `json:"highlight_start_offset"`
	HighlightEndOffset   int        `json:"highlight_end_offset"`
	Values               []struct{} `json:"values"`
}

// counts returns the number of errors and warnings.
func counts(diags hcl.Diagnostics) (errors, warnings int) {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}

// redacted copies the diagnostics without their expression and evaluation
// context: HCL's text writer prints the values an expression refers to,
// and those may be sensitive variables or env() values.
func redacted(diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Expression, c.EvalContext = nil, nil
		out[i] = &c
	}
	return out
}

// WriteDiagnostics renders diagnostics as HCL does for people: file, line,
// the offending source with the subject underlined, and the detail. Other
// commands that report on the language (siphon test) print through it too,
// so every diagnostic looks the same.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, opts Options) error {
	if len(diags) == 0 {
		return nil
	}
	return hcl.NewDiagnosticTextWriter(w, files, opts.Width, opts.Color).WriteDiagnostics(redacted(diags))
}

// JSONDiagnostics converts diagnostics to Terraform's JSON shape, for
// plan -json and the other commands' -json documents.
func JSONDiagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) []Diagnostic {
	out := make([]Diagnostic, 0, len(diags))
	for _, d := range diags {
		jd := Diagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity != hcl.DiagError {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			jd.Range = &Range{Filename: d.Subject.Filename, Start: pos(d.Subject.Start), End: pos(d.Subject.End)}
			jd.Snippet = snippet(files[d.Subject.Filename], *d.Subject, d.Context)
		}
		out = append(out, jd)
	}
	return out
}

func pos(p hcl.Pos) Pos { return Pos{Line: p.Line, Column: p.Column, Byte: p.Byte} }

// snippet cuts the source lines a diagnostic covers out of its file, as
// Terraform does: the subject widened to its context range, whole lines,
// highlight offsets clamped to the code so consumers never index out of it.
func snippet(file *hcl.File, subject hcl.Range, context *hcl.Range) *Snippet {
	if file == nil || len(file.Bytes) == 0 {
		return nil
	}
	src := file.Bytes
	highlight := subject
	span := subject
	if context != nil {
		span = hcl.RangeOver(*context, subject)
	}
	// An empty range would highlight nothing; widen it by one byte.
	if span.Empty() {
		span.End.Byte++
		span.End.Column++
	}
	if highlight.Empty() {
		highlight.End.Byte++
		highlight.End.Column++
	}
	var code strings.Builder
	start := -1
	sc := hcl.NewRangeScanner(src, subject.Filename, bufio.ScanLines)
	for sc.Scan() {
		line := sc.Range()
		if !line.Overlaps(span) {
			continue
		}
		if start < 0 {
			start = line.Start.Byte
		}
		code.Write(line.SliceBytes(src))
		code.WriteByte('\n')
	}
	if start < 0 {
		return nil
	}
	text := strings.TrimSuffix(code.String(), "\n")
	from := clamp(highlight.Start.Byte-start, len(text))
	to := clamp(from+highlight.End.Byte-highlight.Start.Byte, len(text))
	s := &Snippet{Code: text, StartLine: span.Start.Line, HighlightStartOffset: from, HighlightEndOffset: to, Values: []struct{}{}}
	if nav, ok := file.Nav.(interface{ ContextString(int) string }); ok {
		if ctx := nav.ContextString(subject.Start.Byte); ctx != "" {
			s.Context = &ctx
		}
	}
	return s
}

func clamp(n, limit int) int { return max(0, min(n, limit)) }
