package vomo

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Resource says how to read one VOMO list.
type Resource struct {
	// Path is the list path below the base URL, "/users", or a child path
	// with one placeholder, "/forms/{form_id}/completions".
	Path string
	// Parent fills the placeholder of a child path (escaped by the client).
	Parent string
	// PrimaryKey names the key fields, ["id"] when empty.
	PrimaryKey []string
	// CursorParam is the incremental filter, "updated_after"; its upper
	// bound is the same name with "after" replaced by "before". Empty for
	// resources the API cannot filter by time (Walk refuses them).
	CursorParam string
	// CreatedBeforeParam caps a full scan, usually "created_before". Empty
	// when the resource has no such filter: the scan is then uncapped and
	// Result.Capped is false (every deletion candidate needs confirming).
	CreatedBeforeParam string
	// Overlap is subtracted from the checkpoint; Settle from the cap.
	Overlap time.Duration
	Settle  time.Duration
	// Query holds further fixed filters sent with every page.
	Query url.Values
}

// Progress is where a walk or scan stands. The runtime persists it with
// each page's records and hands it back to resume after a crash: the walk
// then continues the same window from the same position.
//
// Progress is a list position, not a page number: the page to ask for is
// derived from the current per_page (rounding down), so a per_page that
// changes between requests cannot skip records.
type Progress struct {
	Mode   string `json:"mode"` // "walk" or "scan"
	Path   string `json:"path"`
	Parent string `json:"parent,omitempty"`
	// After is the walk's lower bound (checkpoint − overlap), zero for none
	// and for scans; Cap its upper bound (updated_before for a walk,
	// created_before for a scan). Both bounds are inclusive.
	After time.Time `json:"after,omitzero"`
	Cap   time.Time `json:"cap"`
	// Next is the list position (0-based) of the next record to read.
	Next int `json:"next"`
	// After a step-back, positions Next..GapEnd are re-read and the walk
	// then continues at Resume (0: no step-back pending). See drift.go.
	GapEnd int `json:"gap_end,omitempty"`
	Resume int `json:"resume,omitempty"`
	// Pages counts pages read so far; LastStart, LastTotal and PerPage
	// describe the last one (meaningless while Pages is 0).
	Pages     int `json:"pages"`
	LastStart int `json:"last_start"`
	LastTotal int `json:"last_total"`
	PerPage   int `json:"per_page"`
	// FirstTotal is meta.total of the first page; TotalRose is set once a
	// page reported a larger total than the page before it.
	FirstTotal int  `json:"first_total"`
	TotalRose  bool `json:"total_rose,omitempty"`
	StepBacks  int  `json:"step_backs,omitempty"`
	Requests   int  `json:"requests"`
	// Done: the walk reached the end of the window. The page that sets it
	// is the last one; for a walk the cursor checkpoint then moves to Cap.
	Done bool `json:"done,omitempty"`
}

// Page is what a walk or scan hands to its callback: the page's records,
// de-duplicated by key within the walk, and the progress to persist in the
// same atomic step. A callback error stops the walk and is returned as is.
type Page struct {
	Records  []Record
	Progress Progress
	// Number is the page number requested; Total its meta.total.
	Number int
	Total  int
	// APITime is the response's Date header: the version of records of
	// resources that have no version field.
	APITime time.Time
	// Done mirrors Progress.Done: this is the last page.
	Done bool
}

// Result is how a walk or scan ended.
type Result struct {
	Progress Progress
	// Complete: the end of the list was reached cleanly. A scan that
	// returns an error (one that outlived its retries, or a 429 that never
	// cleared) is incomplete and must not be used to infer deletions.
	// Drift that was stepped back over does not make it incomplete.
	Complete bool
	// ParentGone: the parent of a child list answered 404. No error is
	// returned; skip that child set and infer no deletions for it.
	ParentGone bool
	// Capped: the scan filtered by created_before (always true for walks).
	Capped bool
}

// beforeParam derives the upper-bound filter from the cursor's parameter.
func beforeParam(after string) (string, error) {
	if !strings.Contains(after, "after") {
		return "", fmt.Errorf("cursor parameter %q has no \"after\" to turn into its \"before\" bound", after)
	}
	return strings.Replace(after, "after", "before", 1), nil
}

// expandPath fills a child path's placeholder with the escaped parent id.
func expandPath(path, parent string) (string, error) {
	i := strings.IndexByte(path, '{')
	if i < 0 {
		if parent != "" {
			return "", fmt.Errorf("path %q has no placeholder for parent %q", path, parent)
		}
		return path, nil
	}
	j := strings.IndexByte(path[i:], '}')
	if j < 0 || strings.ContainsAny(path[i+j+1:], "{}") {
		return "", fmt.Errorf("path %q: want exactly one {placeholder}", path)
	}
	if parent == "" {
		return "", fmt.Errorf("path %q needs a parent id", path)
	}
	return path[:i] + url.PathEscape(parent) + path[i+j+1:], nil
}
