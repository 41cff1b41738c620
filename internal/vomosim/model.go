package vomosim

import (
	"fmt"
	"strings"
)

// sym is an interned string of one tenant: generated data repeats a few
// hundred names and places, so a record holds 4-byte symbols, not strings.
type sym uint32

// pool interns strings. It belongs to a tenant and is guarded by its lock.
type pool struct {
	s []string
	m map[string]sym
}

// newPool returns a pool where the zero sym is the empty string, so an
// unset field reads as "".
func newPool() *pool {
	p := &pool{m: map[string]sym{}}
	p.sym("")
	return p
}

func (p *pool) sym(s string) sym {
	if v, ok := p.m[s]; ok {
		return v
	}
	v := sym(len(p.s))
	p.s = append(p.s, s)
	p.m[s] = v
	return v
}

func (p *pool) str(v sym) string { return p.s[v] }

// Enumerations, stored as indexes into these tables.
var (
	genders          = []string{"M", "F", "N"}
	userStatuses     = []string{"ACTIVE", "INACTIVE", "PENDING"}
	membershipStatus = []string{"ACTIVE", "INACTIVE", "REMOVED", "PENDING"}
	membershipRoles  = []string{"VOLUNTEER", "LEADER", "ADMIN"}
	projectStatuses  = []string{"ACTIVE", "INACTIVE", "ARCHIVED"}
	campaignStatuses = []string{"ACTIVE", "COMPLETED", "PLANNED"}
	formStatuses     = []string{"PUBLISHED", "DRAFT", "CLOSED"}
)

func enumIndex(values []string, v string) (uint8, bool) {
	for i, s := range values {
		if strings.EqualFold(s, v) {
			return uint8(i), true
		}
	}
	return 0, false
}

// user is a volunteer. Names and places are symbols; email and phone are
// per-person strings.
type user struct {
	first, last                  sym
	email, phone                 string
	street, city, state, zip     sym
	country                      sym
	birthday                     int32 // days since the epoch
	gender, status, member, role uint8
}

type project struct {
	name        string
	description sym
	status      uint8
	campaignID  int64
	city, state sym
	capacity    int32
	firstDay    int32 // day of the first date
	dates       uint8 // number of dates
	every       uint8 // days between dates
}

// projectDateID encodes (project, k-th date) so dates need no storage.
func projectDateID(projectID int64, k int) int64 { return projectID*1000 + int64(k) }

func splitProjectDateID(id int64) (projectID int64, k int) { return id / 1000, int(id % 1000) }

type group struct {
	name        string
	description sym
	members     []int64 // user ids, ascending
}

type campaign struct {
	name             string
	status           uint8
	startsOn, endsOn int32
	goalHours        int32
}

type form struct {
	name        string
	projectID   int64
	status      uint8
	completions int32 // completion k of form f has id f*100000+k
}

func completionID(formID int64, k int) int64 { return formID*100000 + int64(k) }

func splitCompletionID(id int64) (formID int64, k int) { return id / 100000, int(id % 100000) }

type certificate struct {
	userID             int64
	name               sym
	issuedOn, expireOn int32
}

// hash64 mixes values into a well-spread number (splitmix64), for data that
// is derived rather than stored: the same inputs always give the same record.
func hash64(vs ...uint64) uint64 {
	x := uint64(0x9e3779b97f4a7c15)
	for _, v := range vs {
		x ^= v + 0x9e3779b97f4a7c15 + (x << 6) + (x >> 2)
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
	}
	return x
}

func (u *user) fullName(p *pool) string { return p.str(u.first) + " " + p.str(u.last) }

