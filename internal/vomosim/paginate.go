package vomosim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// listQuery is a list request's query string, parsed as VOMO's Laravel
// controllers read it.
type listQuery struct {
	page    int
	perPage int
	f       filter
	like    [2]string // name_like, email_like (lower-cased)
	echo    url.Values
	path    string // meta.path: the list's URL without a query
}

// maxOffset keeps page arithmetic far from overflow; any page past it is
// simply empty.
const maxOffset = 1 << 40

func (q listQuery) offset() int {
	if q.page-1 > maxOffset/q.perPage {
		return maxOffset
	}
	return (q.page - 1) * q.perPage
}

// timeFilters are the inclusive time filters of /users and /projects.
var timeFilters = []struct{ name, label string }{
	{"created_after", "created after"},
	{"created_before", "created before"},
	{"updated_after", "updated after"},
	{"updated_before", "updated before"},
}

// parseList reads page, per_page and (when filtered) the time and like
// filters. A bad page or per_page falls back to the default as Laravel's
// paginator does; a bad date is a 422 naming the field.
func (s *Server) parseList(r *http.Request, cfg *Scenario, filtered bool) (listQuery, *reply) {
	v := r.URL.Query()
	q := listQuery{page: 1, perPage: cfg.PerPage, f: openFilter(), echo: url.Values{}, path: baseURL(r) + r.URL.Path}
	for k, vs := range v {
		if k != "page" {
			q.echo[k] = vs
		}
	}
	if p, err := strconv.Atoi(v.Get("page")); err == nil && p > 0 {
		q.page = p
	}
	sw := &cfg.Switches
	if sw.PerPageFlip > 0 && s.chance(sw.PerPageFlip) {
		q.perPage = sw.PerPageAlt
	}
	if sw.PerPageParam {
		if pp, err := strconv.Atoi(v.Get("per_page")); err == nil && pp > 0 {
			q.perPage = min(pp, sw.MaxPerPage)
		}
	}
	if !filtered {
		return q, nil
	}
	errs := fieldErrors{}
	bounds := []*int64{&q.f.createdAfter, &q.f.createdBefore, &q.f.updatedAfter, &q.f.updatedBefore}
	for i, tf := range timeFilters {
		raw := v.Get(tf.name)
		if strings.TrimSpace(raw) == "" {
			continue // Laravel turns an empty string into null: no filter
		}
		us, err := parseFilterTime(raw)
		if err != nil {
			errs.add(tf.name, "The "+tf.label+" field must be a valid date.")
			continue
		}
		*bounds[i] = us
	}
	if len(errs.order) > 0 {
		return q, errs.reply()
	}
	q.like = [2]string{strings.ToLower(v.Get("name_like")), strings.ToLower(v.Get("email_like"))}
	return q, nil
}

// baseURL is the scheme and host the client used.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// pageURL is a links.* URL: prefix (the path and the encoded filters)
// then page=N, as Laravel appends the query string.
func pageURL(prefix string, page int) string { return prefix + "page=" + strconv.Itoa(page) }

// linkPrefix is what every links.* URL starts with; the filters are left
// out when the switch drops them.
func (q listQuery) linkPrefix(dropFilters bool) string {
	if dropFilters || len(q.echo) == 0 {
		return q.path + "?"
	}
	return q.path + "?" + q.echo.Encode() + "&"
}

// envelope wraps a page of records (a JSON array) in Laravel's paginator
// envelope. from/to are null on an empty page; a page past the last keeps
// its number and the same meta.
// data appends the page's records as a JSON array.
func envelope(b []byte, q listQuery, total int, n int, data func(b []byte) []byte, cfg *Scenario) []byte {
	last := max(1, (total+q.perPage-1)/q.perPage)
	prefix := q.linkPrefix(cfg.Switches.LinksDropFilters)
	b = append(b, `{"data":`...)
	b = data(b)
	b = append(b, `,"links":`...)
	links := newObj(b)
	links.str("first", pageURL(prefix, 1))
	links.str("last", pageURL(prefix, last))
	if q.page > 1 {
		links.str("prev", pageURL(prefix, q.page-1))
	} else {
		links.null("prev")
	}
	if q.page < last {
		links.str("next", pageURL(prefix, q.page+1))
	} else {
		links.null("next")
	}
	b = append(links.done(), `,"meta":`...)
	m := newObj(b)
	m.int("current_page", int64(q.page))
	if n > 0 {
		m.int("from", int64(q.offset()+1))
		m.int("to", int64(q.offset()+n))
	} else {
		m.null("from")
		m.null("to")
	}
	m.int("last_page", int64(last))
	m.str("path", q.path)
	m.int("per_page", int64(q.perPage))
	m.int("total", int64(total))
	return append(m.done(), '}')
}

// arrayOf appends a JSON array with one element per item.
func arrayOf[E any](b []byte, items []E, enc func(b []byte, item E) []byte) []byte {
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = enc(b, it)
	}
	return append(b, ']')
}

// listTable serves one page of a table. The count and the select are two
// queries, as in Laravel; the count_query switch lets changes land between
// them.
// like, when set, answers name_like/email_like for a position.
func listTable[T any](s *Server, t *tenant, r *http.Request, tb *table[T], filtered bool, like func(pos int, name, email string) bool, enc func(b []byte, pos int) []byte) reply {
	cfg := s.config()
	q, bad := s.parseList(r, cfg, filtered)
	if bad != nil {
		return *bad
	}
	if like != nil && q.like != [2]string{} {
		q.f.match = func(pos int) bool { return like(pos, q.like[0], q.like[1]) }
	}
	now := micros(s.apiNow())
	gap := int64(cfg.Switches.CountGap.D() / 1000)
	desc := cfg.Switches.Order == "id_desc"
	var total int
	var page []int
	switch cfg.Switches.CountQuery {
	case "before":
		t.advance(now - gap)
		total, _ = tb.query(q.f, 0, 0, desc)
		t.advance(now)
		_, page = tb.query(q.f, q.offset(), q.perPage, desc)
	case "after":
		t.advance(now - gap)
		_, page = tb.query(q.f, q.offset(), q.perPage, desc)
		t.advance(now)
		total, _ = tb.query(q.f, 0, 0, desc)
	default:
		t.advance(now)
		total, page = tb.query(q.f, q.offset(), q.perPage, desc)
	}
	data := func(b []byte) []byte { return arrayOf(b, page, enc) }
	return pooledJSON(envelope(getBuf(), q, total, len(page), data, cfg))
}

// listSlice serves one page of a list computed in full (children of one
// parent, which are few).
func listSlice[E any](s *Server, r *http.Request, items []E, enc func(b []byte, item E) []byte) reply {
	cfg := s.config()
	q, bad := s.parseList(r, cfg, false)
	if bad != nil {
		return *bad
	}
	if cfg.Switches.Order == "id_desc" {
		rev := make([]E, len(items))
		for i, it := range items {
			rev[len(items)-1-i] = it
		}
		items = rev
	}
	var page []E
	if off := q.offset(); off < len(items) {
		page = items[off:min(len(items), off+q.perPage)]
	}
	data := func(b []byte) []byte { return arrayOf(b, page, enc) }
	return pooledJSON(envelope(getBuf(), q, len(items), len(page), data, cfg))
}
