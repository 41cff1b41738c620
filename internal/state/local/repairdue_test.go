package local

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// The due index sweep over a hub whose index is right (as it always is
// here: it changes with each job's step) writes nothing, so it holds up no
// writer; an entry that is wrong is still fixed.
func TestRepairDueWritesOnlyWhatItFixes(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	due := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var refs []state.JobRef
	for i := range 200 {
		r := state.JobRef{Tenant: fmt.Sprintf("t%03d", i), Job: "every-1m"}
		if _, err := s.ScheduleJob(ctx, r.Tenant, r.Job, due, false); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	// A job the store never saw: nothing to fix for it either.
	refs = append(refs, state.JobRef{Tenant: "t999", Job: "every-1m"})
	writes := func() int64 { st := s.db.Stats().TxStats; return st.GetWrite() }
	before := writes()
	if n, err := s.RepairDue(ctx, refs); err != nil || n != 0 {
		t.Fatalf("repair of a right index: %d fixed, %v", n, err)
	}
	if w := writes() - before; w != 0 {
		t.Errorf("repair of a right index wrote %d pages", w)
	}
	// Lose one entry and garble another, as a crash between a tenant's
	// step and the index's can on Redis.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bDue)
		if err := idx.Delete([]byte(state.Member("t007", "every-1m"))); err != nil {
			return err
		}
		return idx.Put([]byte(state.Member("t008", "every-1m")), u64(1))
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RepairDue(ctx, refs); err != nil || n != 2 {
		t.Fatalf("repair of two wrong entries: %d fixed, %v", n, err)
	}
	listed, err := s.DueJobs(ctx, due, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 200 {
		t.Errorf("%d jobs due after the repair, want 200", len(listed))
	}
	for _, d := range listed {
		if !d.Due.Equal(due) {
			t.Errorf("%s/%s indexed due %s, want %s", d.Tenant, d.Job, d.Due, due)
		}
	}
}
