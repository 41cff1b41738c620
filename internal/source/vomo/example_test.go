package vomo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/vomosim"
)

// store stands in for the runtime's state store: one atomic step per page
// (enqueue records + save progress), and the cursor checkpoint.
type store struct {
	queued     int
	progress   []byte // the walk in flight, JSON; nil when none
	checkpoint time.Time
}

func (s *store) commitPage(p vomo.Page) error {
	s.queued += len(p.Records)
	if p.Done {
		// Same step as the last page: the checkpoint moves to the cap and
		// the walk's progress is cleared.
		if p.Progress.Cap.After(s.checkpoint) {
			s.checkpoint = p.Progress.Cap
		}
		s.progress = nil
		return nil
	}
	b, err := json.Marshal(p.Progress)
	s.progress = b
	return err
}

// poll is one steady-state poll of a resource: resume the walk in flight,
// or open a new window after the checkpoint.
func poll(ctx context.Context, c *vomo.Client, res vomo.Resource, st *store) (vomo.Result, error) {
	var p vomo.Progress
	if st.progress != nil {
		if err := json.Unmarshal(st.progress, &p); err != nil {
			return vomo.Result{}, err
		}
	} else {
		var err error
		if p, err = c.NewWalk(ctx, res, st.checkpoint); err != nil {
			return vomo.Result{}, err
		}
	}
	return c.Walk(ctx, res, p, func(ctx context.Context, pg vomo.Page) error {
		return st.commitPage(pg)
	})
}

func Example() {
	clk := clock.NewManual(time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC))
	sc, _ := vomosim.LoadScenario("calm")
	sc.Tenants, sc.Users = 1, 100
	sc.Churn.Enabled, sc.Faults.Enabled = false, false
	sim, _ := vomosim.New(vomosim.Options{Clock: clk, Scenario: sc})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	tenant := sim.Tenants()[0]
	ctx := context.Background()

	c, err := vomo.New(vomo.Config{
		BaseURL: srv.URL + "/v1",
		Tenant:  tenant.ID,
		Token:   vomo.StaticToken(tenant.Token), // the runtime unseals it per request
		Clock:   clk,
		Retry:   vomo.Retry{Attempts: 5, Backoff: time.Second, MaxBackoff: time.Minute},
		PerPage: -1, // keep the platform's page size, for several pages here
	})
	if err != nil {
		panic(err)
	}
	users := vomo.Resource{Path: "/users", CursorParam: "updated_after", CreatedBeforeParam: "created_before",
		Overlap: 2 * time.Minute, Settle: 30 * time.Second}

	// Backfill: a full scan, capped by created_before. Polling then starts
	// at its cap.
	p, err := c.NewScan(ctx, users)
	if err != nil {
		panic(err)
	}
	ids := map[string]bool{}
	res, err := c.Scan(ctx, users, p, func(ctx context.Context, pg vomo.Page) error {
		for _, r := range pg.Records {
			ids[r.Key] = true // a real backfill enqueues records and stores ids with pg.Progress
		}
		return nil
	})
	fmt.Println("backfill:", len(ids), "records, complete:", res.Complete, "capped:", res.Capped)
	st := &store{checkpoint: res.Progress.Cap}

	// Ten minutes of activity at the source.
	churn := sim.Scenario().Churn
	churn.Enabled, churn.PerMinute, churn.LateShare = true, 60, 0
	_ = sim.SetChurn(churn)
	_, _ = sim.Truth(tenant.ID, "users")
	clk.Advance(10 * time.Minute)
	_, _ = sim.Truth(tenant.ID, "users") // the simulator applies changes when asked
	churn.Enabled = false
	_ = sim.SetChurn(churn)
	clk.Advance(time.Minute)

	// A poll that crashes after its first page...
	failing := errors.New("worker killed")
	pages := 0
	p, _ = c.NewWalk(ctx, users, st.checkpoint)
	_, err = c.Walk(ctx, users, p, func(ctx context.Context, pg vomo.Page) error {
		if pages++; pages > 1 {
			return failing
		}
		return st.commitPage(pg)
	})
	fmt.Println("first attempt:", err, "- walk in flight:", st.progress != nil)

	// ...and the next attempt resumes the same window from the stored progress.
	res, err = poll(ctx, c, users, st)
	fmt.Println("resumed:", err == nil, "complete:", res.Complete, "checkpoint = cap:", st.checkpoint.Equal(res.Progress.Cap))
	// Output:
	// backfill: 100 records, complete: true capped: true
	// first attempt: worker killed - walk in flight: true
	// resumed: true complete: true checkpoint = cap: true
}
