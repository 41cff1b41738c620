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
