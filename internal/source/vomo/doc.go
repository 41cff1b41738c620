// Package vomo is the client of the VOMO API (see VOMO-API.md) used by the
// poll, backfill and reconcile stages: one Client per (source, tenant).
//
// It owns everything that talks HTTP to VOMO: bearer auth, retries with
// backoff and full jitter, Retry-After, the per-source clock offset taken
// from Date headers, Laravel page parsing, canonical record keys, and the
// two ways a list is read:
//
//   - Walk, the incremental read of a capped window
//     (updated_after = checkpoint − overlap, updated_before = cap), and
//   - Scan, the full read for backfill, reconcile and cursorless resources
//     (created_before = cap, no updated_* filter).
//
// Both walk a list by position, not by page number, step back when
// meta.total shows that records before the current page vanished (page
// drift), de-duplicate by key and hand every page to a callback together
// with the progress to persist in the same atomic step. A persisted
// Progress resumes the same window after a crash. The client never stores
// anything itself: the runtime persists what the callbacks give it.
//
// Numbers in records are decoded as json.Number, so integer ids of any
// size keep their exact text (a float64 would round ids above 2^53) and
// the mapping layer, which accepts json.Number and float64 alike, sees the
// value VOMO sent.
package vomo
