package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// A queue is a bucket t/<tenant>/q/<dest> holding s (entries by id), p
// (pending: who holds an entry since when, delivered how often), r (retries
// keyed by due time then id) and "last", the highest id ever delivered: ids
// above it are new. Consumers are in-process, so visibility is a timestamp
// per claimed entry rather than a consumer group.

// pending is a claimed entry's holder.
type pending struct {
	Consumer   string `json:"c"`
	At         int64  `json:"at"` // µs of the last delivery or extension
	Deliveries int    `json:"n"`
}

const reasonFailed, reasonReclaimed = "failed", "reclaimed too often"

func queueBuckets(tx *bolt.Tx, tb *bolt.Bucket, dest string) (q, st, pe, re *bolt.Bucket, err error) {
	if q, err = sub(tx, tb, bQueues, []byte(dest)); err != nil || q == nil {
		return
	}
	if st, err = sub(tx, q, bStream); err != nil {
		return
	}
	if pe, err = sub(tx, q, bPending); err != nil {
		return
	}
	re, err = sub(tx, q, bRetry)
	return
}

func retryKey(at int64, id []byte) []byte {
	return append(u64(uint64(at)), id...)
}

func (s *Store) CommitPage(ctx context.Context, c state.PageCommit) (state.CommitResult, error) {
	l := c.Lease
	var res state.CommitResult
	err := s.update(func(tx *bolt.Tx) error {
		res = state.CommitResult{}
		tb, err := tenant(tx, l.Tenant)
		if err != nil {
			return err
		}
		if err := checkFence(tx, tb, l); err != nil {
			return err
		}
		cps, err := sub(tx, tb, bCheckpts)
		if err != nil {
			return err
		}
		now := s.now().UnixMicro()
		skipped := map[string]bool{}
		for _, w := range c.Walks {
			if err := state.CheckName("pipeline", w.Pipeline); err != nil {
				return err
			}
			var cp checkpoint
			if _, err := getJSON(cps, []byte(w.Pipeline), &cp); err != nil {
				return err
			}
			if cp.Generation != w.Generation {
				skipped[w.Pipeline] = true
				res.Skipped = append(res.Skipped, w.Pipeline)
				continue
			}
			if w.Complete {
				if !w.Walk.Cap.IsZero() {
					cp.Cursor = micros(w.Walk.Cap)
				}
				cp.Walk, cp.Done, cp.DoneRecords = nil, now, w.Walk.Records
			} else {
				cp.Walk = storedWalk(w.Walk)
			}
			if err := putJSON(cps, []byte(w.Pipeline), cp); err != nil {
				return err
			}
			res.Applied = append(res.Applied, w.Pipeline)
		}
		seq := int64(getU64(tb.Get(kSeq)))
		for _, eq := range c.Enqueue {
			if eq.Queue.Tenant != l.Tenant {
				return fmt.Errorf("%w: queue of tenant %q in a commit of %q", state.ErrInvalid, eq.Queue.Tenant, l.Tenant)
			}
			if err := checkQueue(eq.Queue); err != nil {
				return err
			}
			_, st, _, _, err := queueBuckets(tx, tb, eq.Queue.Destination)
			if err != nil {
				return err
			}
			n := 0
			for _, e := range eq.Entries {
				if skipped[e.Pipeline] {
					continue
				}
				if e.Seq == 0 {
					seq++
					e.Seq = seq
				}
				e.ID, e.Attempts, e.LastError = "", 0, ""
				if err := appendEntry(st, e); err != nil {
					return err
				}
				n++
			}
			res.Enqueued += n
			if n > 0 {
				if err := touchReady(tx, eq.Queue, now); err != nil {
					return err
				}
			}
		}
		if err := tb.Put(kSeq, u64(uint64(seq))); err != nil {
			return err
		}
		if sp := c.Scan; sp != nil {
			if err := state.CheckName("resource", sp.Resource); err != nil {
				return err
			}
			b, err := sub(tx, tb, bScans, []byte(state.Member(sp.Resource, sp.ScanID)))
			if err != nil {
				return err
			}
			if err := b.Put(u64(uint64(sp.Page)), state.EncodeIDs(sp.IDs)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return state.CommitResult{}, fmt.Errorf("commit page %s/%s: %w", l.Tenant, l.Job, err)
	}
	return res, nil
}

func appendEntry(st *bolt.Bucket, e state.Entry) error {
	id, err := st.NextSequence()
	if err != nil {
		return err
	}
	return st.Put(u64(id), encodeEntry(e))
}

// touchReady lowers the queue's ready score to at (new work is available).
func touchReady(tx *bolt.Tx, q state.QueueRef, at int64) error {
	b, err := tx.Bucket(bReady).CreateBucketIfNotExists([]byte(q.Lane))
	if err != nil {
		return err
	}
	m := []byte(state.Member(q.Tenant, q.Destination))
	if cur := b.Get(m); cur != nil && int64(getU64(cur)) <= at {
		return nil
	}
	return b.Put(m, u64(uint64(at)))
}

// refreshReady sets the queue's ready score from its contents: now when the
// stream holds entries, else the earliest retry, else no member at all.
func refreshReady(tx *bolt.Tx, tb *bolt.Bucket, q state.QueueRef, now int64) error {
	b, err := tx.Bucket(bReady).CreateBucketIfNotExists([]byte(q.Lane))
	if err != nil {
		return err
	}
	m := []byte(state.Member(q.Tenant, q.Destination))
	_, st, _, re, err := queueBuckets(tx, tb, q.Destination)
	if err != nil {
		return err
	}
	if k, _ := st.Cursor().First(); k != nil {
		return b.Put(m, u64(uint64(now)))
	}
	if k, _ := re.Cursor().First(); k != nil {
		return b.Put(m, k[:8])
	}
	return b.Delete(m)
}

func checkQueue(q state.QueueRef) error {
	if err := state.CheckName("destination", q.Destination); err != nil {
		return err
	}
	return state.CheckName("lane", q.Lane)
}

func (s *Store) queueTx(q state.QueueRef, verb string, fn func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error) error {
	err := s.update(func(tx *bolt.Tx) error {
		if err := checkQueue(q); err != nil {
			return err
		}
		tb, err := tenant(tx, q.Tenant)
		if err != nil {
			return err
		}
		return fn(tx, tb, s.now().UnixMicro())
	})
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", verb, q.Tenant, q.Destination, err)
	}
	return nil
}

func (s *Store) Claim(ctx context.Context, q state.QueueRef, consumer string, n, maxAttempts int) (state.Claimed, error) {
	if n < 1 {
		return state.Claimed{}, nil
	}
	var c state.Claimed
	err := s.queueTx(q, "claim", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		var err error
		c, err = claimTx(tx, tb, q, consumer, n, maxAttempts, now)
		return err
	})
	return c, err
}

// claimTx is Claim inside the caller's transaction.
func claimTx(tx *bolt.Tx, tb *bolt.Bucket, q state.QueueRef, consumer string, n, maxAttempts int, now int64) (state.Claimed, error) {
	maxAttempts = max(maxAttempts, 1)
	var out []state.Entry
	dead := 0
	err := func() error {
		qb, st, pe, re, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		// Due retries go back to the stream first, as new entries.
		c := re.Cursor()
		var moved [][]byte
		for k, v := c.First(); k != nil && int64(getU64(k[:8])) <= now && len(moved) < n; k, v = c.Next() {
			id, err := st.NextSequence()
			if err != nil {
				return err
			}
			if err := st.Put(u64(id), v); err != nil {
				return err
			}
			moved = append(moved, bytes.Clone(k))
		}
		for _, k := range moved {
			if err := re.Delete(k); err != nil {
				return err
			}
		}
		// The consumer's own pending entries, then new ones.
		claim := func(k []byte, p pending) error {
			v := st.Get(k)
			if v == nil {
				return pe.Delete(k)
			}
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			p.Consumer, p.At, p.Deliveries = consumer, now, p.Deliveries+1
			if p.Deliveries > maxAttempts+3 {
				dead++
				if err := putDead(tx, tb, q.Destination, e, reasonReclaimed, now); err != nil {
					return err
				}
				if err := st.Delete(k); err != nil {
					return err
				}
				return pe.Delete(k)
			}
			out = append(out, e)
			return putJSON(pe, k, p)
		}
		var own [][]byte
		var ownP []pending
		if err := pe.ForEach(func(k, v []byte) error {
			var p pending
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if p.Consumer == consumer && len(own) < n {
				own = append(own, bytes.Clone(k))
				ownP = append(ownP, p)
			}
			return nil
		}); err != nil {
			return err
		}
		for i, k := range own {
			if err := claim(k, ownP[i]); err != nil {
				return err
			}
		}
		last := getU64(qb.Get(kLast))
		sc := st.Cursor()
		for k, _ := sc.Seek(u64(last + 1)); k != nil && len(out) < n; k, _ = sc.Next() {
			last = getU64(k)
			if err := claim(bytes.Clone(k), pending{}); err != nil {
				return err
			}
		}
		if err := qb.Put(kLast, u64(last)); err != nil {
			return err
		}
		if len(moved) > 0 || dead > 0 {
			return refreshReady(tx, tb, q, now)
		}
		return nil
	}()
	return state.Claimed{Entries: out, Dead: dead}, err
}

// owned returns the entry's key and pending record when consumer holds it.
func owned(pe *bolt.Bucket, id, consumer string) ([]byte, pending, bool) {
	k, ok := idKey(id)
	if !ok {
		return nil, pending{}, false
	}
	var p pending
	if found, err := getJSON(pe, k, &p); err != nil || !found || p.Consumer != consumer {
		return nil, pending{}, false
	}
	return k, p, true
}

func (s *Store) Ack(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	acked := 0
	err := s.queueTx(q, "ack", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		var err error
		if acked, err = ackTx(tx, tb, q, consumer, ids); err != nil {
			return err
		}
		return refreshReady(tx, tb, q, now)
	})
	return acked, err
}

