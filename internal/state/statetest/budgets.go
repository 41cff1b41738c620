package statetest

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// The budget cases check waits against long intervals (an hour), so a
// loaded machine cannot make them flaky, and recovery by sleeping the
// returned Wait, which a slow machine only lengthens.

// take asks for n tokens and returns what the store answered.
func take(t *testing.T, s state.Store, req state.TakeRequest) state.TakeResult {
	t.Helper()
	r, err := s.Take(ctx, req)
	check(t, err)
	return r
}

func granted(t *testing.T, s state.Store, req state.TakeRequest) {
	t.Helper()
	if r := take(t, s, req); !r.Granted || r.Wait != 0 {
		t.Fatalf("take %+v: %+v, want granted", req, r)
	}
}

// refused checks a refusal whose wait is in (lo, hi].
func refused(t *testing.T, s state.Store, req state.TakeRequest, lo, hi time.Duration) time.Duration {
	t.Helper()
	r := take(t, s, req)
	if r.Granted || r.Wait <= lo || r.Wait > hi {
		t.Fatalf("take %+v: %+v, want refused with a wait in (%v, %v]", req, r, lo, hi)
	}
	return r.Wait
}

func limits(ls ...state.Limit) []state.Limit { return ls }

// shortInterval is the interval (or drain) of the cases that sleep a wait.
const shortInterval = 400 * time.Millisecond

// shortRefusal expects a refusal with a wait in (0, shortInterval]. A
// grant instead means the machine stalled past the interval since the
// previous call (ok is false), and the caller starts over on fresh keys.
func shortRefusal(t *testing.T, s state.Store, req state.TakeRequest) (time.Duration, bool) {
	t.Helper()
	r := take(t, s, req)
	if r.Granted {
		return 0, false
	}
	if r.Wait <= 0 || r.Wait > shortInterval {
		t.Fatalf("take %+v: %+v, want a wait in (0, %v]", req, r, shortInterval)
	}
	return r.Wait, true
}

// unstalled runs a case that relies on two calls coming within
// shortInterval, on fresh keys each attempt, until one attempt is not
// stalled. Five stalls in a row fail: a budget that grants every time
// looks exactly like that.
func unstalled(t *testing.T, fn func(attempt string) bool) {
	t.Helper()
	for i := range 5 {
		if fn("#" + strconv.Itoa(i)) {
			return
		}
	}
	t.Fatalf("granted where a refusal was due, 5 times in a row")
}

func testBudgetBurst(t *testing.T, s state.Store) {
	hour := state.Limit{Key: "vomo", Interval: time.Hour, Burst: 3}
	req := state.TakeRequest{Tenant: "acme", Limits: limits(hour)}
	for range 3 {
		granted(t, s, req)
	}
	// Then one per interval: the next token is an interval away.
	refused(t, s, req, 59*time.Minute, time.Hour)

	// A caller that sleeps the wait gets its token.
	unstalled(t, func(attempt string) bool {
		fast := state.Limit{Key: "fast" + attempt, Interval: shortInterval}
		req := state.TakeRequest{Tenant: "acme", Limits: limits(fast)}
		granted(t, s, req)
		w, ok := shortRefusal(t, s, req)
		if !ok {
			return false
		}
		time.Sleep(w)
		granted(t, s, req)
		return true
	})

	// Burst below 1 counts as 1.
	zero := state.TakeRequest{Tenant: "acme", Limits: limits(state.Limit{Key: "zero", Interval: time.Hour})}
	granted(t, s, zero)
	refused(t, s, zero, 59*time.Minute, time.Hour)
}

func testBudgetAllOrNone(t *testing.T, s state.Store) {
	a := state.Limit{Key: "vomo", Interval: time.Hour, Burst: 2}
	b := state.Limit{Key: "vomo/backfill", Interval: time.Hour}
	granted(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(a)})
	granted(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(b)})
	// b is spent, so a keeps its last token.
	refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(a, b)}, 59*time.Minute, time.Hour)
	granted(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(a)})
	refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(a)}, 59*time.Minute, time.Hour)
	// No limits at all: nothing to wait for.
	granted(t, s, state.TakeRequest{Tenant: "acme"})
}

