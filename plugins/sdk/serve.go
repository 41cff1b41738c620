package sdk

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	destpb "github.com/siphonhq/siphon/plugins/proto"
)

// pluginStderr is the process's real stderr, captured before go-plugin
// redirects os.Stderr into its stdio stream: the host parses this one as
// hclog JSON and logs each line under the plugin's name.
var pluginStderr = os.Stderr

// Serve runs impl as a Siphon destination plugin and returns when the host
// stops it. Call it from main and do nothing else there:
//
//	func main() { sdk.Serve(mydest.New()) }
//
// Stdout carries go-plugin's handshake, so a plugin must never print to it
// before Serve; log with Logger (stderr) instead. Serve ignores SIGTERM and
// SIGINT because the host stops its plugins itself (a terminal's Ctrl-C
// reaches the whole process group), and it exits on its own when the
// process that started it goes away, so a plugin never outlives siphon.
func Serve(impl Destination) {
	signal.Ignore(syscall.SIGTERM)
	go watchParent(os.Getppid(), time.Second)
	if os.Getenv("GOGC") == "" {
		// A plugin's heap is mostly the batch in flight, garbage a moment
		// later: collecting less often halves the CPU a write costs.
		debug.SetGCPercent(400)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: destpb.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			destpb.ProtocolVersion: {destpb.PluginName: &grpcPlugin{impl: impl}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts,
				grpc.MaxRecvMsgSize(destpb.MaxMessageBytes),
				grpc.MaxSendMsgSize(destpb.MaxMessageBytes),
				// Batches are ~0.5-4 MiB: a window that holds one whole
				// request avoids a flow-control round trip per 64 KiB.
				grpc.InitialWindowSize(destpb.WindowBytes),
				grpc.InitialConnWindowSize(destpb.WindowBytes),
				grpc.ReadBufferSize(destpb.IOBufferBytes),
				grpc.WriteBufferSize(destpb.IOBufferBytes))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Output:     pluginStderr,
			JSONFormat: true,
			Level:      hclog.Info,
		}),
	})
}

// watchParent exits the process when its parent changes (the parent died
// and the plugin was re-parented). The host also sets a parent-death signal
// on the child, but Linux sends that when the starting *thread* exits, which
// is not always when the host process does; this covers the rest.
func watchParent(ppid int, every time.Duration) {
	if ppid <= 1 {
		// The parent is init: siphon runs as a container's PID 1, and
		// its exit ends the container, plugin included.
		return
	}
	for range time.Tick(every) {
		if os.Getppid() != ppid {
			Logger().Error("parent process went away; exiting", "parent_pid", ppid)
			os.Exit(1)
		}
	}
}

// Logger returns a logger for plugin code. It writes JSON lines to stderr
// in the shape hclog uses, which the host re-logs with the plugin's name
// and keeps the last of for the error it shows when the plugin dies.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(pluginStderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any()))
			case slog.MessageKey:
				return slog.Attr{Key: "@message", Value: a.Value}
			}
			return a
		},
	}))
}

func hclogLevel(v any) string {
	l, ok := v.(slog.Level)
	switch {
	case !ok:
		return "info"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// grpcPlugin is the go-plugin glue for the serving side only.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Destination
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	destpb.RegisterDestinationServer(s, &grpcServer{impl: p.impl})
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errServeOnly
}