// ackTx deletes the entries consumer holds inside the caller's
// transaction, which then refreshes the ready index.
func ackTx(tx *bolt.Tx, tb *bolt.Bucket, q state.QueueRef, consumer string, ids []string) (int, error) {
	_, st, pe, _, err := queueBuckets(tx, tb, q.Destination)
	if err != nil {
		return 0, err
	}
	acked := 0
	for _, id := range ids {
		k, _, ok := owned(pe, id, consumer)
		if !ok {
			continue
		}
		if err := st.Delete(k); err != nil {
			return 0, err
		}
		if err := pe.Delete(k); err != nil {
			return 0, err
		}
		acked++
	}
	return acked, nil
}

// AckClaim acks and claims in one transaction.
func (s *Store) AckClaim(ctx context.Context, q state.QueueRef, consumer string, ids []string, n, maxAttempts int) (int, state.Claimed, error) {
	acked := 0
	var c state.Claimed
	err := s.queueTx(q, "ack and claim", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		var err error
		if acked, err = ackTx(tx, tb, q, consumer, ids); err != nil {
			return err
		}
		if n > 0 {
			if c, err = claimTx(tx, tb, q, consumer, n, maxAttempts, now); err != nil {
				return err
			}
		}
		return refreshReady(tx, tb, q, now)
	})
	if err != nil {
		return 0, state.Claimed{}, err
	}
	return acked, c, nil
}

