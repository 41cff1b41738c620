package local

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// TestIdleBudgetsArePruned: budgets that hold nothing back any more (by
// the margin) are deleted when their tenant, or the hub, next takes, as
// Redis expires them, so the file does not keep every budget ever used.
func TestIdleBudgetsArePruned(t *testing.T) {
	s := openTemp(t).(*Store)
	ctx := context.Background()
	now := time.Now()
	s.now = func() time.Time { return now }
	take := func(key string, interval time.Duration) {
		t.Helper()
		hub := state.Limit{Key: "lane/" + key, Interval: interval}
		r, err := s.Take(ctx, state.TakeRequest{Tenant: "acme", Limits: []state.Limit{{Key: key, Interval: interval}}, Hubs: []state.Limit{hub}})
		if err != nil || !r.Granted {
			t.Fatal(r, err)
		}
	}
	stored := func() (tenant, hub []string) {
		t.Helper()
		err := s.db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bTenants).Bucket([]byte("acme")).Bucket(bBudgets); b != nil {
				_ = b.ForEach(func(k, _ []byte) error { tenant = append(tenant, string(k)); return nil })
			}
			_ = tx.Bucket(bHub).ForEach(func(k, _ []byte) error { hub = append(hub, string(k)); return nil })
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return tenant, hub
	}
	take("short", time.Second)
	take("long", time.Hour)
	if ten, hub := stored(); len(ten) != 2 || len(hub) != 2 {
		t.Fatalf("stored %v %v", ten, hub)
	}
	// Past the short budgets' TAT plus the margin, the next take drops them.
	now = now.Add(time.Second + state.BudgetMargin + time.Millisecond)
	take("other", time.Hour)
	ten, hub := stored()
	if len(ten) != 2 || ten[0] != "long" || ten[1] != "other" {
		t.Errorf("tenant budgets %v, want [long other]", ten)
	}
	if len(hub) != 2 || hub[0] != "bud:lane/long" || hub[1] != "bud:lane/other" {
		t.Errorf("hub budgets %v, want [bud:lane/long bud:lane/other]", hub)
	}
	// A drain keeps its budget until it ends, plus the margin.
	if err := s.DrainBudget(ctx, "acme", "drained", time.Hour); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	take("again", time.Second)
	if ten, _ := stored(); len(ten) != 3 || ten[1] != "drained" {
		t.Errorf("tenant budgets during a drain's margin %v", ten)
	}
}

// TestHubOnlyTakeLeavesNoTenant: a take of the hub limit alone (the
// runtime's call on a separate hub store) writes no state of the tenant.
func TestHubOnlyTakeLeavesNoTenant(t *testing.T) {
	s := openTemp(t).(*Store)
	hub := state.Limit{Key: "vomo/lane/default", Interval: time.Hour}
	r, err := s.Take(context.Background(), state.TakeRequest{Tenant: "acme", Hubs: []state.Limit{hub}})
	if err != nil || !r.Granted {
		t.Fatal(r, err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bTenants).Bucket([]byte("acme")) != nil {
			t.Error("a hub-only take created the tenant's bucket")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRefusedTakeCommitsNothing: a refusal is answered from a read
// transaction, so a rate-limited tenant's retries cost no fsync.
func TestRefusedTakeCommitsNothing(t *testing.T) {
	s := openTemp(t).(*Store)
	ctx := context.Background()
	txid := func() int {
		t.Helper()
		var id int
		if err := s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
			t.Fatal(err)
		}
		return id
	}
	hub := state.Limit{Key: "lane", Interval: time.Hour}
	req := state.TakeRequest{Tenant: "acme", Limits: []state.Limit{{Key: "vomo", Interval: time.Hour}}, Hubs: []state.Limit{hub}}
	before := txid()
	if r, err := s.Take(ctx, req); err != nil || !r.Granted {
		t.Fatal(r, err)
	}
	granted := txid()
	if granted == before {
		t.Fatal("a grant committed nothing")
	}
	for range 3 {
		if r, err := s.Take(ctx, req); err != nil || r.Granted {
			t.Fatal(r, err)
		}
	}
	if after := txid(); after != granted {
		t.Errorf("three refusals committed %d transactions", after-granted)
	}
}
