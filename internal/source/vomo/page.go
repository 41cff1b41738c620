package vomo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ListPage is one parsed Laravel list page.
type ListPage struct {
	Records     []Record
	CurrentPage int
	PerPage     int
	Total       int
	LastPage    int // 0 when meta.last_page is absent
	// HasNext is links.next not being null. When links (or links.next) is
	// absent it is derived from meta: current_page < last_page.
	HasNext bool
}

// Start is the list position of the page's first record (0-based), from
// the page's own current_page and per_page.
func (p *ListPage) Start() int { return (p.CurrentPage - 1) * p.PerPage }

// errMalformed is wrapped by every page-parsing error.
var errMalformed = errors.New("malformed body")

type envelope struct {
	Data  *[]json.RawMessage `json:"data"`
	Links *struct {
		Next json.RawMessage `json:"next"`
	} `json:"links"`
	Meta *struct {
		CurrentPage *flexInt `json:"current_page"`
		PerPage     *flexInt `json:"per_page"`
		Total       *flexInt `json:"total"`
		LastPage    *flexInt `json:"last_page"`
	} `json:"meta"`
}

// flexInt is a meta integer. Laravel writes per_page as a string when it
// came from the query string, so a numeric string is accepted too.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %.40s", b)
	}
	*f = flexInt(n)
	return nil
}

// ParsePage parses a list body (the Laravel envelope) and extracts each
// record's key from primaryKey (["id"] when empty). Anything that is not a
// well-formed page is an error wrapping errMalformed, never an empty page:
// a truncated body, an HTML body, a missing or non-list data, a record that
// is not an object or lacks its key, a missing meta or a meta without
// current_page, per_page or total.
func ParsePage(body []byte, primaryKey []string) (*ListPage, error) {
	if len(primaryKey) == 0 {
		primaryKey = defaultKey
	}
	var env envelope
	if err := decodeStrict(body, &env); err != nil {
		return nil, err
	}
	if env.Data == nil {
		return nil, fmt.Errorf("%w: no data list", errMalformed)
	}
	m := env.Meta
	if m == nil {
		return nil, fmt.Errorf("%w: no meta", errMalformed)
	}
	if m.CurrentPage == nil || m.PerPage == nil || m.Total == nil {
		return nil, fmt.Errorf("%w: meta lacks current_page, per_page or total", errMalformed)
	}
	p := &ListPage{CurrentPage: int(*m.CurrentPage), PerPage: int(*m.PerPage), Total: int(*m.Total)}
	if m.LastPage != nil {
		p.LastPage = int(*m.LastPage)
	}
	if p.CurrentPage < 1 || p.PerPage < 1 || p.Total < 0 || p.CurrentPage > 1<<30 || p.PerPage > 1<<20 {
		return nil, fmt.Errorf("%w: meta out of range (current_page %d, per_page %d, total %d)", errMalformed, p.CurrentPage, p.PerPage, p.Total)
	}
	data := *env.Data
	if len(data) > p.PerPage {
		return nil, fmt.Errorf("%w: %d records on a page of %d", errMalformed, len(data), p.PerPage)
	}
	switch {
	case env.Links != nil && env.Links.Next != nil:
		p.HasNext = !bytes.Equal(env.Links.Next, []byte("null"))
	default:
		p.HasNext = p.LastPage > p.CurrentPage
	}
	p.Records = make([]Record, len(data))
	for i, rec := range data {
		r, err := newRecord(rec, primaryKey)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", errMalformed, i, err)
		}
		p.Records[i] = r
	}
	return p, nil
}

var defaultKey = []string{"id"}

// parseOne parses a single-record body, {"data": {...}}.
func parseOne(body []byte) (map[string]any, error) {
	var env struct {
		Data map[string]any `json:"data"`
	}
	if err := decodeStrict(body, &env); err != nil {
		return nil, err
	}
	if env.Data == nil {
		return nil, fmt.Errorf("%w: no data object", errMalformed)
	}
	return env.Data, nil
}

// decodeStrict decodes exactly one JSON value with numbers as json.Number
// and rejects HTML, truncation and trailing bytes.
func decodeStrict(body []byte, v any) error {
	trim := bytes.TrimLeft(body, " \t\r\n")
	if len(trim) == 0 {
		return fmt.Errorf("%w: empty body", errMalformed)
	}
	if trim[0] == '<' {
		return fmt.Errorf("%w: HTML body", errMalformed)
	}
	if trim[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", errMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(trim))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: truncated JSON", errMalformed)
		}
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing bytes after the JSON value", errMalformed)
	}
	return nil
}
