package planview

import (
	"io"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/hubgen"
)

// BenchmarkRender measures the views alone on a compiled 10,000-tenant hub,
// apart from loading it, so a slow plan can be blamed on the right half.
func BenchmarkRender(b *testing.B) {
	const tenants = 10000
	res := dsl.LoadFiles(hubgen.Generate(tenants), dsl.Options{Now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)})
	if res.Plan == nil {
		b.Fatalf("the hub does not plan: %v", res.Diagnostics)
	}
	for _, view := range []struct {
		name   string
		render func(io.Writer) error
	}{
		{"human", func(w io.Writer) error { return Human(w, res, Options{}) }},
		{"json", func(w io.Writer) error { return JSON(w, res) }},
	} {
		b.Run(view.name, func(b *testing.B) {
			for b.Loop() {
				if err := view.render(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tenants)*float64(b.N)/b.Elapsed().Seconds(), "tenants/s")
		})
	}
}
