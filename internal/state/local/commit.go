package local

import (
	"fmt"
	"runtime/debug"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer groups concurrent write transactions into one bbolt commit
// (group commit): while a commit and its fsync run, the callers that
// arrive queue up, and the next commit takes them all at once. There is
// no timer: a lone caller commits at once, and however many callers
// arrive, at most one group waits for the commit in progress.
//
// bbolt's own Batch cut a group after MaxBatchDelay (1ms) and sent each
// group to wait for the write lock by itself. When an fsync takes longer
// than that, the groups queued up one per millisecond, each paying an
// fsync of its own: under the scheduler benchmark's 10,000 tenants with
// 334 poll slots, 160 groups stood in line for the lock at once.
type committer struct {
	db      *bolt.DB
	mu      sync.Mutex
	pending []*commitCall
	// leading: a caller is committing groups; the others wait to be
	// handed their result or the lead.
	leading bool
}

// commitCall is one caller's transaction function and its outcome.
type commitCall struct {
	fn  func(*bolt.Tx) error
	err error
	// panicked is set when fn's last run panicked: update panics with it
	// in the caller's goroutine instead of returning err.
	panicked *txPanic
	// wake carries false when err is the result, true when the caller is
	// to lead the next group (its own call is in it).
	wake chan bool
}

// maxGroup bounds the calls committed together, as bbolt's MaxBatchSize
// does, so one transaction stays a moderate size.
const maxGroup = 1000

// update runs fn in a write transaction shared with the callers that
// queue meanwhile. fn may run more than once (when another function of
// its group fails, the group goes again without it), so it must set its
// results from scratch each time, as with bbolt's Batch. When fn panics,
// update panics in the caller's goroutine with a *txPanic carrying the
// value and the stack where fn panicked; the group's other callers are
// unaffected.
func (c *committer) update(fn func(*bolt.Tx) error) error {
	call := &commitCall{fn: fn, wake: make(chan bool, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, call)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if !lead && !<-call.wake {
		return call.result()
	}
	// Leading: commit one group (this call is in it), then hand the lead
	// to the first caller still waiting, so no caller commits for others
	// for longer than its own group takes.
	c.mu.Lock()
	n := min(len(c.pending), maxGroup)
	group := c.pending[:n:n]
	c.pending = c.pending[n:]
	c.mu.Unlock()
	c.commit(group)
	c.mu.Lock()
	if len(c.pending) > 0 {
		c.pending[0].wake <- true
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	<-call.wake
	return call.result()
}

// result is the call's error, or its function's panic raised again in
// the caller's goroutine: the group ran the function in the leader's,
// which must live on to finish the others' calls.
func (call *commitCall) result() error {
	if call.panicked != nil {
		panic(call.panicked)
	}
	return call.err
}

// txPanic is what update panics with when its function panicked: the
// value the function panicked with and the stack where it did, which the
// panic raised again in update no longer shows. As an error, it prints
// both when the panic ends the program.
type txPanic struct {
	value any
	stack []byte
}

func (p *txPanic) Error() string {
	return fmt.Sprintf("panic in a write transaction: %v\n\n%s", p.value, p.stack)
}

// Unwrap gives the value when it is an error (a runtime.Error, say).
func (p *txPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// commit runs the group's functions in one transaction. A function that
// fails is taken out and run alone, so its error is its own, and the
// others go again without it.
func (c *committer) commit(group []*commitCall) {
	for len(group) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, call := range group {
				if err := call.run(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, call := range group {
				call.err = err
				call.wake <- false
			}
			return
		}
		alone := group[failed]
		group = append(group[:failed:failed], group[failed+1:]...)
		alone.err = c.db.Update(alone.run)
		alone.wake <- false
	}
}

// run runs the call's function in tx. A panic in it becomes an error, so
// that a leader running others' functions rolls the transaction back and
// goes on instead of dying and leaving them waiting; the panic is kept for
// the caller to raise again. Each run starts afresh, as the function's own
// results do, so only the last run's panic counts.
func (call *commitCall) run(tx *bolt.Tx) (err error) {
	call.panicked = nil
	defer func() {
		if p := recover(); p != nil {
			call.panicked = &txPanic{value: p, stack: debug.Stack()}
			err = call.panicked
		}
	}()
	return call.fn(tx)
}
