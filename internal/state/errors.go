package state

import "errors"

// Errors callers branch on. Backends wrap them with the path of the work
// (tenant, pipeline, queue), so test with errors.Is.
var (
	// ErrFenced: a write carried a lease token the lease has moved past.
	ErrFenced = errors.New("fenced: the lease has moved on")
	// ErrLeaseLost: Renew on a lease that is no longer the caller's.
	ErrLeaseLost = errors.New("lease lost")
	// ErrNotFound: no such item for this tenant.
	ErrNotFound = errors.New("not found")
	// ErrFormatTooNew: the store was written by a newer Siphon.
	ErrFormatTooNew = errors.New("store format is newer than this siphon")
	// ErrUnsafeStore: the Redis server may lose acknowledged writes.
	ErrUnsafeStore = errors.New("store is not durable")
	// ErrLocked: another process holds the local store.
	ErrLocked = errors.New("store is locked by another process")
	// ErrSuperseded: a config version older than (or replaced by) the active one.
	ErrSuperseded = errors.New("config version superseded")
	// ErrInvalid: a malformed argument (bad name, empty owner, …).
	ErrInvalid = errors.New("invalid argument")
)