func testBudgetHubGivesBack(t *testing.T, s state.Store) {
	unstalled(t, func(attempt string) bool {
		tenant := state.Limit{Key: "vomo" + attempt, Interval: time.Hour, Burst: 2}
		hub := state.Limit{Key: "vomo/lane/default" + attempt, Interval: shortInterval}
		req := state.TakeRequest{Tenant: "acme", Limits: limits(tenant), Hubs: []state.Limit{hub}}
		granted(t, s, req)
		// The hub refuses: its wait is reported and the tenant's token
		// goes back.
		w, ok := shortRefusal(t, s, req)
		if !ok {
			return false
		}
		time.Sleep(w)
		// The tenant's second token is still there: it does not wait an
		// hour.
		granted(t, s, req)
		refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(tenant)}, 59*time.Minute, time.Hour)
		return true
	})

	// A hub refusal with a long wait: the tenant's budget is untouched.
	slow := state.Limit{Key: "vomo/lane/slow", Interval: time.Hour}
	other := state.Limit{Key: "other", Interval: time.Hour}
	granted(t, s, state.TakeRequest{Tenant: "acme", Hubs: []state.Limit{slow}})
	// Another tenant draws on the same hub budget.
	refused(t, s, state.TakeRequest{Tenant: "globex", Limits: limits(other), Hubs: []state.Limit{slow}}, 59*time.Minute, time.Hour)
	granted(t, s, state.TakeRequest{Tenant: "globex", Limits: limits(other)})
	refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(other), Hubs: []state.Limit{slow}}, 59*time.Minute, time.Hour)
	granted(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(other)})
}

func testBudgetThrottle(t *testing.T, s state.Store) {
	if f := must(s.Throttle(ctx))(t); f != 1 {
		t.Fatalf("throttle before any set: %v", f)
	}
	for _, bad := range []float64{0, -0.5, 1.5, math.NaN(), math.Inf(1)} {
		if err := s.SetThrottle(ctx, bad); !errors.Is(err, state.ErrInvalid) {
			t.Fatalf("set throttle %v: %v", bad, err)
		}
	}
	check(t, s.SetThrottle(ctx, 0.5))
	if f := must(s.Throttle(ctx))(t); f != 0.5 {
		t.Fatalf("throttle %v", f)
	}
	check(t, s.SetThrottle(ctx, 1))
	if f := must(s.Throttle(ctx))(t); f != 1 {
		t.Fatalf("throttle back to 1: %v", f)
	}
	// A factor of 0.5 doubles every interval: half the rate.
	l := state.Limit{Key: "vomo", Interval: time.Hour, Burst: 2}
	half := state.TakeRequest{Tenant: "acme", Limits: limits(l), Factor: 0.5}
	granted(t, s, half)
	granted(t, s, half)
	refused(t, s, half, 119*time.Minute, 2*time.Hour)
	full := state.TakeRequest{Tenant: "globex", Limits: limits(l), Factor: 1}
	granted(t, s, full)
	granted(t, s, full)
	refused(t, s, full, 59*time.Minute, time.Hour)
	for _, bad := range []float64{-1, 2, math.NaN()} {
		if _, err := s.Take(ctx, state.TakeRequest{Tenant: "acme", Limits: limits(l), Factor: bad}); !errors.Is(err, state.ErrInvalid) {
			t.Fatalf("take with factor %v: %v", bad, err)
		}
	}
}

