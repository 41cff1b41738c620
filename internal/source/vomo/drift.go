package vomo

// Page drift. VOMO pages are offsets into a live list: a record removed
// before the current position shifts every later record back by one, and a
// plain page walk skips them. Inside a capped window (or a created_before
// scan) the list can only shrink during a walk, so meta.total tells how
// far to step back. Laravel counts and selects in two queries, so a drop
// of k first seen on page n may already have shifted page n−1: the walk
// resumes at the page holding position start(n−1) − k and de-duplicates by
// key. The last page gets one more check: when it holds fewer records than
// its own total promised (total − start), the select saw deletions the
// count did not, and the walk steps back by the difference instead of
// ending.

// pageFor returns the page number holding position pos at perPage records a
// page (rounding down, so the page starts at or before pos).
func pageFor(pos, perPage int) int {
	if perPage < 1 {
		perPage = 1
	}
	return pos/perPage + 1
}

// stepBackTo is the position to resume from when the total dropped by drop
// on the page starting at start, the page read before it having started at
// prevStart (hasPrev false when there was none).
func stepBackTo(prevStart int, hasPrev bool, start, drop int) int {
	from := start
	if hasPrev && prevStart < from {
		from = prevStart
	}
	return max(0, from-drop)
}

// observe applies a page that starts at or before p.Next to p. It returns
// the drop that made the walk step back (0 when it did not); p.Done is set
// when the page ended the list cleanly.
//
// A step-back re-reads from the resume position up to the start of the
// page that showed the drop, then jumps past that page (Resume), whose
// records were read from the list as it is now. A further drop while that
// gap is re-read moves the jump back by the same amount, which is safe
// wherever the records vanished: before the gap they shift the whole read
// region back, inside it or after it they shift unread records back
// across the jump target.
func (p *Progress) observe(lp *ListPage) (drop int) {
	s, r, total := lp.Start(), len(lp.Records), lp.Total
	if p.Pages > 0 && total < p.LastTotal {
		drop = p.LastTotal - total
	}
	end := r < lp.PerPage || !lp.HasNext
	if end && drop == 0 && s+r < total {
		// The count promised more than the select returned.
		drop = total - (s + r)
		total = s + r
	}
	if p.Pages == 0 {
		p.FirstTotal = total
	} else if total > p.LastTotal {
		p.TotalRose = true
	}
	prevStart, hasPrev := p.LastStart, p.Pages > 0
	p.Pages++
	p.LastStart, p.LastTotal, p.PerPage = s, total, lp.PerPage
	if drop > 0 {
		p.Next = stepBackTo(prevStart, hasPrev, s, drop)
		p.StepBacks++
		if p.Resume > 0 && s < p.GapEnd {
			p.Resume = max(p.Resume-drop, s+r, p.Next)
		} else {
			p.GapEnd, p.Resume = s, s+r
		}
		return drop
	}
	p.Next = max(p.Next, s+r)
	if p.Resume > 0 && p.Next >= p.GapEnd {
		p.Next = max(p.Next, p.Resume)
		p.GapEnd, p.Resume = 0, 0
	}
	if end {
		p.Done = true
		p.GapEnd, p.Resume = 0, 0
	}
	return 0
}

// dedup remembers the keys a walk emitted recently. Re-reads after a step
// back reach at most a few pages behind the current position, so it keeps
// two generations of limit keys each: memory stays flat for a scan of any
// size, and a key older than that is merely emitted twice (harmless:
// writes are idempotent, id sets are sets).
type dedup struct {
	cur, prev map[string]struct{}
	limit     int
}

func newDedup(limit int) *dedup {
	return &dedup{cur: make(map[string]struct{}), limit: limit}
}

// filter returns the records whose keys were not emitted yet, in order,
// and remembers them. It reuses recs' backing array.
func (d *dedup) filter(recs []Record) []Record {
	out := recs[:0]
	for _, r := range recs {
		if _, ok := d.cur[r.Key]; ok {
			continue
		}
		if _, ok := d.prev[r.Key]; ok {
			continue
		}
		d.cur[r.Key] = struct{}{}
		out = append(out, r)
	}
	if len(d.cur) >= d.limit {
		d.prev, d.cur = d.cur, make(map[string]struct{}, d.limit)
	}
	return out
}
