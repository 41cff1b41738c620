package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	destpb "github.com/siphonhq/siphon/plugins/proto"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// Destination is a supervised destination plugin. It implements
// sdk.Destination, so the runtime and the conformance kit can use it like
// an in-process destination, and it is safe for concurrent use. Create it
// with Launch; call Close when done.
type Destination struct {
	cfg    LaunchConfig
	cmd    command
	log    *slog.Logger
	info   sdk.Info
	stderr *tail

	breakers *breakers
	// writing is held shared by every Write request and exclusively by the
	// retry that decides whether a record crashes the plugin by itself.
	writing sync.RWMutex

	mu       sync.Mutex
	cur      *instance
	starting chan struct{} // closed when the start in progress ends
	failures int           // consecutive crashes and failed starts
	lastFail time.Time
	closed   bool
	config   *sdk.Config               // last accepted config, replayed on restart
	objects  map[string]sdk.ObjectSpec // ensured objects, replayed on restart
}

var _ sdk.Destination = (*Destination)(nil)

// Launch resolves, verifies and starts the plugin for cfg, asks its Info
// and, when cfg.Config is set, configures it. The plugin is restarted on
// demand after a crash, so a *Destination stays usable for the life of
// the process.
func Launch(ctx context.Context, cfg LaunchConfig) (*Destination, error) {
	cfg.setDefaults()
	cmd, err := resolve(&cfg)
	if err != nil {
		return nil, err
	}
	d := &Destination{
		cfg:      cfg,
		cmd:      cmd,
		log:      cfg.Logger.With("destination", cfg.Name, "plugin_name", cfg.Plugin),
		stderr:   &tail{},
		breakers: newBreakers(cfg.Breaker),
		objects:  map[string]sdk.ObjectSpec{},
	}
	err = d.invoke(ctx, "Info", cfg.Timeouts.Call, func(ctx context.Context, rpc destpb.DestinationClient) error {
		resp, err := rpc.Info(ctx, &destpb.InfoRequest{})
		if err == nil {
			d.info = infoFromWire(resp)
		}
		return err
	})
	if err != nil {
		d.Kill()
		return nil, err
	}
	if !cfg.Config.IsNull() {
		diags := d.Configure(ctx, sdk.Config{Value: cfg.Config})
		if diags.HasErrors() {
			d.Kill()
			return nil, &ConfigError{Destination: cfg.Name, Diagnostics: diags}
		}
	}
	return d, nil
}

// get returns the running instance, starting one if none runs. Concurrent
// callers share one start.
func (d *Destination) get(ctx context.Context) (*instance, error) {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil, fmt.Errorf("destination %s: %w", d.cfg.Name, ErrClosed)
		}
		if d.cur != nil {
			inst := d.cur
			d.mu.Unlock()
			return inst, nil
		}
		if ch := d.starting; ch != nil {
			d.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		d.starting = ch
		wait := time.Until(d.lastFail.Add(d.cfg.Restart.delay(d.failures)))
		d.mu.Unlock()

		inst, err := d.start(ctx, wait)

		d.mu.Lock()
		d.starting = nil
		if err == nil && d.closed {
			err = fmt.Errorf("destination %s: %w", d.cfg.Name, ErrClosed)
			go inst.client.Kill()
		}
		if err == nil {
			d.cur = inst
		} else if ctx.Err() == nil {
			d.failures++
			d.lastFail = time.Now()
		}
		close(ch)
		d.mu.Unlock()
		return inst, err
	}
}

