package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestServerOutlivesStartingThread: the OS thread of the goroutine that
// called Start may end at any time (here it does on purpose: a goroutine
// that returns while locked to its thread ends the thread, as the plugin
// host's do). The server must keep running, not take that as its parent's
// death.
func TestServerOutlivesStartingThread(t *testing.T) {
	type started struct {
		s   *Server
		err error
		tid int
	}
	ch := make(chan started, 1)
	// The main thread never ends, so a goroutine that finds itself on it
	// keeps it busy and hands the start on to one on another thread.
	hold := make(chan struct{})
	defer close(hold)
	var start func()
	start = func() {
		runtime.LockOSThread()
		if syscall.Gettid() == os.Getpid() {
			go start()
			<-hold
			runtime.UnlockOSThread()
			return
		}
		// Never unlocked: the thread ends when this goroutine returns.
		s, err := Start()
		ch <- started{s, err, syscall.Gettid()}
	}
	go start()
	st := <-ch
	if errors.Is(st.err, ErrNotInstalled) {
		t.Skip(st.err)
	}
	if st.err != nil {
		t.Fatal(st.err)
	}
	defer st.s.Stop()
	task := fmt.Sprintf("/proc/self/task/%d", st.tid)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(task); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d did not end", st.tid)
		}
	}
	ctx := context.Background()
	dsn, err := st.s.CreateDatabase(ctx, "after")
	if err != nil {
		t.Fatalf("after the starting thread ended: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("after the starting thread ended: %v", err)
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after the starting thread ended: %d, %v", one, err)
	}
}
