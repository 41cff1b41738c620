package vomosim

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTableMatchesBruteForce drives a table with random adds, updates,
// deletes and pending rows, and checks every kind of query against a plain
// scan of the same rows.
func TestTableMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tb table[int]
	now := int64(1000)
	for step := 0; step < 20000; step++ {
		now += r.Int64N(3)
		switch op := r.IntN(10); {
		case op < 4 || tb.nLive == 0:
			state := rowLive
			if r.IntN(5) == 0 {
				state = rowPending
			}
			tb.add(tb.lastID()+1+r.Int64N(2), now, now, 0, state)
		case op < 6:
			tb.touch(tb.live.find(r.IntN(tb.nLive)), now-r.Int64N(20))
		case op < 8:
			tb.remove(tb.live.find(r.IntN(tb.nLive)))
		default:
			for i, s := range tb.state {
				if s == rowPending {
					tb.show(i)
					break
				}
			}
		}
		if step%10 != 0 {
			continue
		}
		f := openFilter()
		if step%50 != 0 {
			// A fixed window, asked again and again: the cached path.
			f.updatedAfter, f.updatedBefore = 1200, 4000
		} else {
			f = randomFilter(r, now, &tb)
		}
		var want []int64
		for i, s := range tb.state {
			if s == rowLive && tb.created[i] >= f.createdAfter && tb.created[i] <= f.createdBefore &&
				tb.updated[i] >= f.updatedAfter && tb.updated[i] <= f.updatedBefore && (f.match == nil || f.match(i)) {
				want = append(want, tb.ids[i])
			}
		}
		desc := r.IntN(3) == 0
		if desc {
			slices.Reverse(want)
		}
		offset, limit := r.IntN(len(want)+3), 1+r.IntN(20)
		total, got := tb.query(f, offset, limit, desc)
		if total != len(want) {
			t.Fatalf("step %d: total %d, want %d (filter %+v)", step, total, len(want), f)
		}
		var gotIDs []int64
		for _, p := range got {
			gotIDs = append(gotIDs, tb.ids[p])
		}
		wantPage := want[min(offset, len(want)):min(offset+limit, len(want))]
		if !slices.Equal(gotIDs, wantPage) {
			t.Fatalf("step %d: page %v, want %v", step, gotIDs, wantPage)
		}
	}
}

func randomFilter(r *rand.Rand, now int64, tb *table[int]) filter {
	f := openFilter()
	if r.IntN(2) == 0 {
		f.createdAfter = 1000 + r.Int64N(now-999)
	}
	if r.IntN(2) == 0 {
		f.createdBefore = 1000 + r.Int64N(now-999)
	}
	if r.IntN(2) == 0 {
		f.updatedAfter = 980 + r.Int64N(now-979)
	}
	if r.IntN(2) == 0 {
		f.updatedBefore = 980 + r.Int64N(now-979)
	}
	if r.IntN(4) == 0 {
		f.match = func(pos int) bool { return tb.ids[pos]%3 != 0 }
	}
	return f
}
