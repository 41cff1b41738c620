package host_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/plugins/destinations/sqlite"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// BenchmarkSQLite writes the same batches (500 records of about 1 KB, new
// keys each time) to the sqlite destination called in-process and through
// the plugin boundary, to show what the boundary costs.
func BenchmarkSQLite(b *testing.B) {
	fields := []sdk.FieldSpec{{Name: "id", Type: sdk.TypeNumber}, {Name: "active", Type: sdk.TypeBool}, {Name: "score", Type: sdk.TypeNumber}, {Name: "updated_at", Type: sdk.TypeTimestamp}}
	for f := range 9 {
		fields = append(fields, sdk.FieldSpec{Name: fmt.Sprintf("field_%d", f), Type: sdk.TypeString})
	}
	for _, mode := range []string{"in-process", "plugin"} {
		b.Run(mode, func(b *testing.B) {
			cfg := cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(filepath.Join(b.TempDir(), "bench.db"))})
			var d sdk.Destination
			if mode == "plugin" {
				d = launch(b, host.LaunchConfig{Name: "bench", Plugin: sqlite.Name, Config: cfg, Logger: testLogger()})
			} else {
				d = sqlite.New()
				if diags := d.Configure(ctx, sdk.Config{Value: cfg}); diags.HasErrors() {
					b.Fatal(diags.Err())
				}
				b.Cleanup(func() { _ = d.Close(ctx) })
			}
			if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: "users", Fields: fields}); err != nil {
				b.Fatal(err)
			}
			batch := kilobyteBatch(500)
			keys := make([]string, len(batch.Records))
			for i := range keys {
				keys[i] = batch.Records[i].Key
			}
			b.ResetTimer()
			for n := range b.N {
				for i := range batch.Records {
					batch.Records[i].Key = fmt.Sprintf("%s-%d", keys[i], n)
				}
				if _, err := d.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch.Records))/b.Elapsed().Seconds(), "records/s")
		})
	}
}
