package vomosim

import (
	"container/heap"
	"math/rand/v2"
	"strconv"
	"strings"
)

// churnState drives a tenant's changes from the API clock. Events arrive at
// exponentially spread instants drawn from the tenant's own random source,
// and are applied lazily, in time order, whenever a request (or a truth
// dump) brings the tenant up to the present. With the same seed the same
// instants produce the same changes, whatever the request pattern.
type churnState struct {
	rng      *rand.Rand
	next     int64 // API µs of the next event; 0 while churn is off
	pending  pendingHeap
	seq      int // orders pending writes that commit at one instant
	emailSeq int
}

// pendingWrite is a write stamped at stamp that commits (becomes visible)
// at visible. Its row is locked until then, as a transaction would hold it.
type pendingWrite struct {
	visible  int64
	stamp    int64
	seq      int
	project  bool
	create   bool
	id       int64
	old, new user
	proj     project
}

type pendingHeap []pendingWrite

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if h[i].visible != h[j].visible {
		return h[i].visible < h[j].visible
	}
	return h[i].seq < h[j].seq
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pendingWrite)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (c *churnState) init(seed uint64) { c.rng = rand.New(rand.NewPCG(seed, 2)) }

// pendingCount is the number of writes not yet visible.
func (t *tenant) pendingCount() int { return len(t.churn.pending) }

// advance applies every change due up to now (API µs).
func (t *tenant) advance(now int64) {
	cfg := t.srv.config()
	ch := &cfg.Churn
	c := &t.churn
	if !ch.Enabled || ch.PerMinute <= 0 {
		c.next = 0
	} else if c.next == 0 {
		c.next = now + c.gap(ch.PerMinute)
	}
	for {
		ev, pv := maxTime, maxTime
		if c.next != 0 {
			ev = c.next
		}
		if len(c.pending) > 0 {
			pv = c.pending[0].visible
		}
		if ev > now && pv > now {
			return
		}
		if pv <= ev {
			t.commit(heap.Pop(&c.pending).(pendingWrite))
			continue
		}
		t.event(ev, cfg)
		c.next = ev + c.gap(ch.PerMinute)
	}
}

// gap draws the time to the next event for a rate per minute.
func (c *churnState) gap(perMinute float64) int64 {
	return max(1, int64(c.rng.ExpFloat64()*60e6/perMinute))
}

// event applies one change happening at te.
func (t *tenant) event(te int64, cfg *Scenario) {
	ch := &cfg.Churn
	c := &t.churn
	stamp := te
	if cfg.Switches.SecondResolution {
		stamp -= stamp % 1e6
	}
	visible := te
	if ch.LateShare > 0 && ch.LateMax > 0 && c.rng.Float64() < ch.LateShare {
		visible = te + 1 + c.rng.Int64N(max(1, int64(ch.LateMax.D()/1000)))
	}
	weights := []float64{ch.Create, ch.Update, ch.Delete, ch.EmailChange, ch.BulkImport, ch.Project, ch.Group, ch.Form}
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if total <= 0 {
		return
	}
	x := c.rng.Float64() * total
	kind := 0
	for kind < len(weights)-1 && x >= weights[kind] {
		x -= weights[kind]
		kind++
	}
	switch kind {
	case 0:
		t.createUser(stamp, visible)
	case 1:
		t.updateUser(stamp, visible, false)
	case 2:
		if pos := t.pickUser(); pos >= 0 {
			t.deleteUser(pos)
		}
	case 3:
		t.updateUser(stamp, visible, true)
	case 4:
		n := ch.BulkMin + c.rng.IntN(ch.BulkMax-ch.BulkMin+1)
		create := c.rng.IntN(2) == 0
		for i := 0; i < n; i++ {
			if create {
				t.createUser(stamp, visible)
			} else {
				t.updateUser(stamp, visible, false)
			}
		}
	case 5:
		t.changeProject(stamp, visible)
	case 6:
		t.changeGroup(stamp)
	case 7:
		t.changeForm(stamp)
	}
}

