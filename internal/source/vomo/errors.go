package vomo

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sentinels, one per way a request can fail. Test with errors.Is; the
// *Error behind them (errors.As) carries the details.
var (
	// ErrUnauthorized is a 401: the token expired or was revoked. Pause the
	// tenant with a reason; never retry in a loop.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden is a 403: the token lacks a scope. Pause that resource
	// for the tenant.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound is a 404 (or 410): the record or the parent is gone.
	ErrNotFound = errors.New("not found")
	// ErrRateLimited is a 429 that outlived its retries, or a Retry-After
	// longer than the client will wait. Error.Until says when to ask again.
	ErrRateLimited = errors.New("rate limited")
	// ErrTransient is a 5xx, 408, a timeout or a network error that
	// outlived its retries.
	ErrTransient = errors.New("transient failure")
	// ErrMalformed is a body that is not what the endpoint promises
	// (truncated JSON, HTML, missing data or meta, wrong types), after its
	// retries. It is never read as "zero records".
	ErrMalformed = errors.New("malformed response")
	// ErrValidation is a 422 with field errors: permanent.
	ErrValidation = errors.New("validation failed")
	// ErrStatus is any other unexpected status (400, 405, 409, …): permanent.
	ErrStatus = errors.New("unexpected status")
	// ErrNoProgress is a walk that kept stepping back without converging.
	ErrNoProgress = errors.New("page drift did not settle")
)

// Error is a failed request with the path of the work: method, tenant,
// resource path and page. It never holds the token.
type Error struct {
	Method   string
	Tenant   string
	Path     string // the resource path as requested, without query
	Page     int    // 0 when the request is not a list page
	Status   int    // 0 for network errors and timeouts
	Kind     error  // one of the sentinels above
	Message  string // the server's message, shortened
	Fields   map[string][]string
	Attempts int
	// RetryAfter is the last 429's Retry-After; Until is when it passes.
	RetryAfter time.Duration
	Until      time.Time
	Err        error // the cause (a parse error, a network error), if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", e.Method, e.Tenant, e.Path)
	if e.Page > 0 {
		fmt.Fprintf(&b, " page %d", e.Page)
	}
	b.WriteString(": ")
	if e.Status > 0 {
		fmt.Fprintf(&b, "%d ", e.Status)
	}
	b.WriteString(e.Kind.Error())
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if len(e.Fields) > 0 {
		names := make([]string, 0, len(e.Fields))
		for f := range e.Fields {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			fmt.Fprintf(&b, "; %s: %s", f, strings.Join(e.Fields[f], ", "))
		}
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Is matches the error's kind, so errors.Is(err, ErrUnauthorized) works.
func (e *Error) Is(target error) bool { return target == e.Kind }

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the kind is one the client retries itself.
func retryable(kind error) bool {
	return kind == ErrTransient || kind == ErrMalformed || kind == ErrRateLimited
}

// shorten keeps a server message printable and short, and removes the
// token if a server ever echoes it.
func shorten(msg, token string) string {
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[redacted]")
	}
	msg = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
	msg = strings.TrimSpace(msg)
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	return msg
}
