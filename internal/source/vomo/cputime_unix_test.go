//go:build unix

package vomo

import (
	"syscall"
	"time"
)

// cpuTime is the process's user + system CPU time, so a benchmark can
// report a cost that a busy machine does not inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
