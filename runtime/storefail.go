package runtime

import (
	"errors"

	"github.com/siphonhq/siphon/internal/state"
)

// storeFailure marks an error as the store's, not the source's or the
// data's: a job that fails with one is retried as a whole (a walk resumes
// from its committed progress), like a job whose lease could not be taken,
// instead of counting as a failed poll. A Redis server that comes back
// from an outage answers LOADING for a while, so the store can fail in the
// middle of a job just as well as before it.
type storeFailure struct{ err error }

func (s storeFailure) Error() string { return s.err.Error() }
func (s storeFailure) Unwrap() error { return s.err }

// storeErr wraps err from a store call. A fenced write is not a failure of
// the store: the lease moved on and another worker owns the job.
func storeErr(err error) error {
	if err == nil || errors.Is(err, state.ErrFenced) {
		return err
	}
	return storeFailure{err}
}

// isStoreFailure reports whether err came from the store.
func isStoreFailure(err error) bool {
	var s storeFailure
	return errors.As(err, &s)
}
