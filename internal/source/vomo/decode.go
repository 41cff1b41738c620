package vomo

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// DecodeObject decodes a record's JSON object into the map encoding/json's
// Decoder makes with UseNumber: json.Number numbers, string, bool, nil,
// []any and map[string]any, the last of a repeated name counting. Only
// the first JSON value of raw is read, as the Decoder does.
//
// A direct walk over the bytes decodes the records a source sends, with
// no reflection; anything it does not handle itself (a string with
// escapes it passes to encoding/json, deep nesting, malformed input) goes
// to encoding/json whole, so results and errors are that decoder's.
func DecodeObject(raw []byte) (map[string]any, error) {
	d := objectDecoder{b: raw}
	d.space()
	if d.i < len(raw) && raw[d.i] == '{' {
		if m, ok := d.object(0); ok {
			return m, nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// maxFastDepth bounds the walk's recursion; deeper values are left to
// encoding/json, which has its own limit.
const maxFastDepth = 100

// objectDecoder walks JSON bytes; ok false means "not handled here".
type objectDecoder struct {
	b []byte
	i int
}

func (d *objectDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

func (d *objectDecoder) object(depth int) (map[string]any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	d.i++ // '{'
	m := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, true
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, false
		}
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		d.space()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.space()
		case '}':
			d.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (d *objectDecoder) array(depth int) ([]any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	d.i++ // '['
	a := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.space()
		case ']':
			d.i++
			return a, true
		default:
			return nil, false
		}
	}
}

func (d *objectDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		return true, true
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		return false, true
	case bytes.HasPrefix(d.b[d.i:], []byte("null")):
		d.i += 4
		return nil, true
	}
	return nil, false
}

// str reads the string at d.i. A string with escapes is unquoted by
// encoding/json; invalid UTF-8 and control characters are not handled.
func (d *objectDecoder) str() (string, bool) {
	start := d.i
	escaped := false
	ascii := true
	for j := start + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '\\':
			escaped = true
			j++
		case c == '"':
			d.i = j + 1
			in := d.b[start+1 : j]
			if escaped {
				var s string
				if json.Unmarshal(d.b[start:d.i], &s) != nil {
					return "", false
				}
				return s, true
			}
			if !ascii && !utf8.Valid(in) {
				return "", false
			}
			return string(in), true
		case c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// number reads a JSON number's text: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *objectDecoder) number() (json.Number, bool) {
	b, start := d.b, d.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return "", false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return "", false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return "", false
		}
		i = j
	}
	d.i = i
	return json.Number(b[start:i]), true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