func testBudgetDrain(t *testing.T, s state.Store) {
	l := state.Limit{Key: "vomo", Interval: 20 * time.Millisecond, Burst: 5}
	req := state.TakeRequest{Tenant: "acme", Limits: limits(l)}
	granted(t, s, req)
	check(t, s.DrainBudget(ctx, "acme", "vomo", time.Hour))
	refused(t, s, req, 59*time.Minute, time.Hour)
	// A shorter drain leaves the longer one in place.
	check(t, s.DrainBudget(ctx, "acme", "vomo", time.Second))
	refused(t, s, req, 59*time.Minute, time.Hour)
	// Other tenants and keys are not drained.
	granted(t, s, state.TakeRequest{Tenant: "acme2", Limits: limits(l)})
	granted(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(state.Limit{Key: "vomo/backfill", Interval: time.Hour})})

	// A short drain, of a budget never taken from: refused until it ends,
	// then one token, and the next an interval later, not a burst.
	unstalled(t, func(attempt string) bool {
		slow := state.Limit{Key: "slow" + attempt, Interval: time.Hour, Burst: 3}
		req := state.TakeRequest{Tenant: "acme", Limits: limits(slow)}
		check(t, s.DrainBudget(ctx, "acme", slow.Key, shortInterval))
		w, ok := shortRefusal(t, s, req)
		if !ok {
			return false
		}
		time.Sleep(w)
		granted(t, s, req)
		refused(t, s, req, 59*time.Minute, time.Hour)
		return true
	})

	if err := s.DrainBudget(ctx, "acme", "bad key", time.Second); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("drain bad key: %v", err)
	}
}

func testBudgetTokens(t *testing.T, s state.Store) {
	l := state.Limit{Key: "vomo", Interval: time.Hour, Burst: 5}
	take3 := state.TakeRequest{Tenant: "acme", Limits: limits(l), N: 3}
	granted(t, s, take3)
	refused(t, s, take3, 59*time.Minute, time.Hour)
	granted(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(l), N: 2})
	refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(l), N: 0}, 59*time.Minute, time.Hour)

	// More than the burst: granted from a full budget, paid for after.
	big := state.Limit{Key: "big", Interval: time.Hour, Burst: 2}
	granted(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(big), N: 5})
	refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(big)}, 239*time.Minute, 4*time.Hour)
}

func testBudgetTenants(t *testing.T, s state.Store) {
	l := state.Limit{Key: "vomo", Interval: time.Hour}
	for _, tenant := range []string{"acme", "acme2", "globex"} {
		granted(t, s, state.TakeRequest{Tenant: tenant, Limits: limits(l)})
	}
	for _, tenant := range []string{"acme", "acme2", "globex"} {
		refused(t, s, state.TakeRequest{Tenant: tenant, Limits: limits(l)}, 59*time.Minute, time.Hour)
	}
	for _, bad := range []state.TakeRequest{
		{Tenant: "a{b", Limits: limits(l)},
		{Tenant: "acme", Limits: limits(state.Limit{Key: "vomo", Interval: 0})},
		{Tenant: "acme", Limits: limits(state.Limit{Key: "", Interval: time.Second})},
		{Tenant: "acme", Hubs: limits(state.Limit{Key: "a b", Interval: time.Second})},
	} {
		if _, err := s.Take(ctx, bad); !errors.Is(err, state.ErrInvalid) {
			t.Fatalf("take %+v: %v", bad, err)
		}
	}
}

// reserved checks a grant whose wait (the reserved slot) is in [lo, hi].
func reserved(t *testing.T, s state.Store, req state.TakeRequest, lo, hi time.Duration) time.Duration {
	t.Helper()
	r := take(t, s, req)
	if !r.Granted || r.Wait < lo || r.Wait > hi {
		t.Fatalf("take %+v: %+v, want granted with a wait in [%v, %v]", req, r, lo, hi)
	}
	return r.Wait
}

// queue runs k reserving takes at once and checks they are all granted,
// at slots 0, T, 2T, … of an hour's interval.
func queue(t *testing.T, s state.Store, k int, req func(i int) state.TakeRequest) {
	t.Helper()
	type answer struct {
		r   state.TakeResult
		err error
	}
	answers := make(chan answer, k)
	for i := range k {
		go func() {
			r, err := s.Take(ctx, req(i))
			answers <- answer{r, err}
		}()
	}
	got := make([]time.Duration, 0, k)
	for range k {
		a := <-answers
		check(t, a.err)
		if !a.r.Granted {
			t.Fatalf("concurrent reservation refused: %+v", a.r)
		}
		got = append(got, a.r.Wait)
	}
	slices.Sort(got)
	for i, w := range got {
		// Slot i is i intervals after the first take; the calls after it
		// came a little later, so their waits are a little shorter.
		if slot := time.Duration(i) * time.Hour; w > slot || w < slot-time.Minute {
			t.Fatalf("reservation waits %v: #%d is not at its slot %v", got, i, slot)
		}
	}
}