// appendUser writes a user as the list endpoint shows it; detail adds the
// fields only GET /users/{id} returns.
func (t *tenant) appendUser(b []byte, pos int, detail bool) []byte {
	u := &t.users.rows[pos]
	p := t.pool
	id := t.users.ids[pos]
	o := newObj(b)
	o.str("type", "user")
	o.int("id", id)
	o.str("first_name", p.str(u.first))
	o.str("last_name", p.str(u.last))
	o.str("full_name", u.fullName(p))
	o.str("email", u.email)
	a := o.sub("address")
	a.str("street", p.str(u.street))
	a.str("city", p.str(u.city))
	a.str("state", p.str(u.state))
	a.str("zip", p.str(u.zip))
	a.str("country", p.str(u.country))
	o.end(a)
	o.str("phone", u.phone)
	if u.birthday == 0 {
		o.null("birthday")
	} else {
		o.date("birthday", u.birthday)
	}
	o.str("gender", genders[u.gender])
	o.str("user_status", userStatuses[u.status])
	o.str("membership_status", membershipStatus[u.member])
	o.str("membership_role", membershipRoles[u.role])
	if detail {
		h := hash64(t.seed, uint64(id), 7)
		o.float("total_hours", float64(h%4000)/4)
		o.str("timezone", timezones[h%uint64(len(timezones))])
		ec := o.sub("emergency_contact")
		ec.str("name", firstNames[h>>12%uint64(len(firstNames))]+" "+p.str(u.last))
		ec.str("phone", fmt.Sprintf("+1-555-%04d", (h>>20)%10000))
		o.end(ec)
		skills := []byte{'['}
		for i := 0; i < int(h>>40)%3+1; i++ {
			if i > 0 {
				skills = append(skills, ',')
			}
			skills = appendJSONString(skills, skillNames[(h>>(8*i))%uint64(len(skillNames))])
		}
		o.raw("skills", append(skills, ']'))
	}
	o.stamp("created_at", t.users.created[pos])
	o.stamp("updated_at", t.users.updated[pos])
	return o.done()
}

func (t *tenant) appendProject(b []byte, pos int) []byte {
	pr := &t.projects.rows[pos]
	p := t.pool
	o := newObj(b)
	o.str("type", "project")
	o.int("id", t.projects.ids[pos])
	o.int("organization_id", t.org.id)
	o.int("campaign_id", pr.campaignID)
	o.str("name", pr.name)
	o.str("description", p.str(pr.description))
	o.str("status", projectStatuses[pr.status])
	o.str("city", p.str(pr.city))
	o.str("state", p.str(pr.state))
	o.int("capacity", int64(pr.capacity))
	o.date("start_date", pr.firstDay)
	o.date("end_date", pr.firstDay+int32(pr.dates-1)*int32(pr.every))
	o.stamp("created_at", t.projects.created[pos])
	o.stamp("updated_at", t.projects.updated[pos])
	return o.done()
}

// appendProjectDate writes the k-th date of a project with its participants.
// Participants are derived from the date id and the users that exist.
func (t *tenant) appendProjectDate(b []byte, pos, k int) []byte {
	pr := &t.projects.rows[pos]
	pid := t.projects.ids[pos]
	did := projectDateID(pid, k)
	day := pr.firstDay + int32(k-1)*int32(pr.every)
	o := newObj(b)
	o.str("type", "project_date")
	o.int("id", did)
	o.int("project_id", pid)
	o.date("date", day)
	o.str("start_time", "09:00:00")
	o.str("end_time", "13:00:00")
	o.int("capacity", int64(pr.capacity))
	parts := []byte{'['}
	for i, uid := range t.participants(did, pr.capacity) {
		if i > 0 {
			parts = append(parts, ',')
		}
		parts = t.appendParticipant(parts, pid, did, day, uid)
	}
	o.raw("participants", append(parts, ']'))
	o.stamp("created_at", t.projects.created[pos])
	o.stamp("updated_at", t.projects.updated[pos])
	return o.done()
}

// participants picks the users signed up for a date: a deterministic sample
// of user ids, skipping those that no longer exist.
func (t *tenant) participants(did int64, capacity int32) []int64 {
	last := t.users.lastID()
	if last == 0 || capacity <= 0 {
		return nil
	}
	h := hash64(t.seed, uint64(did), 11)
	n := int(h % uint64(capacity+1))
	seen := map[int64]bool{}
	var out []int64
	for i := 0; i < n; i++ {
		uid := int64(hash64(h, uint64(i))%uint64(last)) + 1
		if seen[uid] || t.users.get(uid) < 0 {
			continue
		}
		seen[uid] = true
		out = append(out, uid)
	}
	return out
}

func (t *tenant) appendParticipant(b []byte, pid, did int64, day int32, uid int64) []byte {
	h := hash64(t.seed, uint64(did), uint64(uid))
	start := int64(day)*86400*1e6 + 9*3600*1e6
	o := newObj(b)
	o.int("user_id", uid)
	o.stamp("signed_up_at", start-int64(h%(30*86400))*1e6)
	past := start < t.apiNowMicros()
	if past && h%5 != 0 {
		in := start + int64(h>>8%900)*1e6
		out := in + int64(2*3600+h>>16%7200)*1e6
		o.stamp("checked_in_at", in)
		o.stamp("checked_out_at", out)
		o.float("hours", float64((out-in)/1e6/900)/4)
		o.bool("verified", h>>24%3 != 0)
	} else {
		o.null("checked_in_at")
		o.null("checked_out_at")
		o.float("hours", 0)
		o.bool("verified", false)
	}
	o.str("role", membershipRoles[h>>32%2])
	o.int("guests", int64(h>>40%3))
	o.int("project_id", pid)
	o.int("project_date_id", did)
	return o.done()
}

