package runtime

import "sync/atomic"

// stats counts what a run did, for RunOnce's summary.
type stats struct {
	jobsRun, jobsSkipped atomic.Int64
	enqueued, written    atomic.Int64
	retried, dead        atomic.Int64
	pollErrors           atomic.Int64
}

func (s *stats) summary() Summary {
	return Summary{
		JobsRun: int(s.jobsRun.Load()), JobsSkipped: int(s.jobsSkipped.Load()),
		Enqueued: s.enqueued.Load(), Written: s.written.Load(),
		Retried: s.retried.Load(), Dead: s.dead.Load(), PollErrors: s.pollErrors.Load(),
	}
}
