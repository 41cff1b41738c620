package destinations_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/plugins/destinations/internal/pgtest"
	"github.com/siphonhq/siphon/plugins/destinations/jsonl"
	"github.com/siphonhq/siphon/plugins/destinations/postgres"
	"github.com/siphonhq/siphon/plugins/destinations/sqlite"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/plugintest"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// server is the PostgreSQL the postgres kit writes to, and dsn its
// database; server is nil (and the test skipped with skipWhy) when
// PostgreSQL is not installed.
var (
	server  *pgtest.Server
	dsn     string
	skipWhy error
)

// TestMain serves a built-in when the host re-executes this test binary as
// one (host.Launch runs /proc/self/exe, which here is the test binary), and
// otherwise starts PostgreSQL and runs the tests.
func TestMain(m *testing.M) {
	host.ServeBuiltinIfAsked()
	s, d, err := pgtest.StartDatabase(context.Background(), "kit")
	switch {
	case errors.Is(err, pgtest.ErrNotInstalled):
		skipWhy = err
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	default:
		server, dsn = s, d
	}
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	os.Exit(code)
}

// The conformance kit against each built-in through the plugin boundary:
// the host launches the built-in as `siphon plugin serve NAME` would, so
// the wire encoding, splitting and supervision are under test too.

func TestKitSQLite(t *testing.T) {
	t.Parallel()
	runKit(t, sqlite.Name, cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(filepath.Join(t.TempDir(), "kit.db"))}))
}

func TestKitJSONL(t *testing.T) {
	t.Parallel()
	runKit(t, jsonl.Name, cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal(t.TempDir())}))
}

func TestKitPostgres(t *testing.T) {
	t.Parallel()
	if server == nil {
		t.Skip(skipWhy)
	}
	runKit(t, postgres.Name, cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal(dsn)}))
}

// runKit runs plugintest against the built-in name configured with cfg.
// SIPHON_KIT_RECORDS sets the size of the scale case (default the kit's
// 10,000, what CI runs).
func runKit(t *testing.T, name string, cfg cty.Value) {
	opts := []plugintest.Option{plugintest.WithConfig(cfg)}
	if v := os.Getenv("SIPHON_KIT_RECORDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("SIPHON_KIT_RECORDS=%q: want a record count", v)
		}
		opts = append(opts, plugintest.WithRecords(n))
	}
	plugintest.Run(t, func(t testing.TB) sdk.Destination {
		d, err := host.Launch(context.Background(), host.LaunchConfig{Name: "kit-" + name, Plugin: name, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, opts...)
}

// testLogger shows host and plugin logs only when SIPHON_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SIPHON_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
