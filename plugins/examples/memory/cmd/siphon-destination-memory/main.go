// Command siphon-destination-memory serves the example memory destination as
// a Siphon plugin. Put the binary on the plugin path (./plugins,
// ~/.siphon/plugins, SIPHON_PLUGIN_PATH or --plugin-dir) and use
// `plugin = "memory"` in a destination block.
package main

import (
	"github.com/siphonhq/siphon/plugins/examples/memory"
	"github.com/siphonhq/siphon/plugins/sdk"
)

func main() { sdk.Serve(memory.New()) }
