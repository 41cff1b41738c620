package desttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

const tenant = "acme"

func testInfo(t *testing.T, d sdk.Destination) {
	info := d.Info()
	if info.Name == "" || info.Version == "" {
		t.Errorf("Info %+v: name and version must be set", info)
	}
}

func testCheck(t *testing.T, d sdk.Destination) {
	if err := d.Check(context.Background(), tenant); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func testIdempotent(t *testing.T, d sdk.Destination) {
	rec := Upsert("42", 10, "h1", map[string]any{"name": "Ada"})
	expect(t, write(t, d, tenant, rec), applied)
	expect(t, write(t, d, tenant, rec), skipped)
	row := held(t, d, tenant, "42", 10, false)
	if row.ContentHash != "h1" || row.Fields["name"] != "Ada" {
		t.Errorf("row %+v", row)
	}
	if got := allKeys(t, d, tenant, Object, 10); len(got) != 1 {
		t.Errorf("keys %v, want one", got)
	}
}

func testNewer(t *testing.T, d sdk.Destination) {
	expect(t, write(t, d, tenant, Upsert("7", 10, "h1", map[string]any{"name": "old"})), applied)
	expect(t, write(t, d, tenant, Upsert("7", 11, "h2", map[string]any{"name": "new"})), applied)
	row := held(t, d, tenant, "7", 11, false)
	if row.Fields["name"] != "new" || row.ContentHash != "h2" {
		t.Errorf("row %+v", row)
	}
}

func testOlder(t *testing.T, d sdk.Destination) {
	expect(t, write(t, d, tenant, Upsert("7", 20, "h2", map[string]any{"name": "new"})), applied)
	older := Upsert("7", 19, "h1", map[string]any{"name": "old"})
	older.Version.Generation = 9 // a later mapping does not beat a newer source version
	expect(t, write(t, d, tenant, older), skipped)
	row := held(t, d, tenant, "7", 20, false)
	if row.Fields["name"] != "new" {
		t.Errorf("older write landed: %+v", row)
	}
}

func testValues(t *testing.T, d sdk.Destination) {
	joined := time.Date(2025, 12, 31, 23, 59, 59, 654321000, time.FixedZone("x", 3600))
	fields := map[string]any{
		"name":      "Zoë \"quoted\" 'x'",
		"hours":     12.5,
		"active":    true,
		"joined_at": joined,
		"tags":      []any{"a", map[string]any{"b": 1.0}},
	}
	expect(t, write(t, d, tenant, Upsert("v", 1, "h", fields), Upsert("w", 1, "h", map[string]any{"hours": int64(1) << 40})), applied, applied)
	row := held(t, d, tenant, "v", 1, false)
	for name, want := range fields {
		if got := row.Fields[name]; !sameValue(got, want) {
			t.Errorf("field %s: read %#v, wrote %#v", name, got, want)
		}
	}
	row = held(t, d, tenant, "w", 1, false)
	if !sameValue(row.Fields["hours"], int64(1)<<40) {
		t.Errorf("hours %#v", row.Fields["hours"])
	}
	if v, ok := row.Fields["name"]; ok && v != nil {
		t.Errorf("absent field reads %#v, want null", v)
	}
	if row.Version.Generation != 1 || row.Version.Seq != 1 {
		t.Errorf("version %+v", row.Version)
	}
}

func testTenants(t *testing.T, d sdk.Destination) {
	expect(t, write(t, d, "acme", Upsert("1", 5, "a", map[string]any{"name": "acme's"})), applied)
	expect(t, write(t, d, "globex", Upsert("1", 1, "g", map[string]any{"name": "globex's"})), applied)
	expect(t, write(t, d, "globex", Delete("2", 1)), applied)
	if row := held(t, d, "acme", "1", 5, false); row.Fields["name"] != "acme's" {
		t.Errorf("acme row %+v", row)
	}
	if row := held(t, d, "globex", "1", 1, false); row.Fields["name"] != "globex's" {
		t.Errorf("globex row %+v", row)
	}
	if _, ok := readOne(t, d, "acme", Object, "2"); ok {
		t.Errorf("globex's tombstone is visible to acme")
	}
	expect(t, write(t, d, "acme", Delete("1", 6)), applied)
	held(t, d, "globex", "1", 1, false)
	if got := allKeys(t, d, "globex", Object, 10); len(got) != 1 || got[0].Key != "1" {
		t.Errorf("globex keys %v", got)
	}
	if got := allKeys(t, d, "acme", Object, 10); len(got) != 0 {
		t.Errorf("acme keys %v after delete", got)
	}
}

func testDelete(t *testing.T, d sdk.Destination) {
	expect(t, write(t, d, tenant, Upsert("9", 10, "h1", map[string]any{"name": "x"})), applied)
	expect(t, write(t, d, tenant, Delete("9", 8)), skipped) // older than the row
	expect(t, write(t, d, tenant, Delete("9", 12)), applied)
	row := held(t, d, tenant, "9", 12, true)
	if len(row.Fields) != 0 {
		t.Errorf("tombstone has fields %v", row.Fields)
	}
	if got := allKeys(t, d, tenant, Object, 10); len(got) != 0 {
		t.Errorf("keys list deleted row: %v", got)
	}
	late := Upsert("9", 11, "h2", map[string]any{"name": "late"})
	late.Version.Generation = 5
	expect(t, write(t, d, tenant, late), skipped)
	expect(t, write(t, d, tenant, Upsert("9", 12, "h2", nil)), skipped) // equal to the tombstone
	expect(t, write(t, d, tenant, Delete("9", 12)), skipped)
	expect(t, write(t, d, tenant, Delete("9", 11)), skipped)
	held(t, d, tenant, "9", 12, true)
	expect(t, write(t, d, tenant, Upsert("9", 13, "h3", map[string]any{"name": "back"})), applied)
	row = held(t, d, tenant, "9", 13, false)
	if row.Fields["name"] != "back" {
		t.Errorf("row %+v", row)
	}
	// The tombstone went with the newer upsert: a delete between the two
	// versions is now older than the row.
	expect(t, write(t, d, tenant, Delete("9", 12)), skipped)
	expect(t, write(t, d, tenant, Delete("9", 13)), applied) // a delete at the row's version applies
	held(t, d, tenant, "9", 13, true)
}

func testDeleteUnknown(t *testing.T, d sdk.Destination) {
	expect(t, write(t, d, tenant, Delete("never", 5)), applied)
	held(t, d, tenant, "never", 5, true)
	expect(t, write(t, d, tenant, Upsert("never", 4, "h", nil)), skipped)
	expect(t, write(t, d, tenant, Delete("never", 7)), applied)
	held(t, d, tenant, "never", 7, true)
}

func testEqualVersion(t *testing.T, d sdk.Destination) {
	v1 := Upsert("e", 10, "old-mapping", map[string]any{"name": "old"})
	expect(t, write(t, d, tenant, v1), applied)
	remapped := Upsert("e", 10, "new-mapping", map[string]any{"name": "new"})
	remapped.Version.Generation = 2
	expect(t, write(t, d, tenant, remapped), applied)
	retry := v1 // an old-mapping retry must not undo the new mapping
	retry.Version.Seq = 999
	expect(t, write(t, d, tenant, retry), skipped)
	row := held(t, d, tenant, "e", 10, false)
	if row.ContentHash != "new-mapping" || row.Fields["name"] != "new" || row.Version.Generation != 2 {
		t.Errorf("row %+v", row)
	}
}

func testEqualHash(t *testing.T, d sdk.Destination) {
	expect(t, write(t, d, tenant, Upsert("s", 10, "same", map[string]any{"name": "a"})), applied)
	again := Upsert("s", 10, "same", map[string]any{"name": "a"})
	again.Version.Generation = 3
	expect(t, write(t, d, tenant, again), skipped)
	if row := held(t, d, tenant, "s", 10, false); row.Version.Generation != 1 {
		t.Errorf("identical write rewrote the row: %+v", row.Version)
	}
}

func testSameKeyTwice(t *testing.T, d sdk.Destination) {
	// Newer first, older second: the newer wins.
	res := write(t, d, tenant,
		Upsert("a", 20, "h20", map[string]any{"name": "twenty"}),
		Upsert("a", 10, "h10", map[string]any{"name": "ten"}))
	if outcomeOf(res[0]) != applied {
		t.Errorf("newer record: %+v", res[0])
	}
	if row := held(t, d, tenant, "a", 20, false); row.Fields["name"] != "twenty" {
		t.Errorf("row %+v", row)
	}
	// Older first, newer second.
	write(t, d, tenant,
		Upsert("b", 10, "h10", map[string]any{"name": "ten"}),
		Upsert("b", 20, "h20", map[string]any{"name": "twenty"}))
	if row := held(t, d, tenant, "b", 20, false); row.Fields["name"] != "twenty" {
		t.Errorf("row %+v", row)
	}
	// A delete and an upsert at the same source version, in either order:
	// the delete wins and the upsert cannot pass its tombstone.
	write(t, d, tenant, Upsert("c", 30, "h", nil), Delete("c", 30))
	held(t, d, tenant, "c", 30, true)
	write(t, d, tenant, Delete("c2", 30), Upsert("c2", 30, "h", nil))
	held(t, d, tenant, "c2", 30, true)
	// An upsert after a delete in the same batch.
	write(t, d, tenant, Delete("d", 10), Upsert("d", 11, "h", map[string]any{"name": "back"}))
	if row := held(t, d, tenant, "d", 11, false); row.Fields["name"] != "back" {
		t.Errorf("row %+v", row)
	}
	// Three versions, shuffled.
	write(t, d, tenant, Upsert("e", 2, "h2", nil), Upsert("e", 3, "h3", nil), Upsert("e", 1, "h1", nil))
	if row := held(t, d, tenant, "e", 3, false); row.ContentHash != "h3" {
		t.Errorf("row %+v", row)
	}
}

func testKeys(t *testing.T, d sdk.Destination) {
	var recs []sdk.Record
	for i := 1; i <= 1000; i++ {
		recs = append(recs, Upsert(keyN(i), i, fmt.Sprintf("h%d", i), nil))
	}
	for start := 0; start < len(recs); start += 500 {
		for i, r := range write(t, d, tenant, recs[start:start+500]...) {
			if outcomeOf(r) != applied {
				t.Fatalf("record %d: %+v", start+i, r)
			}
		}
	}
	expect(t, write(t, d, tenant, Delete("500", 2000)), applied)
	write(t, d, "other", Upsert("0", 1, "h", nil))

	got := allKeys(t, d, tenant, Object, 70)
	if len(got) != 999 {
		t.Fatalf("%d keys, want 999", len(got))
	}
	want := make([]string, 0, 999)
	for i := 1; i <= 1000; i++ {
		if i != 500 {
			want = append(want, keyN(i))
		}
	}
	sort.Strings(want)
	for i, e := range got {
		if e.Key != want[i] {
			t.Fatalf("key %d: %q, want %q", i, e.Key, want[i])
		}
		var n int
		fmt.Sscan(e.Key, &n)
		if !e.Version.Source.Equal(At(n)) || e.ContentHash != fmt.Sprintf("h%d", n) || e.Version.Seq != int64(n) {
			t.Fatalf("key %q: entry %+v", e.Key, e)
		}
	}
	page, err := d.Keys(context.Background(), sdk.KeysRequest{Tenant: tenant, Object: Object, After: "999", Limit: 10})
	if err != nil || len(page) != 0 {
		t.Errorf("keys after the last: %v, %v", page, err)
	}
	page, err = d.Keys(context.Background(), sdk.KeysRequest{Tenant: tenant, Object: Object, After: "10", Limit: 3})
	if err != nil || len(page) != 3 || page[0].Key != "100" || page[1].Key != "1000" || page[2].Key != "101" {
		t.Errorf("keys after 10: %v, %v", page, err)
	}
	page, err = d.Keys(context.Background(), sdk.KeysRequest{Tenant: tenant, Object: "no-such-object", Limit: 3})
	if err != nil || len(page) != 0 {
		t.Errorf("keys of an unknown object: %v, %v", page, err)
	}
}

func testKeysByteOrder(t *testing.T, d sdk.Destination) {
	keys := []string{"b", "B", "a/b", "a", "a-b", "a_b", "ä", "Z", "a b", "z", "10", "9", "a\\/b", "日本", "~"}
	var recs []sdk.Record
	for i, k := range keys {
		recs = append(recs, Upsert(k, i, "h", nil))
	}
	write(t, d, tenant, recs...)
	got := allKeys(t, d, tenant, Object, 4)
	want := append([]string(nil), keys...)
	sort.Strings(want) // Go compares strings byte-wise
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Key != want[i] {
			t.Fatalf("key %d: %q, want %q (byte-wise order)", i, got[i].Key, want[i])
		}
	}
}

