package runtime_test

import (
	"os"
	"testing"

	_ "github.com/siphonhq/siphon/plugins/destinations/sqlite" // the built-in the tests write to
	"github.com/siphonhq/siphon/plugins/host"
)

// TestMain lets the test binary serve the built-in destinations: host
// launches them by re-executing this binary.
func TestMain(m *testing.M) {
	host.ServeBuiltinIfAsked()
	os.Exit(m.Run())
}
