package destpb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The field encoding is a small tagged binary format. It keeps the Go types
// of sdk.Record.Fields apart on the wire: int64 stays int64 and float64
// stays float64 (msgpack-style), and time.Time round-trips to the
// nanosecond, in UTC (the location is not kept). Other integer and float
// types are widened to int64 and float64, and []byte travels as a string.
// Map entries are written in Go's map order: equal maps need not encode to
// equal bytes (content hashes are computed before encoding).
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagTime
	tagList
	tagMap
)

// maxDepth bounds nesting so a hostile payload cannot exhaust the stack.
const maxDepth = 64

// EncodeFields encodes a record's fields. A nil or empty map encodes to nil.
func EncodeFields(fields map[string]any) ([]byte, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	return appendValue(make([]byte, 0, 256+96*len(fields)), fields, 0)
}

// AppendFields appends the encoding of fields to dst, so a batch's records
// can share one buffer. Empty fields append nothing.
func AppendFields(dst []byte, fields map[string]any) ([]byte, error) {
	if len(fields) == 0 {
		return dst, nil
	}
	return appendValue(dst, fields, 0)
}

// DecodeFields is the inverse of EncodeFields; nil decodes to a nil map.
func DecodeFields(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	// One string holds every text of the record; decoded strings are
	// slices of it, which saves an allocation per string field.
	d := decoder{b: string(b)}
	v, err := d.value(0)
	if err != nil {
		return nil, fmt.Errorf("decode fields: %w", err)
	}
	if len(d.b) != 0 {
		return nil, errors.New("decode fields: trailing bytes")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("decode fields: not a map")
	}
	return m, nil
}

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errors.New("fields nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return append(b, tagNull), nil
	case bool:
		if x {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt), x), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case int32:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case uint32:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case uint64:
		if x > math.MaxInt64 {
			return binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(float64(x))), nil
		}
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(x)), nil
	case float32:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(float64(x))), nil
	case string:
		return appendString(append(b, tagString), x), nil
	case []byte:
		return appendString(append(b, tagString), string(x)), nil
	case time.Time:
		b = binary.AppendVarint(append(b, tagTime), x.Unix())
		return binary.AppendUvarint(b, uint64(x.Nanosecond())), nil
	case []any:
		b = binary.AppendUvarint(append(b, tagList), uint64(len(x)))
		var err error
		for _, e := range x {
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case []string:
		b = binary.AppendUvarint(append(b, tagList), uint64(len(x)))
		for _, e := range x {
			b = appendString(append(b, tagString), e)
		}
		return b, nil
	case map[string]any:
		b = binary.AppendUvarint(append(b, tagMap), uint64(len(x)))
		var err error
		for k, v := range x {
			b = appendString(b, k)
			if b, err = appendValue(b, v, depth+1); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("unsupported field value of type %T", v)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

type decoder struct{ b string }

var errShort = errors.New("truncated value")

func (d *decoder) uvarint() (uint64, error) {
	var v uint64
	for i := 0; i < len(d.b) && i < binary.MaxVarintLen64; i++ {
		c := d.b[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, errors.New("varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			d.b = d.b[i+1:]
			return v, nil
		}
	}
	return 0, errShort
}

func (d *decoder) varint() (int64, error) {
	u, err := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x, err
}

func (d *decoder) str() (string, error) {
	n, err := d.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(len(d.b)) {
		return "", errShort
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s, nil
}

// count reads a list or map length, refusing one that cannot fit in the
// remaining bytes (each element takes at least one byte).
func (d *decoder) count() (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.b)) {
		return 0, errShort
	}
	return int(n), nil
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	if len(d.b) == 0 {
		return nil, errShort
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case tagNull:
		return nil, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagInt:
		return d.varint()
	case tagFloat:
		if len(d.b) < 8 {
			return nil, errShort
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64([]byte(d.b[:8])))
		d.b = d.b[8:]
		return f, nil
	case tagString:
		return d.str()
	case tagTime:
		sec, err := d.varint()
		if err != nil {
			return nil, err
		}
		nsec, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		if nsec >= 1e9 {
			return nil, errors.New("bad time nanoseconds")
		}
		return time.Unix(sec, int64(nsec)).UTC(), nil
	case tagList:
		n, err := d.count()
		if err != nil {
			return nil, err
		}
		list := make([]any, n)
		for i := range list {
			if list[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return list, nil
	case tagMap:
		n, err := d.count()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, n)
		for range n {
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if m[k], err = d.value(depth + 1); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown tag %d", tag)
}