func testEmpty(t *testing.T, d sdk.Destination) {
	res, err := d.Write(context.Background(), sdk.Batch{Tenant: tenant})
	if err != nil || len(res) != 0 {
		t.Fatalf("empty batch: %v, %v", res, err)
	}
}

func testLarge(t *testing.T, d sdk.Destination) {
	const n = 5000 // ~5 MiB: above gRPC's default message size
	pad := strings.Repeat("x", 1000)
	recs := make([]sdk.Record, n)
	for i := range recs {
		recs[i] = Upsert(keyN(i), i, "h", map[string]any{"name": pad, "hours": float64(i)})
	}
	for i, r := range write(t, d, tenant, recs...) {
		if outcomeOf(r) != applied {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if got := allKeys(t, d, tenant, Object, 1000); len(got) != n {
		t.Fatalf("%d keys, want %d", len(got), n)
	}
	row := held(t, d, tenant, "4321", 4321, false)
	if row.Fields["name"] != pad || !sameValue(row.Fields["hours"], 4321.0) {
		t.Errorf("row 4321 fields differ")
	}
}

func testEnsure(t *testing.T, d sdk.Destination) {
	ensure(t, d, Object, Fields) // again: nothing changes
	expect(t, write(t, d, tenant, Upsert("1", 1, "h", map[string]any{"name": "kept"})), applied)
	expect(t, write(t, d, tenant, Upsert("2", 1, "h", map[string]any{"email": "x@y"})), permanent)
	grown := append(append([]sdk.FieldSpec(nil), Fields...), sdk.FieldSpec{Name: "email", Type: sdk.TypeString})
	ensure(t, d, Object, grown)
	ensure(t, d, Object, Fields[:1]) // a shorter list drops nothing
	if row := held(t, d, tenant, "1", 1, false); row.Fields["name"] != "kept" {
		t.Errorf("row after adding a field: %+v", row)
	}
	expect(t, write(t, d, tenant, Upsert("2", 1, "h", map[string]any{"email": "x@y", "name": "n"})), applied)
	if row := held(t, d, tenant, "2", 1, false); row.Fields["email"] != "x@y" {
		t.Errorf("row %+v", row)
	}
	expect(t, write(t, d, tenant, Upsert("1", 2, "h2", map[string]any{"email": "a@b"})), applied)
	if row := held(t, d, tenant, "1", 2, false); row.Fields["email"] != "a@b" {
		t.Errorf("row %+v", row)
	}
}

func testEnsureBadNames(t *testing.T, d sdk.Destination) {
	ctx := context.Background()
	bad := []sdk.ObjectSpec{
		{Object: "Bad"},
		{Object: `x"; drop table volunteers; --`},
		{Object: "siphon_tombstones"},
		{Object: "ok", Fields: []sdk.FieldSpec{{Name: "key", Type: sdk.TypeString}}},
		{Object: "ok", Fields: []sdk.FieldSpec{{Name: "tenant", Type: sdk.TypeString}}},
		{Object: "ok", Fields: []sdk.FieldSpec{{Name: "a", Type: "decimal"}}},
	}
	for _, spec := range bad {
		if err := d.EnsureObject(ctx, spec); err == nil {
			t.Errorf("EnsureObject %+v: no error", spec)
		}
	}
}

func testHyphens(t *testing.T, d sdk.Destination) {
	ensure(t, d, "project-dates", []sdk.FieldSpec{{Name: "starts-at", Type: sdk.TypeTimestamp}, {Name: "select", Type: sdk.TypeString}})
	rec := sdk.Record{Op: sdk.OpUpsert, Object: "project-dates", Key: "1/2",
		Version: sdk.Version{Source: At(1)}, ContentHash: "h",
		Fields: map[string]any{"starts-at": At(5), "select": "reserved word"}}
	expect(t, write(t, d, tenant, rec), applied)
	row, ok := readOne(t, d, tenant, "project-dates", "1/2")
	if !ok || !sameValue(row.Fields["starts-at"], At(5)) || row.Fields["select"] != "reserved word" {
		t.Errorf("row %+v", row)
	}
	if keys := allKeys(t, d, tenant, "project-dates", 5); len(keys) != 1 {
		t.Errorf("keys %v", keys)
	}
}

func cas(r sdk.Record, kind sdk.ExpectKind, n int) sdk.Record {
	r.Expect = &sdk.Expect{Kind: kind, Version: sdk.Version{Source: At(n)}}
	return r
}

func testCAS(t *testing.T, d sdk.Destination) {
	expect(t, write(t, d, tenant, cas(Upsert("c", 10, "h10", nil), sdk.ExpectAbsent, 0)), applied)
	expect(t, write(t, d, tenant, cas(Upsert("c", 11, "h11", nil), sdk.ExpectAbsent, 0)), conflict)
	held(t, d, tenant, "c", 10, false)
	expect(t, write(t, d, tenant, cas(Upsert("c", 5, "h5", nil), sdk.ExpectVersion, 9)), conflict)
	// The source moved updated_at backwards: a repair applies an older version.
	expect(t, write(t, d, tenant, cas(Upsert("c", 5, "h5", nil), sdk.ExpectVersion, 10)), applied)
	held(t, d, tenant, "c", 5, false)
	expect(t, write(t, d, tenant, cas(Delete("c", 4), sdk.ExpectVersion, 5)), applied)
	held(t, d, tenant, "c", 4, true)
	expect(t, write(t, d, tenant, cas(Upsert("c", 3, "h3", nil), sdk.ExpectVersion, 4)), conflict)
	expect(t, write(t, d, tenant, cas(Upsert("c", 3, "h3", nil), sdk.ExpectTombstone, 5)), conflict)
	expect(t, write(t, d, tenant, cas(Upsert("c", 3, "h3", map[string]any{"name": "r"}), sdk.ExpectTombstone, 4)), applied)
	if row := held(t, d, tenant, "c", 3, false); row.Fields["name"] != "r" {
		t.Errorf("row %+v", row)
	}
	expect(t, write(t, d, tenant, cas(Upsert("c", 9, "h", nil), sdk.ExpectTombstone, 4)), conflict)
	// A result of Conflict carries what was found.
	res := write(t, d, tenant, cas(Upsert("c", 9, "h", nil), sdk.ExpectAbsent, 0))
	if res[0].Status != sdk.StatusConflict || res[0].Message == "" {
		t.Errorf("conflict without a message: %+v", res[0])
	}
}

func testBadRecord(t *testing.T, d sdk.Destination) {
	res := write(t, d, tenant,
		Upsert("1", 1, "h", map[string]any{"name": "fine"}),
		Upsert("2", 1, "h", map[string]any{"hours": "not a number"}),
		Upsert("3", 1, "h", map[string]any{"active": "yes"}),
		Upsert("4", 1, "h", map[string]any{"no_such_field": 1.0}),
		Upsert("5", 1, "h", map[string]any{"name": "nul\x00byte"}),
		Upsert("6", 1, "h", map[string]any{"name": "also fine"}),
		sdk.Record{Op: sdk.OpUpsert, Object: "never-ensured", Key: "1", Version: sdk.Version{Source: At(1)}},
	)
	expect(t, res, applied, permanent, permanent, permanent, permanent, applied, permanent)
	for _, i := range []int{1, 2, 3, 4, 6} {
		if res[i].Message == "" {
			t.Errorf("record %d rejected without a message", i)
		}
	}
	held(t, d, tenant, "1", 1, false)
	held(t, d, tenant, "6", 1, false)
	for _, k := range []string{"2", "3", "4", "5"} {
		if _, ok := readOne(t, d, tenant, Object, k); ok {
			t.Errorf("rejected record %s was written", k)
		}
	}
}

func testManyObjects(t *testing.T, d sdk.Destination) {
	ensure(t, d, "shifts", []sdk.FieldSpec{{Name: "name", Type: sdk.TypeString}})
	shift := func(key string, n int) sdk.Record {
		r := Upsert(key, n, "h", map[string]any{"name": "shift " + key})
		r.Object = "shifts"
		return r
	}
	expect(t, write(t, d, tenant, Upsert("1", 1, "h", nil), shift("1", 2), Delete("2", 3), shift("2", 1)), applied, applied, applied, applied)
	if row, ok := readOne(t, d, tenant, "shifts", "1"); !ok || row.Fields["name"] != "shift 1" || !row.Version.Source.Equal(At(2)) {
		t.Errorf("shift 1: %+v", row)
	}
	held(t, d, tenant, "2", 3, true)
	if _, ok := readOne(t, d, tenant, "shifts", "2"); !ok {
		t.Errorf("a delete in one object touched another")
	}
}

func testReadUnknown(t *testing.T, d sdk.Destination) {
	write(t, d, tenant, Upsert("1", 1, "h", nil), Delete("2", 1))
	rows, err := d.Read(context.Background(), tenant, Object, []string{"1", "2", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %+v, want keys 1 and 2", rows)
	}
	rows, err = d.Read(context.Background(), tenant, "no-such-object", []string{"1"})
	if err != nil || len(rows) != 0 {
		t.Errorf("read of an unknown object: %v, %v", rows, err)
	}
	rows, err = d.Read(context.Background(), tenant, Object, nil)
	if err != nil || len(rows) != 0 {
		t.Errorf("read of no keys: %v, %v", rows, err)
	}
}

func testChanges(t *testing.T, d sdk.Destination) {
	if d.Info().Has(sdk.CapChanges) {
		t.Skip("destination implements Changes")
	}
	_, err := d.Changes(context.Background(), sdk.ChangesRequest{Tenant: tenant, Object: Object})
	if !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("Changes: %v, want ErrUnsupported", err)
	}
}

// testConcurrent has writers race on overlapping keys with random versions,
// deletes included; whatever the interleaving, each key must end at the
// highest version written to it.
func testConcurrent(t *testing.T, d sdk.Destination) {
	const writers, batches, size, keys = 4, 8, 50, 60
	var mu sync.Mutex
	best := map[string]sdk.Record{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			used := map[[2]int]bool{}
			for b := 0; b < batches; b++ {
				recs := make([]sdk.Record, size)
				for i := range recs {
					k := rng.Intn(keys)
					n := rng.Intn(1000)*10 + w // distinct per writer: no equal-version ties
					for used[[2]int{k, n}] {
						n += 10
					}
					used[[2]int{k, n}] = true
					key := keyN(k)
					if rng.Intn(5) == 0 {
						recs[i] = Delete(key, n)
					} else {
						recs[i] = Upsert(key, n, fmt.Sprintf("h%d", n), map[string]any{"name": fmt.Sprintf("w%d", w)})
					}
				}
				res, err := d.Write(context.Background(), sdk.Batch{Tenant: tenant, Records: recs})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i, r := range recs {
					if res[i].Status != sdk.StatusOK {
						errs <- fmt.Errorf("writer %d: %+v", w, res[i])
					}
					if cur, ok := best[r.Key]; !ok || r.Version.Compare(cur.Version) > 0 {
						best[r.Key] = r
					}
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for key, r := range best {
		row, ok := readOne(t, d, tenant, Object, key)
		if !ok || !row.Version.Source.Equal(r.Version.Source) || row.Tombstone != (r.Op == sdk.OpDelete) {
			t.Errorf("key %s: held %+v, want %v delete=%v", key, row, r.Version.Source, r.Op == sdk.OpDelete)
		}
	}
}
