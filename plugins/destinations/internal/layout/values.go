package layout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// Coerce checks a mapped value against its field's type and returns it in
// the one form every destination stores:
//
//	TypeString    string (numbers and bools are written out)
//	TypeNumber    int64 or float64 (finite)
//	TypeBool      bool
//	TypeTimestamp time.Time, UTC, microseconds (RFC 3339 text is parsed)
//	TypeJSON      []byte holding JSON
//
// nil stays nil. A value the column cannot take is an error naming the
// field: that record is rejected permanently, the rest of its batch lands.
func Coerce(field string, ft sdk.FieldType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	out, err := coerce(ft, v)
	if err != nil {
		return nil, fmt.Errorf("field %s (%s): %w", field, ft, err)
	}
	return out, nil
}

func coerce(ft sdk.FieldType, v any) (any, error) {
	switch ft {
	case sdk.TypeString:
		return toString(v)
	case sdk.TypeNumber:
		return toNumber(v)
	case sdk.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s is not a bool", describe(v))
	case sdk.TypeTimestamp:
		switch t := v.(type) {
		case time.Time:
			return Micro(t), nil
		case string:
			p, err := ParseTime(t)
			if err != nil {
				return nil, fmt.Errorf("%q is not an RFC 3339 timestamp", t)
			}
			return Micro(p), nil
		}
		return nil, fmt.Errorf("%s is not a timestamp", describe(v))
	case sdk.TypeJSON:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("not representable as JSON: %w", err)
		}
		if bytes.Contains(b, []byte(`\u0000`)) {
			return nil, fmt.Errorf("JSON text holds a NUL character")
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown field type %q", ft)
}

func toString(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case bool:
		s = strconv.FormatBool(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case int:
		s = strconv.Itoa(x)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		s = x.UTC().Format(time.RFC3339Nano)
	default:
		return "", fmt.Errorf("%s cannot be stored as text", describe(v))
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("text is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("text holds a NUL character")
	}
	return s, nil
}

func toNumber(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float32:
		return toNumber(float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a finite number", x)
		}
		return x, nil
	}
	return nil, fmt.Errorf("%s is not a number", describe(v))
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return strconv.Quote(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T %v", v, v)
}

// DecodeJSON reads a JSON column back into the record value forms (nil,
// bool, float64, string, []any, map[string]any).
func DecodeJSON(b []byte) (any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}
