package planview

import (
	"encoding/json"
	"io"

	"github.com/siphonhq/siphon/dsl"
)

// Document is the `plan -json` output: `terraform validate -json`'s
// members, plus the compiled plan (null when the configuration is invalid).
// Secrets never appear: dsl.Value marshals redacted and diagnostics carry no
// expression values.
type Document struct {
	FormatVersion string       `json:"format_version"`
	Valid         bool         `json:"valid"`
	ErrorCount    int          `json:"error_count"`
	WarningCount  int          `json:"warning_count"`
	Diagnostics   []Diagnostic `json:"diagnostics"`
	Plan          *dsl.Plan    `json:"plan"`
}

// NewDocument builds the JSON document of a load result.
func NewDocument(res *dsl.Result) *Document {
	errs, warns := counts(res.Diagnostics)
	doc := &Document{
		FormatVersion: dsl.FormatVersion,
		Valid:         errs == 0 && res.Plan != nil,
		ErrorCount:    errs,
		WarningCount:  warns,
		Diagnostics:   JSONDiagnostics(res.Files, res.Diagnostics),
	}
	if doc.Valid {
		doc.Plan = res.Plan
	}
	return doc
}

// JSON writes the document, indented, with a final newline.
func JSON(w io.Writer, res *dsl.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(NewDocument(res))
}
