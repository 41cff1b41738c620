package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// The runtime launches one Destination per destination block, writes
// batches through it and closes it on shutdown.
func ExampleLaunch() {
	ctx := context.Background()
	defer host.Shutdown() // no plugin outlives siphon, whatever the exit path

	d, err := host.Launch(ctx, host.LaunchConfig{
		Name:     "warehouse", // the destination block
		Plugin:   "postgres",  // built-in, or siphon-destination-postgres on the plugin path
		Config:   cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal("postgres://…")}),
		Dirs:     []string{"/opt/siphon/plugins"}, // --plugin-dir
		Dir:      "pipelines/demo",                // the config directory: relative paths in Config resolve here
		Logger:   slog.Default(),
		Timeouts: host.Timeouts{Write: time.Minute},
		Breaker:  host.BreakerConfig{Failures: 5, Cooldown: 30 * time.Second},
	})
	if err != nil {
		fmt.Println(err) // *host.ConfigError carries diagnostics for the HCL ranges
		return
	}
	defer d.Close(ctx)

	if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: "volunteers", Fields: []sdk.FieldSpec{{Name: "email", Type: sdk.TypeString}}}); err != nil {
		fmt.Println(err)
		return
	}
	results, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{ /* … */ }})
	if err != nil {
		// The whole batch failed: retry later (a *host.BreakerOpenError
		// says when). Nothing was lost; the version rule makes retries safe.
		fmt.Println(err)
		return
	}
	for _, r := range results {
		_ = r.Status // StatusPermanent → DLQ with r.Message; StatusRetryable → retry that record
	}
}
