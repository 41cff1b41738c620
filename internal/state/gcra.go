package state

import (
	"fmt"
	"math"
	"time"
)

// BudgetMargin is how long a budget outlives the moment it stops holding
// anything back (its theoretical arrival time and any drain are past):
// past it the budget is as good as absent, so backends expire it and an
// idle tenant leaves nothing behind. The margin covers the burst tolerance
// a drain's end is measured against.
const BudgetMargin = time.Minute

// MaxNoteSize is the largest note value a store accepts.
const MaxNoteSize = 64 << 10

// GCRAState is one stored budget, in µs of the store's clock: TAT is the
// theoretical arrival time of the next request, Hold the end of a drain
// (0 when none). TAT keeps its fraction: an interval such as 1s/3000 is
// not a whole number of µs, and rounding the TAT at every take would
// drift the rate (by 0.1% at 3,000/s). The Redis scripts compute exactly
// what Take does here.
type GCRAState struct {
	TAT  float64
	Hold int64
	// Lent is the TAT a loan to another lane's request left (Lend), 0
	// once the budget's own callers took from it again: while TAT equals
	// it, only borrowers have used the budget since its own went idle.
	Lent float64
}

// Take asks for n tokens of the limit at now, every interval divided by
// factor. It returns the state to store when granted (wait 0) or, when
// refused, the state unchanged and the µs to wait before the same request
// would be granted.
//
// With T the emission interval and tau = (burst-1)·T the burst tolerance,
// the request is granted when the new TAT (max(TAT, now) + n·T) lies at
// most tau+T ahead of now. A drain counts as a TAT of Hold+tau, so nothing
// is granted before Hold and then one token per interval, not a burst. A
// request for more tokens than the burst is granted once the budget is
// full and pays for them afterwards, rather than never.
func (g GCRAState) Take(now int64, l Limit, n int, factor float64) (GCRAState, int64) {
	n = max(n, 1)
	if factor <= 0 {
		factor = 1
	}
	t := float64(l.Interval.Nanoseconds()) / 1e3 / factor
	tau := float64(max(l.Burst, 1)-1) * t
	tat := max(g.TAT, float64(now))
	if g.Hold > 0 {
		tat = max(tat, float64(g.Hold)+tau)
	}
	next := tat + float64(n)*t
	allow := max(tau+t, float64(n)*t)
	if w := next - allow - float64(now); w > 0 {
		return g, int64(math.Ceil(w))
	}
	out := GCRAState{TAT: next}
	if g.Hold > now {
		out.Hold = g.Hold
	}
	return out, 0
}

// CapSlack is how far a cap may move a slot: on a cluster each budget is
// its own step, reading the clock a little after the one before, so a
// cap charged with the budget it shares by one take is that much later
// than it, and would otherwise refuse every take due at their common slot.
const CapSlack = time.Millisecond

// TakeAll asks for n tokens of every limit at now, all or none, with
// reserve (µs) the longest the caller will wait and after (µs) the
// earliest it will send (a wait already granted in another step). With W
// the longest wait at now of the limits that are not caps, and at least
// after: when W is at most reserve and every cap grants by now+W, the
// tokens are granted now, every budget advanced as if the request arrived
// at now+W (so a budget with a shorter wait is charged at the slot the
// request really goes, not earlier), and the caller sleeps W before
// sending. A cap that would hold the request past W (by more than
// CapSlack) refuses it with its own wait, whatever reserve: a cap never moves a slot, so it never
// charges another budget ahead of the slots that budget's other callers
// would take. Otherwise nothing changes and W is the wait. A reserve of 0
// is the plain take: granted only with nothing to wait.
func TakeAll(now int64, gs []GCRAState, ls []Limit, n int, factor float64, reserve, after int64) (next []GCRAState, wait int64, granted bool) {
	wait = max(after, 0)
	var capWait int64
	for i, g := range gs {
		_, w := g.Take(now, ls[i], n, factor)
		if ls[i].Cap {
			capWait = max(capWait, w)
		} else {
			wait = max(wait, w)
		}
	}
	if capWait > wait+CapSlack.Microseconds() {
		return gs, capWait, false
	}
	wait = max(wait, capWait)
	if wait > max(reserve, 0) {
		return gs, wait, false
	}
	next = make([]GCRAState, len(gs))
	for i, g := range gs {
		// At now+wait every budget grants: its wait only shrinks as its
		// arrival moves later, to none once past its TAT.
		next[i], _ = g.Take(now+wait, ls[i], n, factor)
		if g.Hold > now {
			next[i].Hold = g.Hold
		}
	}
	return next, wait, true
}

// Lend decides a loan of n tokens of another lane's budget to a request
// its own lane would make wait: granted when the budget is idle (nothing
// to wait) or when only borrowers have used it since its own callers last
// did (TAT still Lent) and its next slot is at most one interval away.
// The loan is charged at that slot, which is the wait. So a lane whose own
// callers are busy lends nothing but what it has at once (its burst),
// while an idle lane's whole rate goes to borrowers, one reserved slot
// ahead at most; its own next caller waits at most that slot.
func (g GCRAState) Lend(now int64, l Limit, n int, factor float64) (GCRAState, int64, bool) {
	next, w := g.Take(now, l, n, factor)
	if w == 0 {
		next.Lent = next.TAT
		return next, 0, true
	}
	if g.Lent == 0 || g.TAT != g.Lent {
		return g, w, false
	}
	if factor <= 0 {
		factor = 1
	}
	if float64(w) > float64(l.Interval.Nanoseconds())/1e3/factor {
		return g, w, false
	}
	next, _ = g.Take(now+w, l, n, factor)
	next.Lent = next.TAT
	return next, w, true
}

