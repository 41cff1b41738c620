//go:build unix

package runtime_test

import (
	"syscall"
	"time"
)

// cpuTimes are the user + system CPU time of this process and of its
// children that have exited and been waited for (a closed plugin, a
// stopped redis-server), so a benchmark can report a cost per record that
// a busy machine does not inflate.
func cpuTimes() (self, children time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return self, children
}
