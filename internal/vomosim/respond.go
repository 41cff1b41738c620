package vomosim

import (
	"net/http"
	"strconv"
	"sync"
)

// reply is a response before it is written, so faults can still bend it.
type reply struct {
	status int
	body   []byte
	html   bool
	header http.Header
	pooled bool // body came from getBuf and goes back after writing
}

// bufs recycles page buffers: a page is ~10 KB, and allocating one per
// request made the garbage collector the largest cost of serving.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getBuf() []byte { return (*bufs.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) <= 1<<20 {
		bufs.Put(&b)
	}
}

func pooledJSON(body []byte) reply { return reply{status: http.StatusOK, body: body, pooled: true} }

// wrapData is VOMO's form for a single record: {"data":{...}}.
func wrapData(status int, rec []byte) reply {
	b := make([]byte, 0, len(rec)+10)
	b = append(b, `{"data":`...)
	b = append(b, rec...)
	return reply{status: status, body: append(b, '}')}
}

// message is Laravel's error body: {"message":"..."}.
func message(status int, msg string) reply {
	o := newObj(nil)
	o.str("message", msg)
	return reply{status: status, body: o.done()}
}

func unauthenticated() reply { return message(http.StatusUnauthorized, "Unauthenticated.") }

func forbidden() reply { return message(http.StatusForbidden, "This action is unauthorized.") }

// notFound is what Laravel says when route model binding finds no row.
func notFound(model string, id string) reply {
	return message(http.StatusNotFound, "No query results for model [App\\Models\\"+model+"] "+id)
}

// fieldErrors collects validation errors in field order, for a 422.
type fieldErrors struct {
	order []string
	msgs  map[string][]string
}

func (e *fieldErrors) add(field, msg string) {
	if e.msgs == nil {
		e.msgs = map[string][]string{}
	}
	if _, ok := e.msgs[field]; !ok {
		e.order = append(e.order, field)
	}
	e.msgs[field] = append(e.msgs[field], msg)
}

func (e *fieldErrors) any() bool { return len(e.order) > 0 }

// reply is Laravel's 422: the first message, "(and N more errors)", and
// every message by field.
func (e *fieldErrors) reply() *reply {
	n := 0
	for _, f := range e.order {
		n += len(e.msgs[f])
	}
	msg := e.msgs[e.order[0]][0]
	switch n {
	case 1:
	case 2:
		msg += " (and 1 more error)"
	default:
		msg += " (and " + strconv.Itoa(n-1) + " more errors)"
	}
	o := newObj(nil)
	o.str("message", msg)
	errs := newObj(nil)
	for _, f := range e.order {
		errs.raw(f, arrayOf(nil, e.msgs[f], appendJSONString))
	}
	o.raw("errors", errs.done())
	return &reply{status: http.StatusUnprocessableEntity, body: o.done()}
}

// htmlError is the page a proxy in front of the API shows for 502/503/504.
func htmlError(status int) reply {
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	body := "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	return reply{status: status, body: []byte(body), html: true}
}
