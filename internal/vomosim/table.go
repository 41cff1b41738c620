package vomosim

import (
	"math"
	"slices"
	"sort"
)

// Row states. A pending row holds an id that was assigned by a transaction
// that has not committed yet: it keeps id order but is invisible.
const (
	rowLive uint8 = iota
	rowPending
	rowDeleted
)

// noBound is the open end of a time range.
const (
	minTime int64 = math.MinInt64
	maxTime int64 = math.MaxInt64
)

// table holds one resource of one tenant in id order, as parallel slices so a
// million rows stay compact. Lists are offset pages over live data, so the
// table answers "the k-th visible row of a filter" without scanning: a
// Fenwick tree counts live rows by position, created_at is monotonic with id
// (a created_* filter is a position range found by binary search), and an
// updated_at index answers updated_* filters from the rows in that range.
type table[T any] struct {
	ids     []int64
	created []int64
	updated []int64
	state   []uint8
	locked  []bool // a pending write holds the row (a transaction's row lock)
	rows    []T
	live    fenwick
	nLive   int
	nDead   int
	upd     updIndex
	log     changeLog
	wcache  windowCache
}

// filter is the parsed form of a list's query. Time bounds are inclusive, in
// microseconds; match, when set, is a predicate on a position (name_like…).
type filter struct {
	createdAfter, createdBefore int64
	updatedAfter, updatedBefore int64
	match                       func(pos int) bool
}

func openFilter() filter {
	return filter{createdAfter: minTime, createdBefore: maxTime, updatedAfter: minTime, updatedBefore: maxTime}
}

func (f filter) hasUpdated() bool { return f.updatedAfter != minTime || f.updatedBefore != maxTime }

// find returns the position of id, or -1.
func (t *table[T]) find(id int64) int {
	i, ok := slices.BinarySearch(t.ids, id)
	if !ok {
		return -1
	}
	return i
}

// get returns the position of a live row with id, or -1.
func (t *table[T]) get(id int64) int {
	i := t.find(id)
	if i < 0 || t.state[i] != rowLive {
		return -1
	}
	return i
}

// lastID is the highest id ever handed out (0 for an empty table).
func (t *table[T]) lastID() int64 {
	if len(t.ids) == 0 {
		return 0
	}
	return t.ids[len(t.ids)-1]
}

// add appends a row; its id must exceed every id in the table. created is
// clamped so created_at stays monotonic with id.
func (t *table[T]) add(id, created, updated int64, row T, state uint8) int {
	if n := len(t.created); n > 0 && created < t.created[n-1] {
		created = t.created[n-1]
	}
	pos := len(t.ids)
	t.ids = append(t.ids, id)
	t.created = append(t.created, created)
	t.updated = append(t.updated, updated)
	t.state = append(t.state, state)
	t.locked = append(t.locked, false)
	t.rows = append(t.rows, row)
	v := int32(0)
	if state == rowLive {
		v = 1
		t.nLive++
		t.upd.insert(updated, int32(pos))
		t.changed(id)
	}
	t.live.push(v)
	return pos
}

// grow makes room for n more rows, so a generator appends without copying.
func (t *table[T]) grow(n int) {
	t.ids = slices.Grow(t.ids, n)
	t.created = slices.Grow(t.created, n)
	t.updated = slices.Grow(t.updated, n)
	t.state = slices.Grow(t.state, n)
	t.locked = slices.Grow(t.locked, n)
	t.rows = slices.Grow(t.rows, n)
}

// load appends a live row without maintaining the indexes; a generator
// loads every row and then calls rebuild once.
func (t *table[T]) load(id, created, updated int64, row T) {
	if n := len(t.created); n > 0 && created < t.created[n-1] {
		created = t.created[n-1]
	}
	t.ids = append(t.ids, id)
	t.created = append(t.created, created)
	t.updated = append(t.updated, updated)
	t.state = append(t.state, rowLive)
	t.locked = append(t.locked, false)
	t.rows = append(t.rows, row)
}

// show makes a pending row live.
func (t *table[T]) show(pos int) {
	if t.state[pos] != rowPending {
		return
	}
	t.state[pos] = rowLive
	t.nLive++
	t.live.add(pos, 1)
	t.upd.insert(t.updated[pos], int32(pos))
	t.changed(t.ids[pos])
}

