package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/siphonhq/siphon/internal/state"
)

// The mapping-error pause. Each (tenant, pipeline) keeps, in this process,
// the outcome of its last mappingWindow mapped records; once the window
// holds at least mappingMinSample records and the failed share passes the
// pipeline's mapping_error_threshold, the pipeline is paused for the tenant
// with a reason in the store's control flags. A handful of bad records in
// a small batch is a few of a few, not a rate, hence the minimum.
//
// A paused pipeline is not polled, and the tenant's queue for its
// destination is not processed: the store hands out a queue's entries in
// order whatever their pipeline, so holding back only the paused
// pipeline's entries would leave them claimed and counting deliveries
// towards the DLQ. Everything stays queued until an operator resumes the
// pipeline (siphon pipeline resume), which clears the flag. Records whose
// mapping fails while the pipeline is paused (in the batch that paused it,
// or one in flight then) are retried, not dead-lettered: the DLQ keeps
// only the failures seen while the rate was under the threshold, and a
// fixed mapping takes the rest.
const (
	mappingWindow    = 100
	mappingMinSample = 50
	// pausedRecheck is how often a paused tenant's flags are read again to
	// see a resume; unpausedRecheck how often the others' are, to see a
	// pause another process set — and an operator's tenant disable, which
	// must stop a running hub's writes within seconds. A queue visit costs
	// several store calls already, so one more read per tenant every few
	// seconds is noise.
	pausedRecheck   = 2 * time.Second
	unpausedRecheck = 5 * time.Second
)

// errorWindow is the outcome of one (tenant, pipeline)'s most recent mapped
// records.
type errorWindow struct {
	failed          [mappingWindow]bool
	next, n, errors int
	sample          string // the latest mapping error
}

func (w *errorWindow) add(failed bool, msg string) {
	if w.n == mappingWindow {
		if w.failed[w.next] {
			w.errors--
		}
	} else {
		w.n++
	}
	w.failed[w.next] = failed
	if failed {
		w.errors++
		w.sample = msg
	}
	w.next = (w.next + 1) % mappingWindow
}

// over reports whether the window is large enough to judge and its failed
// share passes threshold.
func (w *errorWindow) over(threshold float64) bool {
	return w.n >= mappingMinSample && float64(w.errors) > threshold*float64(w.n)
}

// tenantPauses is what this process knows of one tenant's paused
// pipelines, and when it last read them from the store.
type tenantPauses struct {
	pipelines []string
	// halted is why the whole tenant is held back (an operator disabled
	// it, or its token answers for another organization); "" when not.
	// Its queues are not processed while it is set.
	halted  string
	read    time.Time
	tripped time.Time // when this process last paused one of them, or halted the tenant
}

// pauses is the runner's view of paused pipelines and its error windows.
type pauses struct {
	mu      sync.Mutex
	tenants map[string]*tenantPauses
	// held are the tenants with a paused pipeline or a halt:
	// pausedQueues, asked before every look at a lane's ready queues,
	// counts theirs without going through every tenant of the hub.
	held    map[string]*tenantPauses
	windows map[[2]string]*errorWindow // by (tenant, pipeline)
}

func newPauses() *pauses {
	return &pauses{tenants: map[string]*tenantPauses{}, held: map[string]*tenantPauses{},
		windows: map[[2]string]*errorWindow{}}
}

// set records what this process knows of the tenant; p.mu is held. Every
// change to a tenant's pipelines or halt goes through it (or is followed
// by it), so held stays the tenants that hold anything back.
func (p *pauses) set(tenant string, tp *tenantPauses) {
	p.tenants[tenant] = tp
	if len(tp.pipelines) > 0 || tp.halted != "" {
		p.held[tenant] = tp
	} else {
		delete(p.held, tenant)
	}
}

// note records a tenant's flags as read from the store by a read that
// began at start. A pause this process set after that may not be in them
// yet, so it is kept.
func (p *pauses) note(tenant string, flags []state.Flag, start time.Time) {
	var paused []string
	for _, f := range flags {
		if f.Kind == state.FlagPipelinePaused {
			paused = append(paused, f.Scope)
		}
	}
	halted, _ := control{flags: flags}.halted()
	p.mu.Lock()
	defer p.mu.Unlock()
	tp := &tenantPauses{pipelines: paused, halted: halted, read: start}
	if old := p.tenants[tenant]; old != nil && !old.tripped.Before(start) {
		tp.tripped = old.tripped
		if tp.halted == "" {
			tp.halted = old.halted
		}
		for _, name := range old.pipelines {
			if !slices.Contains(tp.pipelines, name) {
				tp.pipelines = append(tp.pipelines, name)
			}
		}
	}
	p.set(tenant, tp)
}

