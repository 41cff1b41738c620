package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// evalshaCalls reads how many EVALSHA calls the server has run.
func evalshaCalls(t *testing.T, s *Store) int {
	t.Helper()
	info, err := s.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:calls=")
		if ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

// takeConcurrently runs takes copies of req (tenant t0..t19 in turn) at
// once, while the server holds its writes for a moment (CLIENT PAUSE
// WRITE) so they queue behind the first runs whatever the machine's
// speed, and returns how many were granted and how many scripts the
// server ran for them.
func takeConcurrently(t *testing.T, s *Store, takes int, req state.TakeRequest) (granted, scripts int) {
	t.Helper()
	ctx := context.Background()
	if err := s.rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.Do(ctx, "CLIENT", "PAUSE", "300", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range takes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := req
			req.Tenant = "t" + strconv.Itoa(i%20)
			r, err := s.Take(ctx, req)
			if err != nil {
				t.Error(err)
				return
			}
			if r.Granted {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return granted, evalshaCalls(t, s)
}

// Takes that arrive while runs are on their way go out together, each
// taken as if alone: of 200 concurrent takes of one budget with a burst
// of 50 (plus each tenant's own budget and the hub's), exactly 50 are
// granted, and the server runs far fewer scripts than takes. The server
// holds its writes for a moment first (CLIENT PAUSE WRITE), so the takes
// queue behind the first runs whatever the machine's speed.
func TestConcurrentTakesShareRuns(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.URL())
	ctx := context.Background()
	if s.takes == nil {
		t.Fatal("a store on one server has no take batcher")
	}
	// A first take loads the script, so the paused server is not asked
	// to load it mid-run.
	if _, err := s.Take(ctx, state.TakeRequest{Tenant: "warm", Limits: []state.Limit{{Key: "vomo", Interval: time.Hour}}}); err != nil {
		t.Fatal(err)
	}
	hub := state.Limit{Key: "vomo/lane/standard", Interval: time.Hour, Burst: 50}
	const takes = 200
	granted, calls := takeConcurrently(t, s, takes, state.TakeRequest{
		Limits: []state.Limit{{Key: "vomo", Interval: time.Millisecond, Burst: 20}}, Hubs: []state.Limit{hub}})
	if granted != 50 {
		t.Errorf("%d of %d takes granted, want the hub's burst of 50", granted, takes)
	}
	if calls > takes/4 {
		t.Errorf("%d scripts ran for %d takes, want them batched (at most %d)", calls, takes, takes/4)
	}
}

// Takes that may borrow another lane's share go out together too, each
// as if alone: of 200 concurrent takes whose own lane holds 1 token and
// whose idle neighbour lane holds 30, exactly 31 are granted, in far
// fewer scripts than takes.
func TestConcurrentLendingTakesShareRuns(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.URL())
	ctx := context.Background()
	own := state.Limit{Key: "vomo/lane/standard", Interval: time.Hour}
	other := state.Limit{Key: "vomo/lane/premium", Interval: time.Hour, Burst: 30}
	tenant := []state.Limit{{Key: "vomo", Interval: time.Millisecond, Burst: 20}}
	if _, err := s.Take(ctx, state.TakeRequest{Tenant: "warm", Limits: tenant, Hubs: []state.Limit{{Key: "vomo/lane/warm", Interval: time.Hour}},
		Lend: []state.Limit{{Key: "vomo/lane/warm2", Interval: time.Hour}}}); err != nil {
		t.Fatal(err)
	}
	const takes = 200
	granted, calls := takeConcurrently(t, s, takes, state.TakeRequest{Limits: tenant, Hubs: []state.Limit{own}, Lend: []state.Limit{other}})
	if granted != 31 {
		t.Errorf("%d of %d takes granted, want 31 (1 of the own lane, 30 lent)", granted, takes)
	}
	if calls > takes/4 {
		t.Errorf("%d scripts ran for %d takes, want them batched (at most %d)", calls, takes, takes/4)
	}
}

// A take whose caller gives up while it waits for a run returns the
// context's error, and the takes behind it are still answered.
func TestTakeCallerGivesUp(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.URL())
	ctx := context.Background()
	l := []state.Limit{{Key: "vomo", Interval: time.Millisecond}}
	if _, err := s.Take(ctx, state.TakeRequest{Tenant: "warm", Limits: l}); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.Do(ctx, "CLIENT", "PAUSE", "300", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Take(short, state.TakeRequest{Tenant: "acme", Limits: l}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("take of a caller that gave up: %v, want the deadline's error", err)
	}
	r, err := s.Take(ctx, state.TakeRequest{Tenant: "globex", Limits: l})
	if err != nil || !r.Granted {
		t.Errorf("take after the pause: %+v, %v; want granted", r, err)
	}
}
