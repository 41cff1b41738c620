package local

import (
	"fmt"
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
// results from scratch each time, as with bbolt's Batch.
func (c *committer) update(fn func(*bolt.Tx) error) error {
	call := &commitCall{fn: fn, wake: make(chan bool, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, call)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if !lead && !<-call.wake {
		return call.err
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
	return call.err
}

// commit runs the group's functions in one transaction. A function that
// fails is taken out and run alone, so its error is its own, and the
// others go again without it.
func (c *committer) commit(group []*commitCall) {
	for len(group) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, call := range group {
				if err := safeCall(call.fn, tx); err != nil {
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
		alone.err = c.db.Update(func(tx *bolt.Tx) error { return safeCall(alone.fn, tx) })
		alone.wake <- false
	}
}

// safeCall turns a panic in fn into its error, so a leader that runs
// others' functions does not die and leave them waiting.
func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a write transaction: %v", p)
		}
	}()
	return fn(tx)
}
