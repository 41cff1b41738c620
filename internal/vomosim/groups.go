package vomosim

import "net/http"

func (s *Server) listGroups(t *tenant, r *http.Request) reply {
	return listTable(s, t, r, &t.groups, false, nil, t.appendGroup)
}

func (s *Server) showGroup(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.groups.pathRow(r)
	if pos < 0 {
		return notFound("Group", r.PathValue("id"))
	}
	return wrapData(http.StatusOK, t.appendGroup(nil, pos))
}

// deleteGroup answers 204; the group then simply stops appearing.
func (s *Server) deleteGroup(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.groups.pathRow(r)
	if pos < 0 {
		return notFound("Group", r.PathValue("id"))
	}
	t.groups.remove(pos)
	return reply{status: http.StatusNoContent}
}

func (s *Server) listMembers(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.groups.pathRow(r)
	if pos < 0 {
		return notFound("Group", r.PathValue("id"))
	}
	gid := t.groups.ids[pos]
	return listSlice(s, r, t.groupMembers(pos), func(b []byte, uid int64) []byte { return t.appendMember(b, gid, uid) })
}

// putMembers replaces a group's members with user_ids (Laravel's sync).
func (s *Server) putMembers(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.groups.pathRow(r)
	if pos < 0 {
		return notFound("Group", r.PathValue("id"))
	}
	var errs fieldErrors
	ids := t.userIDs(readInput(r), &errs)
	if errs.any() {
		return *errs.reply()
	}
	g := &t.groups.rows[pos]
	if !equalIDs(t.groupMembers(pos), ids) {
		g.members = ids
		t.groups.touch(pos, s.writeStamp())
	}
	return wrapData(http.StatusOK, t.appendGroup(nil, pos))
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
