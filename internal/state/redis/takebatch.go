package redis

import (
	"context"
	"fmt"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
)

// takeBatcher sends budget takes to one server in runs of its script
// (takeScript, or takeLendScript for takes that may borrow) that carry
// many requests each (group commit, for rate budgets): a take goes
// out at once while fewer than takeRunners runs are on their way, and
// the takes that arrive meanwhile wait for the next free runner, which
// sends them all, up to takeBatchMax, in one script. A hub's many polling
// jobs each take a token per source request, so under load most of a
// take's cost (the call, the script's start, the clock) is shared, and a
// lone take waits for nothing. Requests in one run are taken in arrival
// order, each as if it had come alone.
type takeBatcher struct {
	rdb    goredis.Scripter
	script *goredis.Script // takeScript or takeLendScript

	mu      sync.Mutex
	queue   []*takeCall
	running int
}

// takeRunners is how many runs may be on their way at once; takeBatchMax
// bounds the requests of one run, so one script stays short.
const (
	takeRunners  = 4
	takeBatchMax = 64
)

// takeCall is one request waiting for its run.
type takeCall struct {
	ctx  context.Context
	keys []string
	args []byte
	res  state.TakeResult
	err  error
	done chan struct{}
}

func newTakeBatcher(rdb goredis.Scripter, script *goredis.Script) *takeBatcher {
	return &takeBatcher{rdb: rdb, script: script}
}

// take queues one request and waits for its reply. A caller whose context
// ends first returns then; its request, if already sent, keeps its tokens
// (its slot goes unused, which only lowers the rate).
func (b *takeBatcher) take(ctx context.Context, keys []string, args []byte) (state.TakeResult, error) {
	c := &takeCall{ctx: ctx, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	start := b.running < takeRunners
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.run()
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		return state.TakeResult{}, ctx.Err()
	}
}

// run sends the queued requests in runs until none is left.
func (b *takeBatcher) run() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), takeBatchMax)
		calls := b.queue[:n:n]
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil // let the backing array go
		}
		b.mu.Unlock()
		b.send(calls)
	}
}

// send runs one script for the calls whose callers still wait.
func (b *takeBatcher) send(calls []*takeCall) {
	live := calls[:0]
	var keys []string
	var args []any
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
		keys = append(keys, c.keys...)
		args = append(args, c.args)
	}
	if len(live) == 0 {
		return
	}
	// The run serves every caller in it, so no one caller's context may
	// cut it short; the client's own timeouts bound it.
	res, err := b.script.Run(context.Background(), b.rdb, keys, args...).Slice()
	if err == nil && len(res) != 2*len(live) {
		err = fmt.Errorf("unexpected reply of %d values to %d takes", len(res), len(live))
	}
	for i, c := range live {
		if err != nil {
			c.err = err
		} else {
			c.res = takeResult(res[2*i], res[2*i+1])
		}
		close(c.done)
	}
}
