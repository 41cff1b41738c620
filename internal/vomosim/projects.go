package vomosim

import "net/http"

func (s *Server) listProjects(t *tenant, r *http.Request) reply {
	like := func(pos int, name, _ string) bool {
		return name == "" || containsFold([]byte(t.projects.rows[pos].name), name)
	}
	return listTable(s, t, r, &t.projects, true, like, t.appendProject)
}

func (s *Server) showProject(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.projects.pathRow(r)
	if pos < 0 {
		return notFound("Project", r.PathValue("id"))
	}
	return wrapData(http.StatusOK, t.appendProject(nil, pos))
}

// projectsToday lists projects with a date on the API's current day.
func (s *Server) projectsToday(t *tenant, r *http.Request) reply {
	now := micros(s.apiNow())
	t.advance(now)
	today := int32(now / 86400e6)
	var hits []int
	for _, pos := range t.projects.visible() {
		p := &t.projects.rows[pos]
		d := today - p.firstDay
		if d >= 0 && d%int32(p.every) == 0 && d/int32(p.every) < int32(p.dates) {
			hits = append(hits, pos)
		}
	}
	return listSlice(s, r, hits, t.appendProject)
}

// showProjectDate is one date of a project with its participants.
func (s *Server) showProjectDate(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	did, ok := pathID(r, "id")
	if ok {
		pid, k := splitProjectDateID(did)
		if pos := t.projects.get(pid); pos >= 0 && k >= 1 && k <= int(t.projects.rows[pos].dates) {
			return wrapData(http.StatusOK, t.appendProjectDate(nil, pos, k))
		}
	}
	return notFound("ProjectDate", r.PathValue("id"))
}

// projectInput applies a write's fields to p; create requires a name.
func (s *Server) projectInput(t *tenant, in input, p *project, create bool) *reply {
	var errs fieldErrors
	var name string
	var ok bool
	if create {
		name, ok = in.required(&errs, "name", "name", 255)
	} else {
		name, ok = in.str(&errs, "name", "name", 255)
	}
	if ok && name != "" {
		p.name = name
	}
	if v, ok := in.str(&errs, "description", "description", 2000); ok {
		p.description = t.pool.sym(v)
	}
	if v, ok := in.enum(&errs, "status", "status", projectStatuses); ok {
		p.status = v
	}
	if v, ok := in.integer(&errs, "capacity", "capacity", 1, 100000); ok {
		p.capacity = int32(v)
	}
	if v, ok := in.integer(&errs, "campaign_id", "campaign id", 1, 1<<53); ok {
		if t.campaigns.get(v) < 0 {
			errs.add("campaign_id", "The selected campaign id is invalid.")
		} else {
			p.campaignID = v
		}
	}
	if d, ok := in.date(&errs, "start_date", "start date"); ok {
		p.firstDay = d
	}
	if errs.any() {
		return errs.reply()
	}
	return nil
}

func (s *Server) createProject(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	stamp := s.writeStamp()
	p := project{capacity: 10, dates: 1, every: 7, firstDay: int32(stamp / 86400e6), campaignID: 1,
		city: t.pool.sym(""), state: t.pool.sym(""), description: t.pool.sym("")}
	if bad := s.projectInput(t, readInput(r), &p, true); bad != nil {
		return *bad
	}
	pos := t.projects.add(t.projects.lastID()+1, stamp, stamp, p, rowLive)
	return wrapData(http.StatusCreated, t.appendProject(nil, pos))
}

// updateProject is PUT /projects/{id}; an unchanged project keeps its
// updated_at.
func (s *Server) updateProject(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.projects.pathRow(r)
	if pos < 0 {
		return notFound("Project", r.PathValue("id"))
	}
	p := t.projects.rows[pos]
	if bad := s.projectInput(t, readInput(r), &p, false); bad != nil {
		return *bad
	}
	if p != t.projects.rows[pos] {
		t.projects.rows[pos] = p
		t.projects.touch(pos, s.writeStamp())
	}
	return wrapData(http.StatusOK, t.appendProject(nil, pos))
}
