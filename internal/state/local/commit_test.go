package local

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// Writers that arrive while a commit runs share the next commit, however
// long the one in progress takes and however spread out they arrive: with
// bbolt's Batch and its 1ms window, callers arriving a few milliseconds
// apart behind a slow commit each waited for the write lock in a group of
// their own and paid a commit each.
func TestWritersQueuedBehindACommitShareTheNext(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hold, held := make(chan struct{}), make(chan struct{})
	var first sync.WaitGroup
	first.Add(1)
	go func() {
		defer first.Done()
		_ = s.update(func(tx *bolt.Tx) error {
			select {
			case <-held:
			default:
				close(held)
			}
			<-hold
			return nil
		})
	}()
	<-held
	const writers = 40
	var mu sync.Mutex
	txs := map[*bolt.Tx]int{}
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.update(func(tx *bolt.Tx) error {
				if i == 7 {
					return errors.New("writer 7 refuses")
				}
				mu.Lock()
				txs[tx]++
				mu.Unlock()
				return tx.Bucket(bMeta).Put([]byte{'w', byte(i)}, []byte{1})
			})
		}()
		time.Sleep(2 * time.Millisecond) // spread over several of Batch's windows
	}
	for queued := 0; queued < writers; time.Sleep(time.Millisecond) {
		s.commits.mu.Lock()
		queued = len(s.commits.pending)
		s.commits.mu.Unlock()
	}
	close(hold)
	first.Wait()
	wg.Wait()
	// The group runs once with writer 7, which fails it; then the others
	// commit together without it.
	committed := 0
	for _, n := range txs {
		if n == writers-1 {
			committed++
		}
	}
	if committed != 1 || len(txs) > 2 {
		t.Errorf("writers ran in %d transactions, %d of them with every writer but 7; want one with all of them after the one writer 7 failed: %v",
			len(txs), committed, txs)
	}
	for i, err := range errs {
		if (i == 7) != (err != nil) {
			t.Errorf("writer %d: err %v", i, err)
		}
	}
	if err := s.view(func(tx *bolt.Tx) error {
		for i := range writers {
			if got := tx.Bucket(bMeta).Get([]byte{'w', byte(i)}); (got != nil) != (i != 7) {
				t.Errorf("writer %d's key: %v", i, got)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
