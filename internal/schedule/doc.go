// Package schedule holds the time and rollout arithmetic that plan shows and
// the runtime obeys: stagger offsets, epoch-aligned run times, DST-correct
// reconcile times in a tenant's zone, and flag buckets. It is deterministic
// (no jitter, no clock of its own) so that `plan --now` output is stable and
// every worker computes the same schedule.
package schedule
