package vomosim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

func (s *Server) listUsers(t *tenant, r *http.Request) reply {
	like := func(pos int, name, email string) bool {
		u := &t.users.rows[pos]
		if name != "" {
			var buf [128]byte
			full := append(append(append(buf[:0], t.pool.str(u.first)...), ' '), t.pool.str(u.last)...)
			if !containsFold(full, name) {
				return false
			}
		}
		return email == "" || containsFold([]byte(u.email), email)
	}
	return listTable(s, t, r, &t.users, true, like, func(b []byte, pos int) []byte { return t.appendUser(b, pos, false) })
}

// containsFold is an ASCII case-insensitive substring test; sub is lower
// case already. It is what a LIKE '%…%' under a case-insensitive collation
// does, without allocating per row.
func containsFold(s []byte, sub string) bool {
	n := len(sub)
outer:
	for i := 0; i+n <= len(s); i++ {
		for j := 0; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				continue outer
			}
		}
		return true
	}
	return false
}

func (s *Server) showUser(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.users.pathRow(r)
	if pos < 0 {
		return notFound("User", r.PathValue("id"))
	}
	return wrapData(http.StatusOK, t.appendUser(nil, pos, true))
}

// writeStamp is the updated_at of a client's write: the API's present,
// at second resolution when that switch is on.
func (s *Server) writeStamp() int64 {
	now := micros(s.apiNow())
	if s.config().Switches.SecondResolution {
		now -= now % 1e6
	}
	return now
}

// upsertUser is POST /users: it matches an existing volunteer by email,
// ignoring case, and updates it, or creates one. A write that changes
// nothing leaves updated_at alone, as Eloquent's save() does.
func (s *Server) upsertUser(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	in := readInput(r)
	var errs fieldErrors
	email, ok := in.required(&errs, "email", "email", 255)
	if ok && !validEmail(email) {
		errs.add("email", "The email field must be a valid email address.")
	}
	id, exists := t.emails[strings.ToLower(email)]
	pos := -1
	if exists {
		pos = t.users.get(id)
	}
	var u user
	if pos >= 0 {
		u = t.users.rows[pos]
	} else {
		u = user{country: t.pool.sym("US")}
	}
	u.email = email
	names := []struct {
		field, label string
		dst          *sym
	}{{"first_name", "first name", &u.first}, {"last_name", "last name", &u.last}}
	for _, n := range names {
		var v string
		var ok bool
		if pos < 0 {
			v, ok = in.required(&errs, n.field, n.label, 255)
		} else {
			v, ok = in.str(&errs, n.field, n.label, 255)
		}
		if ok && v != "" {
			*n.dst = t.pool.sym(v)
		}
	}
	if v, ok := in.str(&errs, "phone", "phone", 32); ok {
		u.phone = v
	}
	if d, ok := in.date(&errs, "birthday", "birthday"); ok {
		if int64(d)*86400e6 >= micros(s.apiNow()) {
			errs.add("birthday", "The birthday field must be a date before today.")
		} else {
			u.birthday = d
		}
	}
	for _, e := range []struct {
		field, label string
		values       []string
		dst          *uint8
	}{
		{"gender", "gender", genders, &u.gender},
		{"user_status", "user status", userStatuses, &u.status},
		{"membership_status", "membership status", membershipStatus, &u.member},
		{"membership_role", "membership role", membershipRoles, &u.role},
	} {
		if v, ok := in.enum(&errs, e.field, e.label, e.values); ok {
			*e.dst = v
		}
	}
	if in.has("address") {
		var sub input
		if json.Unmarshal(in["address"], &sub) != nil {
			errs.add("address", "The address field must be an array.")
		} else {
			for _, f := range []struct {
				name string
				dst  *sym
			}{{"street", &u.street}, {"city", &u.city}, {"state", &u.state}, {"zip", &u.zip}, {"country", &u.country}} {
				if v, ok := sub.str(&errs, f.name, "address."+f.name, 255); ok {
					*f.dst = t.pool.sym(v)
				}
			}
		}
	}
	if errs.any() {
		return *errs.reply()
	}
	stamp := s.writeStamp()
	if pos >= 0 {
		if old := t.users.rows[pos]; old != u {
			t.users.rows[pos] = u
			t.users.touch(pos, stamp)
		}
		return wrapData(http.StatusOK, t.appendUser(nil, pos, true))
	}
	id = t.users.lastID() + 1
	pos = t.users.add(id, stamp, stamp, u, rowLive)
	t.emails[strings.ToLower(email)] = id
	return wrapData(http.StatusCreated, t.appendUser(nil, pos, true))
}

// userIDs reads a list of existing user ids (PUT /groups/{id}/members).
func (t *tenant) userIDs(in input, errs *fieldErrors) []int64 {
	if !in.has("user_ids") {
		errs.add("user_ids", "The user ids field is required.")
		return nil
	}
	var raw []json.RawMessage
	if json.Unmarshal(in["user_ids"], &raw) != nil {
		errs.add("user_ids", "The user ids field must be an array.")
		return nil
	}
	var ids []int64
	for i, v := range raw {
		field := "user_ids." + strconv.Itoa(i)
		id, err := strconv.ParseInt(strings.Trim(string(v), `"`), 10, 64)
		if err != nil || t.users.get(id) < 0 {
			errs.add(field, "The selected "+field+" is invalid.")
			continue
		}
		ids = insertSorted(ids, id)
	}
	return ids
}
