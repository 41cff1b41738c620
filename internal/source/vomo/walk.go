package vomo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

const (
	modeWalk = "walk"
	modeScan = "scan"

	// defaultPerPage is the guess for a page size never seen (VOMO's
	// reference examples use 15); a wrong guess costs one request.
	defaultPerPage = 15
	// dedupLimit is the number of recent keys each de-dup generation holds.
	dedupLimit = 20000
	// maxStepBacksInRow stops a walk whose every page shows a drop: under
	// such churn it cannot converge and the runtime should retry later.
	maxStepBacksInRow = 200
	// maxResizesInRow bounds re-requests after per_page changes.
	maxResizesInRow = 20
)

// NewWalk opens the incremental window of a resource after checkpoint:
// After = checkpoint − overlap (none for a zero checkpoint) and Cap =
// local now + min(offset, 0) − settle, fixed here, before the walk's first
// request.
//
// The clock offset comes from earlier responses. When the source has
// answered nothing yet, NewWalk first makes one cheap request (page 1 of
// the list filtered to a window in the future, which selects nothing) so
// that even the first cap respects the API's clock. Sharing one
// ClockOffset per source makes that one request per source and process.
//
// When the cap is not after the checkpoint, the returned progress is
// already Done with Cap = checkpoint: Walk then reports one empty last
// page and the checkpoint stays where it is.
func (c *Client) NewWalk(ctx context.Context, res Resource, checkpoint time.Time) (Progress, error) {
	if res.CursorParam == "" {
		return Progress{}, fmt.Errorf("walk %s: resource has no cursor parameter; scan it instead", res.Path)
	}
	if _, err := beforeParam(res.CursorParam); err != nil {
		return Progress{}, fmt.Errorf("walk %s: %w", res.Path, err)
	}
	cp, err := c.window(ctx, res)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Mode: modeWalk, Path: res.Path, Parent: res.Parent, Cap: cp}
	if !checkpoint.IsZero() {
		checkpoint = checkpoint.UTC()
		if !cp.After(checkpoint) {
			p.Cap, p.Done = checkpoint, true
			return p, nil
		}
		p.After = checkpoint.Add(-res.Overlap).Truncate(time.Microsecond)
	}
	return p, nil
}

// window fixes a cap from the clock and the source's offset, probing the
// source once when the offset is unknown.
func (c *Client) window(ctx context.Context, res Resource) (time.Time, error) {
	if _, err := expandPath(res.Path, res.Parent); err != nil {
		return time.Time{}, err
	}
	if _, known := c.off.Offset(); !known {
		if err := c.probe(ctx, res); err != nil {
			return time.Time{}, err
		}
	}
	off, _ := c.off.Offset()
	return Cap(c.clk.Now(), off, res.Settle), nil
}

// probe makes one request to learn the API's clock from its Date header.
func (c *Client) probe(ctx context.Context, res Resource) error {
	path, err := expandPath(res.Path, res.Parent)
	if err != nil {
		return err
	}
	q := url.Values{}
	far := FormatTime(c.clk.Now().AddDate(10, 0, 0))
	switch {
	case res.CursorParam != "":
		q.Set(res.CursorParam, far)
	case res.CreatedBeforeParam != "":
		q.Set(res.CreatedBeforeParam, FormatTime(time.Unix(0, 0)))
	}
	q.Set("page", "1")
	_, err = c.get(ctx, request{path: path, query: q, page: 1, parse: func([]byte) error { return nil }})
	return err
}

// Walk reads the window of p page by page, handing each page's new
// records and progress to fn, until the window is complete, fn fails or
// an error outlives its retries. p comes from NewWalk or, to resume after
// a crash, from the last progress fn persisted.
//
// Pages are requested as page = Next / per_page + 1 with the window's
// filters (links.next is never followed); the walk ends at a page with
// fewer records than its per_page or a null links.next, after the drift
// checks in drift.go. The last page comes with Done set: commit its
// records, then move the cursor checkpoint to p.Cap, in one step.
//
// On an error, Result.Progress is a consistent point to resume from: the
// progress of the last page fn accepted, or a later one whose pages had
// no new records. Resuming from the last progress fn persisted is always
// right too.
func (c *Client) Walk(ctx context.Context, res Resource, p Progress, fn func(context.Context, Page) error) (Result, error) {
	if p.Mode != modeWalk {
		return Result{Progress: p}, fmt.Errorf("walk %s: progress is for a %q", res.Path, p.Mode)
	}
	before, err := beforeParam(res.CursorParam)
	if err != nil {
		return Result{Progress: p}, fmt.Errorf("walk %s: %w", res.Path, err)
	}
	q := url.Values{}
	for k, v := range res.Query {
		q[k] = v
	}
	if !p.After.IsZero() {
		q.Set(res.CursorParam, FormatTime(p.After))
	}
	q.Set(before, FormatTime(p.Cap))
	r, err := c.run(ctx, res, p, q, fn)
	r.Capped = true
	return r, err
}

