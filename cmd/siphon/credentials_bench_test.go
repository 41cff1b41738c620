package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// BenchmarkRotateMaster times `siphon credentials rotate-master` over a
// hub of 1,000 tenants with stored credentials: each iteration writes a
// new key and re-wraps every data key under it (reported per credential).
//
//	go test ./cmd/siphon -run '^$' -bench RotateMaster -benchtime 3x
func BenchmarkRotateMaster(b *testing.B) {
	const tenants = 1000
	for _, backend := range []string{"local", "redis"} {
		b.Run(backend, func(b *testing.B) {
			dir := b.TempDir()
			var cfg strings.Builder
			cfg.WriteString(`
source "vomo" {
  kind     = "vomo"
  base_url = "http://127.0.0.1:9/v1"
}
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "5m"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { email = record.email }
}
`)
			for i := 0; i < tenants; i++ {
				fmt.Fprintf(&cfg, "tenant \"t%04d\" {\n  pipelines = [pipeline.volunteers]\n}\n", i)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(cfg.String()), 0o600); err != nil {
				b.Fatal(err)
			}
			url := filepath.Join(dir, ".siphon", "state.db")
			if backend == "redis" {
				url = redistest.Start(b).URL()
			}
			ring, err := secrets.LoadKeyring(dir, "", true, func(string) (string, bool) { return "", false })
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			st, err := state.Open(ctx, url, state.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < tenants; i++ {
				id := fmt.Sprintf("t%04d", i)
				blob, err := secrets.Seal(ctx, ring, id, []byte("token-of-"+id))
				if err != nil {
					b.Fatal(err)
				}
				if err := st.PutCredential(ctx, id, blob); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var out, errOut bytes.Buffer
				code := run([]string{"siphon", "credentials", "rotate-master", "--config", dir, "--store", url}, &out, &errOut)
				if code != 0 || !strings.Contains(out.String(), fmt.Sprintf("re-wrapped %d credentials", tenants)) {
					b.Fatalf("rotate-master: %d %s%s", code, out.String(), errOut.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*tenants), "µs/credential")
		})
	}
}
