package vomosim

import "slices"

// maxLog bounds the change log; a cache older than the log is rebuilt.
const maxLog = 1 << 14

// changeLog lists the ids of rows whose visibility or updated_at changed,
// in order; entry i has version base+i+1.
type changeLog struct {
	base uint64
	ids  []int64
}

// windowCache holds the ids, in order, of the rows in one time window, so
// the pages of a walk over an updated_* window cost a binary search, not a
// collect-and-sort of the whole window per page. Changes since it was built
// are replayed from the table's change log.
type windowCache struct {
	ok             bool
	ca, cb, ua, ub int64
	version        uint64
	ids            []int64
}

func (t *table[T]) version() uint64 { return t.log.base + uint64(len(t.log.ids)) }

// changed records that row id changed.
func (t *table[T]) changed(id int64) {
	if len(t.log.ids) >= maxLog {
		t.log.base += uint64(len(t.log.ids))
		t.log.ids = t.log.ids[:0]
	}
	t.log.ids = append(t.log.ids, id)
}

// inWindow reports whether a position is live and inside f's time bounds.
func (t *table[T]) inWindow(f filter, pos int) bool {
	return pos >= 0 && t.state[pos] == rowLive &&
		t.created[pos] >= f.createdAfter && t.created[pos] <= f.createdBefore &&
		t.updated[pos] >= f.updatedAfter && t.updated[pos] <= f.updatedBefore
}

// windowIDs returns the ids of the live rows in f's time window (f.match
// must be nil). a, b is the window's span of the updated_at index and lo,
// hi the created range, used when the cache has to be rebuilt.
func (t *table[T]) windowIDs(f filter, lo, hi, a, b int) []int64 {
	c := &t.wcache
	if c.ok && c.ca == f.createdAfter && c.cb == f.createdBefore && c.ua == f.updatedAfter && c.ub == f.updatedBefore && c.version >= t.log.base {
		for _, id := range t.log.ids[c.version-t.log.base:] {
			in := t.inWindow(f, t.find(id))
			i, found := slices.BinarySearch(c.ids, id)
			switch {
			case found && !in:
				c.ids = slices.Delete(c.ids, i, i+1)
			case !found && in:
				c.ids = slices.Insert(c.ids, i, id)
			}
		}
		c.version = t.version()
		return c.ids
	}
	ids := c.ids[:0]
	for _, e := range t.upd.e[a:b] {
		if p := int(e.pos); p >= lo && p < hi && t.valid(e) {
			ids = append(ids, t.ids[p])
		}
	}
	slices.Sort(ids)
	*c = windowCache{ok: true, ca: f.createdAfter, cb: f.createdBefore, ua: f.updatedAfter, ub: f.updatedBefore,
		version: t.version(), ids: slices.Compact(ids)}
	return c.ids
}
