// Package destinations lists the destinations built into the siphon binary.
// Each is still run as an isolated plugin subprocess (`siphon plugin serve
// NAME` re-executes the binary); this registry is how that command finds
// the implementation.
package destinations

import (
	"sort"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// Factory returns a new, unconfigured destination.
type Factory func() sdk.Destination

var builtins = map[string]Factory{}

// Register adds a built-in destination. Each built-in's package calls it from
// its init function; the siphon binary imports those packages for effect.
func Register(name string, f Factory) { builtins[name] = f }

// Lookup returns the factory of a built-in destination.
func Lookup(name string) (Factory, bool) {
	f, ok := builtins[name]
	return f, ok
}

// Names lists the built-in destinations in order.
func Names() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
