package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
)

func checkQueue(q state.QueueRef) error {
	if err := state.CheckName("tenant", q.Tenant); err != nil {
		return err
	}
	if err := state.CheckName("destination", q.Destination); err != nil {
		return err
	}
	return state.CheckName("lane", q.Lane)
}

func (s *Store) CommitPage(ctx context.Context, c state.PageCommit) (state.CommitResult, error) {
	l := c.Lease
	fail := func(err error) (state.CommitResult, error) {
		return state.CommitResult{}, fmt.Errorf("commit page %s/%s: %w", l.Tenant, l.Job, err)
	}
	if err := checkJob(l.Tenant, l.Job); err != nil {
		return fail(err)
	}
	ks := []string{s.k.op(l.Tenant, newID()), s.k.job(l.Tenant, l.Job), s.k.seq(l.Tenant)}
	hasScan := "0"
	if c.Scan != nil {
		hasScan = "1"
	}
	args := append(make([]any, 0, 16+len(c.Walks)*9), opTTL)
	args = append(args, fenceArgs(l)...)
	args = append(args, len(c.Walks), len(c.Enqueue), hasScan, group)
	for _, w := range c.Walks {
		if err := state.CheckName("pipeline", w.Pipeline); err != nil {
			return fail(err)
		}
		ks = append(ks, s.k.checkpoint(l.Tenant, w.Pipeline))
		complete := "0"
		if w.Complete {
			complete = "1"
		}
		args = append(args, w.Pipeline, w.Generation, us(w.Walk.After), us(w.Walk.Cap), w.Walk.Position, w.Walk.Total, w.Walk.Records, w.Walk.Progress, complete)
	}
	for _, eq := range c.Enqueue {
		if err := checkQueue(eq.Queue); err != nil {
			return fail(err)
		}
		if eq.Queue.Tenant != l.Tenant {
			return fail(fmt.Errorf("%w: queue of tenant %q in a commit of %q", state.ErrInvalid, eq.Queue.Tenant, l.Tenant))
		}
		ks = append(ks, s.k.stream(l.Tenant, eq.Queue.Destination))
		args = append(args, len(eq.Entries))
		for _, e := range eq.Entries {
			args = append(args, e.Pipeline, e.Key, e.Op, us(e.Version), e.ConfigGeneration, e.Seq, e.ContentHash, e.Payload, e.Trace)
		}
	}
	if c.Scan != nil {
		if err := state.CheckName("resource", c.Scan.Resource); err != nil {
			return fail(err)
		}
		ks = append(ks, s.k.scan(l.Tenant, c.Scan.Resource, c.Scan.ScanID))
		args = append(args, c.Scan.Page, state.EncodeIDs(c.Scan.IDs))
	}
	var marks []string // the ready-index shard and member of each queue given entries
	for _, eq := range c.Enqueue {
		if len(eq.Entries) > 0 {
			m := state.Member(eq.Queue.Tenant, eq.Queue.Destination)
			marks = append(marks, s.k.readyShardOf(eq.Queue.Lane, m), m)
		}
	}
	res, err := s.commitPage(ctx, ks, args, marks)
	if err != nil {
		return fail(err)
	}
	if asInt(res[0]) == -1 {
		return fail(state.ErrFenced)
	}
	var out state.CommitResult
	for i, w := range c.Walks {
		if asInt(res[2+i]) == 1 {
			out.Applied = append(out.Applied, w.Pipeline)
		} else {
			out.Skipped = append(out.Skipped, w.Pipeline)
		}
	}
	for i := range c.Enqueue {
		out.Enqueued += int(asInt(res[2+len(c.Walks)+i]))
	}
	return out, nil
}