// known returns the tenant's paused pipelines when they were read recently
// enough.
func (p *pauses) known(tenant string) ([]string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tp := p.tenants[tenant]
	if tp == nil {
		return nil, false
	}
	age := unpausedRecheck
	if len(tp.pipelines) > 0 || tp.halted != "" {
		age = pausedRecheck
	}
	return tp.pipelines, time.Since(tp.read) < age
}

// has reports whether this process holds the pipeline paused for the
// tenant.
func (p *pauses) has(tenant, pipeline string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	tp := p.tenants[tenant]
	return tp != nil && slices.Contains(tp.pipelines, pipeline)
}

// pausedQueues counts the (tenant, destination) queues held back in a
// lane.
func (r *Runner) pausedQueues(lane string) int {
	r.pauses.mu.Lock()
	defer r.pauses.mu.Unlock()
	n := 0
	for id, tp := range r.pauses.held {
		t := r.tenant(id)
		if t == nil || t.Lane != lane {
			continue
		}
		if tp.halted != "" {
			n += len(r.tenantDestinations(t))
			continue
		}
		var dests []string
		for _, name := range tp.pipelines {
			if p := r.pipelines[name]; p != nil && !slices.Contains(dests, p.Destination) {
				dests = append(dests, p.Destination)
			}
		}
		n += len(dests)
	}
	return n
}

// queuePaused reports whether the queue's tenant is halted, or a pipeline
// writing to the queue's destination is paused for it, reading the
// tenant's flags when this process's view of them is stale.
func (r *Runner) queuePaused(ctx context.Context, q state.QueueRef) (bool, error) {
	names, fresh := r.pauses.known(q.Tenant)
	if !fresh {
		start := time.Now()
		fs, err := r.st.Flags(ctx, q.Tenant)
		if err != nil {
			return false, fmt.Errorf("flags of %s: %w", q.Tenant, err)
		}
		r.pauses.note(q.Tenant, fs, start)
		r.knowWriteErrors(q.Tenant, fs, start)
		names, _ = r.pauses.known(q.Tenant)
	}
	if r.pauses.halted(q.Tenant) != "" {
		return true, nil
	}
	for _, name := range names {
		if p := r.pipelines[name]; p != nil && p.Destination == q.Destination {
			return true, nil
		}
	}
	return false, nil
}

// mapped is one record's mapping outcome: err is "" when it mapped.
type mapped struct {
	pipeline, err string
}

// observeMapping adds a batch's mapping outcomes to the windows of their
// pipelines and pauses every pipeline whose error rate passed its
// threshold.
func (r *Runner) observeMapping(ctx context.Context, tenant string, outcomes []mapped, log *slog.Logger) {
	type trip struct {
		pipeline, sample string
		errors, n        int
		threshold        float64
	}
	var trips []trip
	r.pauses.mu.Lock()
	for _, o := range outcomes {
		p := r.pipelines[o.pipeline]
		tp := r.pauses.tenants[tenant]
		if p == nil || (tp != nil && slices.Contains(tp.pipelines, o.pipeline)) {
			continue // paused already: once is enough
		}
		k := [2]string{tenant, o.pipeline}
		w := r.pauses.windows[k]
		if w == nil {
			w = &errorWindow{}
			r.pauses.windows[k] = w
		}
		w.add(o.err != "", o.err)
		if w.over(p.MappingErrorThreshold) {
			trips = append(trips, trip{pipeline: o.pipeline, sample: w.sample, errors: w.errors, n: w.n, threshold: p.MappingErrorThreshold})
			// A resumed pipeline starts a new window: the records that
			// paused it say nothing about the fixed mapping.
			delete(r.pauses.windows, k)
			if tp == nil {
				tp = &tenantPauses{read: time.Now()}
			}
			tp.pipelines, tp.tripped = append(tp.pipelines, o.pipeline), time.Now()
			r.pauses.set(tenant, tp)
		}
	}
	r.pauses.mu.Unlock()
	for _, tr := range trips {
		rate := float64(tr.errors) / float64(tr.n)
		reason := fmt.Sprintf("mapping failed for %d of the last %d records (%.0f%%, threshold %.0f%%), e.g. %s; "+
			"the records stay queued: fix the mapping, then siphon pipeline resume %s %s",
			tr.errors, tr.n, rate*100, tr.threshold*100, clip(tr.sample, 300), tenant, tr.pipeline)
		r.setFlag(ctx, tenant, state.Flag{Kind: state.FlagPipelinePaused, Scope: tr.pipeline, Reason: reason}, log)
		log.Error("mapping-error rate over the threshold; pipeline paused", "pipeline", tr.pipeline,
			"rate", rate, "threshold", tr.threshold, "window", tr.n, "sample_error", tr.sample)
	}
}

// clip shortens s to at most about n bytes for a flag's reason, on a
// rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