// run is the position-based page loop shared by Walk and Scan.
func (c *Client) run(ctx context.Context, res Resource, p Progress, filters url.Values, fn func(context.Context, Page) error) (Result, error) {
	if p.Path != res.Path || p.Parent != res.Parent {
		return Result{Progress: p}, fmt.Errorf("%s %s: progress belongs to %s (parent %q)", p.Mode, res.Path, p.Path, p.Parent)
	}
	if p.Cap.IsZero() {
		return Result{Progress: p}, fmt.Errorf("%s %s: progress has no window", p.Mode, res.Path)
	}
	path, err := expandPath(res.Path, res.Parent)
	if err != nil {
		return Result{Progress: p}, err
	}
	if p.Done {
		if p.Pages == 0 && p.Requests == 0 {
			// An empty window: report it as one empty last page.
			if err := fn(ctx, Page{Progress: p, Done: true}); err != nil {
				return Result{Progress: p}, err
			}
		}
		return Result{Progress: p, Complete: true}, nil
	}
	seen := newDedup(dedupLimit)
	stepsInRow, resizesInRow := 0, 0
	for {
		if err := ctx.Err(); err != nil {
			return Result{Progress: p}, err
		}
		ask, send := c.askPerPage()
		size := p.PerPage
		if send {
			size = ask
		}
		if size <= 0 {
			size = defaultPerPage
		}
		pageNo := pageFor(p.Next, size)
		q := make(url.Values, len(filters)+2)
		for k, v := range filters {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(pageNo))
		if send {
			q.Set("per_page", strconv.Itoa(ask))
		}
		var lp *ListPage
		resp, err := c.get(ctx, request{path: path, query: q, page: pageNo, parse: func(b []byte) error {
			var err error
			lp, err = ParsePage(b, res.PrimaryKey)
			return err
		}})
		p.Requests++
		if err != nil {
			if res.Parent != "" && errors.Is(err, ErrNotFound) {
				return Result{Progress: p, ParentGone: true}, nil
			}
			return Result{Progress: p}, err
		}
		if send {
			c.notePerPage(ask, lp.PerPage)
		}
		if lp.Start() > p.Next {
			// The page was cut at another size than the one its number was
			// derived from: positions Next..start were not covered. Ask
			// again at the size the API now uses.
			if lp.PerPage == size || resizesInRow >= maxResizesInRow {
				return Result{Progress: p}, &Error{Method: "GET", Tenant: c.cfg.Tenant, Path: path, Page: pageNo, Status: 200, Kind: ErrMalformed,
					Message: fmt.Sprintf("asked for page %d, got page %d of %d", pageNo, lp.CurrentPage, lp.PerPage)}
			}
			resizesInRow++
			p.PerPage = lp.PerPage
			continue
		}
		resizesInRow = 0
		before := p
		if drop := p.observe(lp); drop > 0 {
			stepsInRow++
			if stepsInRow > maxStepBacksInRow {
				return Result{Progress: p}, fmt.Errorf("%s %s %s: %w after %d step-backs in a row", p.Mode, c.cfg.Tenant, path, ErrNoProgress, stepsInRow-1)
			}
		} else {
			stepsInRow = 0
		}
		recs := seen.filter(lp.Records)
		if len(recs) > 0 || p.Done {
			pg := Page{Records: recs, Progress: p, Number: lp.CurrentPage, Total: lp.Total, APITime: resp.apiTime, Done: p.Done}
			if err := fn(ctx, pg); err != nil {
				return Result{Progress: before}, err
			}
		}
		if p.Done {
			return Result{Progress: p, Complete: true}, nil
		}
	}
}

// askPerPage returns the per_page to send: the preferred size until the
// API has answered it once, then only if it was honoured.
func (c *Client) askPerPage() (int, bool) {
	if c.cfg.PerPage < 0 {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.perPage.asked || c.perPage.honoured {
		return c.cfg.PerPage, true
	}
	return 0, false
}

func (c *Client) notePerPage(asked, got int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.perPage.asked {
		c.perPage.asked, c.perPage.honoured = true, got == asked
	}
}
