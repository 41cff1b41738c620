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
// drift, see drift.go), de-duplicate by key and hand every page to a
// callback together with the progress to persist in the same atomic step.
// A persisted Progress resumes the same window after a crash. The client
// stores nothing itself: the runtime persists what the callbacks give it.
//
// # What the runtime does with it
//
//   - Poll: p := NewWalk(res, checkpoint) (or the stored Progress), then
//     Walk(res, p, fn); fn enqueues Page.Records and saves Page.Progress in
//     one step; on the page with Done it also moves the checkpoint to
//     Progress.Cap (never backwards). A backfill's or reconcile's hand-over
//     is the same: the next walk starts at the previous cap − overlap.
//   - Backfill and reconcile: NewScan + Scan; store each page's keys with
//     its progress. Infer deletions only from a Result.Complete scan; when
//     Progress.TotalRose or !Result.Capped, confirm candidates with Get.
//   - Child lists: set Resource.Parent; Result.ParentGone means the parent
//     answered 404: skip that child set.
//   - Errors: errors.Is(err, ErrUnauthorized) pauses the tenant,
//     ErrForbidden the resource for the tenant; ErrRateLimited carries
//     Until; ErrTransient and ErrMalformed have outlived their retries.
//     Hooks.OnRateLimited drains the tenant's budget, Hooks.OnFailure and
//     OnSuccess drive the source breaker, Hooks.OnRequest counts requests
//     (and carries X-RateLimit-Remaining), Config.Limiter is asked before
//     every request.
//
// Numbers in records are decoded as json.Number, so integer ids of any
// size keep their exact text (a float64 would round ids above 2^53) and
// the mapping layer, which accepts json.Number and float64 alike, sees the
// value VOMO sent.
//
// The token is read from Config.Token for every request and sent only in
// the Authorization header: never in a URL, an error or a log line (a
// server message that echoes it is redacted).
package vomo