// touch records a new updated_at for a live row.
func (t *table[T]) touch(pos int, updated int64) {
	if t.updated[pos] == updated {
		return
	}
	t.updated[pos] = updated
	t.upd.stale++
	t.upd.insert(updated, int32(pos))
	t.changed(t.ids[pos])
	t.prune()
}

// remove deletes a live row; it simply stops appearing, as in VOMO.
func (t *table[T]) remove(pos int) {
	if t.state[pos] != rowLive {
		return
	}
	t.state[pos] = rowDeleted
	t.changed(t.ids[pos])
	t.nLive--
	t.nDead++
	t.live.add(pos, -1)
	t.upd.stale++
	var zero T
	t.rows[pos] = zero
	t.prune()
	if t.nDead > 1024 && t.nDead > t.nLive/2 {
		t.compact()
	}
}

// compact drops deleted rows and rebuilds the position-based indexes.
func (t *table[T]) compact() {
	n := 0
	for i := range t.ids {
		if t.state[i] == rowDeleted {
			continue
		}
		t.ids[n], t.created[n], t.updated[n] = t.ids[i], t.created[i], t.updated[i]
		t.state[n], t.locked[n], t.rows[n] = t.state[i], t.locked[i], t.rows[i]
		n++
	}
	var zero T
	for i := n; i < len(t.rows); i++ {
		t.rows[i] = zero
	}
	t.ids, t.created, t.updated = t.ids[:n], t.created[:n], t.updated[:n]
	t.state, t.locked, t.rows = t.state[:n], t.locked[:n], t.rows[:n]
	t.nDead = 0
	t.rebuild()
}

// rebuild recomputes the Fenwick tree and the updated_at index from the rows.
func (t *table[T]) rebuild() {
	t.live = fenwick{}
	t.upd = updIndex{}
	t.wcache.ok = false
	t.nLive = 0
	for i, s := range t.state {
		v := int32(0)
		if s == rowLive {
			v = 1
			t.nLive++
			t.upd.e = append(t.upd.e, updEntry{ts: t.updated[i], pos: int32(i)})
		}
		t.live.push(v)
	}
	slices.SortFunc(t.upd.e, cmpUpd)
}

// valid reports whether an updated_at index entry still describes its row.
func (t *table[T]) valid(e updEntry) bool {
	return t.state[e.pos] == rowLive && t.updated[e.pos] == e.ts
}

// query returns the total of the filter and the positions of up to limit rows
// starting at offset, in id order (descending when desc).
func (t *table[T]) query(f filter, offset, limit int, desc bool) (int, []int) {
	lo := sort.Search(len(t.created), func(i int) bool { return t.created[i] >= f.createdAfter })
	hi := sort.Search(len(t.created), func(i int) bool { return t.created[i] > f.createdBefore })
	if hi < lo {
		hi = lo
	}
	if offset < 0 {
		offset = 0
	}
	if !f.hasUpdated() && f.match == nil {
		base := t.live.prefix(lo)
		total := t.live.prefix(hi) - base
		var out []int
		for i := offset; i < offset+limit && i < total; i++ {
			k := base + i
			if desc {
				k = base + total - 1 - i
			}
			out = append(out, t.live.find(k))
		}
		return total, out
	}
	if f.hasUpdated() {
		a, b := t.upd.span(f.updatedAfter, f.updatedBefore)
		if b-a <= hi-lo && f.match == nil {
			ids := t.windowIDs(f, lo, hi, a, b)
			var out []int
			for i := offset; i < offset+limit && i < len(ids); i++ {
				k := i
				if desc {
					k = len(ids) - 1 - i
				}
				out = append(out, t.find(ids[k]))
			}
			return len(ids), out
		}
		if b-a <= hi-lo {
			var cand []int
			for _, e := range t.upd.e[a:b] {
				p := int(e.pos)
				if p < lo || p >= hi || !t.valid(e) || (f.match != nil && !f.match(p)) {
					continue
				}
				cand = append(cand, p)
			}
			slices.Sort(cand)
			cand = slices.Compact(cand)
			return len(cand), window(cand, offset, limit, desc)
		}
	}
	// A scan of the created range: name_like/email_like are LIKE '%…%' in
	// VOMO's database too, and a wide updated range costs no more this way.
	var hits []int
	total := 0
	keep := func(p int) {
		if total >= offset && len(hits) < limit {
			hits = append(hits, p)
		}
		total++
	}
	step, from, to := 1, lo, hi
	if desc {
		step, from, to = -1, hi-1, lo-1
	}
	for p := from; p != to; p += step {
		if t.state[p] != rowLive || t.updated[p] < f.updatedAfter || t.updated[p] > f.updatedBefore {
			continue
		}
		if f.match != nil && !f.match(p) {
			continue
		}
		keep(p)
	}
	return total, hits
}

