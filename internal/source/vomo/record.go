package vomo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Record is one record of a list page: its canonical key (KeyOf) and its
// JSON object as the page carried it. The object is not decoded up front:
// the poll stage queues the bytes as they are, and reads only the fields it
// needs (Field), so a record costs one pass over its bytes instead of a
// full decode into a map and an encode back.
type Record struct {
	Key string
	// Raw is the record's JSON object, compact: insignificant whitespace
	// the page had is removed, everything else is byte for byte as sent.
	Raw json.RawMessage
}

// Fields decodes the whole record as encoding/json does with UseNumber.
func (r Record) Fields() (map[string]any, error) {
	m, err := DecodeObject(r.Raw)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", r.Key, err)
	}
	if m == nil {
		return nil, fmt.Errorf("record %s: not an object", r.Key)
	}
	return m, nil
}

// Field decodes one top-level field of the record, as Fields would: a
// number is a json.Number, and when the object names the field twice the
// last one counts. ok is false when the field is absent.
func (r Record) Field(name string) (v any, ok bool, err error) {
	vals, _, err := scanObject(r.Raw, []string{name})
	if err != nil {
		return nil, false, fmt.Errorf("record %s: %w", r.Key, err)
	}
	if vals[0] == nil {
		return nil, false, nil
	}
	v, err = decodeValue(vals[0])
	if err != nil {
		return nil, false, fmt.Errorf("record %s field %q: %w", r.Key, name, err)
	}
	return v, true, nil
}

// newRecord checks that raw (one element of a page's data list, already
// validated as JSON by the page decode) is an object, extracts its key and
// compacts it when the page was indented.
func newRecord(raw json.RawMessage, primaryKey []string) (Record, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return Record{}, errors.New("not an object")
	}
	vals, spaced, err := scanObject(raw, primaryKey)
	if err != nil {
		return Record{}, err
	}
	k, err := keyOf(primaryKey, func(i int) (any, bool, error) {
		if vals[i] == nil {
			return nil, false, nil
		}
		v, err := decodeValue(vals[i])
		return v, true, err
	})
	if err != nil {
		return Record{}, err
	}
	if spaced {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return Record{}, err
		}
		raw = b.Bytes()
	}
	return Record{Key: k, Raw: raw}, nil
}

// scanObject walks one JSON object that is known to be syntactically valid
// and returns the raw value of each named top-level field (nil when absent;
// the last occurrence when repeated, as a map decode keeps), and whether
// the object holds whitespace outside its strings.
func scanObject(obj []byte, names []string) (vals [][]byte, spaced bool, err error) {
	vals = make([][]byte, len(names))
	i := skipSpace(obj, 0, &spaced)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false, errors.New("not an object")
	}
	i = skipSpace(obj, i+1, &spaced)
	if i < len(obj) && obj[i] == '}' {
		if skipSpace(obj, i+1, &spaced) != len(obj) {
			return nil, false, errors.New("bytes after the object")
		}
		return vals, spaced, nil
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return nil, false, fmt.Errorf("object key expected at byte %d", i)
		}
		end, err := skipString(obj, i)
		if err != nil {
			return nil, false, err
		}
		key := obj[i:end]
		i = skipSpace(obj, end, &spaced)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false, fmt.Errorf("':' expected at byte %d", i)
		}
		i = skipSpace(obj, i+1, &spaced)
		vstart := i
		if i, err = skipValue(obj, i, &spaced); err != nil {
			return nil, false, err
		}
		for n, name := range names {
			if keyIs(key, name) {
				vals[n] = obj[vstart:i]
			}
		}
		i = skipSpace(obj, i, &spaced)
		if i >= len(obj) {
			return nil, false, errors.New("truncated object")
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1, &spaced)
		case '}':
			if skipSpace(obj, i+1, &spaced) != len(obj) {
				return nil, false, errors.New("bytes after the object")
			}
			return vals, spaced, nil
		default:
			return nil, false, fmt.Errorf("',' or '}' expected at byte %d", i)
		}
	}
}

// keyIs reports whether the quoted JSON string key names name, as a map
// decode would: escapes are resolved and invalid UTF-8 is replaced.
func keyIs(key []byte, name string) bool {
	in := key[1 : len(key)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in) == name
	}
	var s string
	return json.Unmarshal(key, &s) == nil && s == name
}

func skipSpace(b []byte, i int, spaced *bool) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			*spaced = true
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string that starts at b[i].
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at byte %d", i)
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int, spaced *bool) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("value expected at byte %d", i)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			case ' ', '\t', '\r', '\n':
				*spaced = true
			}
		}
		return 0, fmt.Errorf("unterminated value at byte %d", i)
	default:
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j, nil
			}
			j++
		}
		return j, nil
	}
}

// decodeValue decodes one JSON value as a map decode with UseNumber does,
// without the decoder for the common shapes: a number, a plain string.
func decodeValue(raw []byte) (any, error) {
	switch c := raw[0]; {
	case c == '-' || (c >= '0' && c <= '9'):
		return json.Number(raw), nil
	case c == '"':
		in := raw[1 : len(raw)-1]
		if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
			return string(in), nil
		}
	case string(raw) == "null":
		return nil, nil
	case string(raw) == "true":
		return true, nil
	case string(raw) == "false":
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
