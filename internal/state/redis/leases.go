package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
)

func checkJob(tenant, job string) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return err
	}
	return state.CheckName("job", job)
}

func (s *Store) Acquire(ctx context.Context, req state.AcquireRequest) (state.Lease, bool, error) {
	fail := func(err error) (state.Lease, bool, error) {
		return state.Lease{}, false, fmt.Errorf("acquire %s/%s: %w", req.Tenant, req.Job, err)
	}
	if err := checkJob(req.Tenant, req.Job); err != nil {
		return fail(err)
	}
	if req.Owner == "" || req.TTL <= 0 {
		return fail(fmt.Errorf("%w: owner and ttl are required", state.ErrInvalid))
	}
	nextDue := ""
	if !req.NextDue.IsZero() {
		nextDue = us(req.NextDue)
	}
	res, err := acquireScript.Run(ctx, s.rdb,
		[]string{s.k.op(req.Tenant, newID()), s.k.job(req.Tenant, req.Job)},
		opTTL, req.Owner, req.TTL.Microseconds(), s.epoch, us(req.Now), nextDue).Slice()
	if err != nil {
		return fail(err)
	}
	l := state.Lease{
		Tenant: req.Tenant, Job: req.Job, Owner: asString(res[1]),
		Token:   state.Fence{Epoch: asString(res[5]), Counter: asInt(res[2])},
		Expires: fromUS(asInt(res[3])), Due: fromUS(asInt(res[4])),
	}
	ok := asInt(res[0]) == 1
	if !ok {
		l.Token = state.Fence{}
		return l, false, nil
	}
	if nextDue != "" {
		// The due index is its own step: a miss here only delays the job
		// until the sweep, it cannot run it twice.
		if err := s.rdb.ZAdd(ctx, s.k.dueShardOf(state.Member(req.Tenant, req.Job)), goredis.Z{Score: float64(asInt(res[4])), Member: state.Member(req.Tenant, req.Job)}).Err(); err != nil {
			return l, true, fmt.Errorf("acquire %s/%s: update due index: %w", req.Tenant, req.Job, err)
		}
	}
	return l, true, nil
}

func fenceArgs(l state.Lease) []any {
	return []any{l.Owner, strconv.FormatInt(l.Token.Counter, 10), l.Token.Epoch}
}

func (s *Store) Renew(ctx context.Context, l state.Lease, ttl time.Duration) (state.Lease, error) {
	if err := checkJob(l.Tenant, l.Job); err != nil {
		return state.Lease{}, err
	}
	res, err := renewScript.Run(ctx, s.rdb, []string{s.k.job(l.Tenant, l.Job)}, append(fenceArgs(l), ttl.Microseconds())...).Slice()
	if err != nil {
		return state.Lease{}, fmt.Errorf("renew %s/%s: %w", l.Tenant, l.Job, err)
	}
	if asInt(res[0]) != 1 {
		return state.Lease{}, fmt.Errorf("renew %s/%s: %w", l.Tenant, l.Job, state.ErrLeaseLost)
	}
	l.Expires, l.Due = fromUS(asInt(res[1])), fromUS(asInt(res[2]))
	return l, nil
}

func (s *Store) Release(ctx context.Context, l state.Lease) error {
	if err := checkJob(l.Tenant, l.Job); err != nil {
		return err
	}
	if err := releaseScript.Run(ctx, s.rdb, []string{s.k.job(l.Tenant, l.Job)}, fenceArgs(l)...).Err(); err != nil {
		return fmt.Errorf("release %s/%s: %w", l.Tenant, l.Job, err)
	}
	return nil
}

func (s *Store) ScheduleJob(ctx context.Context, tenant, job string, due time.Time, replace bool) (time.Time, error) {
	if err := checkJob(tenant, job); err != nil {
		return time.Time{}, err
	}
	if due.IsZero() {
		return time.Time{}, fmt.Errorf("schedule %s/%s: %w: zero due time", tenant, job, state.ErrInvalid)
	}
	rep := "0"
	if replace {
		rep = "1"
	}
	d, err := scheduleScript.Run(ctx, s.rdb, []string{s.k.job(tenant, job)}, us(due), rep).Text()
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %s/%s: %w", tenant, job, err)
	}
	m := state.Member(tenant, job)
	n, _ := strconv.ParseInt(d, 10, 64)
	if err := s.rdb.ZAdd(ctx, s.k.dueShardOf(m), goredis.Z{Score: float64(n), Member: m}).Err(); err != nil {
		return time.Time{}, fmt.Errorf("schedule %s/%s: update due index: %w", tenant, job, err)
	}
	return fromUS(n), nil
}