func putDead(tx *bolt.Tx, tb *bolt.Bucket, dest string, e state.Entry, reason string, now int64) error {
	d, err := sub(tx, tb, bDLQ)
	if err != nil {
		return err
	}
	id, err := d.NextSequence()
	if err != nil {
		return err
	}
	e.ID = ""
	return putJSON(d, u64(id), state.DeadLetter{Destination: dest, Entry: e, Reason: reason, At: fromMicros(now)})
}

func (s *Store) Fail(ctx context.Context, q state.QueueRef, consumer string, failures []state.Failure, maxAttempts int) (state.FailResult, error) {
	maxAttempts = max(maxAttempts, 1)
	var res state.FailResult
	err := s.queueTx(q, "fail", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		res = state.FailResult{}
		_, st, pe, re, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		for _, f := range failures {
			k, _, ok := owned(pe, f.ID, consumer)
			if !ok {
				continue
			}
			v := st.Get(k)
			if v == nil {
				if err := pe.Delete(k); err != nil {
					return err
				}
				continue
			}
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			e.ID = ""
			e.Attempts++
			e.LastError = f.Error
			if e.Attempts >= maxAttempts {
				if err := putDead(tx, tb, q.Destination, e, reasonFailed, now); err != nil {
					return err
				}
				res.Dead++
			} else {
				if err := re.Put(retryKey(now+f.RetryAfter.Microseconds(), k), encodeEntry(e)); err != nil {
					return err
				}
				res.Retried++
			}
			if err := st.Delete(k); err != nil {
				return err
			}
			if err := pe.Delete(k); err != nil {
				return err
			}
		}
		return refreshReady(tx, tb, q, now)
	})
	return res, err
}

