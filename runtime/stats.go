package runtime

import (
	"sync"
	"sync/atomic"

	"github.com/siphonhq/siphon/internal/state"
)

// stats counts what a run did, for RunOnce's summary.
type stats struct {
	jobsRun, jobsSkipped atomic.Int64
	enqueued, written    atomic.Int64
	retried, dead        atomic.Int64
	pollErrors           atomic.Int64

	mu     sync.Mutex
	paused map[state.QueueRef]bool // queues skipped for a paused pipeline
	down   map[state.QueueRef]bool // queues left to a destination found down
}

// skipped notes a queue left waiting for a paused pipeline.
func (s *stats) skipped(q state.QueueRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused == nil {
		s.paused = map[state.QueueRef]bool{}
	}
	s.paused[q] = true
}

// destinationDown notes a queue left waiting for a destination found down.
func (s *stats) destinationDown(q state.QueueRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down == nil {
		s.down = map[state.QueueRef]bool{}
	}
	s.down[q] = true
}

func (s *stats) summary() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Summary{
		JobsRun: int(s.jobsRun.Load()), JobsSkipped: int(s.jobsSkipped.Load()),
		Enqueued: s.enqueued.Load(), Written: s.written.Load(),
		Retried: s.retried.Load(), Dead: s.dead.Load(), PollErrors: s.pollErrors.Load(),
		Paused: len(s.paused), DestinationDown: len(s.down),
	}
}