func (s *Store) UnscheduleJob(ctx context.Context, tenant, job string) error {
	if err := checkJob(tenant, job); err != nil {
		return err
	}
	if err := s.rdb.HDel(ctx, s.k.job(tenant, job), "due").Err(); err != nil {
		return fmt.Errorf("unschedule %s/%s: %w", tenant, job, err)
	}
	m := state.Member(tenant, job)
	if err := s.rdb.ZRem(ctx, s.k.dueShardOf(m), m).Err(); err != nil {
		return fmt.Errorf("unschedule %s/%s: due index: %w", tenant, job, err)
	}
	return nil
}

func (s *Store) DueJobs(ctx context.Context, now time.Time, limit int) ([]state.JobRef, error) {
	if limit <= 0 {
		limit = 1000
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.ZSliceCmd, s.k.shards)
	for i := range cmds {
		cmds[i] = pipe.ZRangeByScoreWithScores(ctx, s.k.dueShard(i), &goredis.ZRangeBy{Min: "-inf", Max: us(now), Count: int64(limit)})
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return nil, fmt.Errorf("due jobs: %w", err)
	}
	var out []state.JobRef
	for _, c := range cmds {
		for _, z := range c.Val() {
			t, j, _ := state.SplitMember(z.Member.(string))
			out = append(out, state.JobRef{Tenant: t, Job: j, Due: fromUS(int64(z.Score))})
		}
	}
	slices.SortFunc(out, func(a, b state.JobRef) int { return a.Due.Compare(b.Due) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RepairDue reads each tenant's authoritative due times (one script per
// tenant, pipelined) and rewrites the index entries that differ.
func (s *Store) RepairDue(ctx context.Context, jobs []state.JobRef) (int, error) {
	byTenant := map[string][]string{}
	for _, j := range jobs {
		if err := checkJob(j.Tenant, j.Job); err != nil {
			return 0, err
		}
		byTenant[j.Tenant] = append(byTenant[j.Tenant], j.Job)
	}
	pipe := s.rdb.Pipeline()
	type read struct {
		tenant string
		jobs   []string
		due    *goredis.Cmd
		index  []*goredis.FloatCmd
	}
	var reads []read
	for t, js := range byTenant {
		r := read{tenant: t, jobs: js}
		ks := make([]string, len(js))
		for i, j := range js {
			ks[i] = s.k.job(t, j)
			m := state.Member(t, j)
			r.index = append(r.index, pipe.ZScore(ctx, s.k.dueShardOf(m), m))
		}
		r.due = jobDueScript.Eval(ctx, pipe, ks)
		reads = append(reads, r)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return 0, fmt.Errorf("repair due index: %w", err)
	}
	fixed := 0
	fix := s.rdb.Pipeline()
	for _, r := range reads {
		dues, err := r.due.StringSlice()
		if err != nil {
			return 0, fmt.Errorf("repair due index %s: %w", r.tenant, err)
		}
		for i, j := range r.jobs {
			m := state.Member(r.tenant, j)
			cur, err := r.index[i].Result()
			present := err == nil
			switch {
			case dues[i] == "" && present:
				fix.ZRem(ctx, s.k.dueShardOf(m), m)
				fixed++
			case dues[i] != "":
				n, _ := strconv.ParseInt(dues[i], 10, 64)
				if !present || int64(cur) != n {
					fix.ZAdd(ctx, s.k.dueShardOf(m), goredis.Z{Score: float64(n), Member: m})
					fixed++
				}
			}
		}
	}
	if fixed > 0 {
		if _, err := fix.Exec(ctx); err != nil {
			return 0, fmt.Errorf("repair due index: %w", err)
		}
	}
	return fixed, nil
}