// testBudgetReserve: at burst 1, callers that reserve queue at exact
// slots without a refusal, and a reservation beyond Reserve is refused
// and changes nothing.
func testBudgetReserve(t *testing.T, s state.Store) {
	l := state.Limit{Key: "vomo", Interval: time.Hour, Burst: 1}
	hub := state.Limit{Key: "vomo/lane/default", Interval: time.Hour, Burst: 1}
	const k = 6
	// One tenant's callers on its own budget, and k tenants' callers on
	// one hub budget, each at once.
	queue(t, s, k, func(int) state.TakeRequest {
		return state.TakeRequest{Tenant: "acme", Limits: limits(l), Reserve: 10 * time.Hour}
	})
	queue(t, s, k, func(i int) state.TakeRequest {
		return state.TakeRequest{Tenant: "t" + strconv.Itoa(i), Hubs: []state.Limit{hub}, Reserve: 10 * time.Hour}
	})
	req := state.TakeRequest{Tenant: "acme", Limits: limits(l), Hubs: []state.Limit{hub}, Reserve: 10 * time.Hour}

	// The next slot is k hours away: beyond a Reserve of k-1 hours the
	// take is refused with that wait, and nothing is reserved by it.
	short := req
	short.Reserve = time.Duration(k-1) * time.Hour
	refused(t, s, short, time.Duration(k)*time.Hour-time.Minute, time.Duration(k)*time.Hour)
	refused(t, s, short, time.Duration(k)*time.Hour-time.Minute, time.Duration(k)*time.Hour)
	reserved(t, s, req, time.Duration(k)*time.Hour-time.Minute, time.Duration(k)*time.Hour)
	// Without a Reserve, a take is refused as before.
	refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(l)}, time.Duration(k+1)*time.Hour-time.Minute, time.Duration(k+1)*time.Hour)
	if _, err := s.Take(ctx, state.TakeRequest{Tenant: "acme", Limits: limits(l), Reserve: -time.Second}); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("negative reserve: %v", err)
	}
}

// testBudgetReserveHub: the tenant's and the hub's reservations agree on
// the later slot, and when the hub is beyond Reserve the tenant's
// reservation is given back.
func testBudgetReserveHub(t *testing.T, s state.Store) {
	hub := state.Limit{Key: "vomo/lane/default", Interval: time.Hour}
	ten := state.Limit{Key: "vomo", Interval: time.Hour}
	// globex holds the hub's next hour.
	granted(t, s, state.TakeRequest{Tenant: "globex", Hubs: []state.Limit{hub}})
	// acme's own budget is free, the hub's slot an hour away: acme
	// sleeps an hour, and its own budget counts the request then.
	reserved(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(ten), Hubs: []state.Limit{hub}, Reserve: 3 * time.Hour}, 59*time.Minute, time.Hour)
	refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(ten)}, 119*time.Minute, 2*time.Hour)
	refused(t, s, state.TakeRequest{Tenant: "globex", Hubs: []state.Limit{hub}}, 119*time.Minute, 2*time.Hour)

	// The other way: initech's own budget is an hour out, a fresh hub's
	// slot now; the hub is charged at initech's slot.
	hub2 := state.Limit{Key: "vomo/lane/other", Interval: time.Hour}
	granted(t, s, state.TakeRequest{Tenant: "initech", Limits: limits(ten)})
	reserved(t, s, state.TakeRequest{Tenant: "initech", Limits: limits(ten), Hubs: []state.Limit{hub2}, Reserve: 3 * time.Hour}, 59*time.Minute, time.Hour)
	refused(t, s, state.TakeRequest{Tenant: "globex", Hubs: []state.Limit{hub2}}, 119*time.Minute, 2*time.Hour)

	// The hub is two hours out, beyond umbrella's Reserve of one: refused
	// with the hub's wait, and umbrella's own budget keeps its token.
	refused(t, s, state.TakeRequest{Tenant: "umbrella", Limits: limits(ten), Hubs: []state.Limit{hub}, Reserve: time.Hour}, 119*time.Minute, 2*time.Hour)
	granted(t, s, state.TakeRequest{Tenant: "umbrella", Limits: limits(ten)})
	// A reservation of umbrella's own budget given back after the hub
	// refused: its next slot stays an hour away, not two.
	refused(t, s, state.TakeRequest{Tenant: "umbrella", Limits: limits(ten), Hubs: []state.Limit{hub}, Reserve: 90 * time.Minute}, 119*time.Minute, 2*time.Hour)
	reserved(t, s, state.TakeRequest{Tenant: "umbrella", Limits: limits(ten), Reserve: 90 * time.Minute}, 59*time.Minute, time.Hour)
}

