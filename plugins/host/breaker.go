package host

import (
	"errors"
	"sync"
	"time"
)

// breakers keeps one circuit breaker per tenant of a destination, so one
// tenant's failing writes (bad credentials at the destination, a full
// schema) never slow another's.
type breakers struct {
	cfg BreakerConfig
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*breaker
	// crashed holds the tenants whose last write crashed the plugin (or
	// timed out) with none of its records landing, since a write of any
	// tenant last landed. The plugin process is shared by every tenant:
	// with two tenants in it, the plugin, not a record, is failing.
	crashed map[string]bool
}

type breaker struct {
	failures  int
	openUntil time.Time
	trial     bool // a half-open trial write is in flight
	last      error
	lastOK    time.Time
}

// BreakerState is a tenant's breaker as the status page shows it.
type BreakerState struct {
	Open bool
	// Failures counts the writes that failed as a whole since the last
	// one that succeeded.
	Failures  int
	OpenUntil time.Time
	Last      error
	// LastSuccess is when a write last succeeded in this process (zero:
	// none yet). With Failures at 1 it tells a batch that failed while the
	// destination was taking writes from a destination found failing.
	LastSuccess time.Time
}

func newBreakers(cfg BreakerConfig) *breakers {
	return &breakers{cfg: cfg, now: time.Now, m: map[string]*breaker{}, crashed: map[string]bool{}}
}

// allow returns nil when a write for tenant may go ahead. After the
// cooldown one trial write is let through (half-open).
func (b *breakers) allow(dest, tenant string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[tenant]
	if br == nil || br.failures < b.cfg.Failures {
		return nil
	}
	if b.now().Before(br.openUntil) || br.trial {
		return &BreakerOpenError{Destination: dest, Tenant: tenant, Until: br.openUntil, Last: br.last}
	}
	br.trial = true
	return nil
}

// success closes the tenant's breaker. Its entry stays, holding when the
// write succeeded (one per tenant, as a failure leaves). A write landed:
// the plugin takes writes, whatever crashed before.
func (b *breakers) success(tenant string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.crashed)
	br := b.m[tenant]
	if br == nil {
		br = &breaker{}
		b.m[tenant] = br
	}
	*br = breaker{lastOK: b.now()}
}

func (b *breakers) failure(tenant string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[tenant]
	if br == nil {
		br = &breaker{}
		b.m[tenant] = br
	}
	br.failures++
	br.last = err
	br.trial = false
	if br.failures >= b.cfg.Failures {
		br.openUntil = b.now().Add(b.cfg.Cooldown)
	}
	if errors.As(err, new(*CrashError)) || errors.As(err, new(*TimeoutError)) {
		b.crashed[tenant] = true
	}
}

// failing reports whether the tenant's last write failed as a whole.
func (b *breakers) failing(tenant string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[tenant]
	return br != nil && br.failures > 0
}

// pluginFailing reports whether the writes of another tenant than this
// one crashed the plugin or timed out, none landing, since a write of any
// tenant last landed: with this tenant's crashing too, the plugin fails
// every write (its destination is down), so a crash is no record's fault.
func (b *breakers) pluginFailing(tenant string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for t := range b.crashed {
		if t != tenant {
			return true
		}
	}
	return false
}

func (b *breakers) state(tenant string) BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[tenant]
	if br == nil {
		return BreakerState{}
	}
	return BreakerState{
		Open:        br.failures >= b.cfg.Failures,
		Failures:    br.failures,
		OpenUntil:   br.openUntil,
		Last:        br.last,
		LastSuccess: br.lastOK,
	}
}

// abort ends a trial write that was cancelled by the caller, neither
// closing nor re-opening the breaker.
func (b *breakers) abort(tenant string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if br := b.m[tenant]; br != nil {
		br.trial = false
	}
}
