package local

import (
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// job is a job's lease and authoritative due time.
type job struct {
	Owner   string `json:"owner,omitempty"`
	Counter int64  `json:"ctr,omitempty"`
	Epoch   string `json:"ep,omitempty"`
	Expires int64  `json:"exp,omitempty"` // µs, store clock
	Due     int64  `json:"due,omitempty"` // µs, scheduler clock
}

func (s *Store) Acquire(ctx context.Context, req state.AcquireRequest) (state.Lease, bool, error) {
	if err := state.CheckName("job", req.Job); err != nil {
		return state.Lease{}, false, err
	}
	if req.Owner == "" || req.TTL <= 0 {
		return state.Lease{}, false, fmt.Errorf("acquire %s/%s: %w: owner and ttl are required", req.Tenant, req.Job, state.ErrInvalid)
	}
	var l state.Lease
	var ok bool
	err := s.update(func(tx *bolt.Tx) error {
		ok = false
		jobs, err := tenantSub(tx, req.Tenant, bJobs)
		if err != nil {
			return err
		}
		var j job
		if _, err := getJSON(jobs, []byte(req.Job), &j); err != nil {
			return err
		}
		now := s.now().UnixMicro()
		l = state.Lease{Tenant: req.Tenant, Job: req.Job, Due: fromMicros(j.Due)}
		if j.Owner != "" && j.Expires > now {
			l.Owner = j.Owner
			return nil
		}
		if !req.NextDue.IsZero() && j.Due != 0 && j.Due > micros(req.Now) {
			return nil
		}
		j.Counter = max(j.Counter+1, now)
		j.Owner, j.Epoch, j.Expires = req.Owner, s.epoch, now+req.TTL.Microseconds()
		if !req.NextDue.IsZero() {
			j.Due = micros(req.NextDue)
			if err := tx.Bucket(bDue).Put([]byte(state.Member(req.Tenant, req.Job)), u64(uint64(j.Due))); err != nil {
				return err
			}
		}
		ok = true
		l = leaseOf(req.Tenant, req.Job, j)
		return putJSON(jobs, []byte(req.Job), j)
	})
	if err != nil {
		return state.Lease{}, false, fmt.Errorf("acquire %s/%s: %w", req.Tenant, req.Job, err)
	}
	return l, ok, nil
}

func leaseOf(tenant, name string, j job) state.Lease {
	return state.Lease{
		Tenant: tenant, Job: name, Owner: j.Owner,
		Token:   state.Fence{Epoch: j.Epoch, Counter: j.Counter},
		Expires: fromMicros(j.Expires), Due: fromMicros(j.Due),
	}
}

// holds reports whether the lease token is still the job's current one.
// An expired lease nobody has taken over still holds: no newer writer exists.
func holds(j job, l state.Lease) bool {
	return j.Owner != "" && j.Owner == l.Owner && j.Counter == l.Token.Counter && j.Epoch == l.Token.Epoch
}

func (s *Store) Renew(ctx context.Context, l state.Lease, ttl time.Duration) (state.Lease, error) {
	var out state.Lease
	err := s.update(func(tx *bolt.Tx) error {
		tb, err := tenant(tx, l.Tenant)
		if err != nil {
			return err
		}
		jobs, j, held, err := leaseJob(tx, tb, l)
		if err != nil {
			return err
		}
		if !held {
			return state.ErrLeaseLost
		}
		j.Expires = s.now().UnixMicro() + ttl.Microseconds()
		out = leaseOf(l.Tenant, l.Job, j)
		return putJSON(jobs, []byte(l.Job), j)
	})
	if err != nil {
		return state.Lease{}, fmt.Errorf("renew %s/%s: %w", l.Tenant, l.Job, err)
	}
	return out, nil
}

func (s *Store) Release(ctx context.Context, l state.Lease) error {
	err := s.update(func(tx *bolt.Tx) error {
		tb, err := tenant(tx, l.Tenant)
		if err != nil {
			return err
		}
		jobs, j, held, err := leaseJob(tx, tb, l)
		if err != nil {
			return err
		}
		if !held {
			return nil
		}
		j.Owner, j.Expires = "", 0
		return putJSON(jobs, []byte(l.Job), j)
	})
	if err != nil {
		return fmt.Errorf("release %s/%s: %w", l.Tenant, l.Job, err)
	}
	return nil
}

// leaseJob reads the job a lease names from the tenant bucket tb, and
// whether the lease still holds it.
func leaseJob(tx *bolt.Tx, tb *bolt.Bucket, l state.Lease) (*bolt.Bucket, job, bool, error) {
	jobs, err := sub(tx, tb, bJobs)
	if err != nil {
		return nil, job{}, false, err
	}
	var j job
	if _, err := getJSON(jobs, []byte(l.Job), &j); err != nil {
		return nil, job{}, false, err
	}
	return jobs, j, holds(j, l), nil
}

// checkFence refuses a write whose lease token is not the job's current one.
func checkFence(tx *bolt.Tx, tb *bolt.Bucket, l state.Lease) error {
	_, _, held, err := leaseJob(tx, tb, l)
	if err != nil {
		return err
	}
	if !held {
		return state.ErrFenced
	}
	return nil
}

func (s *Store) ScheduleJob(ctx context.Context, tenantName, name string, due time.Time, replace bool) (time.Time, error) {
	if err := state.CheckName("job", name); err != nil {
		return time.Time{}, err
	}
	if due.IsZero() {
		return time.Time{}, fmt.Errorf("schedule %s/%s: %w: zero due time", tenantName, name, state.ErrInvalid)
	}
	var out int64
	err := s.update(func(tx *bolt.Tx) error {
		jobs, err := tenantSub(tx, tenantName, bJobs)
		if err != nil {
			return err
		}
		var j job
		if _, err := getJSON(jobs, []byte(name), &j); err != nil {
			return err
		}
		if j.Due == 0 || replace {
			j.Due = micros(due)
			if err := putJSON(jobs, []byte(name), j); err != nil {
				return err
			}
		}
		out = j.Due
		return tx.Bucket(bDue).Put([]byte(state.Member(tenantName, name)), u64(uint64(j.Due)))
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %s/%s: %w", tenantName, name, err)
	}
	return fromMicros(out), nil
}

func (s *Store) UnscheduleJob(ctx context.Context, tenantName, name string) error {
	if err := state.CheckName("job", name); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		jobs, err := tenantSub(tx, tenantName, bJobs)
		if err != nil {
			return err
		}
		var j job
		found, err := getJSON(jobs, []byte(name), &j)
		if err != nil {
			return err
		}
		if found {
			j.Due = 0
			if err := putJSON(jobs, []byte(name), j); err != nil {
				return err
			}
		}
		return tx.Bucket(bDue).Delete([]byte(state.Member(tenantName, name)))
	})
	if err != nil {
		return fmt.Errorf("unschedule %s/%s: %w", tenantName, name, err)
	}
	return nil
}

