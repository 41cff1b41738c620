package sqlite

import (
	"context"
	"testing"

	"github.com/siphonhq/siphon/plugins/destinations/internal/desttest"
	"github.com/siphonhq/siphon/plugins/sdk"
)

func benchDest(b *testing.B) *Destination {
	d := openTemp(b)
	b.Cleanup(func() { d.Close(context.Background()) })
	if err := d.EnsureObject(context.Background(), sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		b.Fatal(err)
	}
	return d
}

// go test -run '^$' -bench Upserts ./plugins/destinations/sqlite
func BenchmarkUpserts(b *testing.B) { desttest.BenchmarkUpserts(b, benchDest(b), nil) }

// go test -run '^$' -bench Keys ./plugins/destinations/sqlite (SIPHON_BENCH_BIG=1 for 1M rows)
func BenchmarkKeys(b *testing.B) { desttest.BenchmarkFilledKeys(b, benchDest(b)) }
