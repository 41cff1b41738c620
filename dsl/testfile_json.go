package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// jsonError is a problem in a fixture or golden file, at a byte offset.
type jsonError struct {
	file   string
	src    []byte
	offset int
	msg    string
}

func (e *jsonError) Error() string { return e.msg }

// rng is the one-character range of the error in its file.
func (e *jsonError) rng() hcl.Range {
	p := newPosTracker(e.src)
	start := p.at(e.offset)
	end := start
	if start.Byte < len(e.src) {
		end = p.at(start.Byte + 1)
	}
	return hcl.Range{Filename: e.file, Start: start, End: end}
}

// fixtureError reports a bad fixture or golden file at the place in the
// file, with the test attribute that reads it as context in the detail.
func fixtureError(err error, attr *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	var je *jsonError
	if !errors.As(err, &je) {
		return errorIn(attr, summary, detail+": "+err.Error()+".")
	}
	rng := je.rng()
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Subject: &rng,
		Detail: fmt.Sprintf("%s: %s. (%s is read by %s at %s.)", detail, je.msg, je.file, attr.Name, attr.Range)}
}

// fixtureRecord is one record of a fixture file and where it is written.
type fixtureRecord struct {
	rec map[string]any
	rng hcl.Range
}

// decodeFixture reads a fixture file: a JSON array of records, or a saved
// VOMO list page whose "data" member is that array. Numbers stay
// json.Number, as the VOMO client decodes them.
func decodeFixture(src []byte, file string) ([]fixtureRecord, error) {
	var out []fixtureRecord
	err := eachElement(src, file, "data", func(dec *json.Decoder, rng func() hcl.Range) error {
		var v any
		start := skipSeparators(src, int(dec.InputOffset()))
		if err := dec.Decode(&v); err != nil {
			return err
		}
		rec, ok := v.(map[string]any)
		if !ok {
			return &jsonError{file: file, src: src, offset: start,
				msg: fmt.Sprintf("record %d is %s, not an object of fields", len(out)+1, jsonKind(v))}
		}
		out = append(out, fixtureRecord{rec: rec, rng: rng()})
		return nil
	})
	return out, err
}

