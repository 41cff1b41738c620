package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// ErrClosed is returned by calls on a Destination after Close.
var ErrClosed = errors.New("destination closed")

// CrashError reports that the plugin process died (or its connection
// broke) during a call. Stderr holds its last stderr lines.
type CrashError struct {
	Destination string
	Op          string
	Err         error
	Stderr      []string
	// Twice is set when the call was retried after a restart and the
	// plugin died again; Write then bisects the batch.
	Twice bool
}

func (e *CrashError) Error() string {
	what := "exited"
	if e.Twice {
		what = "exited twice"
	}
	return fmt.Sprintf("destination %s: plugin %s during %s: %v%s", e.Destination, what, e.Op, e.Err, stderrText(e.Stderr))
}

func (e *CrashError) Unwrap() error { return e.Err }

// StartError reports a plugin that could not be started or did not
// complete the handshake.
type StartError struct {
	Destination string
	Path        string
	Err         error
	Stderr      []string
}

func (e *StartError) Error() string {
	return fmt.Sprintf("destination %s: start plugin %s: %v%s", e.Destination, e.Path, e.Err, stderrText(e.Stderr))
}

func (e *StartError) Unwrap() error { return e.Err }

// TimeoutError reports a call the plugin did not answer in time. It
// matches context.DeadlineExceeded with errors.Is.
type TimeoutError struct {
	Destination string
	Op          string
	Timeout     time.Duration
	Idle        bool // a stream went quiet for Timeout
}

func (e *TimeoutError) Error() string {
	if e.Idle {
		return fmt.Sprintf("destination %s: %s stream sent nothing for %s; the plugin was stopped and will be restarted", e.Destination, e.Op, e.Timeout)
	}
	return fmt.Sprintf("destination %s: plugin did not answer %s within %s; it was stopped and will be restarted", e.Destination, e.Op, e.Timeout)
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// BreakerOpenError is returned without calling the plugin while the
// tenant's circuit breaker is open.
type BreakerOpenError struct {
	Destination string
	Tenant      string
	Until       time.Time
	Last        error
}

func (e *BreakerOpenError) Error() string {
	return fmt.Sprintf("destination %s: circuit open for tenant %s until %s after repeated failures (last: %v)",
		e.Destination, e.Tenant, e.Until.UTC().Format(time.RFC3339), e.Last)
}

func (e *BreakerOpenError) Unwrap() error { return e.Last }

// ConfigError carries the error diagnostics a plugin returned for its
// config, for the caller to show against the HCL source.
type ConfigError struct {
	Destination string
	Diagnostics sdk.Diagnostics
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("destination %s: invalid config: %v", e.Destination, e.Diagnostics.Err())
}

func stderrText(lines []string) string {
	if len(lines) == 0 {
		return " (the plugin wrote nothing to stderr)"
	}
	return "\nlast plugin stderr lines:\n  " + strings.Join(lines, "\n  ")
}
