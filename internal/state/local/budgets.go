package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// Rate budgets. A tenant's budgets are t/<tenant>/bud/<key>, the hub's are
// hub/bud:<key> and the throttle factor hub/throttle. Each budget holds its
// GCRA theoretical arrival time and the end of any drain, both µs of the
// local wall clock: the TAT as float64 bits, the drain's end as an integer
// (state.GCRAState says how they are used). One transaction
// takes the tenant's and the hubs' tokens, so a refusal writes nothing
// (there is nothing to give back) and reports the longest wait.

var (
	bHub      = []byte("hub")
	bBudgets  = []byte("bud")
	kThrottle = []byte("throttle")
)

func hubBudgetKey(key string) []byte { return []byte("bud:" + key) }

func getBudget(b *bolt.Bucket, k []byte) state.GCRAState {
	if b == nil {
		return state.GCRAState{}
	}
	v := b.Get(k)
	if !budgetValue(v) {
		return state.GCRAState{}
	}
	return decodeBudget(v)
}

// budgetValue reports whether v is a budget: 16 bytes, or 24 with a loan.
func budgetValue(v []byte) bool { return len(v) == 16 || len(v) == 24 }

func decodeBudget(v []byte) state.GCRAState {
	g := state.GCRAState{TAT: math.Float64frombits(binary.BigEndian.Uint64(v)), Hold: int64(binary.BigEndian.Uint64(v[8:]))}
	if len(v) == 24 {
		g.Lent = math.Float64frombits(binary.BigEndian.Uint64(v[16:]))
	}
	return g
}

func putBudget(b *bolt.Bucket, k []byte, g state.GCRAState) error {
	v := make([]byte, 16, 24)
	binary.BigEndian.PutUint64(v, math.Float64bits(g.TAT))
	binary.BigEndian.PutUint64(v[8:], uint64(g.Hold))
	if g.Lent != 0 {
		v = binary.BigEndian.AppendUint64(v, math.Float64bits(g.Lent))
	}
	return b.Put(k, v)
}

