package sqlite

import (
	"errors"
	"time"

	"github.com/siphonhq/siphon/plugins/destinations/internal/layout"
	"github.com/siphonhq/siphon/plugins/sdk"
	sqlite3 "modernc.org/sqlite/lib"
)

// recordError is a failure caused by one record's content: that record is
// rejected, the batch goes on.
type recordError struct{ err error }

func (e recordError) Error() string { return e.err.Error() }
func (e recordError) Unwrap() error { return e.err }

// classify marks the sqlite errors a record's content causes (a constraint,
// a value too big) as recordError; the rest fail the batch.
func classify(err error) error {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return recordError{err}
		}
	}
	return err
}

// toSQLite converts a mapped value to what its column stores: booleans as
// 0/1, timestamps as layout.TimeText, JSON as text.
func toSQLite(f sdk.FieldSpec, v any) (any, error) {
	c, err := layout.Coerce(f.Name, f.Type, v)
	if err != nil || c == nil {
		return nil, err
	}
	switch x := c.(type) {
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case time.Time:
		return layout.FormatTime(x), nil
	case []byte:
		return string(x), nil
	}
	return c, nil
}

// fromSQLite converts a stored value back to the record value forms.
func fromSQLite(ft sdk.FieldType, v any) (any, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil, nil
	}
	switch ft {
	case sdk.TypeBool:
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case float64:
			return x != 0, nil
		}
	case sdk.TypeTimestamp:
		switch x := v.(type) {
		case string:
			return layout.ParseTime(x)
		case time.Time:
			return x.UTC(), nil
		}
	case sdk.TypeJSON:
		if s, ok := v.(string); ok {
			return layout.DecodeJSON([]byte(s))
		}
	}
	return v, nil
}