// schedule queues a write, or commits it now when it is not late.
func (t *tenant) schedule(w pendingWrite) {
	if w.visible <= w.stamp {
		t.commit(w)
		return
	}
	t.churn.seq++
	w.seq = t.churn.seq
	heap.Push(&t.churn.pending, w)
}

// pickUser returns a random live user not held by a pending write, or -1.
func (t *tenant) pickUser() int {
	tb := &t.users
	for try := 0; try < 4 && tb.nLive > 0; try++ {
		pos := tb.live.find(t.churn.rng.IntN(tb.nLive))
		if !tb.locked[pos] {
			return pos
		}
	}
	return -1
}

func (t *tenant) createUser(stamp, visible int64) {
	id := t.users.lastID() + 1
	u := t.genUser(t.churn.rng, id)
	if visible <= stamp {
		t.users.add(id, stamp, stamp, u, rowLive)
		t.emails[strings.ToLower(u.email)] = id
		return
	}
	pos := t.users.add(id, stamp, stamp, u, rowPending)
	t.users.locked[pos] = true
	t.schedule(pendingWrite{visible: visible, stamp: stamp, create: true, id: id})
}

// updateUser changes one field of a random user, or its email.
func (t *tenant) updateUser(stamp, visible int64, email bool) {
	pos := t.pickUser()
	if pos < 0 {
		return
	}
	r := t.churn.rng
	old := t.users.rows[pos]
	u := old
	p := t.pool
	switch {
	case email:
		t.churn.emailSeq++
		u.email = emailFor(p.str(u.first), p.str(u.last), t.users.ids[pos], t.churn.emailSeq, r.IntN(len(domains)))
	default:
		switch r.IntN(6) {
		case 0:
			u.phone = phoneNumber(200+r.IntN(700), r.IntN(10000))
		case 1:
			c := cities[r.IntN(len(cities))]
			u.street = p.sym(strconv.Itoa(1+r.IntN(9999)) + " " + streets[r.IntN(len(streets))])
			u.city, u.state, u.zip = p.sym(c[0]), p.sym(c[1]), p.sym(c[2])
		case 2:
			u.member = uint8(r.IntN(len(membershipStatus)))
		case 3:
			u.status = uint8(r.IntN(len(userStatuses)))
		case 4:
			u.last = p.sym(lastNames[r.IntN(len(lastNames))])
		default:
			u.role = uint8(r.IntN(len(membershipRoles)))
		}
	}
	w := pendingWrite{visible: visible, stamp: stamp, id: t.users.ids[pos], old: old, new: u}
	if visible > stamp {
		t.users.locked[pos] = true
	}
	t.schedule(w)
}

// commit makes a write visible.
func (t *tenant) commit(w pendingWrite) {
	if w.project {
		pos := t.projects.get(w.id)
		if pos < 0 {
			return
		}
		t.projects.locked[pos] = false
		t.projects.rows[pos] = w.proj
		t.projects.touch(pos, w.stamp)
		return
	}
	pos := t.users.find(w.id)
	if pos < 0 {
		return
	}
	t.users.locked[pos] = false
	if w.create {
		t.users.show(pos)
		t.emails[strings.ToLower(t.users.rows[pos].email)] = w.id
		return
	}
	if t.users.state[pos] != rowLive {
		return
	}
	cur := &t.users.rows[pos]
	if w.new.email != w.old.email {
		delete(t.emails, strings.ToLower(cur.email))
		t.emails[strings.ToLower(w.new.email)] = w.id
	}
	*cur = mergeUser(*cur, w.old, w.new)
	t.users.touch(pos, w.stamp)
}

// mergeUser applies the fields a write changed (old -> new) onto cur, so a
// client write that landed meanwhile keeps its other fields.
func mergeUser(cur, old, new user) user {
	if new.first != old.first {
		cur.first = new.first
	}
	if new.last != old.last {
		cur.last = new.last
	}
	if new.email != old.email {
		cur.email = new.email
	}
	if new.phone != old.phone {
		cur.phone = new.phone
	}
	if new.street != old.street || new.city != old.city || new.state != old.state || new.zip != old.zip || new.country != old.country {
		cur.street, cur.city, cur.state, cur.zip, cur.country = new.street, new.city, new.state, new.zip, new.country
	}
	if new.birthday != old.birthday {
		cur.birthday = new.birthday
	}
	if new.gender != old.gender {
		cur.gender = new.gender
	}
	if new.status != old.status {
		cur.status = new.status
	}
	if new.member != old.member {
		cur.member = new.member
	}
	if new.role != old.role {
		cur.role = new.role
	}
	return cur
}

