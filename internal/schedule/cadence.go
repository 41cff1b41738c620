package schedule

import (
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"time"
)

// Stagger is a job's offset within its cadence: a sha256 hash of the tenant
// and the job ID, in whole seconds in [0, cadence). Hashing (instead of
// drawing at random) keeps the offset the same on every worker and across
// restarts, and spreads many tenants on one cadence over the whole period.
// A cadence shorter than a second has no room for an offset.
func Stagger(tenant, jobID string, cadence time.Duration) time.Duration {
	slots := uint64(cadence / time.Second)
	if slots == 0 {
		return 0
	}
	return time.Duration(hash64(tenant, jobID)%slots) * time.Second
}

// hash64 is the first eight bytes of sha256 over the parts, each followed by
// a zero byte so that ("ab", "c") and ("a", "bc") differ.
func hash64(parts ...string) uint64 {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// NextRuns returns the first n instants of the form
// Unix epoch + k*cadence + stagger that fall strictly after `after`, in UTC.
// Aligning to the epoch rather than to a start time means a restart or a
// second worker never shifts the grid. A stagger outside [0, cadence) is
// taken modulo the cadence; a non-positive cadence or n yields nil.
func NextRuns(after time.Time, cadence, stagger time.Duration, n int) []time.Time {
	if cadence <= 0 || n <= 0 {
		return nil
	}
	// Nanoseconds since the epoch overflow int64 beyond the year 2262, so
	// the arithmetic runs on big integers: --now is user input.
	c := big.NewInt(int64(cadence))
	s := new(big.Int).Mod(big.NewInt(int64(stagger)), c)
	t := new(big.Int).Mul(big.NewInt(after.Unix()), big.NewInt(int64(time.Second)))
	t.Add(t, big.NewInt(int64(after.Nanosecond())))
	t.Sub(t, s)
	k := new(big.Int).Div(t, c) // Euclidean: the floor for a positive divisor
	k.Add(k, big.NewInt(1))

	runs := make([]time.Time, 0, n)
	sec, nsec, perSec := new(big.Int), new(big.Int), big.NewInt(int64(time.Second))
	for i := 0; i < n; i++ {
		at := new(big.Int).Mul(k, c)
		at.Add(at, s)
		sec.DivMod(at, perSec, nsec)
		runs = append(runs, time.Unix(sec.Int64(), nsec.Int64()).UTC())
		k.Add(k, big.NewInt(1))
	}
	return runs
}