// start waits out the restart backoff, spawns the process and replays the
// config and objects a restarted plugin needs.
func (d *Destination) start(ctx context.Context, wait time.Duration) (*instance, error) {
	if wait > 0 {
		d.log.Info("restarting plugin after backoff", "backoff", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	inst, err := d.spawn()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	cfg := d.config
	objects := make([]sdk.ObjectSpec, 0, len(d.objects))
	for _, o := range d.objects {
		objects = append(objects, o)
	}
	d.mu.Unlock()
	replay := func() error {
		cctx, cancel := context.WithTimeout(ctx, d.cfg.Timeouts.Call)
		defer cancel()
		if cfg != nil {
			if diags, err := configure(cctx, inst.rpc, *cfg); err != nil {
				return err
			} else if diags.HasErrors() {
				return fmt.Errorf("config accepted before was rejected after restart: %w", diags.Err())
			}
		}
		for _, o := range objects {
			verdict, err := ensureObject(cctx, inst.rpc, o)
			if err == nil {
				err = verdict
			}
			if err != nil {
				return fmt.Errorf("ensure object %s: %w", o.Object, err)
			}
		}
		return nil
	}
	if err := replay(); err != nil {
		inst.client.Kill()
		return nil, &StartError{Destination: d.cfg.Name, Path: d.cmd.path, Err: err, Stderr: d.stderr.Lines()}
	}
	return inst, nil
}

// healthy records a successful call: the next crash restarts at once.
func (d *Destination) healthy() {
	d.mu.Lock()
	d.failures = 0
	d.mu.Unlock()
}

// drop forgets inst (if it is still current) and stops its process.
func (d *Destination) drop(inst *instance, reason string) {
	d.mu.Lock()
	if d.cur == inst {
		d.cur = nil
		d.failures++
		d.lastFail = time.Now()
		d.log.Warn("plugin stopped", "reason", reason)
	}
	d.mu.Unlock()
	go inst.client.Kill()
}

// invoke runs one call against the running plugin (starting it if needed)
// with a timeout, and turns transport failures into *CrashError or
// *TimeoutError. A timeout of 0 leaves the deadline to ctx.
func (d *Destination) invoke(ctx context.Context, op string, timeout time.Duration, call func(context.Context, destpb.DestinationClient) error) error {
	inst, err := d.get(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, timeout)
	}
	err = call(cctx, inst.rpc)
	cancel()
	if err == nil {
		d.healthy()
		return nil
	}
	return d.transportError(ctx, inst, op, timeout, err)
}

// transportError classifies a gRPC failure of a call to inst.
func (d *Destination) transportError(ctx context.Context, inst *instance, op string, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("destination %s: %s: %w", d.cfg.Name, op, ctx.Err())
	}
	code := status.Code(err)
	if code == codes.DeadlineExceeded {
		d.drop(inst, op+" timed out")
		return &TimeoutError{Destination: d.cfg.Name, Op: op, Timeout: timeout}
	}
	if exited(inst) || code == codes.Unavailable || code == codes.Canceled {
		d.drop(inst, op+" failed: "+err.Error())
		return &CrashError{Destination: d.cfg.Name, Op: op, Err: err, Stderr: d.stderr.Lines()}
	}
	return fmt.Errorf("destination %s: %s: %w", d.cfg.Name, op, err)
}

// exited waits briefly for go-plugin to notice the process is gone: a
// broken connection is usually seen a moment before the exit.
func exited(inst *instance) bool {
	for range 50 {
		if inst.client.Exited() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// retryCrash runs f, and once more after a restart if the plugin crashed.
// Only idempotent calls use it.
func (d *Destination) retryCrash(f func() error) error {
	err := f()
	var crash *CrashError
	if errors.As(err, &crash) {
		if err2 := f(); err2 != nil {
			if errors.As(err2, &crash) {
				crash.Twice = true
			}
			return err2
		}
		return nil
	}
	return err
}

// Kill stops the plugin process without asking it to close, and makes
// further calls fail with ErrClosed.
func (d *Destination) Kill() {
	d.mu.Lock()
	d.closed = true
	inst := d.cur
	d.cur = nil
	d.mu.Unlock()
	if inst != nil {
		inst.client.Kill()
	}
}

// Pid is the process id of the running plugin, or 0 when none runs.
func (d *Destination) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil {
		return 0
	}
	if rc := d.cur.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// StderrTail returns the plugin's last stderr lines, oldest first.
func (d *Destination) StderrTail() []string { return d.stderr.Lines() }
