package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// activate makes the plan's configuration the hub's active one, or refuses
// to run it. The store numbers configurations in the order they are first
// activated, and that number is the config generation every write carries:
// a record re-mapped under a newer configuration then wins the tie with the
// row an older one wrote at the same source version, and a worker still on
// the older configuration cannot undo it. A configuration another has
// superseded is refused unless forced, which activates it again under a
// new, higher number so that its mapping lands in turn.
//
// The version carries the plan's summary, which `siphon plan --store`
// diffs the next configuration against.
//
// A failing store is retried with backoff, for up to outage (zero: until
// ctx ends), like the jobs that follow.
func (r *Runner) activate(ctx context.Context, outage time.Duration) error {
	// The hub store holds the active configuration for every region, and
	// its summary describes the whole configuration, not this runner's
	// region of it.
	summary, err := json.Marshal(r.cfg.Plan.Summary())
	if err != nil {
		return fmt.Errorf("summarise the config: %w", err)
	}
	var down time.Time
	backoff := 100 * time.Millisecond
	for {
		v, err := r.cfg.HubStore.ActivateConfig(ctx, state.ConfigVersion{Hash: r.plan.ConfigHash, Summary: summary}, r.cfg.Force)
		switch {
		case err == nil:
			r.config = v
			mappings := make(map[string]string, len(r.plan.Pipelines))
			for _, p := range r.plan.Pipelines {
				mappings[p.Name] = shortHash(p.MappingHash)
			}
			r.log.Info("config active", "config", shortHash(v.Hash), "version", v.Version, "activated_at", v.ActivatedAt,
				"forced", r.cfg.Force, "mappings", mappings)
			return nil
		case errors.Is(err, state.ErrSuperseded):
			return r.olderThan(v)
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if down.IsZero() {
			down = time.Now()
		}
		if outage > 0 && time.Since(down) > outage {
			return fmt.Errorf("the store has been failing for %s; giving up: %w", time.Since(down).Round(time.Second), err)
		}
		r.log.Warn("store unavailable; retrying config activation", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// configCheckEvery is how often a running Run looks for a newer active
// configuration.
const configCheckEvery = 2 * time.Second

// watchConfig returns an error once the store's active configuration is no
// longer this runner's. A store it cannot read is left to the loops that
// ride out outages; this one only looks again later.
func (r *Runner) watchConfig(ctx context.Context) error {
	tick := time.NewTicker(configCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		v, ok, err := r.cfg.HubStore.ActiveConfig(ctx)
		if err != nil {
			r.log.Warn("read the active config", "err", err)
			continue
		}
		if ok && v.Hash != r.config.Hash {
			return r.olderThan(v)
		}
	}
}

// olderThan is the refusal to run this plan's configuration while active
// is the hub's.
func (r *Runner) olderThan(active state.ConfigVersion) error {
	return fmt.Errorf("config %s is older than the active config %s (version %d) activated at %s; deploy the newer configuration or pass --force",
		shortHash(r.plan.ConfigHash), shortHash(active.Hash), active.Version, active.ActivatedAt.UTC().Format(time.RFC3339))
}

// shortHash is a hash as logs and messages show it.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
