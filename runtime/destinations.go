package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// destinations launches each destination's plugin on first use and
// ensures each (destination, object) once per process.
type destinations struct {
	r       *Runner
	mu      sync.Mutex
	open    map[string]*host.Destination
	ensured map[[2]string]bool
	scrub   map[string]*scrubber // destination name → its secrets
}

func newDestinations(r *Runner) *destinations {
	return &destinations{r: r, open: map[string]*host.Destination{}, ensured: map[[2]string]bool{}, scrub: map[string]*scrubber{}}
}

// get returns the destination's running plugin, launching it if needed.
// Holding the lock while launching makes concurrent workers wait for one
// launch instead of starting several plugins.
func (ds *destinations) get(ctx context.Context, dest *dsl.Destination) (*host.Destination, error) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if d := ds.open[dest.Name]; d != nil {
		return d, nil
	}
	// The plugin runs in the config directory: relative paths in its
	// config (sqlite's path, jsonl's dir) are relative to the config, not
	// to wherever siphon was started.
	cfg := host.LaunchConfig{Name: dest.Name, Plugin: dest.Plugin, SHA256: dest.SHA256,
		Config: dest.Config, Dir: ds.r.plan.ConfigDir, Logger: ds.r.log,
		Timeouts: host.Timeouts{Write: dest.Timeout.D()},
		Breaker:  host.BreakerConfig{Failures: dest.Breaker.Failures, Cooldown: dest.Breaker.Cooldown.D()}}
	sc := ds.scrubberLocked(dest)
	d, err := host.Launch(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", dest.Name, sc.err(err))
	}
	if d.Info().Has(sdk.CapSingleNode) && !dest.AllowSingleNode {
		info, err := ds.r.st.Info(ctx)
		if err == nil && info.Backend != "local" {
			_ = d.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("destination %s (%s) keeps its data on one host's disk but the store is shared (%s): set allow_single_node = true if every worker runs on this host", dest.Name, dest.Plugin, info.Backend)
		}
	}
	ds.open[dest.Name] = d
	return d, nil
}

// ensure creates or widens the pipeline's object once per process.
func (ds *destinations) ensure(ctx context.Context, dest *dsl.Destination, p *dsl.Pipeline) error {
	key := [2]string{dest.Name, p.Object}
	ds.mu.Lock()
	done := ds.ensured[key]
	d := ds.open[dest.Name]
	ds.mu.Unlock()
	if done {
		return nil
	}
	if d == nil {
		return fmt.Errorf("destination %s is not running", dest.Name)
	}
	spec := sdk.ObjectSpec{Object: p.Object}
	for _, f := range p.Fields {
		typ := sdk.FieldType(f.Type)
		if typ == "" {
			typ = sdk.TypeJSON
		}
		spec.Fields = append(spec.Fields, sdk.FieldSpec{Name: f.Name, Type: typ})
	}
	if err := d.EnsureObject(ctx, spec); err != nil {
		ds.mu.Lock()
		sc := ds.scrubberLocked(dest)
		ds.mu.Unlock()
		return fmt.Errorf("pipeline %s: %w", p.Name, sc.err(err))
	}
	ds.mu.Lock()
	ds.ensured[key] = true
	ds.mu.Unlock()
	return nil
}

// write writes a batch, with the destination's secrets hidden in what the
// plugin answers.
func (ds *destinations) write(ctx context.Context, dest *dsl.Destination, d *host.Destination, b sdk.Batch) ([]sdk.Result, error) {
	ds.mu.Lock()
	sc := ds.scrubberLocked(dest)
	ds.mu.Unlock()
	results, err := d.Write(ctx, b)
	return sc.results(results), sc.err(err)
}

func (ds *destinations) scrubberLocked(dest *dsl.Destination) *scrubber {
	sc := ds.scrub[dest.Name]
	if sc == nil {
		sc = newScrubber(dest)
		ds.scrub[dest.Name] = sc
	}
	return sc
}

func (ds *destinations) close(ctx context.Context) error {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	var errs []error
	for name, d := range ds.open {
		if err := d.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close destination %s: %w", name, err))
		}
		delete(ds.open, name)
	}
	return errors.Join(errs...)
}
