package runtime

import "time"

// ReconcileDue returns, for a test, the tenant's reconcile job of the
// resource: its next due time after `after` and whether the run due at or
// before `after` is the weekly (deep) one.
func (r *Runner) ReconcileDue(tenant, jobID string, after time.Time) (due time.Time, deep bool, ok bool) {
	t := r.tenant(tenant)
	if t == nil {
		return time.Time{}, false, false
	}
	j := r.findReconcileJob(t, jobID)
	if j == nil {
		return time.Time{}, false, false
	}
	return reconcileNext(t, j, after), reconcileDeep(t, j, after), true
}

// SetSortChunk sets how many ids a sorted run of the merge holds.
func SetSortChunk(n int) (restore func()) {
	old := sortChunk
	sortChunk = n
	return func() { sortChunk = old }
}