func (s *Store) DueJobs(ctx context.Context, now time.Time, limit int) ([]state.JobRef, error) {
	var out []state.JobRef
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bDue).ForEach(func(k, v []byte) error {
			due := int64(getU64(v))
			if due > micros(now) {
				return nil
			}
			t, j, _ := state.SplitMember(string(k))
			out = append(out, state.JobRef{Tenant: t, Job: j, Due: fromMicros(due)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("due jobs: %w", err)
	}
	slices.SortFunc(out, func(a, b state.JobRef) int { return a.Due.Compare(b.Due) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RepairDue finds the entries to fix in a read transaction and writes
// only those, in a write transaction that checks them again: here the
// index changes with each job's step, so there is normally nothing to
// fix, and one write transaction over every job of a hub (the runner
// sweeps every 30 seconds) held up every other writer while it read them.
func (s *Store) RepairDue(ctx context.Context, refs []state.JobRef) (int, error) {
	var stale []state.JobRef
	err := s.view(func(tx *bolt.Tx) error {
		for _, r := range refs {
			del, put, err := dueRepair(tx, r)
			if err != nil {
				return err
			}
			if del || put != 0 {
				stale = append(stale, r)
			}
		}
		return nil
	})
	if err != nil || len(stale) == 0 {
		if err != nil {
			return 0, fmt.Errorf("repair due index: %w", err)
		}
		return 0, nil
	}
	fixed := 0
	err = s.update(func(tx *bolt.Tx) error {
		fixed = 0
		idx := tx.Bucket(bDue)
		for _, r := range stale {
			del, put, err := dueRepair(tx, r)
			if err != nil {
				return err
			}
			m := []byte(state.Member(r.Tenant, r.Job))
			switch {
			case del:
				fixed++
				if err := idx.Delete(m); err != nil {
					return err
				}
			case put != 0:
				fixed++
				if err := idx.Put(m, u64(uint64(put))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("repair due index: %w", err)
	}
	return fixed, nil
}

// dueRepair compares a job's index entry with its due time: del when the
// entry should go (the job has none), put the due time to index when the
// entry is missing or differs (0 when it is right).
func dueRepair(tx *bolt.Tx, r state.JobRef) (del bool, put int64, err error) {
	jobs, err := tenantSub(tx, r.Tenant, bJobs)
	if err != nil {
		return false, 0, err
	}
	var j job
	if _, err := getJSON(jobs, []byte(r.Job), &j); err != nil {
		return false, 0, err
	}
	cur := tx.Bucket(bDue).Get([]byte(state.Member(r.Tenant, r.Job)))
	switch {
	case j.Due == 0 && cur != nil:
		return true, 0, nil
	case j.Due != 0 && int64(getU64(cur)) != j.Due:
		return false, j.Due, nil
	}
	return false, 0, nil
}
