package dsl

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/ctystrings"
	"golang.org/x/text/unicode/norm"
)

// readShape is what a set of expressions reads of a record, collected
// from their traversals at compile time: record.a.b marks a and its
// attribute b; a traversal that stops at a value or indexes into it marks
// that value whole. Only what is read is converted to cty per record.
type readShape struct {
	// whole: some expression uses this value itself, not just attributes of it.
	whole bool
	attrs map[string]*readShape
}

// add records one traversal's attribute path; whole marks its last step
// as used in full.
func (s *readShape) add(path []string, whole bool) {
	for _, name := range path {
		if s.attrs == nil {
			s.attrs = make(map[string]*readShape)
		}
		next := s.attrs[name]
		if next == nil {
			next = &readShape{}
			s.attrs[name] = next
		}
		s = next
	}
	if whole {
		s.whole = true
	}
}

// readsInside reports whether attributes inside the value at path are
// read.
func (s *readShape) readsInside(path []string) bool {
	for _, name := range path {
		if s = s.attrs[name]; s == nil {
			return false
		}
	}
	return len(s.attrs) > 0
}

// wholeShape reads a value in full; it is shared and never modified.
var wholeShape = &readShape{whole: true}

// recordObject converts the parts of rec that shape reads into the cty
// object expressions see as `record`. A read attribute absent from rec is
// null, typed by the schema when one is known. An error is a *valueError
// saying where in rec the value is.
func recordObject(rec map[string]any, shape *readShape, schema map[string]string) (cty.Value, error) {
	size := len(shape.attrs)
	if shape.whole {
		size += len(rec)
	}
	attrs := make(map[string]cty.Value, size)
	if shape.whole {
		for name, v := range rec {
			cv, err := toCty(v, shape.attrs[name], schemaCtyType(schema[name]))
			if err != nil {
				return cty.NilVal, atStep("."+name, err)
			}
			attrs[name] = cv
		}
	}
	for name, child := range shape.attrs {
		if _, done := attrs[name]; done {
			continue
		}
		cv, err := toCty(rec[name], child, schemaCtyType(schema[name]))
		if err != nil {
			return cty.NilVal, atStep("."+name, err)
		}
		attrs[name] = cv
	}
	return cty.ObjectVal(attrs), nil
}

// toCty converts a JSON-decoded value. shape, when not nil, is what is read
// of it: a null value of which only attributes are read becomes an object
// of nulls, so that record.address.city is null (not an error) for a record
// without an address, as it is on the plain-reference fast path.
func toCty(v any, shape *readShape, nullType cty.Type) (cty.Value, error) {
	switch x := v.(type) {
	case nil:
		if shape != nil && !shape.whole && len(shape.attrs) > 0 {
			return recordObject(nil, shape, nil)
		}
		return cty.NullVal(nullType), nil
	case string:
		return cty.StringVal(x), nil
	case bool:
		return cty.BoolVal(x), nil
	case float64:
		if math.IsNaN(x) {
			return cty.NilVal, fmt.Errorf("NaN is not a number a record can hold")
		}
		return cty.NumberFloatVal(x), nil
	case json.Number:
		n, err := cty.ParseNumberVal(string(x))
		if err != nil {
			return cty.NilVal, fmt.Errorf("invalid number %q", string(x))
		}
		return n, nil
	case int:
		return cty.NumberIntVal(int64(x)), nil
	case int64:
		return cty.NumberIntVal(x), nil
	case map[string]any:
		if shape == nil || (!shape.whole && len(shape.attrs) == 0) {
			shape = wholeShape
		}
		return recordObject(x, shape, nil)
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal, nil
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			ce, err := toCty(e, nil, cty.DynamicPseudoType)
			if err != nil {
				return cty.NilVal, atStep(fmt.Sprintf("[%d]", i), err)
			}
			elems[i] = ce
		}
		return cty.TupleVal(elems), nil
	}
	return cty.NilVal, fmt.Errorf("unsupported value of Go type %T", v)
}

// valueError is a record value that cannot be converted, with where it
// is, relative to the record: ".address.geo[2]".
type valueError struct {
	path string
	err  error
}

func (e *valueError) Error() string { return e.path + ": " + e.err.Error() }

func (e *valueError) Unwrap() error { return e.err }

