// Package sock serves a state.Store over a unix socket and connects to one,
// so the operator commands reach an embedded store that a running process
// holds: bbolt locks its file for one process, and the holder serves the
// store beside it (<store>.sock) while it is open.
//
// The transport is HTTP with JSON bodies, from the standard library: one POST
// per Store method, named by the path (/v1/Acquire). The client's context is
// the request's, so a cancelled call closes its connection and the server's
// call sees its context end. Whole structs go over the wire, so fields added
// to the state types travel without any change here. Errors keep their text
// and the state sentinels they wrap (errors.Is works on the client), and
// ScanPages streams one JSON line per page, so neither side holds the whole
// scan.
//
// Only the user who runs the holder may connect: the socket is mode 0600,
// created under a temporary name and renamed into place, and the client
// refuses a socket another user owns or others may write.
package sock

import (
	"context"
	"errors"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// apiPrefix starts every method's path; a change of the wire format changes it.
const apiPrefix = "/v1/"

// sentinels are the errors that keep their identity across the socket, by
// a stable name. Every error in internal/state/errors.go must be here (a
// test checks).
var sentinels = []sentinel{
	{"fenced", state.ErrFenced},
	{"lease-lost", state.ErrLeaseLost},
	{"not-found", state.ErrNotFound},
	{"format-too-new", state.ErrFormatTooNew},
	{"unsafe-store", state.ErrUnsafeStore},
	{"locked", state.ErrLocked},
	{"superseded", state.ErrSuperseded},
	{"invalid", state.ErrInvalid},
	{"canceled", context.Canceled},
	{"deadline-exceeded", context.DeadlineExceeded},
}

type sentinel struct {
	name string
	err  error
}

// wireError is a failed call: the error's text and the names of the
// sentinels it wraps.
type wireError struct {
	Message string   `json:"message"`
	Is      []string `json:"is,omitempty"`
}

func toWire(err error) *wireError {
	w := &wireError{Message: err.Error()}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			w.Is = append(w.Is, s.name)
		}
	}
	return w
}

// remoteError is a server's error on the client: the same text, and
// errors.Is matches the same sentinels.
type remoteError struct {
	msg string
	is  []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.is }

func (w *wireError) err() error {
	e := &remoteError{msg: w.Message}
	for _, name := range w.Is {
		for _, s := range sentinels {
			if s.name == name {
				e.is = append(e.is, s.err)
			}
		}
	}
	return e
}

// reply is a method's answer: its result, and its error if it failed.
type reply[R any] struct {
	Result R          `json:"result"`
	Error  *wireError `json:"error,omitempty"`
}

// scanFrame is one line of a ScanPages stream: a page, or the end (with the
// error that ended it, if any). A stream without an end line was cut off.
type scanFrame struct {
	Page  int64      `json:"page,omitempty"`
	IDs   []string   `json:"ids,omitempty"`
	End   bool       `json:"end,omitempty"`
	Error *wireError `json:"error,omitempty"`
}

// Arguments and results of the methods, one struct each where a method
// takes or returns more than one value.
type (
	none struct{}

	tenantArgs struct{ Tenant string }
	jobArgs    struct{ Tenant, Job string }
	pageArgs   struct {
		Tenant, After string
		Limit         int
	}
	idsArgs struct {
		Tenant, Lane string
		IDs          []string
	}
	idArgs struct{ Tenant, ID string }

	acquireReply struct {
		Lease   state.Lease
		Granted bool
	}
	renewArgs struct {
		Lease state.Lease
		TTL   time.Duration
	}
	scheduleArgs struct {
		Tenant, Job string
		Due         time.Time
		Replace     bool
	}
	dueArgs struct {
		Now   time.Time
		Limit int
	}

	checkpointArgs struct {
		Tenant, Pipeline string
		At               time.Time
	}

	queueArgs struct {
		Queue       state.QueueRef
		Consumer    string
		IDs         []string
		N           int
		MaxAttempts int
		MinIdle     time.Duration
	}
	ackClaimReply struct {
		Acked   int
		Claimed state.Claimed
	}
	failArgs struct {
		Queue       state.QueueRef
		Consumer    string
		Failures    []state.Failure
		MaxAttempts int
	}
	readyArgs struct {
		Lane  string
		Limit int
	}
	parkArgs struct {
		Queue state.QueueRef
		For   time.Duration
	}

	lettersReply struct {
		Letters []state.DeadLetter
		Next    string
	}

	flagArgs struct {
		Tenant string
		Flag   state.Flag
	}
	clearFlagArgs struct {
		Tenant string
		Kind   state.FlagKind
		Scope  string
	}
	credentialArgs struct {
		Tenant string
		Sealed []byte
	}
	swapCredentialArgs struct {
		Tenant      string
		Old, Sealed []byte
	}
	activateArgs struct {
		Version state.ConfigVersion
		Force   bool
	}
	activeReply struct {
		Version state.ConfigVersion
		OK      bool
	}
	auditReply struct {
		Entries []state.AuditEntry
		Next    string
	}

	scanArgs struct{ Tenant, Resource, ScanID string }

	drainArgs struct {
		Tenant, Key string
		For         time.Duration
	}
	noteArgs struct {
		Tenant, Name string
		Value        []byte
	}
)
