package destinations_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/plugins/destinations/jsonl"
	"github.com/siphonhq/siphon/plugins/destinations/sqlite"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// TestRelativePathsInConfigDir: relative paths in a built-in's config,
// sqlite's default path among them, resolve against LaunchConfig.Dir (the
// config directory), not against siphon's working directory.
func TestRelativePathsInConfigDir(t *testing.T) {
	t.Parallel()
	cases := []struct {
		plugin string
		config cty.Value
		want   string // a file the write must create, relative to Dir
	}{
		{sqlite.Name, cty.EmptyObjectVal, sqlite.DefaultPath},
		{sqlite.Name, cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("out/sync.db")}), "out/sync.db"},
		{jsonl.Name, cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal("changes")}), "changes/acme/users.jsonl"},
	}
	for _, c := range cases {
		t.Run(c.plugin+" "+c.want, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			d, err := host.Launch(ctx, host.LaunchConfig{Name: "rel", Plugin: c.plugin, Dir: dir, Config: c.config, Logger: testLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close(ctx)
			if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: "users", Fields: []sdk.FieldSpec{{Name: "name", Type: sdk.TypeString}}}); err != nil {
				t.Fatal(err)
			}
			rec := sdk.Record{Op: sdk.OpUpsert, Object: "users", Key: "1", ContentHash: "h", Fields: map[string]any{"name": "Ada"},
				Version: sdk.Version{Source: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Generation: 1}}
			if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{rec}}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, c.want)); err != nil {
				t.Fatalf("not written under the config directory: %v", err)
			}
		})
	}
}
