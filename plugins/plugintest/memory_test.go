package plugintest_test

import (
	"testing"

	"github.com/siphonhq/siphon/plugins/examples/memory"
	"github.com/siphonhq/siphon/plugins/plugintest"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// TestMemoryInProcess runs the kit against the example destination called
// directly, without a plugin process.
func TestMemoryInProcess(t *testing.T) {
	plugintest.Run(t, func(testing.TB) sdk.Destination { return memory.New() })
}
