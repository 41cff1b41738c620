package sdk

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupported is returned by optional methods a destination does not
// implement (Changes without CapChanges).
var ErrUnsupported = errors.New("not supported by this destination")

// permanentError marks a batch failure that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying: the host bisects the batch to
// find the records that cause it and sends those to the DLQ.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err (or anything it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Severity of a diagnostic.
type Severity int

// The severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// Diagnostic is a problem with a destination's configuration, pointing at
// the attribute it concerns (Path, e.g. ["dsn"]) so the host can show it
// against the HCL source range.
type Diagnostic struct {
	Severity Severity
	Summary  string
	Detail   string
	Path     []string
}

// Diagnostics is a list of diagnostics.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (d Diagnostics) HasErrors() bool {
	for _, x := range d {
		if x.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Err returns the errors as one error, or nil when there are none.
func (d Diagnostics) Err() error {
	var msgs []string
	for _, x := range d {
		if x.Severity != SeverityError {
			continue
		}
		msg := x.Summary
		if len(x.Path) > 0 {
			msg = strings.Join(x.Path, ".") + ": " + msg
		}
		if x.Detail != "" {
			msg += ": " + x.Detail
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// Errorf returns a one-error Diagnostics for the attribute at path.
func Errorf(path []string, format string, args ...any) Diagnostics {
	return Diagnostics{{Severity: SeverityError, Summary: fmt.Sprintf(format, args...), Path: path}}
}