// testBudgetGiveBack: a give-back returns a granted reservation's tokens
// (a caller whose hub, in another store, refused), and nothing else.
func testBudgetGiveBack(t *testing.T, s state.Store) {
	l := state.Limit{Key: "vomo", Interval: time.Hour}
	share := state.Limit{Key: "vomo/backfill", Interval: 2 * time.Hour}
	both := state.TakeRequest{Tenant: "acme", Limits: limits(l, share), Reserve: 10 * time.Hour}
	reserved(t, s, both, 0, 0)
	reserved(t, s, both, 119*time.Minute, 2*time.Hour)
	back := state.TakeRequest{Tenant: "acme", Limits: limits(l, share), GiveBack: true}
	if r := take(t, s, back); !r.Granted || r.Wait != 0 {
		t.Fatalf("give back: %+v", r)
	}
	// The second reservation is given back: the next is again two hours
	// out, not four; and the first one's tokens stay spent.
	reserved(t, s, both, 119*time.Minute, 2*time.Hour)
	refused(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(l)}, 179*time.Minute, 3*time.Hour)

	// A give-back of budgets never taken leaves them usable, not in debt
	// past their burst.
	granted(t, s, state.TakeRequest{Tenant: "globex", Limits: limits(l), GiveBack: true})
	granted(t, s, state.TakeRequest{Tenant: "globex", Limits: limits(l)})
	refused(t, s, state.TakeRequest{Tenant: "globex", Limits: limits(l)}, 59*time.Minute, time.Hour)

	hub := state.Limit{Key: "vomo/lane/default", Interval: time.Hour}
	for _, bad := range []state.TakeRequest{
		{Tenant: "acme", Limits: limits(l), Hubs: []state.Limit{hub}, GiveBack: true},
		{Tenant: "acme", Limits: limits(l), Reserve: time.Hour, GiveBack: true},
	} {
		if _, err := s.Take(ctx, bad); !errors.Is(err, state.ErrInvalid) {
			t.Fatalf("take %+v: %v, want ErrInvalid", bad, err)
		}
	}
}

// testBudgetDrained: a drain check reports a drain still in place, takes
// nothing, and sees drains by key.
func testBudgetDrained(t *testing.T, s state.Store) {
	l := state.Limit{Key: "vomo", Interval: time.Hour}
	other := state.Limit{Key: "other", Interval: time.Hour}
	check := state.TakeRequest{Tenant: "acme", Limits: limits(l, other), Drained: true}
	for range 2 {
		// Nothing drained, and the checks take no token.
		if r := take(t, s, check); !r.Granted || r.Wait != 0 {
			t.Fatalf("drain check with no drain: %+v", r)
		}
	}
	granted(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(l, other)})
	if err := s.DrainBudget(ctx, "acme", "vomo", time.Hour); err != nil {
		t.Fatal(err)
	}
	refused(t, s, check, 59*time.Minute, time.Hour)
	if r := take(t, s, state.TakeRequest{Tenant: "acme", Limits: limits(other), Drained: true}); !r.Granted {
		t.Fatalf("drain check of an undrained key: %+v", r)
	}
	if r := take(t, s, state.TakeRequest{Tenant: "globex", Limits: limits(l), Drained: true}); !r.Granted {
		t.Fatalf("drain check of another tenant: %+v", r)
	}
	hub := state.Limit{Key: "vomo/lane/default", Interval: time.Hour}
	if _, err := s.Take(ctx, state.TakeRequest{Tenant: "acme", Limits: limits(l), Hubs: []state.Limit{hub}, Drained: true}); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("drain check with a hub limit: %v, want ErrInvalid", err)
	}
}