// Nack re-appends each held entry as a new one (past the claim position,
// so any consumer's next Claim takes it) with its attempts unchanged.
func (s *Store) Nack(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	n := 0
	err := s.queueTx(q, "nack", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		n = 0
		_, st, pe, _, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		for _, id := range ids {
			k, _, ok := owned(pe, id, consumer)
			if !ok {
				continue
			}
			if v := st.Get(k); v != nil {
				next, err := st.NextSequence()
				if err != nil {
					return err
				}
				if err := st.Put(u64(next), bytes.Clone(v)); err != nil {
					return err
				}
				if err := st.Delete(k); err != nil {
					return err
				}
				n++
			}
			if err := pe.Delete(k); err != nil {
				return err
			}
		}
		return refreshReady(tx, tb, q, now)
	})
	return n, err
}

func (s *Store) Reclaim(ctx context.Context, q state.QueueRef, consumer string, minIdle time.Duration, n, maxAttempts int) (state.Claimed, error) {
	if n < 1 {
		return state.Claimed{}, nil
	}
	maxAttempts = max(maxAttempts, 1)
	var res state.Claimed
	err := s.queueTx(q, "reclaim", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		res = state.Claimed{}
		_, st, pe, _, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		type idle struct {
			k []byte
			p pending
		}
		var take []idle
		if err := pe.ForEach(func(k, v []byte) error {
			var p pending
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if p.At+minIdle.Microseconds() <= now && len(take) < n {
				take = append(take, idle{bytes.Clone(k), p})
			}
			return nil
		}); err != nil {
			return err
		}
		for _, it := range take {
			v := st.Get(it.k)
			if v == nil {
				if err := pe.Delete(it.k); err != nil {
					return err
				}
				continue
			}
			e, err := decodeEntry(it.k, v)
			if err != nil {
				return err
			}
			p := pending{Consumer: consumer, At: now, Deliveries: it.p.Deliveries + 1}
			if p.Deliveries > maxAttempts+3 {
				e.ID = ""
				if err := putDead(tx, tb, q.Destination, e, reasonReclaimed, now); err != nil {
					return err
				}
				if err := st.Delete(it.k); err != nil {
					return err
				}
				if err := pe.Delete(it.k); err != nil {
					return err
				}
				res.Dead++
				continue
			}
			if err := putJSON(pe, it.k, p); err != nil {
				return err
			}
			res.Entries = append(res.Entries, e)
		}
		if res.Dead > 0 {
			return refreshReady(tx, tb, q, now)
		}
		return nil
	})
	return res, err
}

