package host_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc"

	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/examples/memory"
	"github.com/siphonhq/siphon/plugins/host"
	destpb "github.com/siphonhq/siphon/plugins/proto"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// envRole makes the test binary play a part instead of running tests: a
// plugin (served with sdk.Serve) or a host for the orphan test.
const envRole = "SIPHON_TEST_PLUGIN"

// envHangOnce names a marker file: the faulty plugin's first Write for the
// tenant "hang-once" creates it (with its pid) and blocks, so a test can
// kill the plugin mid-batch.
const envHangOnce = "SIPHON_TEST_HANG_ONCE"

func TestMain(m *testing.M) {
	destinations.Register("kit-memory", func() sdk.Destination { return memory.New() })
	// The sqlite built-in registers itself (imported by bench_sqlite_test.go).
	host.ServeBuiltinIfAsked()
	switch os.Getenv(envRole) {
	case "":
		os.Exit(m.Run())
	case "faulty":
		sdk.Serve(faulty{memory.New()})
	case "noop":
		// SIPHON_TEST_PLUGIN_CPUPROFILE profiles the plugin side of the
		// benchmark: go test -bench WriteNoop with it set to a file.
		if path := os.Getenv("SIPHON_TEST_PLUGIN_CPUPROFILE"); path != "" {
			if f, err := os.Create(path); err == nil {
				_ = pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
		}
		sdk.Serve(noop{memory.New()})
	case "stdout":
		fmt.Println("hello from a plugin that prints before its handshake")
		sdk.Serve(memory.New())
	case "notplugin":
		fmt.Println("usage: notplugin [flags]")
	case "v2":
		serveProtocol2()
	case "host":
		runHost()
	default:
		fmt.Fprintln(os.Stderr, "unknown role", os.Getenv(envRole))
		os.Exit(2)
	}
}

// faulty is the memory destination with faults chosen by the data:
// a record whose field "fault" is "crash" kills the process, "permanent"
// fails the whole batch as a statement would; the tenant "down" fails
// every write; Check and Keys of the tenant "hang" never return.
type faulty struct{ *memory.Destination }

func (f faulty) Write(ctx context.Context, b sdk.Batch) ([]sdk.Result, error) {
	if b.Tenant == "down" {
		return nil, errors.New("destination is down")
	}
	for _, r := range b.Records {
		switch r.Fields["fault"] {
		case "crash":
			sdk.Logger().Error("crashing on purpose", "key", r.Key)
			os.Exit(3)
		case "permanent":
			return nil, sdk.Permanent(fmt.Errorf("statement failed on key %s", r.Key))
		}
	}
	if marker := os.Getenv(envHangOnce); marker != "" && b.Tenant == "hang-once" {
		if _, err := os.Stat(marker); err != nil {
			_ = os.WriteFile(marker, []byte(strconv.Itoa(os.Getpid())), 0o644)
			select {}
		}
	}
	return f.Destination.Write(ctx, b)
}

func (f faulty) Check(ctx context.Context, tenant string) error {
	if tenant == "hang" {
		select {}
	}
	return f.Destination.Check(ctx, tenant)
}

func (f faulty) Keys(ctx context.Context, req sdk.KeysRequest) ([]sdk.KeyEntry, error) {
	if req.Tenant == "hang" {
		select {}
	}
	return f.Destination.Keys(ctx, req)
}

// Configure reports, as a warning, whether the attribute "probe" arrived
// unknown, so a test can see unknown values survive the trip.
func (f faulty) Configure(ctx context.Context, cfg sdk.Config) sdk.Diagnostics {
	if probe := cfg.Attr("probe"); !probe.IsNull() {
		known := "known"
		if !cfg.Known("probe") {
			known = "unknown"
		}
		return sdk.Diagnostics{{Severity: sdk.SeverityWarning, Summary: "probe is " + known, Path: []string{"probe"}}}
	}
	return f.Destination.Configure(ctx, cfg)
}

// noop accepts every write without storing it: the benchmark's plugin.
type noop struct{ *memory.Destination }

func (noop) Write(_ context.Context, b sdk.Batch) ([]sdk.Result, error) {
	return make([]sdk.Result, len(b.Records)), nil
}

// serveProtocol2 is a plugin built against a future protocol version.
func serveProtocol2() {
	hs := destpb.Handshake
	hs.ProtocolVersion = 2
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{2: {destpb.PluginName: futurePlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

type futurePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (futurePlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (futurePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("server only")
}

// runHost launches a plugin, prints its pid and waits to be killed.
func runHost() {
	d, err := host.Launch(context.Background(), pluginConfig("faulty"))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(d.Pid())
	select {}
}

// pluginConfig launches this test binary as the plugin playing role.
func pluginConfig(role string, env ...string) host.LaunchConfig {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return host.LaunchConfig{
		Name:    "test-" + role,
		Plugin:  role,
		Path:    exe,
		Env:     append([]string{envRole + "=" + role}, env...),
		Restart: host.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Logger:  testLogger(),
	}
}

// testLogger shows host and plugin logs only when SIPHON_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SIPHON_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// launch starts a plugin for a test and stops it at the end.
func launch(t testing.TB, cfg host.LaunchConfig) *host.Destination {
	t.Helper()
	d, err := host.Launch(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func fileConfig(t testing.TB) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(filepath.Join(t.TempDir(), "changes.log"))})
}

// waitFor polls cond until it holds or a generous bound passes; the bound
// only stops a broken test from hanging, it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs (absent, or a zombie
// nobody reaped).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// readLine reads the first line the command prints.
func readLine(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read from %s: %v", cmd.Path, err)
	}
	return strings.TrimSpace(line)
}