// TakeLend is TakeAll with loans. gs and ls are the tenant's limits (the
// first nt of them) then the hub limits; lgs and lls other lanes' budgets
// that may lend. When the tenant's limits grant at once and the whole
// would make the request wait, the first of lls whose Lend grants within
// reserve is taken with the tenant's limits instead of the hub limits:
// next holds the tenant's states charged at the loan's slot and the hub
// limits' unchanged, lent the loan's index and lendNext its state.
// Otherwise it is TakeAll, lent -1.
func TakeLend(now int64, gs []GCRAState, ls []Limit, nt int, lgs []GCRAState, lls []Limit, n int, factor float64, reserve int64) (next []GCRAState, lent int, lendNext GCRAState, wait int64, granted bool) {
	if len(lgs) > 0 {
		if _, w, _ := TakeAll(now, gs, ls, n, factor, 0, 0); w > 0 {
			if _, wt, ok := TakeAll(now, gs[:nt], ls[:nt], n, factor, 0, 0); ok && wt == 0 {
				for i, g := range lgs {
					if ln, lw, ok := g.Lend(now, lls[i], n, factor); ok && lw <= max(reserve, 0) {
						tn, _, _ := TakeAll(now, gs[:nt], ls[:nt], n, factor, lw, lw)
						next = append(append(make([]GCRAState, 0, len(gs)), tn...), gs[nt:]...)
						return next, i, ln, lw, true
					}
				}
			}
		}
	}
	next, wait, granted = TakeAll(now, gs, ls, n, factor, reserve, 0)
	return next, -1, GCRAState{}, wait, granted
}

// GiveBack returns n tokens of the limit: the TAT moves back n
// intervals, every interval divided by factor. A drain stays.
func (g GCRAState) GiveBack(l Limit, n int, factor float64) GCRAState {
	if factor <= 0 {
		factor = 1
	}
	g.TAT -= float64(max(n, 1)) * float64(l.Interval.Nanoseconds()) / 1e3 / factor
	return g
}

// Idle reports whether the budget holds nothing back at now any more, by
// BudgetMargin.
func (g GCRAState) Idle(now int64) bool {
	return max(int64(math.Ceil(g.TAT)), g.Hold)+BudgetMargin.Microseconds() <= now
}

// CheckTake refuses a malformed take request.
func CheckTake(req TakeRequest) error {
	if err := CheckName("tenant", req.Tenant); err != nil {
		return err
	}
	if math.IsNaN(req.Factor) || req.Factor < 0 || req.Factor > 1 {
		return fmt.Errorf("%w: throttle factor %v is not in (0, 1]", ErrInvalid, req.Factor)
	}
	if err := checkLimits("", req.Limits); err != nil {
		return err
	}
	if err := checkLimits("hub ", req.Hubs); err != nil {
		return err
	}
	if req.Reserve < 0 {
		return fmt.Errorf("%w: reserve %v is negative", ErrInvalid, req.Reserve)
	}
	if req.Drained && (len(req.Hubs) > 0 || req.Reserve != 0 || req.GiveBack) {
		return fmt.Errorf("%w: a drain check of %s reads the tenant's limits only, with no hub limit, reserve or give-back", ErrInvalid, req.Tenant)
	}
	if req.GiveBack && (len(req.Hubs) > 0 || req.Reserve != 0) {
		return fmt.Errorf("%w: a give-back of %s returns the tenant's limits only, with no hub limit or reserve", ErrInvalid, req.Tenant)
	}
	if len(req.Lend) > 0 && len(req.Hubs) == 0 {
		return fmt.Errorf("%w: a take of %s borrows from other lanes' budgets for its own hub limits, and has none", ErrInvalid, req.Tenant)
	}
	if err := checkLimits("lending ", req.Lend); err != nil {
		return err
	}
	for _, l := range req.Lend {
		for _, h := range req.Hubs {
			if h.Key == l.Key {
				return fmt.Errorf("%w: budget %s is both a hub limit and one to borrow from", ErrInvalid, l.Key)
			}
		}
	}
	return nil
}

// checkLimits refuses a malformed limit, or one listed twice.
func checkLimits(scope string, ls []Limit) error {
	for i, l := range ls {
		if err := checkLimit(l); err != nil {
			return err
		}
		// Twice the same budget in one take would be charged once.
		for _, o := range ls[:i] {
			if o.Key == l.Key {
				return fmt.Errorf("%w: %sbudget %s is listed twice", ErrInvalid, scope, l.Key)
			}
		}
	}
	return nil
}

func checkLimit(l Limit) error {
	if err := CheckName("budget key", l.Key); err != nil {
		return err
	}
	if l.Interval <= 0 {
		return fmt.Errorf("%w: budget %s: interval %v is not positive", ErrInvalid, l.Key, l.Interval)
	}
	return nil
}

// CheckThrottle refuses a throttle factor outside (0, 1].
func CheckThrottle(f float64) error {
	if math.IsNaN(f) || f <= 0 || f > 1 {
		return fmt.Errorf("%w: throttle factor %v is not in (0, 1]", ErrInvalid, f)
	}
	return nil
}

// CheckNote refuses a bad note name or a value over MaxNoteSize.
func CheckNote(name string, value []byte) error {
	if err := CheckName("note", name); err != nil {
		return err
	}
	if len(value) > MaxNoteSize {
		return fmt.Errorf("%w: note %s is %d bytes, more than %d", ErrInvalid, name, len(value), MaxNoteSize)
	}
	return nil
}
