package vomosim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
)

// cpuTime is the process's user+system CPU time so far. Pages per CPU
// second is the figure that survives a busy machine; pages/s does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds pages/s (wall) and CPU µs per page since start.
func report(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pages/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/page")
}

// BenchmarkPagesLoopback serves pages over a real loopback listener to
// parallel clients while churn runs (a scaled clock: ten changes a second
// per tenant and bulk imports), and reports pages/s.
func BenchmarkPagesLoopback(b *testing.B) {
	sc := quiet(2000)
	sc.Tenants = 8
	sc.Churn.Enabled = true
	sc.Churn.PerMinute = 600
	sc.Churn.BulkImport = 0.05
	srv, err := New(Options{Clock: clock.NewScaled(testEpoch, 1), Scenario: sc})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	var toks []string
	for _, ti := range srv.Tenants() {
		toks = append(toks, ti.Token)
	}
	window := url.QueryEscape(testEpoch.Add(-30 * 24 * time.Hour).Format(stampLayout))
	queries := map[string]func(r *rand.Rand) string{
		"plain": func(r *rand.Rand) string { return fmt.Sprintf("/v1/users?page=%d", 1+r.IntN(130)) },
		"updated_window": func(r *rand.Rand) string {
			return "/v1/users?updated_after=" + window + "&page=" + fmt.Sprint(1+r.IntN(10))
		},
		"created_before": func(r *rand.Rand) string {
			return "/v1/users?created_before=" + window + "&page=" + fmt.Sprint(1+r.IntN(120))
		},
	}
	// ceiling_static serves one pre-rendered page from a bare handler: the
	// most this machine's loopback and HTTP stack allow, for comparison.
	static := getStatic(b, srv, toks[0])
	ceiling := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(static)
	}))
	defer ceiling.Close()
	queries["ceiling_static"] = func(*rand.Rand) string { return "" }
	for _, name := range []string{"ceiling_static", "plain", "updated_window", "created_before"} {
		q := queries[name]
		base := hs.URL
		if name == "ceiling_static" {
			base = ceiling.URL
		}
		b.Run(name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			var seq atomic.Uint64
			b.SetParallelism(4)
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(seq.Add(1), 0))
				for pb.Next() {
					req, _ := http.NewRequest("GET", base+q(r), nil)
					req.Header.Set("Authorization", "Bearer "+toks[r.IntN(len(toks))])
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			report(b, start, cpu0)
		})
	}
}

// getStatic renders one page of users in process.
func getStatic(b *testing.B, srv *Server, tok string) []byte {
	r := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/users"}, Host: "vomo.test",
		Header: http.Header{"Authorization": {"Bearer " + tok}}}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("status %d", w.Code)
	}
	return w.Body.Bytes()
}

// BenchmarkHeapMillionUsers builds 1,000,000 users, as 10 tenants of
// 100,000 and as one tenant of 1,000,000, and reports the heap they hold.
// Run it with -benchtime 1x.
func BenchmarkHeapMillionUsers(b *testing.B) {
	for _, shape := range []struct{ tenants, users int }{{10, 100000}, {1, 1000000}} {
		b.Run(fmt.Sprintf("%dx%d", shape.tenants, shape.users), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				sc := quiet(shape.users)
				sc.Tenants = shape.tenants
				srv, err := New(Options{Clock: clock.NewManual(testEpoch), Scenario: sc})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "bytes/user")
				runtime.KeepAlive(srv)
			}
		})
	}
}

// BenchmarkMillionUserTenant serves pages in process from one tenant of
// 1,000,000 users under churn: deep and filtered pages, which only indexes
// make cheap.
func BenchmarkMillionUserTenant(b *testing.B) {
	sc := quiet(1000000)
	sc.Churn.Enabled = true
	sc.Churn.PerMinute = 6000
	clk := clock.NewManual(testEpoch)
	srv, err := New(Options{Clock: clk, Scenario: sc})
	if err != nil {
		b.Fatal(err)
	}
	tok := srv.Tenants()[0].Token
	since := url.QueryEscape(testEpoch.Add(-2 * time.Hour).Format(stampLayout))
	cut := url.QueryEscape(testEpoch.Add(-400 * 24 * time.Hour).Format(stampLayout))
	for _, c := range []struct{ name, query string }{
		{"1M_updated_window", "updated_after=" + since + "&page=1"},
		{"1M_created_before_deep", "created_before=" + cut + "&page=40000"},
		{"1M_plain_deep", "page=60000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				clk.Advance(100 * time.Millisecond) // churn keeps landing
				r := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/users", RawQuery: c.query}, Host: "vomo.test",
					Header: http.Header{"Authorization": {"Bearer " + tok}}}
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			report(b, start, cpu0)
		})
	}
}

// BenchmarkPageHandler is the server's own cost per page, without the
// network or an HTTP client: what the simulator adds to an end-to-end
// benchmark's CPU.
func BenchmarkPageHandler(b *testing.B) {
	sc := quiet(2000)
	sc.Tenants = 8
	sc.Churn.Enabled = true
	sc.Churn.PerMinute = 600
	sc.Churn.BulkImport = 0.05
	srv, err := New(Options{Clock: clock.NewScaled(testEpoch, 1), Scenario: sc})
	if err != nil {
		b.Fatal(err)
	}
	var toks []string
	for _, ti := range srv.Tenants() {
		toks = append(toks, ti.Token)
	}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seq.Add(1), 0))
		for pb.Next() {
			req := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/users", RawQuery: fmt.Sprintf("page=%d", 1+r.IntN(130))},
				Host: "vomo.test", Header: http.Header{"Authorization": {"Bearer " + toks[r.IntN(len(toks))]}}}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
	report(b, start, cpu0)
}
