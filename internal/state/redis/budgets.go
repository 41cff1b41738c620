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

// takeArgs is takeScript's one argument for the limits, the first drains
// of them with their drain keys: little-endian doubles, so the script
// reads them with one struct.unpack instead of parsing a decimal string
// per number. Intervals are divided by the throttle factor here, in the
// same arithmetic as state.GCRAState.Take.
func takeArgs(n int, factor float64, drains int, reserve, after time.Duration, ls ...state.Limit) []byte {
	if factor <= 0 {
		factor = 1
	}
	b := make([]byte, 0, 8*(4+2*len(ls)))
	put := func(f float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f)) }
	put(float64(n))
	put(float64(drains))
	put(float64(reserve.Microseconds()))
	put(float64(after.Microseconds()))
	for _, l := range ls {
		t := float64(l.Interval.Nanoseconds()) / 1e3 / factor
		put(t)
		put(float64(max(l.Burst, 1)-1) * t)
	}
	return b
}

// Take takes the tenant's limits in one script in the tenant's slot, then
// the hub limit in one script in its own slot; when the hub refuses, one
// more tenant-slot script gives the tenant's tokens back. Two round trips
// when the tenant has limits and the hub grants. On one server, where
// slots do not matter, one script takes them all (one round trip, nothing
// to give back).
//
// With a Reserve, the hub step reserves no earlier than the tenant's
// slot; when it reserves a later one, one more tenant-slot script moves
// the tenant's budgets to that slot, so no budget counts the request
// earlier than it goes.
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
	budgets := make([]string, 0, len(req.Limits)+1)
	drains := make([]string, 0, len(req.Limits))
	for _, l := range req.Limits {
		budgets = append(budgets, s.k.budget(req.Tenant, l.Key))
		drains = append(drains, s.k.drain(req.Tenant, l.Key))
	}
	if _, single := s.rdb.(*goredis.Client); single && req.Hub != nil {
		ls := append(slices.Clip(req.Limits), *req.Hub)
		r, err := s.take(ctx, append(append(budgets, s.k.hubBudget(req.Hub.Key)), drains...), takeArgs(n, req.Factor, len(drains), req.Reserve, 0, ls...))
		return r, wrapTake(req, err)
	}
	tenant := state.TakeResult{Granted: true}
	if len(req.Limits) > 0 {
		r, err := s.take(ctx, append(budgets, drains...), takeArgs(n, req.Factor, len(drains), req.Reserve, 0, req.Limits...))
		if err != nil || !r.Granted {
			return r, wrapTake(req, err)
		}
		tenant = r
	}
	if req.Hub == nil {
		return tenant, nil
	}
	r, err := s.take(ctx, []string{s.k.hubBudget(req.Hub.Key)}, takeArgs(n, req.Factor, 0, req.Reserve, tenant.Wait, *req.Hub))
	if err != nil || len(req.Limits) == 0 {
		return r, wrapTake(req, err)
	}
	if r.Granted {
		if r.Wait > tenant.Wait {
			args := []any{n, r.Wait.Microseconds(), factor}
			for _, l := range req.Limits {
				args = append(args, intervalUS(l))
			}
			if err := pushScript.Run(ctx, s.rdb, budgets, args...).Err(); err != nil {
				return state.TakeResult{}, fmt.Errorf("take %s: moving the tenant's budgets to the hub's slot: %w", req.Tenant, err)
			}
		}
		return r, nil
	}
	if err := s.giveBack(ctx, req.Tenant, req.Limits, n, factor); err != nil {
		return state.TakeResult{}, fmt.Errorf("take %s: giving back the tenant's tokens after the hub refused: %w", req.Tenant, err)
	}
	return r, nil
}

// giveBack returns n tokens of the tenant's limits, in one script in the
// tenant's slot.
func (s *Store) giveBack(ctx context.Context, tenant string, ls []state.Limit, n int, factor string) error {
	if len(ls) == 0 {
		return nil
	}
	ks := []string{s.k.op(tenant, newID())}
	args := []any{opTTL, n, factor}
	for _, l := range ls {
		ks = append(ks, s.k.budget(tenant, l.Key))
		args = append(args, intervalUS(l))
	}
	return giveBackScript.Run(ctx, s.rdb, ks, args...).Err()
}

func wrapTake(req state.TakeRequest, err error) error {
	if err != nil {
		return fmt.Errorf("take %s: %w", req.Tenant, err)
	}
	return nil
}

func (s *Store) take(ctx context.Context, ks []string, args []byte) (state.TakeResult, error) {
	res, err := takeScript.Run(ctx, s.rdb, ks, args).Slice()
	if err != nil {
		return state.TakeResult{}, err
	}
	if len(res) != 2 {
		return state.TakeResult{}, fmt.Errorf("unexpected reply %v", res)
	}
	return state.TakeResult{Granted: asInt(res[0]) == 1, Wait: time.Duration(asInt(res[1])) * time.Microsecond}, nil
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
