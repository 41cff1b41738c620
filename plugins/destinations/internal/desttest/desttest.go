// Package desttest is the in-process test suite every built-in destination
// runs: the version rule, tenant isolation, tombstones, Keys paging and
// order, schema growth, compare-and-set and concurrent writers. It calls the
// sdk.Destination methods directly, so a failure points at the destination
// rather than at the plugin boundary.
package desttest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// Open returns a configured destination on fresh, empty storage. The test
// closes it.
type Open func(t *testing.T) sdk.Destination

// Object is the object every case writes, with one field of each type.
const Object = "volunteers"

// Fields are Object's mapped fields.
var Fields = []sdk.FieldSpec{
	{Name: "name", Type: sdk.TypeString},
	{Name: "hours", Type: sdk.TypeNumber},
	{Name: "active", Type: sdk.TypeBool},
	{Name: "joined_at", Type: sdk.TypeTimestamp},
	{Name: "tags", Type: sdk.TypeJSON},
}

// T0 is the base source version; versions step in microseconds so that
// sub-second order is exercised everywhere.
var T0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

// At returns the source time n microseconds after T0.
func At(n int) time.Time { return T0.Add(time.Duration(n) * time.Microsecond) }

// Run runs every case against destinations made by open.
func Run(t *testing.T, open Open) {
	cases := []struct {
		name string
		fn   func(t *testing.T, d sdk.Destination)
	}{
		{"Info", testInfo},
		{"Check", testCheck},
		{"IdempotentUpsert", testIdempotent},
		{"NewerApplied", testNewer},
		{"OlderIgnored", testOlder},
		{"ValuesRoundTrip", testValues},
		{"TenantIsolation", testTenants},
		{"DeleteNoResurrection", testDelete},
		{"DeleteUnknownKey", testDeleteUnknown},
		{"EqualVersionNewMapping", testEqualVersion},
		{"EqualHashSkipped", testEqualHash},
		{"SameKeyTwiceInBatch", testSameKeyTwice},
		{"KeysCompleteAndOrdered", testKeys},
		{"KeysByteOrder", testKeysByteOrder},
		{"EmptyBatch", testEmpty},
		{"LargeBatch", testLarge},
		{"EnsureObjectAddsColumns", testEnsure},
		{"EnsureObjectRejectsBadNames", testEnsureBadNames},
		{"HyphenatedNames", testHyphens},
		{"CompareAndSet", testCAS},
		{"BadRecordRejectedAlone", testBadRecord},
		{"ManyObjectsInOneBatch", testManyObjects},
		{"ReadOmitsUnknownKeys", testReadUnknown},
		{"Changes", testChanges},
		{"ConcurrentWriters", testConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := open(t)
			t.Cleanup(func() {
				if err := d.Close(context.Background()); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			ensure(t, d, Object, Fields)
			c.fn(t, d)
		})
	}
}

// Upsert builds an upsert of key at source time At(n), generation 1.
func Upsert(key string, n int, hash string, fields map[string]any) sdk.Record {
	return sdk.Record{
		Op: sdk.OpUpsert, Object: Object, Key: key,
		Version:     sdk.Version{Source: At(n), Generation: 1, Seq: int64(n)},
		ContentHash: hash, Fields: fields,
	}
}

// Delete builds a delete of key at source time At(n).
func Delete(key string, n int) sdk.Record {
	return sdk.Record{
		Op: sdk.OpDelete, Object: Object, Key: key,
		Version: sdk.Version{Source: At(n), Generation: 1, Seq: int64(n)},
	}
}

// ExpectDiagnostics fails the test unless diags holds no error (wantPath
// nil) or its first diagnostic is an error at wantPath.
func ExpectDiagnostics(t *testing.T, diags sdk.Diagnostics, wantPath []string) {
	t.Helper()
	if wantPath == nil {
		if diags.HasErrors() {
			t.Fatalf("unexpected: %v", diags.Err())
		}
		return
	}
	if !diags.HasErrors() || !reflect.DeepEqual(diags[0].Path, wantPath) {
		t.Fatalf("diagnostics %+v, want an error at %v", diags, wantPath)
	}
}

func ensure(t *testing.T, d sdk.Destination, object string, fields []sdk.FieldSpec) {
	t.Helper()
	if err := d.EnsureObject(context.Background(), sdk.ObjectSpec{Object: object, Fields: fields}); err != nil {
		t.Fatalf("EnsureObject %s: %v", object, err)
	}
}

// write writes recs for tenant and fails the test on a batch error or a
// result count that does not match.
func write(t *testing.T, d sdk.Destination, tenant string, recs ...sdk.Record) []sdk.Result {
	t.Helper()
	res, err := d.Write(context.Background(), sdk.Batch{Tenant: tenant, Records: recs})
	if err != nil {
		t.Fatalf("write %s: %v", tenant, err)
	}
	if len(res) != len(recs) {
		t.Fatalf("write %s: %d results for %d records", tenant, len(res), len(recs))
	}
	return res
}

type outcome int

const (
	applied outcome = iota
	skipped
	conflict
	permanent
)

func (o outcome) String() string {
	return [...]string{"applied", "skipped", "conflict", "permanent"}[o]
}

func outcomeOf(r sdk.Result) outcome {
	switch {
	case r.Status == sdk.StatusOK && r.Skipped:
		return skipped
	case r.Status == sdk.StatusOK:
		return applied
	case r.Status == sdk.StatusConflict:
		return conflict
	case r.Status == sdk.StatusPermanent:
		return permanent
	}
	return outcome(-1)
}

// expect checks the outcomes of a write.
func expect(t *testing.T, res []sdk.Result, want ...outcome) {
	t.Helper()
	for i, w := range want {
		if got := outcomeOf(res[i]); got != w {
			t.Errorf("record %d: %v (%+v), want %v", i, got, res[i], w)
		}
	}
}

// readOne returns what d holds for key, or ok=false.
func readOne(t *testing.T, d sdk.Destination, tenant, object, key string) (sdk.Row, bool) {
	t.Helper()
	rows, err := d.Read(context.Background(), tenant, object, []string{key})
	if err != nil {
		t.Fatalf("read %s/%s %q: %v", tenant, object, key, err)
	}
	switch len(rows) {
	case 0:
		return sdk.Row{}, false
	case 1:
		if rows[0].Key != key {
			t.Fatalf("read %q returned key %q", key, rows[0].Key)
		}
		return rows[0], true
	}
	t.Fatalf("read %q: %d rows", key, len(rows))
	return sdk.Row{}, false
}

// held checks that d holds key live (tomb=false) or as a tombstone at
// source time At(n).
func held(t *testing.T, d sdk.Destination, tenant, key string, n int, tomb bool) sdk.Row {
	t.Helper()
	row, ok := readOne(t, d, tenant, Object, key)
	if !ok {
		t.Fatalf("%s/%q: nothing held, want version %d (tombstone %v)", tenant, key, n, tomb)
	}
	if !row.Version.Source.Equal(At(n)) || row.Tombstone != tomb {
		t.Fatalf("%s/%q: held %v tombstone=%v, want %v tombstone=%v", tenant, key,
			row.Version.Source.Format(time.RFC3339Nano), row.Tombstone, At(n).Format(time.RFC3339Nano), tomb)
	}
	return row
}

// allKeys lists every live key of (tenant, object) in pages of limit.
func allKeys(t *testing.T, d sdk.Destination, tenant, object string, limit int) []sdk.KeyEntry {
	t.Helper()
	var out []sdk.KeyEntry
	after := ""
	for {
		page, err := d.Keys(context.Background(), sdk.KeysRequest{Tenant: tenant, Object: object, After: after, Limit: limit})
		if err != nil {
			t.Fatalf("keys %s/%s after %q: %v", tenant, object, after, err)
		}
		if len(page) == 0 {
			return out
		}
		if len(page) > limit {
			t.Fatalf("keys page of %d rows, limit %d", len(page), limit)
		}
		out = append(out, page...)
		after = page[len(page)-1].Key
	}
}

// sameValue compares a value read back with the one written, treating all
// numbers as float64 and times by instant.
func sameValue(got, want any) bool {
	if gt, ok := got.(time.Time); ok {
		wt, ok := want.(time.Time)
		return ok && gt.Equal(wt)
	}
	return reflect.DeepEqual(normalizeNumbers(got), normalizeNumbers(want))
}

func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeNumbers(e)
		}
		return out
	}
	return v
}

func keyN(i int) string { return fmt.Sprint(i) }
