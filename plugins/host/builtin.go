package host

import (
	"fmt"
	"os"
	"strings"

	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// EnvBuiltin is set in the environment of a built-in destination's process
// to the destination's name, beside the `plugin serve NAME` arguments.
const EnvBuiltin = "SIPHON_BUILTIN_DESTINATION"

// ServeBuiltinIfAsked serves the built-in destination named by EnvBuiltin
// and exits, when this process was started as one; otherwise it returns at
// once. Built-ins are launched by re-executing /proc/self/exe, which in a
// test binary is the test binary, not siphon: a package whose tests launch
// built-in destinations calls this first thing in its TestMain.
//
//	func TestMain(m *testing.M) {
//		host.ServeBuiltinIfAsked()
//		os.Exit(m.Run())
//	}
func ServeBuiltinIfAsked() {
	name := os.Getenv(EnvBuiltin)
	if name == "" {
		return
	}
	factory, ok := destinations.Lookup(name)
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown built-in destination %q (built-in: %s)\n", name, strings.Join(destinations.Names(), ", "))
		os.Exit(1)
	}
	sdk.Serve(factory())
	os.Exit(0)
}
