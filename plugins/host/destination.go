package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	destpb "github.com/siphonhq/siphon/plugins/proto"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// DefaultPageSize is the Keys page size when a request names none.
const DefaultPageSize = 1000

// Info returns what the plugin reported at launch.
func (d *Destination) Info() sdk.Info { return d.info }

// Name is the destination block's name.
func (d *Destination) Name() string { return d.cfg.Name }

// BreakerState reports the circuit breaker of tenant.
func (d *Destination) BreakerState(tenant string) BreakerState { return d.breakers.state(tenant) }

// Configure sends the config to the plugin. A config with no error
// diagnostics is remembered and replayed to the plugin after a restart.
// A failure to reach the plugin is returned as an error diagnostic.
func (d *Destination) Configure(ctx context.Context, cfg sdk.Config) sdk.Diagnostics {
	var diags sdk.Diagnostics
	err := d.retryCrash(func() error {
		return d.invoke(ctx, "Configure", d.cfg.Timeouts.Call, func(ctx context.Context, rpc destpb.DestinationClient) error {
			var err error
			diags, err = configure(ctx, rpc, cfg)
			return err
		})
	})
	if err != nil {
		return sdk.Errorf(nil, "%v", err)
	}
	if !diags.HasErrors() {
		d.mu.Lock()
		d.config = &cfg
		d.mu.Unlock()
	}
	return diags
}

// Check asks the plugin whether the destination is usable for tenant.
func (d *Destination) Check(ctx context.Context, tenant string) error {
	return d.retryCrash(func() error {
		var perr error
		err := d.invoke(ctx, "Check", d.cfg.Timeouts.Call, func(ctx context.Context, rpc destpb.DestinationClient) error {
			resp, err := rpc.Check(ctx, &destpb.CheckRequest{Tenant: tenant})
			if err == nil {
				perr = wireErr(resp.Error)
			}
			return err
		})
		if err != nil {
			return err
		}
		if perr != nil {
			return fmt.Errorf("check %s via %s: %w", tenant, d.cfg.Name, perr)
		}
		return nil
	})
}

// EnsureObject creates or widens obj. Ensured objects are replayed to the
// plugin after a restart (EnsureObject is idempotent).
func (d *Destination) EnsureObject(ctx context.Context, obj sdk.ObjectSpec) error {
	var perr error
	err := d.retryCrash(func() error {
		return d.invoke(ctx, "EnsureObject", d.cfg.Timeouts.Call, func(ctx context.Context, rpc destpb.DestinationClient) error {
			var err error
			perr, err = ensureObject(ctx, rpc, obj)
			return err
		})
	})
	if err != nil {
		return err
	}
	if perr != nil {
		return fmt.Errorf("ensure object %s via %s: %w", obj.Object, d.cfg.Name, perr)
	}
	d.mu.Lock()
	d.objects[obj.Object] = mergeSpec(d.objects[obj.Object], obj)
	d.mu.Unlock()
	return nil
}

// mergeSpec adds the fields of b missing from a, so replaying the result
// never asks a plugin to drop a field.
func mergeSpec(a, b sdk.ObjectSpec) sdk.ObjectSpec {
	out := sdk.ObjectSpec{Object: b.Object, Fields: append([]sdk.FieldSpec(nil), a.Fields...)}
	for _, f := range b.Fields {
		found := false
		for _, g := range out.Fields {
			found = found || g.Name == f.Name
		}
		if !found {
			out.Fields = append(out.Fields, f)
		}
	}
	return out
}

// Keys returns one page of live keys after req.After, in byte-wise order.
func (d *Destination) Keys(ctx context.Context, req sdk.KeysRequest) ([]sdk.KeyEntry, error) {
	var page []sdk.KeyEntry
	err := d.retryCrash(func() error {
		page = nil
		return d.keys(ctx, req, 1, d.cfg.Timeouts.Call, 0, func(entries []sdk.KeyEntry) error {
			page = entries
			return nil
		})
	})
	return page, err
}

// KeysAll streams every live key of (tenant, object) in byte-wise order,
// calling fn with each page. It uses an idle timeout (Timeouts.Idle) rather
// than a call timeout, checks the order, and resumes after the last page it
// received if the plugin crashes mid-stream.
func (d *Destination) KeysAll(ctx context.Context, tenant, object string, pageSize int, fn func([]sdk.KeyEntry) error) error {
	after := ""
	req := sdk.KeysRequest{Tenant: tenant, Object: object, Limit: pageSize}
	crashes := 0
	for {
		req.After = after
		err := d.keys(ctx, req, 0, 0, d.cfg.Timeouts.Idle, func(entries []sdk.KeyEntry) error {
			for _, e := range entries {
				if e.Key <= after {
					return sdk.Permanent(fmt.Errorf("keys %s/%s via %s: key %q after %q breaks byte-wise order", tenant, object, d.cfg.Name, e.Key, after))
				}
				after = e.Key
			}
			crashes = 0
			return fn(entries)
		})
		var crash *CrashError
		if errors.As(err, &crash) && crashes == 0 {
			crashes++
			continue
		}
		return err
	}
}