func (t *tenant) appendGroup(b []byte, pos int) []byte {
	g := &t.groups.rows[pos]
	o := newObj(b)
	o.str("type", "group")
	o.int("id", t.groups.ids[pos])
	o.str("name", g.name)
	o.str("description", t.pool.str(g.description))
	o.int("member_count", int64(len(t.groupMembers(pos))))
	o.stamp("created_at", t.groups.created[pos])
	o.stamp("updated_at", t.groups.updated[pos])
	return o.done()
}

// groupMembers lists the members of a group that still exist.
func (t *tenant) groupMembers(pos int) []int64 {
	var out []int64
	for _, uid := range t.groups.rows[pos].members {
		if t.users.get(uid) >= 0 {
			out = append(out, uid)
		}
	}
	return out
}

func (t *tenant) appendMember(b []byte, gid, uid int64) []byte {
	upos := t.users.get(uid)
	u := &t.users.rows[upos]
	o := newObj(b)
	o.str("type", "group_member")
	o.int("group_id", gid)
	o.int("user_id", uid)
	o.str("first_name", t.pool.str(u.first))
	o.str("last_name", t.pool.str(u.last))
	o.str("email", u.email)
	o.str("membership_role", membershipRoles[u.role])
	return o.done()
}

func (t *tenant) appendCampaign(b []byte, pos int) []byte {
	c := &t.campaigns.rows[pos]
	o := newObj(b)
	o.str("type", "campaign")
	o.int("id", t.campaigns.ids[pos])
	o.str("name", c.name)
	o.str("status", campaignStatuses[c.status])
	o.date("starts_on", c.startsOn)
	o.date("ends_on", c.endsOn)
	o.int("goal_hours", int64(c.goalHours))
	o.stamp("created_at", t.campaigns.created[pos])
	o.stamp("updated_at", t.campaigns.updated[pos])
	return o.done()
}

func (t *tenant) appendOrganization(b []byte) []byte {
	o := newObj(b)
	o.str("type", "organization")
	o.int("id", t.org.id)
	o.str("name", t.org.name)
	o.str("timezone", t.org.timezone)
	o.str("website", t.org.website)
	o.stamp("created_at", t.org.created)
	o.stamp("updated_at", t.org.created)
	return o.done()
}

func (t *tenant) appendForm(b []byte, pos int) []byte {
	f := &t.forms.rows[pos]
	o := newObj(b)
	o.str("type", "form")
	o.int("id", t.forms.ids[pos])
	o.str("name", f.name)
	o.int("project_id", f.projectID)
	o.str("status", formStatuses[f.status])
	o.int("completion_count", int64(f.completions))
	o.stamp("created_at", t.forms.created[pos])
	o.stamp("updated_at", t.forms.updated[pos])
	return o.done()
}

// appendCompletion writes the k-th completion of a form; completions are
// derived from their id, spaced an hour apart after the form's creation.
func (t *tenant) appendCompletion(b []byte, pos, k int) []byte {
	fid := t.forms.ids[pos]
	cid := completionID(fid, k)
	h := hash64(t.seed, uint64(cid), 13)
	at := t.forms.created[pos] + int64(k)*3600*1e6
	uid := int64(1)
	if last := t.users.lastID(); last > 0 {
		uid = int64(h%uint64(last)) + 1
	}
	o := newObj(b)
	o.str("type", "form_completion")
	o.int("id", cid)
	o.int("form_id", fid)
	o.int("user_id", uid)
	o.stamp("submitted_at", at)
	ans := o.sub("answers")
	ans.str("tshirt_size", tshirtSizes[h%uint64(len(tshirtSizes))])
	ans.bool("waiver_signed", h>>8%4 != 0)
	ans.str("heard_about_us", referrals[h>>16%uint64(len(referrals))])
	o.end(ans)
	o.stamp("created_at", at)
	o.stamp("updated_at", at)
	return o.done()
}

func (t *tenant) appendCertificate(b []byte, pos int) []byte {
	c := &t.certificates.rows[pos]
	o := newObj(b)
	o.str("type", "certificate")
	o.int("id", t.certificates.ids[pos])
	o.int("user_id", c.userID)
	o.str("name", t.pool.str(c.name))
	o.date("issued_on", c.issuedOn)
	o.date("expires_on", c.expireOn)
	o.stamp("created_at", t.certificates.created[pos])
	o.stamp("updated_at", t.certificates.updated[pos])
	return o.done()
}
