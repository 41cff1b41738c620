package state

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestGCRATake walks one budget through a clock the test controls: the
// burst at once, then one token per interval exactly at its time, a drain,
// a throttle, and a request larger than the burst.
func TestGCRATake(t *testing.T) {
	l := Limit{Key: "k", Interval: 100 * time.Microsecond, Burst: 3}
	var g GCRAState
	now := int64(1_000_000)
	step := func(at int64, n int, factor float64, wantWait int64) {
		t.Helper()
		next, w := g.Take(at, l, n, factor)
		if w != wantWait {
			t.Fatalf("take %d at %d: wait %d, want %d (state %+v)", n, at, w, wantWait, g)
		}
		if w == 0 {
			g = next
		} else if next != g {
			t.Fatalf("a refusal changed the state: %+v → %+v", g, next)
		}
	}
	step(now, 1, 0, 0)
	step(now, 1, 0, 0)
	step(now, 1, 0, 0)
	step(now, 1, 0, 100) // the burst is spent
	step(now+99, 1, 0, 1)
	step(now+100, 1, 0, 0) // exactly one interval later
	step(now+100, 1, 0, 100)
	// Idle long enough: the full burst is back, not more.
	now += 10_000
	step(now, 3, 1, 0)
	step(now, 1, 1, 100)
	// Throttled to a quarter: the same burst, then one per four intervals.
	now += 10_000
	step(now, 3, 0.25, 0)
	step(now, 1, 0.25, 400)
	step(now+400, 1, 0.25, 0)

	// A drain until now+1000 refuses everything before it, then grants one
	// token, then the next an interval later (no burst).
	g = GCRAState{Hold: now + 1000}
	step(now+999, 1, 1, 1)
	step(now+1000, 1, 1, 0)
	step(now+1000, 1, 1, 100)
	step(now+1100, 1, 1, 0)
	if g.Hold != 0 {
		t.Fatalf("a past hold is kept: %+v", g)
	}

	// Five tokens of a burst of three: granted from a full budget, and the
	// next one waits for the debt (5 intervals less the burst's 3).
	g = GCRAState{}
	step(now, 5, 1, 0)
	step(now, 1, 1, 300)
}

func TestGCRAFractionalInterval(t *testing.T) {
	// 3,000/s: an interval of 333.33µs is kept fractional, so the rate
	// over many takes does not drift by the rounding. A burst of 2 lets the
	// caller arrive up to an interval late (a wait is whole µs) without
	// losing its slot; it also grants one token more at the start. The
	// interval is 333,333ns, so the 3,000th token after the burst falls
	// at 999,999µs: 3,002 in all (rounded TATs would give 3,005).
	l := Limit{Key: "k", Interval: time.Second / 3000, Burst: 2}
	var g GCRAState
	now := int64(0)
	granted := 0
	for now < 1_000_000 {
		next, w := g.Take(now, l, 1, 1)
		if w == 0 {
			g = next
			granted++
			continue
		}
		now += w
	}
	if granted != 3002 {
		t.Fatalf("granted %d in one second at 3000/s", granted)
	}
}

func TestCheckTakeAndThrottle(t *testing.T) {
	ok := Limit{Key: "vomo", Interval: time.Second}
	for _, bad := range []TakeRequest{
		{Tenant: "", Limits: []Limit{ok}},
		{Tenant: "acme", Limits: []Limit{{Key: "vomo"}}},
		{Tenant: "acme", Limits: []Limit{{Key: "a|b", Interval: time.Second}}},
		{Tenant: "acme", Hubs: []Limit{{Key: "x", Interval: -time.Second}}},
		{Tenant: "acme", Factor: 1.01},
		{Tenant: "acme", Factor: math.NaN()},
		{Tenant: "acme", Limits: []Limit{ok, {Key: "other", Interval: time.Second}, ok}},
	} {
		if err := CheckTake(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckTake(%+v) = %v", bad, err)
		}
	}
	if err := CheckTake(TakeRequest{Tenant: "acme", Limits: []Limit{ok}, Hubs: []Limit{ok}, Factor: 0}); err != nil {
		t.Error(err)
	}
	if err := CheckNote("org", make([]byte, MaxNoteSize+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("CheckNote over the size: %v", err)
	}
}

// TestGCRALendAndCap: a cap refuses a take it would hold past the others'
// slot and rides along within CapSlack; an idle budget lends at once, a
// budget used only by loans lends its next slot within an interval, and
// one its own callers took from lends nothing it would have to wait for.
func TestGCRALendAndCap(t *testing.T) {
	sec := int64(time.Second / time.Microsecond)
	lane := Limit{Key: "lane", Interval: time.Second}
	capped := Limit{Key: "lane/backfill", Interval: 2 * time.Second, Cap: true}
	gs := []GCRAState{{TAT: float64(5 * sec)}, {TAT: float64(6 * sec)}}
	if _, w, ok := TakeAll(4*sec, gs, []Limit{lane, capped}, 1, 1, 10*sec, 0); ok || w != 2*sec {
		t.Errorf("cap two seconds out, lane one: granted %v, wait %d; want refused with the cap's 2s", ok, w)
	}
	gs[1].TAT = float64(5*sec) + 500 // half a millisecond past the lane's slot
	if next, w, ok := TakeAll(4*sec, gs, []Limit{lane, capped}, 1, 1, 10*sec, 0); !ok || w != sec+500 || next[0].TAT != float64(6*sec+500) {
		t.Errorf("cap within CapSlack: granted %v, wait %d, %+v", ok, w, next)
	}

	var idle GCRAState
	g, w, ok := idle.Lend(10*sec, lane, 1, 1)
	if !ok || w != 0 || g.TAT != float64(11*sec) || g.Lent != g.TAT {
		t.Fatalf("idle budget lends %v, wait %d, %+v", ok, w, g)
	}
	g, w, ok = g.Lend(10*sec, lane, 1, 1)
	if !ok || w != sec || g.TAT != float64(12*sec) || g.Lent != g.TAT {
		t.Fatalf("budget used by loans only lends its next slot: %v, wait %d, %+v", ok, w, g)
	}
	if _, w, ok := g.Lend(10*sec, lane, 1, 1); ok || w != 2*sec {
		t.Errorf("a slot two intervals out is lent: %v, wait %d", ok, w)
	}
	// Its own caller takes: the loans' mark is gone, nothing is lent
	// until the budget is idle again.
	own, _ := g.Take(12*sec, lane, 1, 1)
	if own.Lent != 0 {
		t.Fatalf("own take kept the loan mark: %+v", own)
	}
	if _, _, ok := own.Lend(12*sec+sec/2, lane, 1, 1); ok {
		t.Errorf("a budget its own callers use lent a slot ahead")
	}
	if _, w, ok := own.Lend(13*sec, lane, 1, 1); !ok || w != 0 {
		t.Errorf("idle again, it lends at once: %v, wait %d", ok, w)
	}
}