// testBudgetHubs: several hub limits (a lane's share and a stage's share
// of it) are taken all or none, each charged at the slot the request
// goes; a refusal by a later one leaves the earlier ones and the tenant's
// budgets as they were.
func testBudgetHubs(t *testing.T, s state.Store) {
	ten := state.Limit{Key: "vomo", Interval: time.Minute, Burst: 5}
	lane := state.Limit{Key: "vomo/lane/default", Interval: time.Hour}
	stage := state.Limit{Key: "vomo/lane/default/backfill", Interval: 2 * time.Hour}
	backfill := state.TakeRequest{Tenant: "acme", Limits: limits(ten), Hubs: limits(lane, stage)}
	poll := state.TakeRequest{Tenant: "globex", Limits: limits(ten), Hubs: limits(lane)}
	granted(t, s, backfill)
	// Both hub budgets are spent: polling waits for the lane's next
	// hour, a second backfill for the stage's two (on a cluster, where
	// each hub limit is its own step, the lane's refusal answers first).
	refused(t, s, poll, 59*time.Minute, time.Hour)
	refused(t, s, backfill, 59*time.Minute, 2*time.Hour)
	// Reserving, the backfill goes at the stage's slot, and the lane
	// counts it then: polling's next slot is an hour after it.
	backfill.Reserve, poll.Reserve = 10*time.Hour, 10*time.Hour
	reserved(t, s, backfill, 119*time.Minute, 2*time.Hour)
	reserved(t, s, poll, 179*time.Minute, 3*time.Hour)

	// The second hub limit refuses: the first, taken before it on a
	// cluster, and the tenant's budget keep their tokens.
	first := state.Limit{Key: "vomo/lane/first", Interval: time.Hour}
	second := state.Limit{Key: "vomo/lane/second", Interval: time.Hour}
	own := state.Limit{Key: "own", Interval: time.Hour}
	granted(t, s, state.TakeRequest{Tenant: "globex", Hubs: limits(second)})
	refused(t, s, state.TakeRequest{Tenant: "initech", Limits: limits(own), Hubs: limits(first, second)}, 59*time.Minute, time.Hour)
	refused(t, s, state.TakeRequest{Tenant: "initech", Limits: limits(own), Hubs: limits(first, second), Reserve: 30 * time.Minute}, 59*time.Minute, time.Hour)
	granted(t, s, state.TakeRequest{Tenant: "initech", Limits: limits(own), Hubs: limits(first)})

	dup := state.TakeRequest{Tenant: "acme", Hubs: limits(lane, lane)}
	if _, err := s.Take(ctx, dup); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("take %+v: %v, want ErrInvalid", dup, err)
	}
}