// pruneBudgets deletes the budgets of b (those whose key starts with
// prefix) that no longer hold anything back, as Redis expires them: a
// tenant that stops polling leaves no budget behind.
func pruneBudgets(b *bolt.Bucket, prefix []byte, now int64) error {
	var stale [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !budgetValue(v) {
			continue
		}
		if decodeBudget(v).Idle(now) {
			stale = append(stale, append([]byte(nil), k...))
		}
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Take first checks in a read transaction, so a refusal (the common answer
// while a tenant is rate limited) costs no commit and no fsync; a grant is
// decided again in the write transaction that records it.
func (s *Store) Take(ctx context.Context, req state.TakeRequest) (state.TakeResult, error) {
	if err := state.CheckTake(req); err != nil {
		return state.TakeResult{}, fmt.Errorf("take %s: %w", req.Tenant, err)
	}
	if req.Drained {
		var wait int64
		err := s.view(func(tx *bolt.Tx) error {
			now := s.now().UnixMicro()
			buds, err := tenantSub(tx, req.Tenant, bBudgets)
			if err != nil {
				return err
			}
			for _, l := range req.Limits {
				wait = max(wait, getBudget(buds, []byte(l.Key)).Hold-now)
			}
			return nil
		})
		if err != nil {
			return state.TakeResult{}, fmt.Errorf("drain check %s: %w", req.Tenant, err)
		}
		return state.TakeResult{Granted: wait <= 0, Wait: time.Duration(max(wait, 0)) * time.Microsecond}, nil
	}
	if req.GiveBack && len(req.Limits) == 0 {
		return state.TakeResult{Granted: true}, nil
	}
	if req.GiveBack {
		err := s.update(func(tx *bolt.Tx) error {
			buds, err := tenantSub(tx, req.Tenant, bBudgets)
			if err != nil {
				return err
			}
			for _, l := range req.Limits {
				if buds.Get([]byte(l.Key)) == nil {
					continue
				}
				if err := putBudget(buds, []byte(l.Key), getBudget(buds, []byte(l.Key)).GiveBack(l, req.N, req.Factor)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return state.TakeResult{}, fmt.Errorf("give back %s: %w", req.Tenant, err)
		}
		return state.TakeResult{Granted: true}, nil
	}
	var res state.TakeResult
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		res, err = s.takeTx(tx, req)
		return err
	})
	if err == nil && res.Granted {
		err = s.update(func(tx *bolt.Tx) error {
			var err error
			res, err = s.takeTx(tx, req)
			return err
		})
	}
	if err != nil {
		return state.TakeResult{}, fmt.Errorf("take %s: %w", req.Tenant, err)
	}
	return res, nil
}

// takeTx decides a take at the store's now and, in a write transaction,
// records a grant.
func (s *Store) takeTx(tx *bolt.Tx, req state.TakeRequest) (state.TakeResult, error) {
	now := s.now().UnixMicro()
	// A hub-only take (a separate hub store) leaves no tenant bucket.
	var buds, hub *bolt.Bucket
	var err error
	if len(req.Limits) > 0 {
		if buds, err = tenantSub(tx, req.Tenant, bBudgets); err != nil {
			return state.TakeResult{}, err
		}
	}
	gs := make([]state.GCRAState, 0, len(req.Limits)+len(req.Hubs))
	ls := append(make([]state.Limit, 0, len(req.Limits)+len(req.Hubs)), req.Limits...)
	for _, l := range req.Limits {
		gs = append(gs, getBudget(buds, []byte(l.Key)))
	}
	if len(req.Hubs) > 0 {
		if tx.Writable() {
			if hub, err = tx.CreateBucketIfNotExists(bHub); err != nil {
				return state.TakeResult{}, err
			}
		} else {
			hub = tx.Bucket(bHub)
		}
		for _, l := range req.Hubs {
			gs = append(gs, getBudget(hub, hubBudgetKey(l.Key)))
		}
		ls = append(ls, req.Hubs...)
	}
	lgs := make([]state.GCRAState, 0, len(req.Lend))
	for _, l := range req.Lend {
		lgs = append(lgs, getBudget(hub, hubBudgetKey(l.Key)))
	}
	next, lent, lendNext, w, ok := state.TakeLend(now, gs, ls, len(req.Limits), lgs, req.Lend, req.N, req.Factor, req.Reserve.Microseconds())
	wait := time.Duration(w) * time.Microsecond
	if !ok {
		return state.TakeResult{Wait: wait}, nil
	}
	if !tx.Writable() {
		return state.TakeResult{Granted: true, Wait: wait}, nil
	}
	if hub != nil {
		if err := pruneBudgets(hub, []byte("bud:"), now); err != nil {
			return state.TakeResult{}, err
		}
		if lent >= 0 {
			if err := putBudget(hub, hubBudgetKey(req.Lend[lent].Key), lendNext); err != nil {
				return state.TakeResult{}, err
			}
		} else {
			for i, l := range req.Hubs {
				if err := putBudget(hub, hubBudgetKey(l.Key), next[len(req.Limits)+i]); err != nil {
					return state.TakeResult{}, err
				}
			}
		}
	}
	if buds != nil {
		if err := pruneBudgets(buds, nil, now); err != nil {
			return state.TakeResult{}, err
		}
		for i, l := range req.Limits {
			if err := putBudget(buds, []byte(l.Key), next[i]); err != nil {
				return state.TakeResult{}, err
			}
		}
	}
	return state.TakeResult{Granted: true, Wait: wait}, nil
}

func (s *Store) DrainBudget(ctx context.Context, tenantName, key string, d time.Duration) error {
	if err := state.CheckName("budget key", key); err != nil {
		return fmt.Errorf("drain budget %s/%s: %w", tenantName, key, err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		buds, err := tenantSub(tx, tenantName, bBudgets)
		if err != nil {
			return err
		}
		g := getBudget(buds, []byte(key))
		g.Hold = max(g.Hold, s.now().UnixMicro()+d.Microseconds())
		return putBudget(buds, []byte(key), g)
	})
	if err != nil {
		return fmt.Errorf("drain budget %s/%s: %w", tenantName, key, err)
	}
	return nil
}

func (s *Store) SetThrottle(ctx context.Context, factor float64) error {
	if err := state.CheckThrottle(factor); err != nil {
		return fmt.Errorf("set throttle: %w", err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		hub, err := tx.CreateBucketIfNotExists(bHub)
		if err != nil {
			return err
		}
		return hub.Put(kThrottle, []byte(strconv.FormatFloat(factor, 'g', -1, 64)))
	})
	if err != nil {
		return fmt.Errorf("set throttle: %w", err)
	}
	return nil
}

func (s *Store) Throttle(ctx context.Context) (float64, error) {
	f := 1.0
	err := s.view(func(tx *bolt.Tx) error {
		hub := tx.Bucket(bHub)
		if hub == nil || hub.Get(kThrottle) == nil {
			return nil
		}
		var err error
		f, err = strconv.ParseFloat(string(hub.Get(kThrottle)), 64)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("throttle: %w", err)
	}
	return f, nil
}