// commitPage runs the page script and marks the queues given entries as
// ready now. The ready index is outside the tenant's slot, so the marks are
// their own commands, sent behind the script in one pipeline: one round
// trip. They come after the script, so a worker that drains the queue and
// settles its index in between sees the new entries when it re-reads the
// stream (see settleReady), or its removal comes before the mark. A mark
// the script did not earn (fenced, or every entry of a skipped walk) lists
// an empty queue as ready, which the first worker to look settles: an
// empty claim, then Park drops it from the index. Retrying the whole
// pipeline is safe: the script answers a re-run from its operation record,
// and ZADD LT only ever lowers a score to now.
//
// A cluster runs a pipeline's per-node parts concurrently, which would lose
// that order, so there the marks follow in a second pipeline: still one
// round trip per node.
func (s *Store) commitPage(ctx context.Context, ks []string, args []any, marks []string) ([]any, error) {
	if _, cluster := s.rdb.(*goredis.ClusterClient); cluster || len(marks) == 0 {
		res, err := commitPageScript.Run(ctx, s.rdb, ks, args...).Slice()
		if err != nil || asInt(res[0]) == -1 || len(marks) == 0 {
			return res, err
		}
		pipe := s.rdb.Pipeline()
		for i := 0; i < len(marks); i += 2 {
			pipe.ZAddLT(ctx, marks[i], goredis.Z{Score: float64(asInt(res[1])), Member: marks[i+1]})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("mark ready: %w", err)
		}
		return res, nil
	}
	res, err := s.commitAndMark(ctx, commitPageScript.EvalSha, markReadyScript.EvalSha, ks, args, marks)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		// The server lost its scripts (a restart without them in the
		// AOF, SCRIPT FLUSH): send the bodies once; EVAL loads them.
		res, err = s.commitAndMark(ctx, commitPageScript.Eval, markReadyScript.Eval, ks, args, marks)
	}
	return res, err
}

type evalFunc func(ctx context.Context, c goredis.Scripter, keys []string, args ...any) *goredis.Cmd

func (s *Store) commitAndMark(ctx context.Context, commit, mark evalFunc, ks []string, args []any, marks []string) ([]any, error) {
	pipe := s.rdb.Pipeline()
	cmd := commit(ctx, pipe, ks, args...)
	for i := 0; i < len(marks); i += 2 {
		mark(ctx, pipe, marks[i:i+1], marks[i+1])
	}
	if _, err := pipe.Exec(ctx); err != nil {
		if cerr := cmd.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("mark ready: %w", err)
	}
	return cmd.Slice()
}

func (s *Store) readyAdd(ctx context.Context, c goredis.Cmdable, q state.QueueRef, at int64) {
	m := state.Member(q.Tenant, q.Destination)
	c.ZAddLT(ctx, s.k.readyShardOf(q.Lane, m), goredis.Z{Score: float64(at), Member: m})
}

// settleReady updates the ready index after a step that may have emptied
// the stream. A queue leaves the index (or waits for its earliest retry)
// only when its stream is empty; the state is read again afterwards, so an
// enqueue that raced the removal is never lost: either the re-check sees
// its entries, or its own ZADD came after the removal.
func (s *Store) settleReady(ctx context.Context, q state.QueueRef, length, retryAt int64) error {
	if length > 0 {
		return nil
	}
	m := state.Member(q.Tenant, q.Destination)
	key := s.k.readyShardOf(q.Lane, m)
	var err error
	if retryAt >= 0 {
		err = s.rdb.ZAdd(ctx, key, goredis.Z{Score: float64(retryAt), Member: m}).Err()
	} else {
		err = s.rdb.ZRem(ctx, key, m).Err()
	}
	if err != nil {
		return err
	}
	res, err := queueStateScript.Run(ctx, s.rdb, []string{s.k.stream(q.Tenant, q.Destination), s.k.retry(q.Tenant, q.Destination)}).Slice()
	if err != nil {
		return err
	}
	switch l, at, now := asInt(res[0]), asInt(res[1]), asInt(res[2]); {
	case l > 0:
		s.readyAdd(ctx, s.rdb, q, now)
	case at >= 0:
		s.readyAdd(ctx, s.rdb, q, at)
	}
	return nil
}

func (s *Store) queueKeys(q state.QueueRef) (stream, retry, retryData string) {
	return s.k.stream(q.Tenant, q.Destination), s.k.retry(q.Tenant, q.Destination), s.k.retryData(q.Tenant, q.Destination)
}

func (s *Store) Claim(ctx context.Context, q state.QueueRef, consumer string, n, maxAttempts int) (state.Claimed, error) {
	if err := checkQueue(q); err != nil {
		return state.Claimed{}, fmt.Errorf("claim %s/%s: %w", q.Tenant, q.Destination, err)
	}
	if n < 1 {
		return state.Claimed{}, nil
	}
	st, r, rd := s.queueKeys(q)
	res, err := claimScript.Run(ctx, s.rdb, []string{st, r, rd, s.k.dlq(q.Tenant)}, group, consumer, n, max(maxAttempts, 1), q.Destination).Slice()
	if err != nil {
		return state.Claimed{}, fmt.Errorf("claim %s/%s: %w", q.Tenant, q.Destination, err)
	}
	return s.claimed(ctx, q, "claim", res)
}

