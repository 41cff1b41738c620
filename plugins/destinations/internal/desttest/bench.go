package desttest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// BenchBatch is the batch size the throughput goal is stated for.
const BenchBatch = 500

// benchKeySpace is how many keys the upsert benchmark cycles over: the
// first pass inserts, later passes update.
const benchKeySpace = 100_000

// BenchmarkUpserts writes b.N batches of BenchBatch upserts of one tenant,
// each with a newer version, and reports upserts/s. d must be configured
// and have Object ensured with Fields. serverCPU, when not nil, is the CPU
// time of the database server the destination talks to.
func BenchmarkUpserts(b *testing.B, d sdk.Destination, serverCPU func() time.Duration) {
	if serverCPU == nil {
		serverCPU = func() time.Duration { return 0 }
	}
	ctx := context.Background()
	tags := []any{"weekend", "driver", map[string]any{"languages": []any{"en", "fr"}}}
	b.ReportAllocs()
	cpu0, server0 := cpuTime(), serverCPU()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		recs := make([]sdk.Record, BenchBatch)
		for j := range recs {
			n++
			recs[j] = Upsert(fmt.Sprint(n%benchKeySpace), n, fmt.Sprintf("h%d", n), map[string]any{
				"name": "Volunteer " + fmt.Sprint(n), "hours": float64(n % 1000), "active": n%2 == 0,
				"joined_at": At(n), "tags": tags,
			})
		}
		res, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: recs})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Status != sdk.StatusOK || r.Skipped {
				b.Fatalf("result %+v", r)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*BenchBatch)/b.Elapsed().Seconds(), "upserts/s")
	// On a shared, loaded machine wall time says little; the CPU time spent
	// per upsert (here and in the server) does not depend on what else runs.
	b.ReportMetric(float64(b.N*BenchBatch)/(cpuTime()-cpu0+serverCPU()-server0).Seconds(), "upserts/cpu-s")
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// keysRows is the table size for BenchmarkKeys: 10,000, or 1,000,000 with
// SIPHON_BENCH_BIG=1 (which takes minutes to fill).
func keysRows() int {
	if os.Getenv("SIPHON_BENCH_BIG") == "1" {
		return 1_000_000
	}
	return 10_000
}

// fill writes rows keys "0".."rows-1" of tenant acme in batches of 5,000.
func fill(b *testing.B, d sdk.Destination, rows int) {
	ctx := context.Background()
	const batch = 5000
	for start := 0; start < rows; start += batch {
		recs := make([]sdk.Record, 0, batch)
		for n := start; n < start+batch && n < rows; n++ {
			recs = append(recs, Upsert(fmt.Sprint(n), n, "h", map[string]any{"name": strings.Repeat("x", 40)}))
		}
		if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: recs}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilledKeys fills d, configured and with Object ensured, with
// keysRows rows and runs BenchmarkKeys on them in pages of 10,000, as a
// sub-benchmark named for the row count.
func BenchmarkFilledKeys(b *testing.B, d sdk.Destination) {
	rows := keysRows()
	fill(b, d, rows)
	b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) { BenchmarkKeys(b, d, rows, 10_000) })
}

// BenchmarkKeys lists all rows of (acme, Object) in pages of page keys per
// iteration and reports the time of one full listing, keys/s, and how far
// the heap grew above its level before the listing (sampled every 16
// pages, garbage not yet collected included): paging must keep that flat,
// whatever the table's size.
func BenchmarkKeys(b *testing.B, d sdk.Destination, rows, page int) {
	ctx := context.Background()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		total, after := 0, ""
		for p := 0; ; p++ {
			entries, err := d.Keys(ctx, sdk.KeysRequest{Tenant: "acme", Object: Object, After: after, Limit: page})
			if err != nil {
				b.Fatal(err)
			}
			if len(entries) == 0 {
				break
			}
			total += len(entries)
			after = entries[len(entries)-1].Key
			if p%16 == 0 {
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base && ms.HeapAlloc-base > peak {
					peak = ms.HeapAlloc - base
				}
			}
		}
		if total != rows {
			b.Fatalf("listed %d keys, want %d", total, rows)
		}
	}
	b.StopTimer()
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(per.Seconds(), "s/listing")
	b.ReportMetric(float64(rows)/per.Seconds(), "keys/s")
	b.ReportMetric(float64(peak)/(1<<20), "heap-growth-MB")
}