func (t *tenant) deleteUser(pos int) {
	delete(t.emails, strings.ToLower(t.users.rows[pos].email))
	t.users.remove(pos)
}

// changeProject edits (mostly), creates or deletes a project.
func (t *tenant) changeProject(stamp, visible int64) {
	r := t.churn.rng
	tb := &t.projects
	switch x := r.IntN(10); {
	case x < 2 || tb.nLive == 0:
		id := tb.lastID() + 1
		c := cities[r.IntN(len(cities))]
		day := int32(stamp/86400e6) + int32(r.IntN(60))
		tb.add(id, stamp, stamp, project{
			name:        activities[r.IntN(len(activities))] + " #" + strconv.FormatInt(id, 10),
			description: t.pool.sym(descriptions[r.IntN(len(descriptions))]),
			campaignID:  1 + int64(r.IntN(max(1, t.campaigns.nLive))),
			city:        t.pool.sym(c[0]),
			state:       t.pool.sym(c[1]),
			capacity:    int32(5 + r.IntN(30)),
			firstDay:    day,
			dates:       uint8(1 + r.IntN(12)),
			every:       7,
		}, rowLive)
	case x < 3:
		if pos := tb.live.find(r.IntN(tb.nLive)); !tb.locked[pos] {
			tb.remove(pos)
		}
	default:
		pos := tb.live.find(r.IntN(tb.nLive))
		if tb.locked[pos] {
			return
		}
		pr := tb.rows[pos]
		switch r.IntN(3) {
		case 0:
			pr.status = uint8(r.IntN(len(projectStatuses)))
		case 1:
			pr.capacity = int32(5 + r.IntN(30))
		default:
			pr.description = t.pool.sym(descriptions[r.IntN(len(descriptions))])
		}
		if visible > stamp {
			tb.locked[pos] = true
		}
		t.schedule(pendingWrite{visible: visible, stamp: stamp, project: true, id: tb.ids[pos], proj: pr})
	}
}

// changeGroup adds or removes a few members of a random group.
func (t *tenant) changeGroup(stamp int64) {
	r := t.churn.rng
	tb := &t.groups
	if tb.nLive == 0 || t.users.nLive == 0 {
		return
	}
	pos := tb.live.find(r.IntN(tb.nLive))
	g := &tb.rows[pos]
	if r.IntN(2) == 0 || len(g.members) == 0 {
		uid := t.users.ids[t.users.live.find(r.IntN(t.users.nLive))]
		g.members = insertSorted(g.members, uid)
	} else {
		i := r.IntN(len(g.members))
		g.members = append(g.members[:i:i], g.members[i+1:]...)
	}
	tb.touch(pos, stamp)
}

// changeForm records a new completion, or (rarely) deletes a form: its
// completions then answer 404 in the middle of a scan.
func (t *tenant) changeForm(stamp int64) {
	r := t.churn.rng
	tb := &t.forms
	if tb.nLive == 0 {
		return
	}
	pos := tb.live.find(r.IntN(tb.nLive))
	if r.IntN(10) == 0 {
		tb.remove(pos)
		return
	}
	if tb.rows[pos].completions < 99999 {
		tb.rows[pos].completions++
	}
	tb.touch(pos, stamp)
}

func insertSorted(s []int64, v int64) []int64 {
	i := 0
	for i < len(s) && s[i] < v {
		i++
	}
	if i < len(s) && s[i] == v {
		return s
	}
	out := make([]int64, 0, len(s)+1)
	out = append(out, s[:i]...)
	out = append(out, v)
	return append(out, s[i:]...)
}
