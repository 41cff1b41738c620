package redis

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
)

// marginMS is state.BudgetMargin for PEXPIRE.
var marginMS = strconv.FormatInt(state.BudgetMargin.Milliseconds(), 10)

// intervalUS is a limit's interval in µs, fractional when it is not whole.
func intervalUS(l state.Limit) string {
	return strconv.FormatFloat(float64(l.Interval.Nanoseconds())/1e3, 'f', -1, 64)
}

func factorArg(f float64) string {
	if f == 0 {
		f = 1
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// takeArgs is takeScript's argument for one request of the limits, the
// first drains of them with their drain keys (its keys: one per limit,
// then the drain keys): little-endian doubles, so the script reads them
// with one struct.unpack instead of parsing a decimal string per number.
// Intervals are divided by the throttle factor here, in the same
// arithmetic as state.GCRAState.Take.
func takeArgs(n int, factor float64, drains int, reserve, after time.Duration, ls ...state.Limit) []byte {
	if factor <= 0 {
		factor = 1
	}
	b := make([]byte, 0, 8*(5+3*len(ls)))
	b = putDoubles(b, float64(len(ls)+drains), float64(n), float64(drains), float64(reserve.Microseconds()), float64(after.Microseconds()))
	for _, l := range ls {
		b = putLimit(b, l, factor, true)
	}
	return b
}

// putDoubles appends little-endian doubles.
func putDoubles(b []byte, fs ...float64) []byte {
	for _, f := range fs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

// putLimit appends a limit's interval (µs, divided by the throttle
// factor) and burst tolerance (µs), and with withCap 1 for a cap, else 0.
func putLimit(b []byte, l state.Limit, factor float64, withCap bool) []byte {
	t := float64(l.Interval.Nanoseconds()) / 1e3 / factor
	b = putDoubles(b, t, float64(max(l.Burst, 1)-1)*t)
	if !withCap {
		return b
	}
	if l.Cap {
		return putDoubles(b, 1)
	}
	return putDoubles(b, 0)
}

// Take takes the tenant's limits in one script in the tenant's slot, then
// each hub limit in one script in its own slot, in order; when a hub limit
// refuses, the tokens taken before it are given back, each in its slot.
// Two round trips when the tenant has limits and one hub limit grants. On
// one server, where slots do not matter, one script takes them all (one
// round trip, nothing to give back).
//
// With a Reserve, each hub step reserves no earlier than the slot the
// steps before it were granted; once every step is granted, one more
// script per step granted an earlier slot than the last moves its budgets
// to that slot, so no budget counts the request earlier than it goes.
func (s *Store) Take(ctx context.Context, req state.TakeRequest) (state.TakeResult, error) {
	if err := state.CheckTake(req); err != nil {
		return state.TakeResult{}, fmt.Errorf("take %s: %w", req.Tenant, err)
	}
	n, factor := max(req.N, 1), factorArg(req.Factor)
	if req.Drained {
		if len(req.Limits) == 0 {
			return state.TakeResult{Granted: true}, nil
		}
		ks := make([]string, 0, len(req.Limits))
		for _, l := range req.Limits {
			ks = append(ks, s.k.drain(req.Tenant, l.Key))
		}
		v, err := drainedScript.Run(ctx, s.rdb, ks).Text()
		if err != nil {
			return state.TakeResult{}, fmt.Errorf("drain check %s: %w", req.Tenant, err)
		}
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return state.TakeResult{}, fmt.Errorf("drain check %s: unexpected reply %q", req.Tenant, v)
		}
		return state.TakeResult{Granted: us <= 0, Wait: time.Duration(us) * time.Microsecond}, nil
	}
	if req.GiveBack {
		if err := s.giveBack(ctx, req.Tenant, req.Limits, n, factor); err != nil {
			return state.TakeResult{}, fmt.Errorf("give back %s: %w", req.Tenant, err)
		}
		return state.TakeResult{Granted: true}, nil
	}
	budgets := make([]string, 0, len(req.Limits)+len(req.Hubs))
	drains := make([]string, 0, len(req.Limits))
	for _, l := range req.Limits {
		budgets = append(budgets, s.k.budget(req.Tenant, l.Key))
		drains = append(drains, s.k.drain(req.Tenant, l.Key))
	}
	if _, single := s.rdb.(*goredis.Client); single && len(req.Hubs) > 0 {
		for _, l := range req.Hubs {
			budgets = append(budgets, s.k.hubBudget(l.Key))
		}
		ls := append(slices.Clip(req.Limits), req.Hubs...)
		if len(req.Lend) > 0 {
			for _, l := range req.Lend {
				budgets = append(budgets, s.k.hubBudget(l.Key))
			}
			r, err := s.takeLend(ctx, append(budgets, drains...), takeLendArgs(n, req.Factor, len(req.Limits), req.Reserve, ls, req.Hubs, req.Lend))
			return r, wrapTake(req, err)
		}
		r, err := s.take(ctx, append(budgets, drains...), takeArgs(n, req.Factor, len(drains), req.Reserve, 0, ls...))
		return r, wrapTake(req, err)
	}
	res := state.TakeResult{Granted: true}
	if len(req.Limits) > 0 {
		r, err := s.take(ctx, append(budgets, drains...), takeArgs(n, req.Factor, len(drains), req.Reserve, 0, req.Limits...))
		if err != nil || !r.Granted {
			return r, wrapTake(req, err)
		}
		res = r
	}
	// steps are what is taken so far, one per slot: the tenant's limits,
	// then each hub limit granted, with the wait each was granted at.
	steps := make([]takeStep, 0, 1+len(req.Hubs))
	if len(req.Limits) > 0 {
		steps = append(steps, takeStep{keys: budgets, limits: req.Limits, wait: res.Wait,
			op: func(id string) string { return s.k.op(req.Tenant, id) }})
	}
	for i, h := range req.Hubs {
		key := s.k.hubBudget(h.Key)
		if i == 0 && len(req.Lend) > 0 && res.Wait == 0 {
			// The tenant's tokens are there at once: when the lane's are
			// not, another lane may lend (extra steps only then).
			r, err := s.take(ctx, []string{key}, takeArgs(n, req.Factor, 0, 0, 0, h))
			if err != nil {
				if gerr := s.giveBackSteps(ctx, steps, n, factor); gerr != nil {
					return state.TakeResult{}, fmt.Errorf("take %s: giving back after hub budget %s failed: %w", req.Tenant, h.Key, gerr)
				}
				return r, wrapTake(req, err)
			}
			if !r.Granted {
				lent, lerr := s.lend(ctx, req, n)
				if lerr == nil && lent.Granted && lent.Wait > 0 && len(steps) > 0 {
					lerr = s.push(ctx, steps[0], n, lent.Wait, factor)
				}
				if lerr != nil {
					if gerr := s.giveBackSteps(ctx, steps, n, factor); gerr != nil {
						return state.TakeResult{}, fmt.Errorf("take %s: giving back after a loan failed: %w", req.Tenant, gerr)
					}
					return state.TakeResult{}, wrapTake(req, lerr)
				}
				if lent.Granted {
					return lent, nil
				}
				r, err = s.take(ctx, []string{key}, takeArgs(n, req.Factor, 0, req.Reserve, res.Wait, h))
			}
			if err == nil && r.Granted {
				res = r
				steps = append(steps, takeStep{keys: []string{key}, limits: []state.Limit{h}, wait: r.Wait,
					op: func(id string) string { return s.k.hubBudgetOp(h.Key, id) }})
				continue
			}
			if gerr := s.giveBackSteps(ctx, steps, n, factor); gerr != nil {
				return state.TakeResult{}, fmt.Errorf("take %s: giving back after hub budget %s refused: %w", req.Tenant, h.Key, gerr)
			}
			return r, wrapTake(req, err)
		}
		r, err := s.take(ctx, []string{key}, takeArgs(n, req.Factor, 0, req.Reserve, res.Wait, h))
		if err != nil || !r.Granted {
			// No request follows: what the earlier steps took goes back.
			// None was moved to a later slot yet, so each gives back
			// exactly what it took.
			if gerr := s.giveBackSteps(ctx, steps, n, factor); gerr != nil {
				return state.TakeResult{}, fmt.Errorf("take %s: giving back after hub budget %s refused: %w", req.Tenant, h.Key, gerr)
			}
			return r, wrapTake(req, err)
		}
		res = r
		steps = append(steps, takeStep{keys: []string{key}, limits: []state.Limit{h}, wait: r.Wait,
			op: func(id string) string { return s.k.hubBudgetOp(h.Key, id) }})
	}
	// Every step reserved no earlier than the one before it: the last
	// step's slot is the request's, and the steps granted earlier slots
	// are moved to it.
	for _, st := range steps {
		if st.wait >= res.Wait {
			continue
		}
		if err := s.push(ctx, st, n, res.Wait, factor); err != nil {
			return state.TakeResult{}, fmt.Errorf("take %s: moving the budgets taken to the request's slot: %w", req.Tenant, err)
		}
	}
	return res, nil
}

// push moves a step's budgets to count the request at the slot wait away.
func (s *Store) push(ctx context.Context, st takeStep, n int, wait time.Duration, factor string) error {
	args := []any{n, wait.Microseconds(), factor}
	for _, l := range st.limits {
		args = append(args, intervalUS(l))
	}
	return pushScript.Run(ctx, s.rdb, st.keys, args...).Err()
}

// lend asks req's lending budgets in turn, each in its slot, for a loan
// (state.GCRAState.Lend); the first that lends is the result.
func (s *Store) lend(ctx context.Context, req state.TakeRequest, n int) (state.TakeResult, error) {
	factor := req.Factor
	if factor <= 0 {
		factor = 1
	}
	for _, l := range req.Lend {
		t := float64(l.Interval.Nanoseconds()) / 1e3 / factor
		b := make([]byte, 0, 32)
		for _, f := range []float64{float64(n), float64(req.Reserve.Microseconds()), t, float64(max(l.Burst, 1)-1) * t} {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
		res, err := lendScript.Run(ctx, s.rdb, []string{s.k.hubBudget(l.Key)}, b).Slice()
		if err != nil {
			return state.TakeResult{}, fmt.Errorf("borrowing from %s: %w", l.Key, err)
		}
		if len(res) != 2 {
			return state.TakeResult{}, fmt.Errorf("borrowing from %s: unexpected reply %v", l.Key, res)
		}
		if asInt(res[0]) == 1 {
			return state.TakeResult{Granted: true, Wait: time.Duration(asInt(res[1])) * time.Microsecond}, nil
		}
	}
	return state.TakeResult{}, nil
}

// takeLendArgs is takeLendScript's one argument: n, the number of the
// tenant's limits, reserve, the numbers of hub and lending limits, then
// the tenant's and hub limits as takeArgs packs them and the lending
// ones' intervals and burst tolerances.
func takeLendArgs(n int, factor float64, nt int, reserve time.Duration, ls, hubs, lend []state.Limit) []byte {
	if factor <= 0 {
		factor = 1
	}
	b := make([]byte, 0, 8*(5+3*len(ls)+2*len(lend)))
	b = putDoubles(b, float64(n), float64(nt), float64(reserve.Microseconds()), float64(len(hubs)), float64(len(lend)))
	for _, l := range ls {
		b = putLimit(b, l, factor, true)
	}
	for _, l := range lend {
		b = putLimit(b, l, factor, false)
	}
	return b
}

// takeLend runs one request of takeLendScript (it runs only on one
// server), as take does takeScript's.
func (s *Store) takeLend(ctx context.Context, ks []string, args []byte) (state.TakeResult, error) {
	return s.runTake(ctx, s.lendTakes, takeLendScript, ks, args)
}

// takeStep is one slot's part of a take on a cluster: its budget keys,
// their limits, and where an op key of that slot goes.
type takeStep struct {
	keys   []string
	limits []state.Limit
	wait   time.Duration
	op     func(id string) string
}

// giveBackSteps returns n tokens of every step, each in its slot.
func (s *Store) giveBackSteps(ctx context.Context, steps []takeStep, n int, factor string) error {
	for _, st := range steps {
		if err := s.giveBackKeys(ctx, st.op(newID()), st.keys, st.limits, n, factor); err != nil {
			return err
		}
	}
	return nil
}

// giveBack returns n tokens of the tenant's limits, in one script in the
// tenant's slot.
func (s *Store) giveBack(ctx context.Context, tenant string, ls []state.Limit, n int, factor string) error {
	if len(ls) == 0 {
		return nil
	}
	ks := make([]string, 0, len(ls))
	for _, l := range ls {
		ks = append(ks, s.k.budget(tenant, l.Key))
	}
	return s.giveBackKeys(ctx, s.k.op(tenant, newID()), ks, ls, n, factor)
}

// giveBackKeys runs giveBackScript on budget keys of one slot, op a key of
// that slot.
func (s *Store) giveBackKeys(ctx context.Context, op string, ks []string, ls []state.Limit, n int, factor string) error {
	args := []any{opTTL, n, factor}
	for _, l := range ls {
		args = append(args, intervalUS(l))
	}
	return giveBackScript.Run(ctx, s.rdb, append([]string{op}, ks...), args...).Err()
}

func wrapTake(req state.TakeRequest, err error) error {
	if err != nil {
		return fmt.Errorf("take %s: %w", req.Tenant, err)
	}
	return nil
}

// take runs one request of takeScript (keys ks, argument args from
// takeArgs): on one server through the store's batcher, which sends the
// requests that come while others are on their way in one run; on a
// cluster alone, its keys in one slot.
func (s *Store) take(ctx context.Context, ks []string, args []byte) (state.TakeResult, error) {
	return s.runTake(ctx, s.takes, takeScript, ks, args)
}

// runTake runs one request of a take script: through b when the store
// batches (one server), else alone.
func (s *Store) runTake(ctx context.Context, b *takeBatcher, sc *goredis.Script, ks []string, args []byte) (state.TakeResult, error) {
	if b != nil {
		return b.take(ctx, ks, args)
	}
	res, err := sc.Run(ctx, s.rdb, ks, args).Slice()
	if err != nil {
		return state.TakeResult{}, err
	}
	if len(res) != 2 {
		return state.TakeResult{}, fmt.Errorf("unexpected reply %v", res)
	}
	return takeResult(res[0], res[1]), nil
}

func takeResult(granted, wait any) state.TakeResult {
	return state.TakeResult{Granted: asInt(granted) == 1, Wait: time.Duration(asInt(wait)) * time.Microsecond}
}

func (s *Store) DrainBudget(ctx context.Context, tenant, key string, d time.Duration) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("drain budget %s/%s: %w", tenant, key, err)
	}
	if err := state.CheckName("budget key", key); err != nil {
		return fmt.Errorf("drain budget %s/%s: %w", tenant, key, err)
	}
	if err := drainScript.Run(ctx, s.rdb, []string{s.k.drain(tenant, key)}, max(d.Microseconds(), 0), marginMS).Err(); err != nil {
		return fmt.Errorf("drain budget %s/%s: %w", tenant, key, err)
	}
	return nil
}

func (s *Store) SetThrottle(ctx context.Context, factor float64) error {
	if err := state.CheckThrottle(factor); err != nil {
		return fmt.Errorf("set throttle: %w", err)
	}
	if err := s.rdb.Set(ctx, s.k.throttle(), factorArg(factor), 0).Err(); err != nil {
		return fmt.Errorf("set throttle: %w", err)
	}
	return nil
}

func (s *Store) Throttle(ctx context.Context) (float64, error) {
	v, err := s.rdb.Get(ctx, s.k.throttle()).Result()
	if isNil(err) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("throttle: %w", err)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("throttle: stored factor %q: %w", v, err)
	}
	return f, nil
}
