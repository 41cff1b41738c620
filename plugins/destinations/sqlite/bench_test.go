package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

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

// go test -run '^$' -bench Pages -cpuprofile cpu.out ./plugins/destinations/sqlite
//
// BenchmarkWritePages writes what `siphon run` sends on a first sync: pages
// of 100 new records of a few short text fields, under a cancellable
// context as the plugin server passes, and reports the CPU time Write
// takes per record (the records are built outside the measurement).
func BenchmarkWritePages(b *testing.B) {
	d := openTemp(b)
	b.Cleanup(func() { d.Close(context.Background()) })
	fields := []sdk.FieldSpec{{Name: "email", Type: sdk.TypeString}, {Name: "full_name", Type: sdk.TypeString},
		{Name: "phone", Type: sdk.TypeString}, {Name: "status", Type: sdk.TypeString}}
	if err := d.EnsureObject(context.Background(), sdk.ObjectSpec{Object: "volunteers", Fields: fields}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const page = 100
	var cpu time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		recs := make([]sdk.Record, page)
		for j := range recs {
			n := i*page + j
			recs[j] = sdk.Record{Op: sdk.OpUpsert, Object: "volunteers", Key: strconv.Itoa(n),
				Version:     sdk.Version{Source: desttest.At(n), Generation: 1, Seq: int64(n)},
				ContentHash: fmt.Sprintf("%016x", n),
				Fields: map[string]any{"email": fmt.Sprintf("v%d@example.org", n), "full_name": "Volunteer " + strconv.Itoa(n),
					"phone": "+1 312 555 0101", "status": "ACTIVE"}}
		}
		before := processCPU()
		res, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: recs})
		cpu += processCPU() - before
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Status != sdk.StatusOK || r.Skipped {
				b.Fatalf("result %+v", r)
			}
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*page), "cpu-µs/record")
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
