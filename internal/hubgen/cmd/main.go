// Command hubgen writes the hub-10k example pipelines into a directory:
//
//	go run ./internal/hubgen/cmd -tenants 10000 -out pipelines/hub-10k
//
// then `siphon plan pipelines/hub-10k` plans the whole hub.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/siphonhq/siphon/internal/hubgen"
)

func main() {
	tenants := flag.Int("tenants", 10000, "number of tenants to generate")
	out := flag.String("out", "pipelines/hub-10k", "directory to write the *.hcl files into")
	flag.Parse()
	if err := write(*out, *tenants); err != nil {
		fmt.Fprintln(os.Stderr, "hubgen:", err)
		os.Exit(1)
	}
}

// write replaces the generated files of dir, leaving other files (its
// README) alone, and says what it wrote.
func write(dir string, tenants int) error {
	if tenants < 1 {
		return fmt.Errorf("-tenants must be at least 1, not %d", tenants)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "tenants-*.hcl"))
	if err != nil {
		return err
	}
	for _, path := range old {
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	files := hubgen.Generate(tenants)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("hubgen: wrote %d tenants in %d files to %s\n", tenants, len(names), dir)
	return nil
}
