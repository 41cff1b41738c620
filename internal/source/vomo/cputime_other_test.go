//go:build !unix

package vomo

import "time"

func cpuTime() time.Duration { return 0 }
