package runtime

import "sort"

// laneRound visits lanes in weighted round-robin: a lane of weight 3 is
// visited three times for each visit of a lane of weight 1, interleaved
// (smooth weighted round-robin) so no lane waits a whole round.
type laneRound struct {
	names   []string
	weights []int
	current []int
	total   int
}

func newLaneRound(lanes map[string]int) *laneRound {
	lr := &laneRound{}
	for name := range lanes {
		lr.names = append(lr.names, name)
	}
	sort.Strings(lr.names)
	for _, name := range lr.names {
		w := max(lanes[name], 1)
		lr.weights = append(lr.weights, w)
		lr.total += w
	}
	lr.current = make([]int, len(lr.names))
	return lr
}

// size is the number of visits in one full round.
func (lr *laneRound) size() int { return lr.total }

// next returns the lane to visit now.
func (lr *laneRound) next() string {
	best := 0
	for i := range lr.names {
		lr.current[i] += lr.weights[i]
		if lr.current[i] > lr.current[best] {
			best = i
		}
	}
	lr.current[best] -= lr.total
	return lr.names[best]
}

// fairQueue hands out a look's due jobs (given in due order) a few at a
// time, as slots free, in a fair order when more are due than slots are
// free: lanes in weighted round-robin (lr carries on across looks), the
// tenants of a lane in turn in the order of their earliest due job, and
// each tenant's jobs in due order. So a premium tenant starts first under
// contention, and a tenant with many due jobs cannot take every slot of
// its lane. A job not handed out stays due, so the next look lists it
// again.
//
// It is built once per look at the due index, so a job's end costs a
// pick, not a new order of every job still waiting (at hundreds of slots
// and jobs a second, rebuilding it at each end was a fifth of the
// scheduler's CPU).
type fairQueue struct {
	lr    *laneRound
	lanes map[string][][]jobRef // lane → its tenants' due jobs still waiting
	turn  map[string]int        // lane → the tenant whose turn it is
	left  int
}

func newFairQueue(due []jobRef, lr *laneRound) *fairQueue {
	q := &fairQueue{lr: lr, lanes: map[string][][]jobRef{}, turn: map[string]int{}, left: len(due)}
	at := map[string]int{} // tenant → index in its lane
	for _, j := range due {
		lane := j.tenant.Lane
		i, ok := at[j.tenant.ID]
		if !ok {
			i = len(q.lanes[lane])
			at[j.tenant.ID] = i
			q.lanes[lane] = append(q.lanes[lane], nil)
		}
		q.lanes[lane][i] = append(q.lanes[lane][i], j)
	}
	return q
}

// take hands out up to n waiting jobs. When n covers every job left they
// all go, in no particular order (they start together) and without
// moving the lanes' round: there is no contention to settle.
func (q *fairQueue) take(n int) []jobRef {
	if n <= 0 || q.left == 0 {
		return nil
	}
	if n >= q.left {
		out := make([]jobRef, 0, q.left)
		for _, ts := range q.lanes {
			for _, js := range ts {
				out = append(out, js...)
			}
		}
		clear(q.lanes)
		q.left = 0
		return out
	}
	out := make([]jobRef, 0, n)
	for len(out) < n {
		// Lanes with nothing due are passed over; a full round visits every
		// lane, so at most one round passes before a pick.
		picked := false
		for range q.lr.size() {
			lane := q.lr.next()
			ts := q.lanes[lane]
			if len(ts) == 0 {
				continue
			}
			i := q.turn[lane] % len(ts)
			out = append(out, ts[i][0])
			if ts[i] = ts[i][1:]; len(ts[i]) == 0 {
				q.lanes[lane] = append(ts[:i], ts[i+1:]...)
				q.turn[lane] = i // the next tenant moved into i
			} else {
				q.turn[lane] = i + 1
			}
			picked = true
			break
		}
		if !picked {
			break // only lanes lr does not know are left: New gives every tenant's lane a weight
		}
	}
	q.left -= len(out)
	return out
}
