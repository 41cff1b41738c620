package destpb

import "time"

// The source version travels as Unix microseconds, the precision every
// destination stores; finer digits are dropped. The zero time round-trips
// (as the zero time in UTC).

// MicrosOf returns t as Unix microseconds.
func MicrosOf(t time.Time) int64 { return t.UnixMicro() }

// TimeOfMicros is the inverse of MicrosOf, in UTC.
func TimeOfMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