// atStep puts step in front of where err happened.
func atStep(step string, err error) error {
	if ve, ok := err.(*valueError); ok {
		return &valueError{path: step + ve.path, err: ve.err}
	}
	return &valueError{path: step, err: err}
}

// schemaCtyType is the cty type of a null field of the given schema type.
func schemaCtyType(t string) cty.Type {
	switch t {
	case "string", "timestamp":
		return cty.String
	case "number":
		return cty.Number
	case "bool":
		return cty.Bool
	}
	return cty.DynamicPseudoType
}

// lookupPath reads record.a.b… straight from the decoded record. An absent
// or null step reads as null; viaNull tells that a step before the last
// was null. A step into a value that is not an object is an error, as it
// is when HCL evaluates the same reference.
func lookupPath(rec map[string]any, path []string) (v any, viaNull bool, err error) {
	var cur any = rec
	for i, name := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			if cur == nil {
				return nil, i > 0, nil
			}
			return nil, false, fmt.Errorf("record.%s is %s, not an object, so it has no attribute %q",
				strings.Join(path[:i], "."), goKind(cur), name)
		}
		cur = m[name]
	}
	return cur, false, nil
}

// goKind names a decoded value's kind the way the language does.
func goKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a bool"
	case float64, json.Number, int, int64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// normalizeValue turns a decoded value into the field types destinations
// take, equal to what HCL evaluation of the same reference gives: whole
// numbers become int64, json.Number is parsed, strings are NFC-normalized
// (as cty normalizes every string), and nested maps and lists are copied
// only when something in them changes.
func normalizeValue(v any) (any, error) {
	if !needsNormalizing(v) {
		return v, nil
	}
	switch x := v.(type) {
	case string:
		return ctystrings.Normalize(x), nil
	case float64:
		return normalizeFloat(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("invalid number %q", string(x))
		}
		return normalizeFloat(f)
	case int:
		return int64(x), nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ne, err := normalizeValue(e)
			if err != nil {
				return nil, atStep("."+k, err)
			}
			out[k] = ne
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			ne, err := normalizeValue(e)
			if err != nil {
				return nil, atStep(fmt.Sprintf("[%d]", i), err)
			}
			out[i] = ne
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of Go type %T", v)
}

// needsNormalizing reports whether normalizeValue would change v.
func needsNormalizing(v any) bool {
	switch x := v.(type) {
	case nil, bool, int64:
		return false
	case string:
		return !norm.NFC.IsNormalString(x)
	case float64:
		return x == math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x)
	case map[string]any:
		for _, e := range x {
			if needsNormalizing(e) {
				return true
			}
		}
		return false
	case []any:
		for _, e := range x {
			if needsNormalizing(e) {
				return true
			}
		}
		return false
	}
	return true
}

// normalizeFloat makes whole numbers int64 and refuses what JSON cannot hold.
func normalizeFloat(f float64) (any, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil, fmt.Errorf("%v is not a number a destination can store", f)
	case f == math.Trunc(f) && f >= -(1<<63) && f < (1<<63):
		return int64(f), nil
	}
	return f, nil
}

// errUnknownResult is what a run-time result that is not known means: the
// values a run sees are all known, except that a function handed a null of
// no known type (an absent field of an untyped record) returns an unknown.
var errUnknownResult = fmt.Errorf("the result is not known: a function was given a field that is absent or null and whose type is not known; declare the field in the resource's schema, or write coalesce(record.<field>, <default>)")

// fromCty converts an evaluated value to the field types destinations take.
// Secrets are unmarked: mapping one into a field is the author's choice.
func fromCty(v cty.Value) (any, error) {
	if v.ContainsMarked() {
		v, _ = v.UnmarkDeep()
	}
	return fromPlainCty(v)
}

func fromPlainCty(v cty.Value) (any, error) {
	if !v.IsKnown() {
		return nil, errUnknownResult
	}
	if v.IsNull() {
		return nil, nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString(), nil
	case ty == cty.Bool:
		return v.True(), nil
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i, nil
			}
		}
		f, _ := bf.Float64()
		return normalizeFloat(f)
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			ge, err := fromPlainCty(e)
			if err != nil {
				return nil, err
			}
			out = append(out, ge)
		}
		return out, nil
	case ty.IsMapType() || ty.IsObjectType():
		out := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			ge, err := fromPlainCty(e)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = ge
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s cannot be stored in a field", ty.FriendlyName())
}
