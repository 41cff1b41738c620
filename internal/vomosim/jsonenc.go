package vomosim

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// obj appends JSON objects field by field in a fixed order. Records are
// written by hand rather than through encoding/json because a page is the
// hot path of every benchmark and the field order must be stable for golden
// files.
type obj struct {
	b     []byte
	first bool
}

func newObj(b []byte) obj { return obj{b: append(b, '{'), first: true} }

// sub starts a nested object written into the same buffer; close it with
// end.
func (o *obj) sub(k string) obj {
	o.key(k)
	return obj{b: append(o.b, '{'), first: true}
}

// end closes a nested object started with sub.
func (o *obj) end(inner obj) { o.b = inner.done() }

func (o *obj) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *obj) str(k, v string) { o.key(k); o.b = appendJSONString(o.b, v) }

func (o *obj) int(k string, v int64) { o.key(k); o.b = strconv.AppendInt(o.b, v, 10) }

func (o *obj) float(k string, v float64) {
	o.key(k)
	o.b = strconv.AppendFloat(o.b, v, 'f', -1, 64)
}

func (o *obj) bool(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }

func (o *obj) null(k string) { o.key(k); o.b = append(o.b, "null"...) }

func (o *obj) stamp(k string, us int64) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = appendStamp(o.b, us)
	o.b = append(o.b, '"')
}

func (o *obj) date(k string, day int32) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = appendDate(o.b, day)
	o.b = append(o.b, '"')
}

// raw writes a value that is already JSON.
func (o *obj) raw(k string, v []byte) { o.key(k); o.b = append(o.b, v...) }

func (o *obj) done() []byte { return append(o.b, '}') }

// appendJSONString quotes s as PHP's json_encode does by default, which is
// what a Laravel API sends: slashes become \/ and every non-ASCII
// character a \uXXXX escape. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '/' {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '/':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:]) // invalid bytes give U+FFFD
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			b = appendU(b, r1)
			b = appendU(b, r2)
		} else {
			b = appendU(b, r)
		}
		i += size
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}