func (s *Store) Extend(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	n := 0
	err := s.queueTx(q, "extend", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		n = 0
		_, _, pe, _, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		for _, id := range ids {
			k, p, ok := owned(pe, id, consumer)
			if !ok {
				continue
			}
			p.At = now
			if err := putJSON(pe, k, p); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

func (s *Store) RemoveConsumer(ctx context.Context, q state.QueueRef, consumer string) (bool, error) {
	idle := true
	err := s.view(func(tx *bolt.Tx) error {
		tb, err := tenant(tx, q.Tenant)
		if err != nil {
			return err
		}
		_, _, pe, _, err := queueBuckets(tx, tb, q.Destination)
		if err != nil || pe == nil {
			return err
		}
		return pe.ForEach(func(k, v []byte) error {
			var p pending
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if p.Consumer == consumer {
				idle = false
			}
			return nil
		})
	})
	if err != nil {
		return false, fmt.Errorf("remove consumer %s/%s %s: %w", q.Tenant, q.Destination, consumer, err)
	}
	return idle, nil
}

func count(b *bolt.Bucket) int64 {
	if b == nil {
		return 0
	}
	return int64(b.Stats().KeyN)
}

func (s *Store) Depth(ctx context.Context, q state.QueueRef) (state.Depth, error) {
	var d state.Depth
	err := s.view(func(tx *bolt.Tx) error {
		tb, err := tenant(tx, q.Tenant)
		if err != nil {
			return err
		}
		_, st, pe, re, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		dl, err := sub(tx, tb, bDLQ)
		if err != nil {
			return err
		}
		d = state.Depth{Stream: count(st), Pending: count(pe), Retry: count(re), Dead: count(dl)}
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("depth %s/%s: %w", q.Tenant, q.Destination, err)
	}
	return d, nil
}

func (s *Store) Ready(ctx context.Context, lane string, limit int) ([]state.ReadyQueue, error) {
	if err := state.CheckName("lane", lane); err != nil {
		return nil, err
	}
	var out []state.ReadyQueue
	more := false // whether some ready queue was left out
	list := func(tx *bolt.Tx, now int64) error {
		out, more = nil, false
		b := tx.Bucket(bReady).Bucket([]byte(lane))
		if b == nil {
			return nil
		}
		err := b.ForEach(func(k, v []byte) error {
			at := int64(getU64(v))
			if at > now {
				return nil
			}
			t, d, _ := state.SplitMember(string(k))
			out = append(out, state.ReadyQueue{Tenant: t, Destination: d, At: fromMicros(at)})
			return nil
		})
		slices.SortFunc(out, state.CompareReady)
		if limit > 0 && len(out) > limit {
			out, more = out[:limit], true
		}
		return err
	}
	// A read first, so a worker asking again and again commits nothing
	// unless queues were left out: only then do the listed ones go to the
	// back.
	if err := s.view(func(tx *bolt.Tx) error { return list(tx, s.now().UnixMicro()) }); err != nil {
		return nil, fmt.Errorf("ready %s: %w", lane, err)
	}
	if !more {
		return out, nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		now := s.now().UnixMicro()
		if err := list(tx, now); err != nil {
			return err
		}
		b := tx.Bucket(bReady).Bucket([]byte(lane))
		for _, rq := range out {
			if err := b.Put([]byte(state.Member(rq.Tenant, rq.Destination)), u64(uint64(now))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ready %s: %w", lane, err)
	}
	return out, nil
}

func (s *Store) Park(ctx context.Context, q state.QueueRef, d time.Duration) error {
	return s.queueTx(q, "park", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		qb, st, _, re, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		if k, _ := st.Cursor().Seek(u64(getU64(qb.Get(kLast)) + 1)); k != nil {
			return nil // undelivered entries: stay ready
		}
		if k, _ := st.Cursor().First(); k == nil {
			return refreshReady(tx, tb, q, now)
		}
		until := now + d.Microseconds()
		if k, _ := re.Cursor().First(); k != nil && int64(getU64(k[:8])) < until {
			until = int64(getU64(k[:8]))
		}
		b, err := tx.Bucket(bReady).CreateBucketIfNotExists([]byte(q.Lane))
		if err != nil {
			return err
		}
		return b.Put([]byte(state.Member(q.Tenant, q.Destination)), u64(uint64(until)))
	})
}

func (s *Store) Hold(ctx context.Context, q state.QueueRef, d time.Duration) (bool, error) {
	listed := true
	err := s.queueTx(q, "hold", func(tx *bolt.Tx, tb *bolt.Bucket, now int64) error {
		listed = true
		_, st, _, re, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		until := now + d.Microseconds()
		k, _ := re.Cursor().First()
		switch {
		case k != nil && int64(getU64(k[:8])) < until:
			until = int64(getU64(k[:8]))
		case k == nil:
			if k, _ := st.Cursor().First(); k == nil {
				return refreshReady(tx, tb, q, now)
			}
		}
		b, err := tx.Bucket(bReady).CreateBucketIfNotExists([]byte(q.Lane))
		if err != nil {
			return err
		}
		m := []byte(state.Member(q.Tenant, q.Destination))
		if v := b.Get(m); v != nil {
			at := int64(getU64(v))
			listed = at <= now
			if at >= until {
				return nil
			}
		}
		return b.Put(m, u64(uint64(until)))
	})
	return listed, err
}

func (s *Store) SweepReady(ctx context.Context, qs []state.QueueRef) error {
	err := s.update(func(tx *bolt.Tx) error {
		now := s.now().UnixMicro()
		for _, q := range qs {
			if err := checkQueue(q); err != nil {
				return err
			}
			tb, err := tenant(tx, q.Tenant)
			if err != nil {
				return err
			}
			if err := refreshReady(tx, tb, q, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep ready index: %w", err)
	}
	return nil
}
