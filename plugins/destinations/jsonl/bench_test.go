package jsonl

import (
	"context"
	"testing"

	"github.com/siphonhq/siphon/plugins/destinations/internal/desttest"
	"github.com/siphonhq/siphon/plugins/sdk"
)

func benchDest(b *testing.B) *Destination {
	d := configured(b, b.TempDir())
	b.Cleanup(func() { d.Close(context.Background()) })
	if err := d.EnsureObject(context.Background(), sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		b.Fatal(err)
	}
	return d
}

// go test -run '^$' -bench Upserts ./plugins/destinations/jsonl
func BenchmarkUpserts(b *testing.B) { desttest.BenchmarkUpserts(b, benchDest(b), nil) }

// go test -run '^$' -bench Keys ./plugins/destinations/jsonl (SIPHON_BENCH_BIG=1 for 1M rows)
func BenchmarkKeys(b *testing.B) { desttest.BenchmarkFilledKeys(b, benchDest(b)) }