// decodeGolden reads a golden file: a JSON array of outcomes, one per record.
func decodeGolden(src []byte, file string) ([]Outcome, error) {
	var out []Outcome
	err := eachElement(src, file, "", func(dec *json.Decoder, _ func() hcl.Range) error {
		start := skipSeparators(src, int(dec.InputOffset()))
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		entry, ok := v.(map[string]any)
		if !ok {
			return &jsonError{file: file, src: src, offset: start, msg: fmt.Sprintf("entry %d is %s, not an object", len(out)+1, jsonKind(v))}
		}
		o, err := goldenOutcome(entry)
		if err != nil {
			return &jsonError{file: file, src: src, offset: start, msg: fmt.Sprintf("entry %d: %s", len(out)+1, err)}
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// goldenOutcome reads one golden entry, decoded with json.Number numbers:
// exactly one of output, filtered (true) and error (a non-empty string).
func goldenOutcome(entry map[string]any) (Outcome, error) {
	var o Outcome
	if len(entry) != 1 {
		return o, errors.New(`want exactly one of "output", "filtered" and "error"`)
	}
	for k, v := range entry {
		switch k {
		case "output":
			fields, ok := v.(map[string]any)
			if !ok {
				return o, errors.New(`"output" must be an object of fields`)
			}
			n, err := normalizeValue(fields)
			if err != nil {
				return o, fmt.Errorf(`"output": %w`, err)
			}
			o.Fields = n.(map[string]any)
		case "filtered":
			if v != true {
				return o, errors.New(`"filtered" must be true`)
			}
			o.Filtered = true
		case "error":
			if o.Error, _ = v.(string); o.Error == "" {
				return o, errors.New(`"error" must be the error message, a non-empty string`)
			}
		default:
			return o, fmt.Errorf(`unknown member %q: want "output", "filtered" or "error"`, k)
		}
	}
	return o, nil
}

// eachElement walks the top-level JSON array of src (or, when member is
// set and src is an object, the array in that member), calling fn to
// decode each element from dec; rng gives the range of the element just
// decoded. Every syntax error comes back as a *jsonError with its offset.
func eachElement(src []byte, file, member string, fn func(dec *json.Decoder, rng func() hcl.Range) error) error {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	pos := newPosTracker(src)
	fail := func(err error) error {
		var je *jsonError
		if errors.As(err, &je) {
			return err
		}
		off := int(dec.InputOffset())
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = int(se.Offset)
		case errors.As(err, &te):
			off = int(te.Offset)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			off = len(src)
			err = errors.New("unexpected end of JSON")
		}
		return &jsonError{file: file, src: src, offset: min(off, len(src)), msg: "invalid JSON: " + err.Error()}
	}
	want := "an array"
	if member != "" {
		want = fmt.Sprintf("an array, or an object with %q holding one", member)
	}
	notArray := func(off int) error {
		return &jsonError{file: file, src: src, offset: skipSpace(src, off), msg: "the file must hold " + want}
	}
	outer, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	switch {
	case outer == json.Delim('{') && member != "":
		if err := seekMember(dec, member); err != nil {
			if errors.Is(err, errNoMember) {
				return notArray(0)
			}
			return fail(err)
		}
		off := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		if tok != json.Delim('[') {
			return notArray(skipSeparators(src, off))
		}
	case outer != json.Delim('['):
		return notArray(0)
	}
	for dec.More() {
		start := skipSeparators(src, int(dec.InputOffset()))
		rng := func() hcl.Range {
			return hcl.Range{Filename: file, Start: pos.at(start), End: pos.at(int(dec.InputOffset()))}
		}
		if err := fn(dec, rng); err != nil {
			return fail(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	what := "array"
	if outer == json.Delim('{') {
		what = "object"
		// The rest of the page: read to check it is JSON, then dropped.
		if err := skipMembers(dec); err != nil {
			return fail(err)
		}
		if _, err := dec.Token(); err != nil {
			return fail(err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &jsonError{file: file, src: src, offset: skipSpace(src, int(dec.InputOffset())), msg: "invalid JSON: more after the end of the " + what}
	}
	return nil
}

// errNoMember: the object has no such member.
var errNoMember = errors.New("no such member")

// seekMember reads an object's members up to the one called name, leaving
// dec at its value; with no such member it reads them all and returns
// errNoMember, leaving dec at the closing brace.
func seekMember(dec *json.Decoder, name string) error {
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		if k == name {
			return nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return errNoMember
}

// skipMembers reads the rest of an object's members, leaving dec at the
// closing brace.
func skipMembers(dec *json.Decoder) error {
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			return err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// skipSpace returns the offset of the first non-space byte at or after off.
func skipSpace(src []byte, off int) int {
	for off < len(src) && (src[off] == ' ' || src[off] == '\t' || src[off] == '\n' || src[off] == '\r') {
		off++
	}
	return off
}

// skipSeparators skips spaces, commas and colons: the decoder's offset
// after a token stops before the separator that follows it.
func skipSeparators(src []byte, off int) int {
	for {
		off = skipSpace(src, off)
		if off < len(src) && (src[off] == ',' || src[off] == ':') {
			off++
			continue
		}
		return off
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// posTracker turns increasing byte offsets into line and column positions
// in one pass over the file, so locating every record of a large fixture
// costs one scan, not one per record.
type posTracker struct {
	src []byte
	pos hcl.Pos
}

func newPosTracker(src []byte) *posTracker {
	return &posTracker{src: src, pos: hcl.InitialPos}
}

// at returns the position of byte offset off. Offsets must not decrease
// between calls, except that an earlier one rescans from the start.
func (p *posTracker) at(off int) hcl.Pos {
	off = min(max(off, 0), len(p.src))
	if off < p.pos.Byte {
		p.pos = hcl.InitialPos
	}
	for p.pos.Byte < off {
		r, n := utf8.DecodeRune(p.src[p.pos.Byte:])
		p.pos.Byte += n
		if r == '\n' {
			p.pos.Line++
			p.pos.Column = 1
		} else {
			p.pos.Column++
		}
	}
	return p.pos
}
