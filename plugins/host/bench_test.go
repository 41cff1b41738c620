package host_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// kilobyteBatch is a batch of n records of about 1 KB of mapped fields.
func kilobyteBatch(n int) sdk.Batch {
	recs := make([]sdk.Record, n)
	text := strings.Repeat("v", 100)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		fields := map[string]any{"id": int64(i), "active": true, "score": 0.5, "updated_at": at}
		for f := range 9 {
			fields[fmt.Sprintf("field_%d", f)] = text
		}
		recs[i] = sdk.Record{
			Op: sdk.OpUpsert, Object: "users", Key: fmt.Sprintf("user-%06d", i),
			Version:     sdk.Version{Source: at, Generation: 1, Seq: int64(i)},
			ContentHash: fmt.Sprintf("%032x", i), IdempotencyKey: fmt.Sprintf("%064x", i),
			Fields: fields,
		}
	}
	return sdk.Batch{Tenant: "acme", Records: recs}
}

// BenchmarkWriteNoop measures the plugin boundary: the host writes batches
// of 500 records of about 1 KB to a plugin that stores nothing.
func BenchmarkWriteNoop(b *testing.B) {
	d := launch(b, pluginConfig("noop"))
	batch := kilobyteBatch(500)
	b.SetBytes(int64(500 * 1024))
	b.ResetTimer()
	for range b.N {
		if _, err := d.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch.Records))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkWriteNoopParallel is the same with concurrent writers, as the
// runtime's workers write.
func BenchmarkWriteNoopParallel(b *testing.B) {
	d := launch(b, pluginConfig("noop"))
	batch := kilobyteBatch(500)
	b.SetBytes(int64(500 * 1024))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Write(ctx, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*len(batch.Records))/b.Elapsed().Seconds(), "records/s")
}