// keys runs one Keys stream of at most maxPages pages (0: to the end).
func (d *Destination) keys(ctx context.Context, req sdk.KeysRequest, maxPages int32, timeout, idle time.Duration, fn func([]sdk.KeyEntry) error) error {
	if req.Limit <= 0 {
		req.Limit = DefaultPageSize
	}
	var cbErr error
	var idleFired atomic.Bool
	err := d.invoke(ctx, "Keys", timeout, func(ctx context.Context, rpc destpb.DestinationClient) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var watchdog *time.Timer
		if idle > 0 {
			watchdog = time.AfterFunc(idle, func() { idleFired.Store(true); cancel() })
			defer watchdog.Stop()
		}
		stream, err := rpc.Keys(ctx, &destpb.KeysRequest{Tenant: req.Tenant, Object: req.Object, After: req.After, Limit: int32(req.Limit), MaxPages: maxPages})
		if err != nil {
			return err
		}
		for {
			page, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if watchdog != nil {
				watchdog.Reset(idle)
			}
			if perr := wireErr(page.Error); perr != nil {
				cbErr = fmt.Errorf("keys %s/%s via %s: %w", req.Tenant, req.Object, d.cfg.Name, perr)
				return nil
			}
			entries := make([]sdk.KeyEntry, len(page.Entries))
			for i, e := range page.Entries {
				entries[i] = sdk.KeyEntry{Key: e.Key, Version: versionFromWire(e.Version), ContentHash: e.ContentHash}
			}
			if len(entries) == 0 && maxPages != 1 {
				continue
			}
			if cbErr = fn(entries); cbErr != nil {
				return nil
			}
		}
	})
	if idleFired.Load() && ctx.Err() == nil {
		d.dropCurrent("Keys stream idle")
		return &TimeoutError{Destination: d.cfg.Name, Op: "Keys", Timeout: idle, Idle: true}
	}
	if err != nil {
		return err
	}
	return cbErr
}

// dropCurrent stops the running instance, if any.
func (d *Destination) dropCurrent(reason string) {
	d.mu.Lock()
	inst := d.cur
	d.mu.Unlock()
	if inst != nil {
		d.drop(inst, reason)
	}
}

// Read returns what the destination holds for keys.
func (d *Destination) Read(ctx context.Context, tenant, object string, keys []string) ([]sdk.Row, error) {
	var rows []sdk.Row
	var perr error
	err := d.retryCrash(func() error {
		return d.invoke(ctx, "Read", d.cfg.Timeouts.Call, func(ctx context.Context, rpc destpb.DestinationClient) error {
			resp, err := rpc.Read(ctx, &destpb.ReadRequest{Tenant: tenant, Object: object, Keys: keys})
			if err != nil {
				return err
			}
			if perr = wireErr(resp.Error); perr == nil {
				rows, perr = rowsFromWire(resp.Rows)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, fmt.Errorf("read %s/%s via %s: %w", tenant, object, d.cfg.Name, perr)
	}
	return rows, nil
}

// Changes returns one page of destination-side changes.
func (d *Destination) Changes(ctx context.Context, req sdk.ChangesRequest) (sdk.ChangesPage, error) {
	var page sdk.ChangesPage
	var perr error
	err := d.retryCrash(func() error {
		return d.invoke(ctx, "Changes", d.cfg.Timeouts.Call, func(ctx context.Context, rpc destpb.DestinationClient) error {
			resp, err := rpc.Changes(ctx, &destpb.ChangesRequest{Tenant: req.Tenant, Object: req.Object, Since: req.Since, Limit: int32(req.Limit)})
			if err != nil {
				return err
			}
			if perr = wireErr(resp.Error); perr == nil {
				page.Next = resp.Next
				page.Rows, perr = rowsFromWire(resp.Rows)
			}
			return nil
		})
	})
	if err != nil {
		return sdk.ChangesPage{}, err
	}
	if perr != nil {
		return sdk.ChangesPage{}, fmt.Errorf("changes %s/%s via %s: %w", req.Tenant, req.Object, d.cfg.Name, perr)
	}
	return page, nil
}

// Close asks the plugin to release its resources, then stops it. Further
// calls fail with ErrClosed.
func (d *Destination) Close(ctx context.Context) error {
	d.mu.Lock()
	inst := d.cur
	d.mu.Unlock()
	var perr error
	if inst != nil {
		cctx, cancel := context.WithTimeout(ctx, d.cfg.Timeouts.Call)
		resp, err := inst.rpc.Close(cctx, &destpb.CloseRequest{})
		cancel()
		if err == nil {
			perr = wireErr(resp.Error)
		}
	}
	d.Kill()
	if perr != nil {
		return fmt.Errorf("close %s: %w", d.cfg.Name, perr)
	}
	return nil
}
