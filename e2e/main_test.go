// Package e2e tests siphon as it runs in production: real `siphon run`
// processes (with their sqlite plugin subprocesses) against a real
// `vomosim` process and a real redis-server or bbolt file, all started by
// the tests, while the tests kill them with SIGKILL, restart Redis and kill
// the plugin mid-batch. After quiescence every record at the source must
// be in the destination with the source's latest updated_at, and no
// checkpoint may have moved backwards or past a record not yet written.
//
// The CI size (the default) keeps the suite to a few minutes; SIPHON_SOAK=1
// (make soak) runs the same scenarios at full size: 200,000 records and
// minutes of chaos.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The binaries under test, built on first use into binDir (without -race:
// the race detector covers the packages' own tests; these runs are about
// processes). A run that selects no test of this package (go test -bench
// ./...) builds nothing.
var (
	binDir                string
	buildOnce             sync.Once
	buildErr              error
	siphonBin, vomosimBin string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped with -short (the suite builds and runs real processes)")
		os.Exit(0)
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds bin/siphon (which also serves its built-in sqlite
// destination: the host re-executes the binary as `siphon plugin serve
// sqlite`) and bin/vomosim once per test binary.
func binaries(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() { buildErr = build() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func build() error {
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first on PATH
	if err != nil {
		return fmt.Errorf("find the go command: %w", err)
	}
	if binDir, err = os.MkdirTemp("", "siphon-e2e-bin-"); err != nil {
		return err
	}
	for _, b := range []struct{ out, pkg string }{{"siphon", "./cmd/siphon"}, {"vomosim", "./cmd/vomosim"}} {
		cmd := exec.Command(goBin, "build", "-buildvcs=false", "-o", filepath.Join(binDir, b.out), b.pkg)
		cmd.Dir = ".." // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	siphonBin, vomosimBin = filepath.Join(binDir, "siphon"), filepath.Join(binDir, "vomosim")
	return nil
}

// size is how big a run is: CI-sized by default, full size for soak.
type size struct {
	tenants, users int
	// chaos is how long faults are injected before quiescence; kills is how
	// many times a process is killed within it (at least).
	chaos time.Duration
	kills int
	// churn is change events per tenant per minute of API time.
	churn float64
}

func runSize() size {
	if soak() {
		return size{tenants: 20, users: 10000, chaos: 3 * time.Minute, kills: 30, churn: 12}
	}
	return size{tenants: 20, users: 300, chaos: 10 * time.Second, kills: 4, churn: 12}
}

// soak reports whether SIPHON_SOAK asks for the full-size runs.
func soak() bool {
	v, _ := strconv.ParseBool(os.Getenv("SIPHON_SOAK"))
	return v
}
