package local

import (
	"errors"
	"path/filepath"
	"strings"
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

// A writer whose function panics gets the panic back in its own goroutine,
// with the value and the stack where its function panicked, whether it
// leads its group or not; the leader lives on, and the other writers of
// its group commit. Before, the panic came back as an error.
func TestAPanicInAWriterIsItsOwn(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boom := errors.New("boom")
	// update calls fn and reports what it panicked with, if anything.
	update := func(fn func(*bolt.Tx) error) (p any, err error) {
		defer func() { p = recover() }()
		return nil, s.update(fn)
	}
	hold, held := make(chan struct{}), make(chan struct{})
	var leaderPanic any
	var first sync.WaitGroup
	first.Add(1)
	go func() {
		defer first.Done()
		// The leader of the first group panics once the others queue.
		leaderPanic, _ = update(func(tx *bolt.Tx) error {
			select {
			case <-held:
			default:
				close(held)
			}
			<-hold
			panic(boom)
		})
	}()
	<-held
	const writers = 10
	errs := make([]error, writers)
	panics := make([]any, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			panics[i], errs[i] = update(func(tx *bolt.Tx) error {
				if i == 4 {
					panic(boom)
				}
				return tx.Bucket(bMeta).Put([]byte{'p', byte(i)}, []byte{1})
			})
		}()
	}
	for queued := 0; queued < writers; time.Sleep(time.Millisecond) {
		s.commits.mu.Lock()
		queued = len(s.commits.pending)
		s.commits.mu.Unlock()
	}
	close(hold)
	first.Wait()
	wg.Wait()
	check := func(who string, p any) {
		tp, ok := p.(*txPanic)
		if !ok {
			t.Errorf("%s: update panicked with %#v, want the function's panic", who, p)
			return
		}
		if tp.value != boom || !errors.Is(tp, boom) {
			t.Errorf("%s: panic value %v, want %v", who, tp.value, boom)
		}
		if !strings.Contains(string(tp.stack), "TestAPanicInAWriterIsItsOwn.func") {
			t.Errorf("%s: the panic's stack does not show the function that panicked:\n%s", who, tp.stack)
		}
	}
	check("the leader", leaderPanic)
	for i := range writers {
		if i == 4 {
			check("writer 4", panics[i])
			continue
		}
		if errs[i] != nil || panics[i] != nil {
			t.Errorf("writer %d: err %v, panic %v", i, errs[i], panics[i])
		}
	}
	if err := s.view(func(tx *bolt.Tx) error {
		for i := range writers {
			if got := tx.Bucket(bMeta).Get([]byte{'p', byte(i)}); (got != nil) != (i != 4) {
				t.Errorf("writer %d's key: %v", i, got)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The committer still takes writes.
	if p, err := update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("after"), []byte{1}) }); err != nil || p != nil {
		t.Errorf("a write after the panics: err %v, panic %v", err, p)
	}
}
