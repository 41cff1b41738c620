package runtime_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// BenchmarkReconcileDaily times a daily reconcile of one tenant whose
// destination holds every user while 1% of them were deleted at the source
// (bbolt store, sqlite destination, vomosim over HTTP, 100 records a page),
// and reports the source requests it made against the minimum (pages + one
// GET per deletion), and the peak growth of the live heap and of the
// process's RSS while it ran (the simulator's records are in this process
// too, counted before the reconcile starts). Two sizes, ten times apart: memory should not
// follow the tenant's size (the scan's ids live in the store and are merged
// from sorted runs on disk). CI: 2,000 and 20,000 records;
// SIPHON_BENCH_BIG=1: 100,000 and 1,000,000.
func BenchmarkReconcileDaily(b *testing.B) {
	sizes := []int{2000, 20000}
	if os.Getenv("SIPHON_BENCH_BIG") != "" {
		sizes = []int{100_000, 1_000_000}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) { benchReconcile(b, n) })
	}
}

func benchReconcile(b *testing.B, users int) {
	ctx := context.Background()
	b.StopTimer()
	for range b.N {
		h := newHarness(b, harnessOpts{tenants: 1, users: users, pipeline: volunteers, adjust: func(sc *vomosim.Scenario) {
			sc.Switches.PerPageParam, sc.Switches.MaxPerPage = true, 100
		}})
		if sum, err := h.runner().RunOnce(ctx); err != nil || sum.Failed() {
			b.Fatalf("sync: %+v %v", sum, err)
		}
		tenant := h.sim.Tenants()[0].ID
		if _, err := h.sim.Vanish(tenant, "users", 0.01); err != nil {
			b.Fatal(err)
		}
		r := h.runner()
		h.sim.ResetCounters()
		peak := sampleMemory()
		b.StartTimer()
		start := time.Now()
		reps, err := r.Reconcile(ctx, runtime.ReconcileOptions{Tenant: tenant, Drain: true})
		elapsed := time.Since(start)
		b.StopTimer()
		heap, rss := peak()
		if err != nil || len(reps) != 1 || !reps[0].Complete || reps[0].Deleted == 0 {
			b.Fatalf("reconcile: %+v %v", reps, err)
		}
		rep := reps[0]
		var requests int64
		for _, c := range h.sim.Counters()[tenant] {
			requests += c
		}
		pages := (rep.Scanned + 99) / 100
		b.ReportMetric(float64(requests), "requests/op")
		b.ReportMetric(float64(pages+rep.Candidates), "min_requests/op")
		b.ReportMetric(float64(rep.Scanned)/elapsed.Seconds(), "records/s")
		b.ReportMetric(float64(rep.Deleted), "deleted/op")
		b.ReportMetric(heap/(1<<20), "peak_live_heap_growth_MiB")
		b.ReportMetric(rss/(1<<20), "peak_rss_growth_MiB")
	}
}

// sampleMemory samples, every 250ms until the returned function is
// called, the live heap (after a collection, so the garbage of the
// simulator serving pages in this process does not count) and the RSS; it
// returns their peak growth over the values at the start.
func sampleMemory() func() (heap, rss float64) {
	live := func() float64 {
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc)
	}
	heap0, rss0 := live(), float64(rssBytes())
	// SIPHON_BENCH_HEAPPROFILE=FILE writes the live heap at its peak, to
	// see what the growth is.
	profile := os.Getenv("SIPHON_BENCH_HEAPPROFILE")
	var mu sync.Mutex
	maxHeap, maxRSS := heap0, rss0
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			h, r := live(), float64(rssBytes())
			if profile != "" && h > maxHeap {
				if f, err := os.Create(profile); err == nil {
					_ = pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
			mu.Lock()
			maxHeap, maxRSS = max(maxHeap, h), max(maxRSS, r)
			mu.Unlock()
		}
	}()
	return func() (float64, float64) {
		close(done)
		<-stopped
		return maxHeap - heap0, maxRSS - rss0
	}
}

// rssBytes is the process's resident set (Linux; 0 elsewhere).
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