// window cuts [offset, offset+limit) out of ascending positions.
func window(cand []int, offset, limit int, desc bool) []int {
	n := len(cand)
	var out []int
	for i := offset; i < offset+limit && i < n; i++ {
		if desc {
			out = append(out, cand[n-1-i])
		} else {
			out = append(out, cand[i])
		}
	}
	return out
}

// visible returns the positions of every live row in id order.
func (t *table[T]) visible() []int {
	out := make([]int, 0, t.nLive)
	for i, s := range t.state {
		if s == rowLive {
			out = append(out, i)
		}
	}
	return out
}

// fenwick counts live rows by position; it grows by appending.
type fenwick struct{ tree []int32 } // 1-based: tree[0] unused

func (f *fenwick) push(v int32) {
	if len(f.tree) == 0 {
		f.tree = append(f.tree, 0)
	}
	i := len(f.tree)
	low := i & -i
	// tree[i] covers (i-low, i]: v plus the sum of (i-low, i-1].
	sum := v + int32(f.prefix(i-1)-f.prefix(i-low))
	f.tree = append(f.tree, sum)
}

// add changes the value at position pos (0-based).
func (f *fenwick) add(pos int, d int32) {
	for i := pos + 1; i < len(f.tree); i += i & -i {
		f.tree[i] += d
	}
}

// prefix is the number of live rows in positions [0, n).
func (f *fenwick) prefix(n int) int {
	s := 0
	for i := n; i > 0; i -= i & -i {
		s += int(f.tree[i])
	}
	return s
}

// find returns the position of the k-th live row (0-based).
func (f *fenwick) find(k int) int {
	n := len(f.tree) - 1
	pos := 0
	step := 1
	for step*2 <= n {
		step *= 2
	}
	rem := int32(k + 1)
	for ; step > 0; step /= 2 {
		if next := pos + step; next <= n && f.tree[next] < rem {
			pos = next
			rem -= f.tree[next]
		}
	}
	return pos // 1-based pos+1 holds it, so 0-based pos
}

// updEntry is one (updated_at, position) pair of the updated_at index.
type updEntry struct {
	ts  int64
	pos int32
}

func cmpUpd(a, b updEntry) int {
	if a.ts != b.ts {
		if a.ts < b.ts {
			return -1
		}
		return 1
	}
	return int(a.pos) - int(b.pos)
}

// updIndex keeps (updated_at, position) sorted. Entries of rows that changed
// since are left in place and skipped (stale); the index is compacted when
// they outnumber the rest. New entries land near the end, so inserting costs
// little.
type updIndex struct {
	e     []updEntry
	stale int
}

func (u *updIndex) insert(ts int64, pos int32) {
	e := updEntry{ts: ts, pos: pos}
	i, found := slices.BinarySearchFunc(u.e, e, cmpUpd)
	if found {
		u.stale--
		return
	}
	u.e = slices.Insert(u.e, i, e)
}

// span returns the index range of entries with ts in [a, b].
func (u *updIndex) span(a, b int64) (int, int) {
	lo := sort.Search(len(u.e), func(i int) bool { return u.e[i].ts >= a })
	hi := sort.Search(len(u.e), func(i int) bool { return u.e[i].ts > b })
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// prune drops stale entries when they outnumber the live ones.
func (t *table[T]) prune() {
	if t.upd.stale < 1024 || t.upd.stale < len(t.upd.e)/2 {
		return
	}
	n := 0
	for _, e := range t.upd.e {
		if t.valid(e) {
			t.upd.e[n] = e
			n++
		}
	}
	t.upd.e = t.upd.e[:n]
	t.upd.stale = 0
}