// claimed decodes the reply of the claim and reclaim scripts and, when they
// moved entries to the DLQ, settles the queue's ready index; verb names the
// call in the error.
func (s *Store) claimed(ctx context.Context, q state.QueueRef, verb string, res []any) (state.Claimed, error) {
	out := state.Claimed{Entries: entriesOf(asSlice(res[0])), Dead: int(asInt(res[1]))}
	if out.Dead > 0 {
		if err := s.settleReady(ctx, q, asInt(res[2]), asInt(res[3])); err != nil {
			return out, fmt.Errorf("%s %s/%s: ready index: %w", verb, q.Tenant, q.Destination, err)
		}
	}
	return out, nil
}

// entriesOf decodes {{id, {field, value, …}}, …}.
func entriesOf(res []any) []state.Entry {
	out := make([]state.Entry, 0, len(res))
	for _, raw := range res {
		e := asSlice(raw)
		if len(e) < 2 {
			continue
		}
		f := asSlice(e[1])
		entry := state.Entry{ID: asString(e[0])}
		for i := 0; i+1 < len(f); i += 2 {
			setField(&entry, asString(f[i]), asString(f[i+1]))
		}
		out = append(out, entry)
	}
	return out
}

// setField sets one stream field of a queue entry (names in commitPageScript).
func setField(e *state.Entry, name, v string) {
	num := func() int64 {
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	switch name {
	case "p":
		e.Pipeline = v
	case "k":
		e.Key = v
	case "o":
		e.Op = v
	case "v":
		e.Version = fromUS(num())
	case "g":
		e.ConfigGeneration = num()
	case "s":
		e.Seq = num()
	case "h":
		e.ContentHash = v
	case "d":
		e.Payload = []byte(v)
	case "t":
		e.Trace = v
	case "a":
		e.Attempts = int(num())
	case "e":
		e.LastError = v
	}
}

func (s *Store) Ack(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	if err := checkQueue(q); err != nil {
		return 0, fmt.Errorf("ack %s/%s: %w", q.Tenant, q.Destination, err)
	}
	st, r, _ := s.queueKeys(q)
	ids = validIDs(ids)
	lo, hi := idRange(ids)
	args := append([]any{group, consumer, lo, hi}, anys(ids)...)
	res, err := ackScript.Run(ctx, s.rdb, []string{st, r}, args...).Slice()
	if err != nil {
		return 0, fmt.Errorf("ack %s/%s: %w", q.Tenant, q.Destination, err)
	}
	if err := s.settleReady(ctx, q, asInt(res[1]), asInt(res[2])); err != nil {
		return int(asInt(res[0])), fmt.Errorf("ack %s/%s: ready index: %w", q.Tenant, q.Destination, err)
	}
	return int(asInt(res[0])), nil
}

func (s *Store) AckClaim(ctx context.Context, q state.QueueRef, consumer string, ids []string, n, maxAttempts int) (int, state.Claimed, error) {
	if n < 1 {
		acked, err := s.Ack(ctx, q, consumer, ids)
		return acked, state.Claimed{}, err
	}
	if err := checkQueue(q); err != nil {
		return 0, state.Claimed{}, fmt.Errorf("ack and claim %s/%s: %w", q.Tenant, q.Destination, err)
	}
	st, r, rd := s.queueKeys(q)
	ids = validIDs(ids)
	lo, hi := idRange(ids)
	args := append([]any{group, consumer, n, max(maxAttempts, 1), q.Destination, lo, hi}, anys(ids)...)
	res, err := ackClaimScript.Run(ctx, s.rdb, []string{st, r, rd, s.k.dlq(q.Tenant)}, args...).Slice()
	if err != nil {
		return 0, state.Claimed{}, fmt.Errorf("ack and claim %s/%s: %w", q.Tenant, q.Destination, err)
	}
	acked := int(asInt(res[0]))
	c := state.Claimed{Entries: entriesOf(asSlice(res[1])), Dead: int(asInt(res[2]))}
	// A claim that took entries leaves the stream non-empty, so the ready
	// index needs a step only when the ack emptied it or the claim sent
	// entries to the DLQ (settleReady checks the length).
	if err := s.settleReady(ctx, q, asInt(res[3]), asInt(res[4])); err != nil {
		return acked, c, fmt.Errorf("ack and claim %s/%s: ready index: %w", q.Tenant, q.Destination, err)
	}
	return acked, c, nil
}

// idRange returns the lowest and highest of valid stream ids ("-", "+"
// when there are none).
func idRange(ids []string) (lo, hi string) {
	lo, hi = "-", "+"
	var loK, hiK [2]uint64
	for i, id := range ids {
		k := idKey(id)
		if i == 0 || k[0] < loK[0] || (k[0] == loK[0] && k[1] < loK[1]) {
			lo, loK = id, k
		}
		if i == 0 || k[0] > hiK[0] || (k[0] == hiK[0] && k[1] > hiK[1]) {
			hi, hiK = id, k
		}
	}
	return lo, hi
}

func idKey(id string) [2]uint64 {
	ms, seq, _ := strings.Cut(id, "-")
	a, _ := strconv.ParseUint(ms, 10, 64)
	b, _ := strconv.ParseUint(seq, 10, 64)
	return [2]uint64{a, b}
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (s *Store) Fail(ctx context.Context, q state.QueueRef, consumer string, failures []state.Failure, maxAttempts int) (state.FailResult, error) {
	if err := checkQueue(q); err != nil {
		return state.FailResult{}, fmt.Errorf("fail %s/%s: %w", q.Tenant, q.Destination, err)
	}
	st, r, rd := s.queueKeys(q)
	args := []any{group, consumer, max(maxAttempts, 1), q.Destination}
	for _, f := range failures {
		if streamID.MatchString(f.ID) {
			args = append(args, f.ID, f.Error, f.RetryAfter.Microseconds())
		}
	}
	res, err := failScript.Run(ctx, s.rdb, []string{st, r, rd, s.k.dlq(q.Tenant)}, args...).Slice()
	if err != nil {
		return state.FailResult{}, fmt.Errorf("fail %s/%s: %w", q.Tenant, q.Destination, err)
	}
	out := state.FailResult{Retried: int(asInt(res[0])), Dead: int(asInt(res[1]))}
	if err := s.settleReady(ctx, q, asInt(res[2]), asInt(res[3])); err != nil {
		return out, fmt.Errorf("fail %s/%s: ready index: %w", q.Tenant, q.Destination, err)
	}
	return out, nil
}

// Nack re-adds the held entries as new ones, then lists the queue as ready
// now (ZADD LT: a parked queue wakes, an earlier score stays).
func (s *Store) Nack(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	if err := checkQueue(q); err != nil {
		return 0, fmt.Errorf("nack %s/%s: %w", q.Tenant, q.Destination, err)
	}
	args := append([]any{group, consumer}, anys(validIDs(ids))...)
	res, err := nackScript.Run(ctx, s.rdb, []string{s.k.stream(q.Tenant, q.Destination)}, args...).Slice()
	if err != nil {
		return 0, fmt.Errorf("nack %s/%s: %w", q.Tenant, q.Destination, err)
	}
	n := int(asInt(res[0]))
	if n > 0 {
		m := state.Member(q.Tenant, q.Destination)
		if err := s.rdb.ZAddLT(ctx, s.k.readyShardOf(q.Lane, m), goredis.Z{Score: float64(asInt(res[1])), Member: m}).Err(); err != nil {
			return n, fmt.Errorf("nack %s/%s: ready index: %w", q.Tenant, q.Destination, err)
		}
	}
	return n, nil
}

func (s *Store) Reclaim(ctx context.Context, q state.QueueRef, consumer string, minIdle time.Duration, n, maxAttempts int) (state.Claimed, error) {
	if err := checkQueue(q); err != nil {
		return state.Claimed{}, fmt.Errorf("reclaim %s/%s: %w", q.Tenant, q.Destination, err)
	}
	if n < 1 {
		return state.Claimed{}, nil
	}
	st, r, _ := s.queueKeys(q)
	res, err := reclaimScript.Run(ctx, s.rdb, []string{st, r, s.k.dlq(q.Tenant)},
		group, consumer, minIdle.Milliseconds(), n, max(maxAttempts, 1), q.Destination).Slice()
	if err != nil {
		return state.Claimed{}, fmt.Errorf("reclaim %s/%s: %w", q.Tenant, q.Destination, err)
	}
	return s.claimed(ctx, q, "reclaim", res)
}

func (s *Store) Extend(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	if err := checkQueue(q); err != nil {
		return 0, fmt.Errorf("extend %s/%s: %w", q.Tenant, q.Destination, err)
	}
	args := append([]any{group, consumer}, anys(validIDs(ids))...)
	n, err := extendScript.Run(ctx, s.rdb, []string{s.k.stream(q.Tenant, q.Destination)}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("extend %s/%s: %w", q.Tenant, q.Destination, err)
	}
	return n, nil
}

func (s *Store) RemoveConsumer(ctx context.Context, q state.QueueRef, consumer string) (bool, error) {
	if err := checkQueue(q); err != nil {
		return false, fmt.Errorf("remove consumer %s/%s: %w", q.Tenant, q.Destination, err)
	}
	n, err := removeConsumerScript.Run(ctx, s.rdb, []string{s.k.stream(q.Tenant, q.Destination)}, group, consumer).Int()
	if err != nil {
		return false, fmt.Errorf("remove consumer %s/%s %s: %w", q.Tenant, q.Destination, consumer, err)
	}
	return n == 1, nil
}

func (s *Store) Depth(ctx context.Context, q state.QueueRef) (state.Depth, error) {
	if err := checkQueue(q); err != nil {
		return state.Depth{}, fmt.Errorf("depth %s/%s: %w", q.Tenant, q.Destination, err)
	}
	st, r, _ := s.queueKeys(q)
	res, err := depthScript.Run(ctx, s.rdb, []string{st, r, s.k.dlq(q.Tenant)}, group).Slice()
	if err != nil {
		return state.Depth{}, fmt.Errorf("depth %s/%s: %w", q.Tenant, q.Destination, err)
	}
	return state.Depth{Stream: asInt(res[0]), Pending: asInt(res[1]), Retry: asInt(res[2]), Dead: asInt(res[3])}, nil
}

// Ready reads the lowest-scored members of every shard of the lane together
// with the server's time, in one pipeline, then, when it may have left
// some out, moves the ones it returns to the back in a second: ZADD XX GT
// only raises a score to now, so a queue drained meanwhile is not put back
// and a parked one stays parked.
func (s *Store) Ready(ctx context.Context, lane string, limit int) ([]state.ReadyQueue, error) {
	if err := state.CheckName("lane", lane); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	pipe := s.rdb.Pipeline()
	tm := pipe.Time(ctx)
	cmds := make([]*goredis.ZSliceCmd, s.k.shards)
	for i := range cmds {
		cmds[i] = pipe.ZRangeWithScores(ctx, s.k.readyShard(lane, i), 0, int64(limit-1))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("ready %s: %w", lane, err)
	}
	now := tm.Val().UnixMicro()
	var out []state.ReadyQueue
	more := false // whether some ready queue may be left out
	for _, c := range cmds {
		more = more || len(c.Val()) == limit
		for _, z := range c.Val() {
			if int64(z.Score) > now {
				break
			}
			t, d, _ := state.SplitMember(z.Member.(string))
			out = append(out, state.ReadyQueue{Tenant: t, Destination: d, At: fromUS(int64(z.Score))})
		}
	}
	slices.SortFunc(out, state.CompareReady)
	if len(out) > limit {
		out, more = out[:limit], true
	}
	if !more {
		return out, nil // every ready queue is listed: no turn to take
	}
	byShard := map[string][]goredis.Z{}
	for _, rq := range out {
		m := state.Member(rq.Tenant, rq.Destination)
		key := s.k.readyShardOf(lane, m)
		byShard[key] = append(byShard[key], goredis.Z{Score: float64(now), Member: m})
	}
	pipe = s.rdb.Pipeline()
	for key, zs := range byShard {
		pipe.ZAddArgs(ctx, key, goredis.ZAddArgs{XX: true, GT: true, Members: zs})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("ready %s: to the back: %w", lane, err)
	}
	return out, nil
}

// Park raises the queue's ready score past now only while nothing is
// undelivered, then reads the state again: an enqueue that raced the park
// either shows in the re-read or lowers the score after it (ZADD LT).
func (s *Store) Park(ctx context.Context, q state.QueueRef, d time.Duration) error {
	if err := checkQueue(q); err != nil {
		return fmt.Errorf("park %s/%s: %w", q.Tenant, q.Destination, err)
	}
	st, r, _ := s.queueKeys(q)
	read := func() (undelivered, length, at, now int64, err error) {
		res, err := parkStateScript.Run(ctx, s.rdb, []string{st, r}, group).Slice()
		if err != nil {
			return 0, 0, 0, 0, err
		}
		return asInt(res[0]), asInt(res[1]), asInt(res[2]), asInt(res[3]), nil
	}
	undelivered, length, at, now, err := read()
	if err != nil {
		return fmt.Errorf("park %s/%s: %w", q.Tenant, q.Destination, err)
	}
	switch {
	case undelivered > 0:
		return nil
	case length == 0:
		if err := s.settleReady(ctx, q, length, at); err != nil {
			return fmt.Errorf("park %s/%s: %w", q.Tenant, q.Destination, err)
		}
		return nil
	}
	until := now + d.Microseconds()
	if at >= 0 && at < until {
		until = at
	}
	m := state.Member(q.Tenant, q.Destination)
	if err := s.rdb.ZAddGT(ctx, s.k.readyShardOf(q.Lane, m), goredis.Z{Score: float64(until), Member: m}).Err(); err != nil {
		return fmt.Errorf("park %s/%s: %w", q.Tenant, q.Destination, err)
	}
	if undelivered, _, _, now, err = read(); err != nil {
		return fmt.Errorf("park %s/%s: %w", q.Tenant, q.Destination, err)
	}
	if undelivered > 0 {
		s.readyAdd(ctx, s.rdb, q, now)
	}
	return nil
}

// Hold raises the queue's ready score to now + d (or its earliest retry),
// whatever is undelivered; an enqueue after it lowers the score again
// (ZADD LT). The queue's state and the ready index may be in different
// cluster slots: two scripts.
func (s *Store) Hold(ctx context.Context, q state.QueueRef, d time.Duration) (bool, error) {
	if err := checkQueue(q); err != nil {
		return false, fmt.Errorf("hold %s/%s: %w", q.Tenant, q.Destination, err)
	}
	st, r, _ := s.queueKeys(q)
	res, err := parkStateScript.Run(ctx, s.rdb, []string{st, r}, group).Slice()
	if err != nil {
		return false, fmt.Errorf("hold %s/%s: %w", q.Tenant, q.Destination, err)
	}
	length, at := asInt(res[1]), asInt(res[2])
	if length == 0 && at < 0 {
		return true, nil // empty: nothing to hold
	}
	m := state.Member(q.Tenant, q.Destination)
	listed, err := holdScript.Run(ctx, s.rdb, []string{s.k.readyShardOf(q.Lane, m)}, m, d.Microseconds(), at).Int()
	if err != nil {
		return false, fmt.Errorf("hold %s/%s: %w", q.Tenant, q.Destination, err)
	}
	return listed == 1, nil
}

// SweepReady recomputes the given queues' index entries from their state.
func (s *Store) SweepReady(ctx context.Context, qs []state.QueueRef) error {
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.Cmd, len(qs))
	for i, q := range qs {
		if err := checkQueue(q); err != nil {
			return fmt.Errorf("sweep ready index: %w", err)
		}
		st, r, _ := s.queueKeys(q)
		cmds[i] = queueStateScript.Eval(ctx, pipe, []string{st, r})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("sweep ready index: %w", err)
	}
	for i, q := range qs {
		res, err := cmds[i].Slice()
		if err != nil {
			return fmt.Errorf("sweep ready index %s/%s: %w", q.Tenant, q.Destination, err)
		}
		l, at, now := asInt(res[0]), asInt(res[1]), asInt(res[2])
		if l > 0 {
			s.readyAdd(ctx, s.rdb, q, now)
			continue
		}
		if err := s.settleReady(ctx, q, l, at); err != nil {
			return fmt.Errorf("sweep ready index %s/%s: %w", q.Tenant, q.Destination, err)
		}
	}
	return nil
}
