package vomo

import (
	"context"
	"fmt"
	"net/url"
)

// NewScan opens a full scan of a resource (backfill, reconcile, and every
// poll of a cursorless resource). Its Cap follows the walk's rule (local
// now + min(offset, 0) − settle, fixed before the first request) and is
// sent as created_before when the resource has that filter; no updated_*
// filter is sent, so an edit during the scan cannot move a record out of
// it. A child resource names its parent in res.Parent.
func (c *Client) NewScan(ctx context.Context, res Resource) (Progress, error) {
	cp, err := c.window(ctx, res)
	if err != nil {
		return Progress{}, err
	}
	return Progress{Mode: modeScan, Path: res.Path, Parent: res.Parent, Cap: cp}, nil
}

// Scan reads every record of the list below p's cap, page by page, with
// the same position-based paging, drift step-back and de-duplication as
// Walk; each page's keys are its records' Key fields. Result.Complete is
// true only when the end of the list was reached without an error; a
// resumed scan that reaches the end is complete too, because the resumed
// page's total is checked against the persisted one. p.TotalRose (in
// Result.Progress) tells whether the total rose during the scan: then, or
// when Result.Capped is false, confirm each deletion candidate with Get.
//
// For a child resource a 404 on its list ends the scan with ParentGone and
// no error: skip that child set.
func (c *Client) Scan(ctx context.Context, res Resource, p Progress, fn func(context.Context, Page) error) (Result, error) {
	if p.Mode != modeScan {
		return Result{Progress: p}, fmt.Errorf("scan %s: progress is for a %q", res.Path, p.Mode)
	}
	q := url.Values{}
	for k, v := range res.Query {
		q[k] = v
	}
	if res.CreatedBeforeParam != "" {
		q.Set(res.CreatedBeforeParam, FormatTime(p.Cap))
	}
	r, err := c.run(ctx, res, p, q, fn)
	r.Capped = res.CreatedBeforeParam != ""
	return r, err
}