// testBudgetCap: a cap never sets the slot: a reserving take it would
// hold back past the other budgets' slot is refused with its wait and
// changes nothing (on a cluster, the budgets taken before it are given
// back); one it lets through by that slot is reserved there.
func testBudgetCap(t *testing.T, s state.Store) {
	lane := state.Limit{Key: "vomo/lane/default", Interval: time.Hour}
	capped := state.Limit{Key: "vomo/lane/default/backfill", Interval: 2 * time.Hour, Cap: true}
	ten := state.Limit{Key: "vomo", Interval: time.Minute, Burst: 5}
	stage := state.TakeRequest{Tenant: "acme", Limits: limits(ten), Hubs: limits(lane, capped), Reserve: 10 * time.Hour}
	poll := state.TakeRequest{Tenant: "globex", Hubs: limits(lane), Reserve: 10 * time.Hour}
	reserved(t, s, stage, 0, 0)
	// The lane's next slot is an hour away, the cap's two: refused with
	// the cap's wait, though within Reserve.
	refused(t, s, stage, 119*time.Minute, 2*time.Hour)
	// Nothing was reserved by it: polling gets the lane's next hour, and
	// the tenant's budget keeps the four tokens the first take left.
	reserved(t, s, poll, 59*time.Minute, time.Hour)
	own := state.TakeRequest{Tenant: "acme", Limits: limits(ten)}
	for range 4 {
		granted(t, s, own)
	}
	refused(t, s, own, 0, time.Minute)
	// Now the lane's next slot (two hours) is the cap's too: reserved.
	reserved(t, s, stage, 119*time.Minute, 2*time.Hour)
	reserved(t, s, poll, 179*time.Minute, 3*time.Hour)
}

// testBudgetLend: a request its own lane would make wait borrows another
// lane's budget when that one is idle, or used only by borrowers since
// its own lane's last take with its next slot at most an interval away;
// the borrowed slot is the request's, its own lane is not charged. Once
// the lending lane's own callers take again, it lends only what it has
// at once.
func testBudgetLend(t *testing.T, s state.Store) {
	ten := state.Limit{Key: "vomo", Interval: time.Minute, Burst: 20}
	own := state.Limit{Key: "vomo/lane/standard", Interval: 2 * time.Hour}
	other := state.Limit{Key: "vomo/lane/premium", Interval: time.Hour}
	req := state.TakeRequest{Tenant: "acme", Limits: limits(ten), Hubs: limits(own), Lend: limits(other), Reserve: 10 * time.Hour}
	reserved(t, s, req, 0, 0)
	// Its own lane is two hours out: premium, idle, lends at once, then
	// (used by borrowers only) its next hour.
	reserved(t, s, req, 0, 0)
	reserved(t, s, req, 59*time.Minute, time.Hour)
	// Premium's next slot is two hours out, more than its interval: the
	// request reserves its own lane's, which the loans did not charge.
	reserved(t, s, req, 119*time.Minute, 2*time.Hour)
	// Premium's own caller waits behind the loans, then its lane lends
	// nothing it would have to wait for.
	prem := state.TakeRequest{Tenant: "globex", Hubs: limits(other), Reserve: 10 * time.Hour}
	reserved(t, s, prem, 119*time.Minute, 2*time.Hour)
	reserved(t, s, req, 239*time.Minute, 4*time.Hour)
	reserved(t, s, prem, 179*time.Minute, 3*time.Hour)

	// A tenant whose own budget makes it wait borrows nothing: the
	// lending lane stays idle.
	own2 := state.Limit{Key: "vomo/lane/bulk", Interval: 2 * time.Hour}
	idle := state.Limit{Key: "vomo/lane/idle", Interval: time.Hour}
	slow := state.Limit{Key: "slow", Interval: time.Hour}
	granted(t, s, state.TakeRequest{Tenant: "initech", Limits: limits(slow), Hubs: limits(own2)})
	reserved(t, s, state.TakeRequest{Tenant: "initech", Limits: limits(slow), Hubs: limits(own2), Lend: limits(idle), Reserve: 10 * time.Hour}, 119*time.Minute, 2*time.Hour)
	granted(t, s, state.TakeRequest{Tenant: "umbrella", Hubs: limits(idle)})

	for _, bad := range []state.TakeRequest{
		{Tenant: "acme", Limits: limits(ten), Lend: limits(other)},
		{Tenant: "acme", Hubs: limits(own), Lend: limits(own)},
	} {
		if _, err := s.Take(ctx, bad); !errors.Is(err, state.ErrInvalid) {
			t.Fatalf("take %+v: %v, want ErrInvalid", bad, err)
		}
	}
}
