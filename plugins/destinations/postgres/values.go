package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// fromPostgres converts a value pgx decoded to the record value forms:
// numeric becomes int64 when it is a whole number that fits, else float64.
func fromPostgres(v any) (any, error) {
	switch x := v.(type) {
	case pgtype.Numeric:
		if !x.Valid {
			return nil, nil
		}
		if x.Exp >= 0 && !x.NaN && x.InfinityModifier == pgtype.Finite {
			if i, err := x.Int64Value(); err == nil && i.Valid {
				return i.Int64, nil
			}
		}
		f, err := x.Float64Value()
		if err != nil {
			return nil, fmt.Errorf("numeric: %w", err)
		}
		return f.Float64, nil
	case time.Time:
		return x.UTC(), nil
	}
	return v, nil
}
