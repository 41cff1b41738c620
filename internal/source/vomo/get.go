package vomo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Get reads one record, GET {path}/{id} (a child path takes res.Parent),
// for deletion confirmation and previews. found is false, with no error,
// when the API answers 404.
func (c *Client) Get(ctx context.Context, res Resource, id string) (rec map[string]any, found bool, err error) {
	if id == "" {
		return nil, false, errors.New("get: empty id")
	}
	path, err := expandPath(res.Path, res.Parent)
	if err != nil {
		return nil, false, err
	}
	path = strings.TrimRight(path, "/") + "/" + url.PathEscape(id)
	_, err = c.get(ctx, request{path: path, query: url.Values{}, parse: func(b []byte) error {
		var err error
		rec, err = parseOne(b)
		return err
	}})
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return rec, true, nil
}

// Organization is the customer organization a token belongs to.
type Organization struct {
	ID     string // canonical text of its id
	Name   string
	Fields map[string]any
}

// Organization reads GET /organizations and returns the token's
// organization, for onboarding checks (is this token the tenant it claims
// to be?). The body may hold one object or a list; a list's first entry
// is the token's organization.
func (c *Client) Organization(ctx context.Context) (Organization, error) {
	var org map[string]any
	_, err := c.get(ctx, request{path: "/organizations", query: url.Values{}, parse: func(b []byte) error {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := decodeStrict(b, &env); err != nil {
			return err
		}
		d := bytes.TrimSpace(env.Data)
		switch {
		case len(d) > 0 && d[0] == '{':
			return decodeStrict(d, &org)
		case len(d) > 0 && d[0] == '[':
			lp, err := ParsePage(b, nil)
			if err != nil {
				return err
			}
			if len(lp.Records) == 0 {
				return fmt.Errorf("%w: no organization for this token", errMalformed)
			}
			org, err = lp.Records[0].Fields()
			return err
		}
		return fmt.Errorf("%w: no data", errMalformed)
	}})
	if err != nil {
		return Organization{}, err
	}
	id, err := KeyOf(org, defaultKey)
	if err != nil {
		return Organization{}, fmt.Errorf("GET %s /organizations: %w: %v", c.cfg.Tenant, ErrMalformed, err)
	}
	name, _ := org["name"].(string)
	return Organization{ID: id, Name: name, Fields: org}, nil
}

// Estimate is what a full scan of a resource will cost.
type Estimate struct {
	Total   int // meta.total
	PerPage int // the page size the client will read at
	Pages   int // requests for a scan: ⌈Total / PerPage⌉ (at least 1)
	APITime time.Time
}

// Estimate reads the first page of a resource (with res.Query only) and
// reports its total, page size and the requests a full scan takes.
func (c *Client) Estimate(ctx context.Context, res Resource) (Estimate, error) {
	path, err := expandPath(res.Path, res.Parent)
	if err != nil {
		return Estimate{}, err
	}
	q := url.Values{}
	for k, v := range res.Query {
		q[k] = v
	}
	q.Set("page", "1")
	ask, send := c.askPerPage()
	if send {
		q.Set("per_page", strconv.Itoa(ask))
	}
	var lp *ListPage
	resp, err := c.get(ctx, request{path: path, query: q, page: 1, parse: func(b []byte) error {
		var err error
		lp, err = ParsePage(b, res.PrimaryKey)
		return err
	}})
	if err != nil {
		return Estimate{}, err
	}
	if send {
		c.notePerPage(ask, lp.PerPage)
	}
	pages := max(1, (lp.Total+lp.PerPage-1)/lp.PerPage)
	return Estimate{Total: lp.Total, PerPage: lp.PerPage, Pages: pages, APITime: resp.apiTime}, nil
}
