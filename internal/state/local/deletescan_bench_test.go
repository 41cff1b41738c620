package local

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// BenchmarkDeleteScan deletes a reconcile scan's stored ids (100 a page;
// 100,000 ids, SIPHON_BENCH_BIG=1: 1,000,000) and reports the peak heap
// growth while it runs: in chunks (what DeleteScan does), in one
// transaction of the same deletes, and dropping the bucket in one
// transaction (what DeleteScan did before).
func BenchmarkDeleteScan(b *testing.B) {
	ids := 100_000
	if os.Getenv("SIPHON_BENCH_BIG") != "" {
		ids = 1_000_000
	}
	for _, mode := range []string{"chunks", "one-tx", "drop-bucket"} {
		b.Run(fmt.Sprintf("ids=%d/%s", ids, mode), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := fillScan(b, ids)
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				peak := sampleHeap()
				b.StartTimer()
				var err error
				switch mode {
				case "chunks":
					err = s.DeleteScan(context.Background(), "t1", "users", "scan")
				case "one-tx":
					_, err = s.deleteScanChunk("t1", "users", "scan", math.MaxInt)
				case "drop-bucket":
					err = s.update(func(tx *bolt.Tx) error {
						scans, err := tenantSub(tx, "t1", bScans)
						if err != nil {
							return err
						}
						return scans.DeleteBucket([]byte(state.Member("users", "scan")))
					})
				}
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				top := peak()
				b.ReportMetric(float64(top-min(top, base.HeapAlloc))/(1<<20), "peak_heap_growth_MiB")
				s.Close()
			}
		})
	}
}

// fillScan stores a scan of n ids, 100 a page, 1,000 pages a transaction.
func fillScan(b *testing.B, n int) *Store {
	s, err := Open(filepath.Join(b.TempDir(), "state.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for first := 0; first < n; first += 100_000 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			bk, err := tenantSub(tx, "t1", bScans, []byte(state.Member("users", "scan")))
			if err != nil {
				return err
			}
			for p := first / 100; p < min(n, first+100_000)/100; p++ {
				ids := make([]string, 100)
				for i := range ids {
					ids[i] = fmt.Sprintf("%d", 10_000_000+p*100+i)
				}
				if err := bk.Put(u64(uint64(p+1)), state.EncodeIDs(ids)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// sampleHeap samples HeapAlloc every millisecond until the returned
// function is called, which returns the highest sample.
func sampleHeap() func() uint64 {
	var mu sync.Mutex
	var top uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			top = max(top, m.HeapAlloc)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return top
	}
}
