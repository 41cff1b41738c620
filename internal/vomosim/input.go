package vomosim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
)

// maxBody bounds a write's body; VOMO's records are small.
const maxBody = 1 << 20

// input is a write's JSON body, field by field. A body that is not a JSON
// object reads as empty, as Laravel reads it, so validation names the
// missing fields.
type input map[string]json.RawMessage

func readInput(r *http.Request) input {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return input{}
	}
	var in input
	if json.Unmarshal(b, &in) != nil || in == nil {
		return input{}
	}
	return in
}

// has reports whether field is present and not null.
func (in input) has(field string) bool {
	v, ok := in[field]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// str reads a string field; ok is false (with an error recorded) when the
// field is present but not a string or longer than max.
func (in input) str(errs *fieldErrors, field, label string, max int) (string, bool) {
	if !in.has(field) {
		return "", false
	}
	var s string
	if json.Unmarshal(in[field], &s) != nil {
		errs.add(field, "The "+label+" field must be a string.")
		return "", false
	}
	s = strings.TrimSpace(s)
	if len(s) > max {
		errs.add(field, "The "+label+" field must not be greater than "+strconv.Itoa(max)+" characters.")
		return "", false
	}
	return s, true
}

// required reads a string field that must be present and not empty.
func (in input) required(errs *fieldErrors, field, label string, max int) (string, bool) {
	s, ok := in.str(errs, field, label, max)
	if !ok && !in.has(field) || ok && s == "" {
		errs.add(field, "The "+label+" field is required.")
		return "", false
	}
	return s, ok
}

// enum reads a string field that must be one of values.
func (in input) enum(errs *fieldErrors, field, label string, values []string) (uint8, bool) {
	s, ok := in.str(errs, field, label, 64)
	if !ok {
		return 0, false
	}
	i, found := enumIndex(values, s)
	if !found {
		errs.add(field, "The selected "+label+" is invalid.")
		return 0, false
	}
	return i, true
}

// integer reads an integer field within [lo, hi].
func (in input) integer(errs *fieldErrors, field, label string, lo, hi int64) (int64, bool) {
	if !in.has(field) {
		return 0, false
	}
	var n json.Number
	if json.Unmarshal(in[field], &n) != nil {
		var s string
		if json.Unmarshal(in[field], &s) != nil {
			errs.add(field, "The "+label+" field must be an integer.")
			return 0, false
		}
		n = json.Number(s)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		errs.add(field, "The "+label+" field must be an integer.")
		return 0, false
	}
	if v < lo || v > hi {
		errs.add(field, "The "+label+" field must be between "+strconv.FormatInt(lo, 10)+" and "+strconv.FormatInt(hi, 10)+".")
		return 0, false
	}
	return v, true
}

// date reads a YYYY-MM-DD field.
func (in input) date(errs *fieldErrors, field, label string) (int32, bool) {
	s, ok := in.str(errs, field, label, 32)
	if !ok {
		return 0, false
	}
	d, valid := parseDate(s)
	if !valid {
		errs.add(field, "The "+label+" field must be a valid date.")
		return 0, false
	}
	return d, true
}

// validEmail is Laravel's "email" rule, near enough: one plain address.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1
}

// pathID reads a numeric path value; anything else is "not found".
func pathID(r *http.Request, name string) (int64, bool) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return v, err == nil && v > 0
}

// pathRow returns the position of the live row whose id is the request's
// {id}, or -1 when the id is not a number or no live row has it.
func (t *table[T]) pathRow(r *http.Request) int {
	id, ok := pathID(r, "id")
	if !ok {
		return -1
	}
	return t.get(id)
}
