package desttest

import (
	"context"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// TombstonesExpire checks that a destination purges tombstones older than
// 30 days and keeps younger ones. setNow replaces the destination's clock.
func TombstonesExpire(t *testing.T, d sdk.Destination, setNow func(func() time.Time)) {
	t.Helper()
	ctx := context.Background()
	if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: Object}); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	setNow(func() time.Time { return clock })
	write := func(recs ...sdk.Record) {
		t.Helper()
		if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	write(Delete("old", 1))
	clock = clock.Add(20 * 24 * time.Hour)
	write(Delete("young", 1))
	clock = clock.Add(11 * 24 * time.Hour) // "old" is 31 days old, "young" 11
	write(Upsert("other", 1, "h", nil))
	rows, err := d.Read(ctx, "acme", Object, []string{"old", "young"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Key != "young" || !rows[0].Tombstone {
		t.Fatalf("rows %+v, want only young's tombstone", rows)
	}
}
