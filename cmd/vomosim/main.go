// Command vomosim serves a simulated VOMO API (internal/vomosim) for demos,
// end-to-end tests and benchmarks. Run `vomosim --scenario adversarial` and
// curl one of the tokens it prints.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/siphonhq/siphon/internal/vomosim"
)

func main() {
	if err := vomosim.Main(context.Background(), "vomosim", os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
