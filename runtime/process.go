package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// batchesPerVisit bounds how many batches a worker takes from one queue
// before it moves to the next ready queue, so a tenant with a large backlog
// cannot hold a worker while others wait.
const batchesPerVisit = 4

// shutdownGrace bounds the store calls a worker makes after its context
// ended: settling a batch whose write finished, handing back one that was
// cut short, removing its consumers.
const shutdownGrace = 10 * time.Second

// worker is one process worker's own state.
type worker struct {
	consumer string
	// reclaimed is when the worker last looked for a dead worker's entries
	// in each queue it visited; its keys are also the queues whose consumer
	// it removes on exit.
	reclaimed map[state.QueueRef]time.Time
}

func newWorker(consumer string) *worker {
	return &worker{consumer: consumer, reclaimed: map[state.QueueRef]time.Time{}}
}

// detached is ctx for calls that must still reach the store after ctx
// ended (shutdown), bounded by shutdownGrace.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
}

// removeConsumers forgets the worker's consumer on every queue it visited,
// so consumer groups do not grow with every restart (consumer names carry
// the pid). A consumer still holding entries stays: they are reclaimed
// after the visibility timeout.
func (r *Runner) removeConsumers(ctx context.Context, w *worker) {
	ctx, cancel := detached(ctx)
	defer cancel()
	for q := range w.reclaimed {
		if _, err := r.st.RemoveConsumer(ctx, q, w.consumer); err != nil {
			r.log.Debug("remove queue consumer", "tenant", q.Tenant, "destination", q.Destination, "consumer", w.consumer, "err", err)
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// drain processes every queue until nothing is left that this process can
// claim: no unclaimed entries and no retries still to come.
func (r *Runner) drain(ctx context.Context) error {
	errs := make(chan error, r.cfg.Workers)
	empty := &emptyQueues{}
	for i := range r.cfg.Workers {
		go func() { errs <- r.processLoop(ctx, r.consumer(i), empty) }()
	}
	var err error
	for range r.cfg.Workers {
		err = errors.Join(err, <-errs)
	}
	return err
}

// emptyQueues are the queues a drain found holding nothing at all: no
// entries, delivered or not, and no retries. Only a page commit fills such
// a queue again (a nack or a failure needs an entry held), and a drain
// begins after its run's polls ended, so once one worker found a queue
// empty the others need not ask the store about it again.
type emptyQueues struct{ m sync.Map }

func (e *emptyQueues) has(q state.QueueRef) bool {
	_, ok := e.m.Load(q)
	return ok
}

func (e *emptyQueues) add(q state.QueueRef) { e.m.Store(q, struct{}{}) }

// processLoop takes ready queues lane by lane in weighted round-robin.
// With drained set (a drain's workers share it): return when a whole round
// found nothing to do and no retry is due later; with nil, wait a little
// and look again until ctx ends. A store outage is ridden
// out with bounded backoff (by --once only for Config.StoreOutage); a
// destination that cannot start ends the loop at once.
func (r *Runner) processLoop(ctx context.Context, consumer string, drained *emptyQueues) error {
	lanes := newLaneRound(r.lanes)
	var left func() (bool, error)
	if drained != nil {
		left = func() (bool, error) { return r.outstanding(ctx, drained) }
	}
	return r.workLoop(ctx, consumer, func(w *worker) (bool, error) { return r.processRound(ctx, lanes, w) }, left)
}

// workLoop runs rounds of work as one queue consumer until ctx ends or,
// with left set (a drain), until a round did nothing and left reports
// nothing outstanding. A store outage is ridden out with bounded backoff
// (a drain gives up after Config.StoreOutage); a destination that cannot
// start ends the loop at once.
func (r *Runner) workLoop(ctx context.Context, consumer string, round func(*worker) (bool, error), left func() (bool, error)) error {
	once := left != nil
	w := newWorker(consumer)
	defer r.removeConsumers(ctx, w)
	var down time.Time // when the current store outage began
	backoff := 100 * time.Millisecond
	for {
		did, err := round(w)
		if err == nil && !did && once {
			var more bool
			if more, err = left(); err == nil && !more {
				return nil
			}
		}
		var stop *fatalError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &stop):
			return stop.err
		case err != nil:
			if down.IsZero() {
				down = time.Now()
			}
			if once && time.Since(down) > r.cfg.StoreOutage {
				return fmt.Errorf("the store has been failing for %s; giving up (work not acknowledged is redone by the next run): %w", time.Since(down).Round(time.Second), err)
			}
			r.log.Warn("store unavailable; retrying", "consumer", consumer, "for", time.Since(down).Round(time.Millisecond), "err", err)
			backoff = min(backoff*2, 5*time.Second)
		default:
			down, backoff = time.Time{}, 100*time.Millisecond
			if did {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// processRound visits every lane once by weight, processing the queues
// each lists as ready; did reports whether any entry was settled.
func (r *Runner) processRound(ctx context.Context, lanes *laneRound, w *worker) (bool, error) {
	did := false
	for range lanes.size() {
		lane := lanes.next()
		// Paused queues stay ready (they hold undelivered entries) and are
		// skipped; asking for that many more keeps them from crowding out
		// the queues that can be processed.
		ready, err := r.st.Ready(ctx, lane, 16+r.pausedQueues(lane))
		if err != nil {
			return did, fmt.Errorf("ready queues of lane %s: %w", lane, err)
		}
		for _, rq := range ready {
			n, err := r.visitQueue(ctx, w, state.QueueRef{Tenant: rq.Tenant, Destination: rq.Destination, Lane: lane})
			did = did || n > 0
			if err != nil {
				return did, err
			}
		}
	}
	return did, nil
}

// visitQueue is one worker's visit to a queue: it reclaims the entries
// due for another try, then processes up to batchesPerVisit batches. It
// returns how many entries it settled.
func (r *Runner) visitQueue(ctx context.Context, w *worker, q state.QueueRef) (int, error) {
	n, err := r.reclaimDue(ctx, w, q)
	if err != nil {
		return n, err
	}
	m, err := r.processQueue(ctx, q, w.consumer, batchesPerVisit)
	return n + m, err
}

// fatalError ends the process loop instead of being retried: the
// configuration, not the store, is at fault.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

// outstanding reports whether any queue of this plan that is not paused
// and whose destination was not found down still has unclaimed entries or
// retries to come; it skips the queues in empty and adds those it finds
// empty.
func (r *Runner) outstanding(ctx context.Context, empty *emptyQueues) (bool, error) {
	for _, t := range r.plan.Tenants {
		for _, dest := range r.tenantDestinations(t) {
			q := r.queueRef(t, dest)
			if paused, err := r.queuePaused(ctx, q); err != nil || paused {
				if err != nil {
					return false, err
				}
				if r.pauses.halted(q.Tenant) == "" {
					// A halted tenant's queues wait for its operator, not
					// for a paused pipeline: its poll says why.
					r.stats.skipped(q)
				}
				continue
			}
			if r.destinationDown(q) {
				// A drain does not wait out an outage of unknown length:
				// the records stay queued, attempts unchanged, for the next
				// run, and the summary says so.
				r.stats.destinationDown(q)
				continue
			}
			if empty.has(q) {
				continue
			}
			d, err := r.st.Depth(ctx, q)
			if err != nil {
				return false, fmt.Errorf("queue depth %s/%s: %w", t.ID, dest, err)
			}
			if d.Stream == 0 && d.Retry == 0 {
				empty.add(q)
			}
			if d.Retry > 0 || d.Stream > d.Pending {
				return true, nil
			}
		}
	}
	return false, nil
}

// reclaimDue takes over and writes one batch of a dead worker's entries
// when the worker last looked in this queue Visibility/2 ago or more.
// processQueue reclaims only when nothing new is left to claim, which
// under steady inflow is never; this bounds the wait of a dead worker's
// entries to about 1.5 × Visibility. The first visit only starts the
// clock: entries cannot be reclaimed before Visibility anyway.
func (r *Runner) reclaimDue(ctx context.Context, w *worker, q state.QueueRef) (int, error) {
	now := time.Now() // Visibility is in the store's clock: real time
	last, seen := w.reclaimed[q]
	if !seen || now.Sub(last) < r.cfg.Visibility/2 {
		if !seen {
			w.reclaimed[q] = now
		}
		return 0, nil
	}
	w.reclaimed[q] = now
	t, dest := r.tenant(q.Tenant), r.destinations[q.Destination]
	if t == nil || dest == nil {
		return 0, nil
	}
	if r.waitingForDestination(q) {
		return 0, nil
	}
	if paused, err := r.queuePaused(ctx, q); err != nil || paused {
		return 0, err
	}
	c, err := r.st.Reclaim(ctx, q, w.consumer, r.cfg.Visibility, batchSize(dest), r.maxAttempts(t, q.Destination))
	if err != nil {
		return 0, fmt.Errorf("reclaim %s/%s: %w", q.Tenant, q.Destination, err)
	}
	r.stats.dead.Add(int64(c.Dead))
	r.countFailed(ctx, q, failReclaimed, c.Dead)
	if len(c.Entries) == 0 {
		return c.Dead, nil
	}
	n, _, err := r.processBatch(ctx, q, w.consumer, t, dest, c.Entries, 0, 0)
	return n + c.Dead, err
}

// batchSize is how many entries a worker claims at a time.
func batchSize(dest *dsl.Destination) int {
	if dest.BatchSize < 1 {
		return 500
	}
	return dest.BatchSize
}

// processQueue claims and writes up to maxBatches batches of one queue; it
// returns how many entries it settled (acked or failed).
func (r *Runner) processQueue(ctx context.Context, q state.QueueRef, consumer string, maxBatches int) (int, error) {
	t, dest := r.tenant(q.Tenant), r.destinations[q.Destination]
	if t == nil || dest == nil {
		return 0, nil // another configuration's queue sharing the store
	}
	size := batchSize(dest)
	maxAttempts := r.maxAttempts(t, q.Destination)
	done := 0
	// short: the last claim returned less than a batch, so it took every
	// undelivered entry there was, and the next claim would come back
	// empty; it is skipped. Entries enqueued since are not lost: Park
	// leaves a queue with undelivered entries ready.
	short := false
	// next is the batch claimed with the previous batch's acks, in the
	// same store round trip (nil: claim as usual).
	var next *state.Claimed
	if v, failed := r.destWaits.Load(destKey(q)); failed && !r.waitingForDestination(q) {
		// The wait after a failed write is over: this worker's next write
		// tries the destination. The queue is held meanwhile, so the
		// workers of this and the other processes do not each make a
		// trial of their own on its other batches; a write that lands
		// lists it again. A worker that finds the queue held already
		// leaves the trial to the one that held it, and waits a cooldown.
		cooldown := dest.Breaker.Cooldown.D()
		first, err := r.st.Hold(ctx, q, cooldown)
		if err != nil {
			return 0, fmt.Errorf("hold %s/%s for a trial write: %w", q.Tenant, q.Destination, err)
		}
		if !first {
			r.waitForDestination(q, time.Now().Add(cooldown), v.(destWait).down)
			return 0, nil
		}
	}
	for i := range maxBatches {
		// Checked before every batch: the previous one may have paused a
		// pipeline, or another worker found the destination failing. The
		// entries stay queued until it resumes or the wait ends; a batch
		// already claimed with the acks goes back at once (also when the
		// check fails, as on shutdown) instead of waiting out the
		// visibility timeout.
		if paused, err := r.queuePaused(ctx, q); err != nil || paused || r.waitingForDestination(q) {
			if next != nil && len(next.Entries) > 0 {
				if _, nerr := r.giveBack(ctx, q, consumer, next.Entries); nerr != nil {
					err = errors.Join(err, nerr)
				}
			}
			return done, err
		}
		var c state.Claimed
		var err error
		switch {
		case next != nil:
			c, next = *next, nil
		case !short:
			if c, err = r.st.Claim(ctx, q, consumer, size, maxAttempts); err != nil {
				return done, fmt.Errorf("claim %s/%s: %w", q.Tenant, q.Destination, err)
			}
		}
		if len(c.Entries) == 0 {
			if c, err = r.st.Reclaim(ctx, q, consumer, r.cfg.Visibility, size, maxAttempts); err != nil {
				return done, fmt.Errorf("reclaim %s/%s: %w", q.Tenant, q.Destination, err)
			}
		}
		r.stats.dead.Add(int64(c.Dead))
		r.countFailed(ctx, q, failReclaimed, c.Dead)
		if len(c.Entries) == 0 {
			if err := r.st.Park(ctx, q, time.Second); err != nil {
				return done, fmt.Errorf("park %s/%s: %w", q.Tenant, q.Destination, err)
			}
			return done, nil
		}
		short = len(c.Entries) < size
		// After a full batch with more to go, the next claim rides on the
		// acks; after a short one it would come back empty.
		claimNext := 0
		if !short && i+1 < maxBatches {
			claimNext = size
		}
		n, claimed, err := r.processBatch(ctx, q, consumer, t, dest, c.Entries, claimNext, maxAttempts)
		done += n
		if claimed != nil && claimed.Dead > 0 {
			// Counted now: a pause found before the next batch hands its
			// live entries back, but these are in the DLQ already.
			r.stats.dead.Add(int64(claimed.Dead))
			r.countFailed(ctx, q, failReclaimed, claimed.Dead)
			claimed.Dead = 0
		}
		if err != nil {
			return done, err
		}
		// n == 0 without a claim: the destination is failing and the batch
		// went back (see processBatch). With one, the acks found their
		// entries taken by another consumer, but the claim stands and its
		// batch is this worker's to write.
		if n == 0 && claimed == nil {
			return done, nil
		}
		next = claimed
	}
	return done, nil
}

// idsOf returns the entries' ids.
func idsOf(es []state.Entry) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// processBatch maps and writes one claimed batch and settles every entry:
// ok → ack, retryable → retry with backoff, permanent (a mapping error, a
// record the destination refuses) → DLQ with its error. It returns how
// many entries it settled; 0 with no error means the destination is
// failing (see destinationFailed): the batch went back to the queue, its
// attempts unchanged, and this runner's workers leave the queue for a
// while. With claimNext > 0 and every entry acked, the acks also claim up
// to claimNext entries, returned as the next batch (nil when it did not
// claim).
func (r *Runner) processBatch(ctx context.Context, q state.QueueRef, consumer string, t *dsl.Tenant, dest *dsl.Destination, entries []state.Entry, claimNext, maxAttempts int) (int, *state.Claimed, error) {
	ctx, span := r.startSpan(ctx, "process", withLinks(entries), withAttributes(attrs(q.Tenant, q.Destination)...))
	defer span.End()
	log := withTrace(ctx, r.log.With("tenant", q.Tenant, "destination", q.Destination))
	b := batch{q: q, jitter: newJitter()}
	var records []sdk.Record
	var ids []string // ids[i] is the entry of records[i]
	d, err := r.dests.get(ctx, dest)
	if err != nil {
		// A destination that cannot start is a configuration problem, not
		// the records': they stay claimed (another worker reclaims them
		// after the visibility timeout) instead of using up their attempts,
		// and the run stops with the reason.
		return 0, nil, &fatalError{err: err}
	}
	var outcomes []mapped
	var unmapped []state.Failure // entries whose mapping failed, settled below
	for _, e := range entries {
		rec, err := r.record(ctx, t, dest, e)
		var merr *mappingError
		switch {
		case errors.As(err, &merr):
			outcomes = append(outcomes, mapped{pipeline: e.Pipeline, err: err.Error()})
			unmapped = append(unmapped, state.Failure{ID: e.ID, Error: err.Error()})
			b.byID(e)
			continue
		case errors.As(err, new(*prepareError)):
			// The destination cannot prepare the pipeline's object (it is
			// down, or refuses the table): not the records' failure. As
			// with an open breaker the batch goes back and the queue
			// waits a cooldown, attempts unchanged, and status says why.
			cooldown := dest.Breaker.Cooldown.D()
			log.Warn("destination cannot prepare the object; batch waits", "retry_in", cooldown, "err", err)
			span.SetStatus(codes.Error, "destination not ready")
			r.noteWrite(ctx, q, err.Error(), log)
			r.waitForDestination(q, time.Now().Add(cooldown), true)
			return 0, nil, r.handBackWaiting(ctx, q, consumer, entries)
		case err != nil:
			// Not the mapping: the pipeline left the configuration.
			b.permanent(e, err.Error(), failRefused)
			entryLog(log, e).Error("record cannot be written; to the DLQ", "key", e.Key, "err", err)
			continue
		}
		outcomes = append(outcomes, mapped{pipeline: e.Pipeline})
		records = append(records, rec)
		ids = append(ids, e.ID)
		b.byID(e)
	}
	writeErr := "" // the batch's last write error, for status
	if len(records) > 0 {
		results, err := r.dests.write(ctx, dest, d, sdk.Batch{Tenant: q.Tenant, Records: records})
		var open *host.BreakerOpenError
		switch {
		case errors.As(err, &open):
			// Past Until the breaker stays open while another worker's
			// half-open trial write runs (it may wait out a plugin's
			// restart backoff): the queue waits a cooldown then, instead
			// of being parked for nothing and taken again at once.
			wait := time.Until(open.Until)
			if wait <= 0 {
				wait = dest.Breaker.Cooldown.D()
			}
			log.Warn("destination breaker open; batch waits", "until", open.Until, "retry_in", wait)
			span.SetStatus(codes.Error, "breaker open")
			r.waitForDestination(q, time.Now().Add(wait), true)
			return 0, nil, r.handBackWaiting(ctx, q, consumer, entries)
		case err != nil && ctx.Err() != nil:
			// Shutdown cut the write short: not the records' failure. They
			// go back to the queue at once, attempts unchanged, instead of
			// waiting out the visibility timeout under this consumer.
			return 0, nil, r.handBack(ctx, q, consumer, entries, log)
		case err != nil:
			span.RecordError(err)
			writeErr = err.Error()
			if r.destinationFailed(ctx, q, dest, d.BreakerState(q.Tenant), b.jitter, log) {
				log.Warn("write failed with the destination failing; batch waits, attempts unchanged", "records", len(records), "err", err)
				r.noteWrite(ctx, q, writeErr, log)
				return 0, nil, r.handBackWaiting(ctx, q, consumer, entries)
			}
			log.Error("write failed; batch will be retried", "records", len(records), "err", err)
			for _, id := range ids {
				e := b.entries[id]
				b.retry(e, err.Error(), r.backoff(e.Attempts, b.jitter))
			}
		default:
			// The destination takes writes again: the queue, held while
			// it failed, is listed again for every process.
			if _, waited := r.destWaits.LoadAndDelete(destKey(q)); waited {
				if err := r.st.SweepReady(ctx, []state.QueueRef{q}); err != nil {
					log.Warn("list the queue again after the destination came back", "err", err)
				}
			}
			for i, res := range results {
				e := b.entries[ids[i]]
				switch res.Status {
				case sdk.StatusOK:
					b.ok = append(b.ok, e.ID)
				case sdk.StatusRetryable:
					b.retry(e, res.Message, r.backoff(e.Attempts, b.jitter))
					writeErr = res.Message
				default:
					b.permanent(e, res.Message, failRefused)
					writeErr = res.Message
					entryLog(log, e).Error("destination refused the record; to the DLQ", "key", e.Key, "err", res.Message)
				}
			}
		}
	}
	// Counted once the batch is settled, not when a breaker sends it back
	// to be mapped again.
	r.observeMapping(ctx, q.Tenant, outcomes, log)
	r.settleUnmapped(q.Tenant, &b, unmapped, log)
	if ctx.Err() != nil {
		// The write finished as shutdown began: its outcome is still
		// recorded, or the written entries would be written again.
		// Nothing more is claimed.
		sctx, cancel := detached(ctx)
		defer cancel()
		ctx, claimNext = sctx, 0
	}
	n, next, err := r.settle(ctx, consumer, b, claimNext, maxAttempts, log)
	if err == nil && len(records) > 0 {
		r.noteWrite(ctx, q, writeErr, log)
	}
	return n, next, err
}

// writeErrorState is what a runner knows of a queue's write-error flag,
// and since when (set or cleared by this runner, or read with the
// tenant's flags).
type writeErrorState struct {
	set bool
	at  time.Time
}

// maxWriteError bounds the reason stored for status.
const maxWriteError = 500

// knowWriteErrors learns the tenant's write-error flags from a read of its
// flags that began at start (queuePaused reads them before batches when
// its view is stale), so a clean batch clears a flag another process set
// without asking the store after every batch. A state this runner wrote
// after start is newer and stays.
func (r *Runner) knowWriteErrors(tenant string, fs []state.Flag, start time.Time) {
	t := r.tenant(tenant)
	if t == nil {
		return
	}
	for _, dest := range r.tenantDestinations(t) {
		set := slices.ContainsFunc(fs, func(f state.Flag) bool { return f.Kind == state.FlagWriteError && f.Scope == dest })
		r.storeWriteError(state.QueueRef{Tenant: tenant, Destination: dest}, writeErrorState{set: set, at: start})
	}
}

// storeWriteError records st unless a newer state is known.
func (r *Runner) storeWriteError(key state.QueueRef, st writeErrorState) {
	for {
		old, loaded := r.writeErrs.LoadOrStore(key, st)
		if !loaded || !old.(writeErrorState).at.Before(st.at) || r.writeErrs.CompareAndSwap(key, old, st) {
			return
		}
	}
}

// noteWrite records a batch's outcome for `siphon status`: the last write
// error of the (tenant, destination), or none once a batch writes cleanly.
// A clean batch costs a store call only when the flag may be set, so a
// healthy queue's batches stay at their round trips.
func (r *Runner) noteWrite(ctx context.Context, q state.QueueRef, msg string, log *slog.Logger) {
	key := state.QueueRef{Tenant: q.Tenant, Destination: q.Destination}
	if msg == "" {
		if v, ok := r.writeErrs.Load(key); ok && !v.(writeErrorState).set {
			return
		}
		if err := r.st.ClearFlag(ctx, q.Tenant, state.FlagWriteError, q.Destination); err != nil {
			log.Warn("clear the last write error", "err", err)
			return
		}
		r.storeWriteError(key, writeErrorState{at: time.Now()})
		return
	}
	r.setFlag(ctx, q.Tenant, state.Flag{Kind: state.FlagWriteError, Scope: q.Destination, Reason: clip(msg, maxWriteError)}, log)
	r.storeWriteError(key, writeErrorState{set: true, at: time.Now()})
}

// handBack returns a batch whose write shutdown cut short to the queue and
// reports the shutdown.
func (r *Runner) handBack(ctx context.Context, q state.QueueRef, consumer string, entries []state.Entry, log *slog.Logger) error {
	n, err := r.giveBack(ctx, q, consumer, entries)
	if err != nil {
		return errors.Join(ctx.Err(), err)
	}
	log.Info("write interrupted by shutdown; batch handed back", "records", n)
	return ctx.Err()
}

// giveBack hands a claimed batch back to the queue for any consumer, its
// attempts unchanged and its deliveries counted from zero again (Nack
// re-adds the entries as new ones), and returns how many went back. It
// still reaches the store after ctx ended.
func (r *Runner) giveBack(ctx context.Context, q state.QueueRef, consumer string, entries []state.Entry) (int, error) {
	nctx, cancel := detached(ctx)
	defer cancel()
	n, err := r.st.Nack(nctx, q, consumer, idsOf(entries))
	if err != nil {
		return n, fmt.Errorf("hand back %s/%s: %w", q.Tenant, q.Destination, err)
	}
	return n, nil
}

// handBackWaiting hands back a batch whose destination is failing, its
// attempts unchanged, and holds its queue in the store until this
// runner's wait for the destination ends (see waitForDestination): the
// workers of every process sharing the store leave the queue until then,
// instead of each claiming it at once (the hand-back makes it ready) to
// make its own trial write.
func (r *Runner) handBackWaiting(ctx context.Context, q state.QueueRef, consumer string, entries []state.Entry) error {
	if _, err := r.giveBack(ctx, q, consumer, entries); err != nil {
		return err
	}
	v, ok := r.destWaits.Load(destKey(q))
	if !ok {
		return nil
	}
	d := time.Until(v.(destWait).until)
	if d <= 0 {
		return nil
	}
	hctx, cancel := detached(ctx)
	defer cancel()
	if _, err := r.st.Hold(hctx, q, d); err != nil {
		return fmt.Errorf("hold %s/%s for its destination: %w", q.Tenant, q.Destination, err)
	}
	return nil
}

// destWait is a queue this runner's workers leave alone until a time,
// because a write found its destination failing; down: the breaker
// judged the destination down (it is open, or the destination cannot
// prepare an object), not merely one write more failing.
type destWait struct {
	until time.Time
	down  bool
}

// destKey is the key of q's destination wait: a tenant's breaker is per
// destination, whatever the lane.
func destKey(q state.QueueRef) state.QueueRef {
	return state.QueueRef{Tenant: q.Tenant, Destination: q.Destination}
}

// waitForDestination makes this runner's workers leave q alone until
// until (real time, as the breaker's), its entries unclaimed. A batch held
// while the destination is down would count a delivery at every claim of
// its worker and every reclaim by another after the visibility timeout,
// and a long outage would send it to the DLQ as "reclaimed too often"
// (§11). The wait ends early when a write of the queue succeeds.
func (r *Runner) waitForDestination(q state.QueueRef, until time.Time, down bool) {
	r.destWaits.Store(destKey(q), destWait{until: until, down: down})
}

// destinationDown reports whether a write of this runner found q's
// destination down (see destWait) and none succeeded since.
func (r *Runner) destinationDown(q state.QueueRef) bool {
	v, ok := r.destWaits.Load(destKey(q))
	return ok && v.(destWait).down
}

// waitingForDestination reports whether q waits for its destination now.
func (r *Runner) waitingForDestination(q state.QueueRef) bool {
	v, ok := r.destWaits.Load(destKey(q))
	return ok && time.Now().Before(v.(destWait).until)
}

// destinationFailed decides, after a write of q failed as a whole (a
// transport error, a plugin that crashed or restarts, a timeout), whether
// the destination or the batch is at fault, from the tenant's breaker as
// the failure left it and the queue's write-error flag. The batch is at
// fault, and the failure spends its records' attempts, only when it is
// the first failure since a write succeeded, in this process and in the
// store: the destination was taking writes, so a batch that alone fails
// every write (it hangs the plugin) still reaches the DLQ after
// max_attempts while the other batches land, each of its failures
// following a success. The flag, set by any process's failed write and
// cleared by a clean batch, keeps the other processes sharing the store
// from spending an attempt each on their own first failure of one outage.
// Any other failure is the destination's: one failing a while already,
// or not yet seen working (a run starting in an outage). Its batch goes
// back with its attempts unchanged, and the queue waits, in every process
// (see handBackWaiting), until the breaker's half-open time, or while the
// breaker is still closed a backoff growing with the failures.
// A failure that spends attempts also opens the wait when it opened the
// breaker (failures = 1). The price: a poison batch alone in a queue whose
// every write fails cannot be told from an outage; it waits with the
// others, one half-open trial per cooldown, the queue's last write error
// in status, until a write succeeds.
func (r *Runner) destinationFailed(ctx context.Context, q state.QueueRef, dest *dsl.Destination, bs host.BreakerState, jitter float64, log *slog.Logger) bool {
	if bs.Open {
		until := bs.OpenUntil
		if !until.After(time.Now()) {
			until = time.Now().Add(dest.Breaker.Cooldown.D())
		}
		r.waitForDestination(q, until, true)
	}
	if bs.Failures <= 1 && !bs.LastSuccess.IsZero() && !r.writeErrorSet(ctx, q, log) {
		return false
	}
	if !bs.Open {
		r.waitForDestination(q, time.Now().Add(r.backoff(bs.Failures-1, jitter)), false)
	}
	return true
}

// writeErrorSet reads whether q's write-error flag is set in the store: a
// write of some process failed since a batch last wrote cleanly. A flag
// that cannot be read counts as clear.
func (r *Runner) writeErrorSet(ctx context.Context, q state.QueueRef, log *slog.Logger) bool {
	start := time.Now()
	fs, err := r.st.Flags(ctx, q.Tenant)
	if err != nil {
		log.Warn("read the last write error", "err", err)
		return false
	}
	r.knowWriteErrors(q.Tenant, fs, start)
	return slices.ContainsFunc(fs, func(f state.Flag) bool { return f.Kind == state.FlagWriteError && f.Scope == q.Destination })
}

// settleUnmapped sends the entries whose mapping failed to the DLQ, unless
// their pipeline is paused (by this batch or another): then they are
// retried like a failed write, so they wait in the paused queue for the
// fixed mapping instead of filling the DLQ.
func (r *Runner) settleUnmapped(tenant string, b *batch, unmapped []state.Failure, log *slog.Logger) {
	kept := 0
	for _, f := range unmapped {
		e := b.entries[f.ID]
		if r.pauses.has(tenant, e.Pipeline) {
			b.retry(e, f.Error, r.backoff(e.Attempts, b.jitter))
			kept++
			continue
		}
		b.permanent(e, f.Error, failMapping)
		entryLog(log, e).Error("mapping failed; to the DLQ", "key", e.Key, "err", f.Error)
	}
	if kept > 0 {
		log.Warn("mapping failed while the pipeline is paused; the records stay queued", "count", kept)
	}
}

// record turns a queue entry into a destination write: the pipeline's
// filter and mapping over the raw record; a record the filter drops is a
// delete at the version just read. The write's generation is this runner's
// config version, not the one the entry was enqueued under: the mapping
// applied is this runner's, and an entry enqueued before a mapping change
// must carry the newer generation to replace the row its first attempt
// wrote at the same source version and seq.
func (r *Runner) record(ctx context.Context, t *dsl.Tenant, dest *dsl.Destination, e state.Entry) (sdk.Record, error) {
	p := r.pipelines[e.Pipeline]
	if p == nil || p.Destination != dest.Name {
		return sdk.Record{}, fmt.Errorf("pipeline %s no longer writes to %s in this configuration", e.Pipeline, dest.Name)
	}
	if err := r.dests.ensure(ctx, dest, p); err != nil {
		return sdk.Record{}, &prepareError{err}
	}
	rec := sdk.Record{Op: sdk.OpDelete, Object: p.Object, Key: e.Key,
		Version:     sdk.Version{Source: e.Version, Generation: r.config.Version, Seq: e.Seq},
		ContentHash: writeHash(e.ContentHash, p.MappingHash)}
	if e.Op != opDelete {
		fields, err := decodeRecord(e.Payload)
		if err != nil {
			return sdk.Record{}, &mappingError{fmt.Errorf("pipeline %s record %s: %w", p.Name, e.Key, err)}
		}
		row, keep, err := p.Transform.Apply(fields, t)
		if err != nil {
			return sdk.Record{}, &mappingError{err}
		}
		if keep {
			rec.Op, rec.Fields = sdk.OpUpsert, row
		}
	}
	rec.IdempotencyKey = idempotencyKey(t.ID, rec)
	return rec, nil
}

// mappingError is a record the pipeline's filter or mapping could not
// turn into a write; these count towards the mapping-error rate, unlike a
// destination that cannot prepare its table.
type mappingError struct{ err error }

func (e *mappingError) Error() string { return e.err.Error() }
func (e *mappingError) Unwrap() error { return e.err }

// prepareError is a destination that could not create or widen a
// pipeline's object: the batch waits for it instead of going to the DLQ.
type prepareError struct{ err error }

func (e *prepareError) Error() string { return e.err.Error() }
func (e *prepareError) Unwrap() error { return e.err }

// decodeRecord reads a raw record as the mapping expects it, numbers kept
// as their exact text.
func decodeRecord(payload []byte) (map[string]any, error) {
	m, err := vomo.DecodeObject(payload)
	if err != nil {
		return nil, fmt.Errorf("decode queued record: %w", err)
	}
	return m, nil
}

// writeHash is the content hash a write carries: the raw record's and the
// mapping's, so a mapping change at an equal source version is a different
// content and lands.
func writeHash(raw, mapping string) string {
	sum := sha256.Sum256([]byte(raw + "\x00" + mapping))
	return hex.EncodeToString(sum[:16])
}

// idempotencyKey is H(tenant, object, key, version, content hash).
func idempotencyKey(tenant string, rec sdk.Record) string {
	h := sha256.New()
	for _, s := range []string{tenant, rec.Object, rec.Key, rec.Version.Source.UTC().Format(time.RFC3339Nano), rec.ContentHash} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// backoff is the delay before retrying an entry that failed attempts
// times: RetryBackoff doubled per attempt up to MaxRetryBackoff, with equal
// jitter: jitter in [0, 1) picks a point in the delay's upper half, so
// batches that failed together (many tenants behind one failing
// destination) do not all come back in the same instant. A batch draws
// one jitter for all its entries, so its retries come back together as a
// batch.
func (r *Runner) backoff(attempts int, jitter float64) time.Duration {
	d := r.cfg.RetryBackoff
	for range min(attempts, 20) {
		d *= 2
		if d >= r.cfg.MaxRetryBackoff {
			d = r.cfg.MaxRetryBackoff
			break
		}
	}
	half := d / 2
	return d - half + time.Duration(float64(half)*jitter)
}

// newJitter draws a batch's retry jitter.
func newJitter() float64 { return rand.Float64() }

// batch collects the outcome of one claimed batch.
type batch struct {
	q       state.QueueRef
	jitter  float64 // of the batch's retry delays, see backoff
	entries map[string]state.Entry
	ok      []string
	retries map[string][]state.Failure // by pipeline
	refused []state.Failure
	mapping int // how many of refused failed mapping, not the write
}

func (b *batch) byID(e state.Entry) {
	if b.entries == nil {
		b.entries = map[string]state.Entry{}
	}
	b.entries[e.ID] = e
}

func (b *batch) retry(e state.Entry, msg string, after time.Duration) {
	if b.retries == nil {
		b.retries = map[string][]state.Failure{}
	}
	b.retries[e.Pipeline] = append(b.retries[e.Pipeline], state.Failure{ID: e.ID, Error: msg, RetryAfter: after})
}

// permanent sends an entry to the DLQ; failure is failMapping or
// failRefused.
func (b *batch) permanent(e state.Entry, msg, failure string) {
	b.refused = append(b.refused, state.Failure{ID: e.ID, Error: msg})
	if failure == failMapping {
		b.mapping++
	}
}

// settle acks and fails a batch's entries in the store. When every entry
// was acked and claimNext > 0, the same store step claims the next batch
// (up to claimNext entries), returned; otherwise the returned batch is nil.
func (r *Runner) settle(ctx context.Context, consumer string, b batch, claimNext, maxAttempts int, log *slog.Logger) (int, *state.Claimed, error) {
	n := 0
	var next *state.Claimed
	if len(b.ok) > 0 {
		var acked int
		var err error
		if claimNext > 0 && len(b.retries) == 0 && len(b.refused) == 0 {
			var c state.Claimed
			acked, c, err = r.st.AckClaim(ctx, b.q, consumer, b.ok, claimNext, maxAttempts)
			next = &c
		} else {
			acked, err = r.st.Ack(ctx, b.q, consumer, b.ok)
		}
		if err != nil {
			return n, nil, fmt.Errorf("ack %s/%s: %w", b.q.Tenant, b.q.Destination, err)
		}
		n += acked
		r.stats.written.Add(int64(acked))
		r.countWritten(ctx, b.q, acked)
	}
	for pipeline, fs := range b.retries {
		limit := 1
		if p := r.pipelines[pipeline]; p != nil {
			limit = p.MaxAttempts
		}
		fr, err := r.st.Fail(ctx, b.q, consumer, fs, limit)
		if err != nil {
			return n, nil, fmt.Errorf("fail %s/%s: %w", b.q.Tenant, b.q.Destination, err)
		}
		n += fr.Retried + fr.Dead
		r.stats.retried.Add(int64(fr.Retried))
		r.stats.dead.Add(int64(fr.Dead))
		r.countFailed(ctx, b.q, failRetry, fr.Retried)
		r.countFailed(ctx, b.q, failMaxAttempts, fr.Dead)
		if fr.Dead > 0 {
			log.Error("entries reached max_attempts; to the DLQ", "pipeline", pipeline, "count", fr.Dead)
		}
	}
	if len(b.refused) > 0 {
		fr, err := r.st.Fail(ctx, b.q, consumer, b.refused, 1)
		if err != nil {
			return n, nil, fmt.Errorf("fail %s/%s: %w", b.q.Tenant, b.q.Destination, err)
		}
		n += fr.Retried + fr.Dead
		r.stats.dead.Add(int64(fr.Dead))
		// Fail counts only the entries this consumer still held; any it
		// lost are taken as the destination's refusals, which come last.
		mapping := min(b.mapping, fr.Dead)
		r.countFailed(ctx, b.q, failMapping, mapping)
		r.countFailed(ctx, b.q, failRefused, fr.Dead-mapping)
	}
	return n, next, nil
}

// entryLog adds the entry's pipeline and the trace id of the poll that
// found it.
func entryLog(log *slog.Logger, e state.Entry) *slog.Logger {
	log = log.With("pipeline", e.Pipeline)
	if parts := strings.Split(e.Trace, "-"); len(parts) == 4 {
		log = log.With("poll_trace_id", parts[1])
	}
	return log
}

// maxAttempts is the largest max_attempts of the pipelines writing to a
// tenant's destination: a claim sends entries redelivered more often than
// that without a recorded failure to the DLQ.
func (r *Runner) maxAttempts(t *dsl.Tenant, destination string) int {
	n := 1
	for _, name := range t.Active {
		if p := r.pipelines[name]; p != nil && p.Destination == destination {
			n = max(n, p.MaxAttempts)
		}
	}
	return n
}
