package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/siphonhq/siphon/internal/hubgen"
)

// BenchmarkPlanHub measures `siphon plan` end to end (read the files,
// parse, compile, render) on the generated hub: the figure the issue asks
// for is 10,000 tenants × 3 pipelines under 2 s on two cores.
// SIPHON_BENCH_BIG=1 adds a 50,000-tenant hub.
func BenchmarkPlanHub(b *testing.B) {
	sizes := []int{1000, 10000}
	if os.Getenv("SIPHON_BENCH_BIG") != "" {
		sizes = append(sizes, 50000)
	}
	for _, tenants := range sizes {
		dir := b.TempDir()
		for name, src := range hubgen.Generate(tenants) {
			if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		for _, view := range []string{"human", "json"} {
			args := []string{"siphon", "plan", fixedNow, dir}
			if view == "json" {
				args = []string{"siphon", "plan", "-json", fixedNow, dir}
			}
			b.Run(fmt.Sprintf("tenants=%d/%s", tenants, view), func(b *testing.B) {
				for b.Loop() {
					if code := run(args, io.Discard, io.Discard); code != 0 {
						b.Fatalf("plan exited %d", code)
					}
				}
				b.ReportMetric(float64(tenants)*float64(b.N)/b.Elapsed().Seconds(), "tenants/s")
			})
		}
	}
}
