package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	destpb "github.com/siphonhq/siphon/plugins/proto"
)

// instance is one running plugin process.
type instance struct {
	client *plugin.Client
	rpc    destpb.DestinationClient
}

// spawn starts the plugin process and completes the handshake.
func (d *Destination) spawn() (*instance, error) {
	var secure *plugin.SecureConfig
	if d.cfg.SHA256 != "" {
		pin, err := verifyPin(d.cfg.Name, d.cmd.path, d.cfg.SHA256)
		if err != nil {
			return nil, err
		}
		secure = &plugin.SecureConfig{Checksum: pin, Hash: sha256.New()}
	}
	if d.cfg.Dir != "" {
		// A missing working directory fails the exec with ENOENT, which
		// would read as if the plugin binary were missing.
		if fi, err := os.Stat(d.cfg.Dir); err != nil || !fi.IsDir() {
			if err == nil {
				err = errors.New("not a directory")
			}
			return nil, fmt.Errorf("destination %s: plugin working directory %s: %w", d.cfg.Name, d.cfg.Dir, err)
		}
	}
	d.stderr.reset()
	cmd := exec.Command(d.cmd.path, d.cmd.args...)
	cmd.Env = append(os.Environ(), d.cmd.env...)
	cmd.Dir = d.cfg.Dir
	// SIGKILL the child when the thread that started it dies; see
	// startOnLockedThread for why that thread lives as long as the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  destpb.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{destpb.ProtocolVersion: {destpb.PluginName: grpcPlugin{}}},
		Cmd:              cmd,
		SecureConfig:     secure,
		AutoMTLS:         true,
		Managed:          true,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     d.cfg.Timeouts.Start,
		Logger:           hclogFor(d.log),
		Stderr:           d.stderr,
		SyncStdout:       &lineLogger{l: d.log, stream: "stdout", t: d.stderr},
		SyncStderr:       &lineLogger{l: d.log, stream: "stderr", t: d.stderr},
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(destpb.MaxMessageBytes),
				grpc.MaxCallSendMsgSize(destpb.MaxMessageBytes)),
			grpc.WithInitialWindowSize(destpb.WindowBytes),
			grpc.WithInitialConnWindowSize(destpb.WindowBytes),
			grpc.WithReadBufferSize(destpb.IOBufferBytes),
			grpc.WithWriteBufferSize(destpb.IOBufferBytes),
		},
	})
	rpc, err := startOnLockedThread(client)
	if err != nil {
		client.Kill()
		return nil, &StartError{Destination: d.cfg.Name, Path: d.cmd.path, Err: d.explainStart(err), Stderr: d.stderr.Lines()}
	}
	raw, err := rpc.Dispense(destpb.PluginName)
	if err != nil {
		client.Kill()
		return nil, &StartError{Destination: d.cfg.Name, Path: d.cmd.path, Err: err, Stderr: d.stderr.Lines()}
	}
	return &instance{client: client, rpc: raw.(destpb.DestinationClient)}, nil
}

// startOnLockedThread runs the fork from a goroutine locked to its OS
// thread, and keeps that thread until the child exits: Linux sends the
// parent-death signal when the forking *thread* ends, and Go may retire
// an idle thread at any time.
func startOnLockedThread(c *plugin.Client) (plugin.ClientProtocol, error) {
	type started struct {
		rpc plugin.ClientProtocol
		err error
	}
	ch := make(chan started, 1)
	go func() {
		runtime.LockOSThread()
		// Once the plugin is gone the thread goes back to the pool alive: a
		// goroutine that ends locked ends its thread, which would fire the
		// parent-death signal of any other child once started from it.
		defer runtime.UnlockOSThread()
		rpc, err := c.Client()
		ch <- started{rpc, err}
		if err != nil {
			return
		}
		for !c.Exited() {
			time.Sleep(250 * time.Millisecond)
		}
	}()
	s := <-ch
	return s.rpc, s.err
}

// explainStart rewrites go-plugin's start errors into ones a user can act on.
func (d *Destination) explainStart(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		got, herr := fileSHA256(d.cmd.path)
		if herr != nil {
			return fmt.Errorf("%w (and hashing it failed: %v)", err, herr)
		}
		return fmt.Errorf("refusing to launch: its sha256 is now %s but the configuration pins %s", got, d.cfg.SHA256)
	case strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return errors.New("exited without completing the handshake and printed nothing to stdout (is it a Siphon destination plugin that calls sdk.Serve?)")
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		first, _, _ := strings.Cut(strings.TrimPrefix(msg, "Unrecognized remote plugin message: "), "\n")
		return fmt.Errorf("not a Siphon destination plugin, or a plugin that printed to stdout before its handshake (plugins must log to stderr, stdout carries the handshake); its first stdout line was %q", first)
	case strings.Contains(msg, "incompatible API version"):
		return fmt.Errorf("speaks another destination protocol version (this siphon speaks %d; rebuild the plugin against a matching plugins/sdk): %v", destpb.ProtocolVersion, err)
	case strings.Contains(msg, "plugin exited before we could connect"):
		return errors.New("exited before completing the handshake (is it a Siphon destination plugin that calls sdk.Serve?)")
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("no handshake within %s (is it a Siphon destination plugin that calls sdk.Serve?)", d.cfg.Timeouts.Start)
	}
	return err
}

// grpcPlugin is the go-plugin glue for the client side only.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host: the destination plugin type is served by plugins/sdk")
}

func (grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return destpb.NewDestinationClient(c), nil
}

// Shutdown kills every plugin process this process started and waits for
// them to exit. siphon defers it around the whole CLI, whose context
// SIGINT and SIGTERM cancel, so every exit path passes through it; plugins
// also exit by themselves when siphon dies without returning.
func Shutdown() { plugin.CleanupClients() }
