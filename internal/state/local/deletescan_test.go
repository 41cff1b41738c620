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

// A scan of many pages is deleted a bounded chunk per transaction: one
// chunk leaves the rest of the pages, DeleteScan removes them all and the
// bucket, and a repeat (of a finished or a partly deleted scan) is a no-op.
func TestDeleteScanInChunks(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	lease, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "t1", Job: "reconcile-users", Owner: "test", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	const pages, perPage = 300, 100
	var pageBytes int // a page's key and value
	for p := int64(1); p <= pages; p++ {
		ids := make([]string, perPage)
		for i := range ids {
			ids[i] = fmt.Sprintf("%09d", p*perPage+int64(i))
		}
		pageBytes = max(pageBytes, 8+len(state.EncodeIDs(ids)))
		if _, err := s.CommitPage(ctx, state.PageCommit{Lease: lease, Scan: &state.ScanPage{Resource: "users", ScanID: "reconcile-users", Page: p, IDs: ids}}); err != nil {
			t.Fatal(err)
		}
	}
	// Another scan of the tenant stays.
	if _, err := s.CommitPage(ctx, state.PageCommit{Lease: lease, Scan: &state.ScanPage{Resource: "users", ScanID: "prev-x", Page: 1, IDs: []string{"1"}}}); err != nil {
		t.Fatal(err)
	}
	count := func(scanID string) int {
		t.Helper()
		n := 0
		if err := s.ScanPages(ctx, "t1", "users", scanID, func(int64, []string) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// One chunk of 10 pages' bytes, as a crash after the first
	// transaction would leave it.
	done, err := s.deleteScanChunk("t1", "users", "reconcile-users", 10*pageBytes)
	if err != nil || done {
		t.Fatalf("first chunk: done %v, %v", done, err)
	}
	left := count("reconcile-users")
	if left < pages-11 || left > pages-9 {
		t.Fatalf("one chunk left %d of %d pages, want about %d", left, pages, pages-10)
	}
	old := deleteScanBytes
	deleteScanBytes = 20 * pageBytes // many transactions
	t.Cleanup(func() { deleteScanBytes = old })
	for i := range 2 {
		if err := s.DeleteScan(ctx, "t1", "users", "reconcile-users"); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
		if n := count("reconcile-users"); n != 0 {
			t.Fatalf("delete %d: %d pages left", i, n)
		}
	}
	if n := count("prev-x"); n != 1 {
		t.Fatalf("another scan of the tenant lost: %d pages", n)
	}
	err = s.view(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, "t1", bScans)
		if err != nil {
			return err
		}
		if b.Bucket([]byte(state.Member("users", "reconcile-users"))) != nil {
			return fmt.Errorf("the scan's bucket is left")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Deleting a scan that never existed is a no-op too.
	if err := s.DeleteScan(ctx, "t1", "users", "never"); err != nil {
		t.Fatal(err)
	}
}
