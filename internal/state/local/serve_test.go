package local

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

// TestLockedStoreGoesThroughTheHolder: state.Open of a store this process
// holds connects to the holder's socket; both see one store, and closing the
// connection leaves the holder's store open.
func TestLockedStoreGoesThroughTheHolder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	holder, err := Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	other, err := state.Open(ctx, path, state.Options{})
	if err != nil {
		t.Fatalf("open a held store: %v", err)
	}
	if _, direct := other.(*Store); direct {
		t.Fatal("a held store opened directly")
	}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := other.SetCursor(ctx, "acme", "users", at); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	cp, err := holder.Checkpoint(ctx, "acme", "users")
	if err != nil || !cp.Cursor.Equal(at) {
		t.Fatalf("holder sees %+v %v", cp, err)
	}
	a, _ := holder.Info(ctx)
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(socketPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after Close: %v", err)
	}
	// Free again, the store opens directly.
	s, err := state.Open(ctx, path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, direct := s.(*Store); !direct {
		t.Fatal("a free store opened through a socket")
	}
	if b, _ := s.Info(ctx); b.Epoch != a.Epoch {
		t.Fatalf("epochs %q %q", a.Epoch, b.Epoch)
	}
}

// TestExclusiveRefusesAHeldStore: an exclusive open (siphon run's) of a
// store another holder serves fails at once, naming the store and the
// holder's pid, and does not go through the socket; a non-exclusive open
// still does, and once the holder closes, an exclusive open succeeds.
func TestExclusiveRefusesAHeldStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	holder, err := Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	s, err := state.Open(ctx, path, state.Options{Exclusive: true})
	if err == nil {
		s.Close()
		t.Fatal("an exclusive open of a held store succeeded")
	}
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("exclusive open: %v", err)
	}
	for _, want := range []string{path, "pid " + strconv.Itoa(os.Getpid()) + " ", "stop that process", "Redis"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	other, err := state.Open(ctx, path, state.Options{})
	if err != nil {
		t.Fatalf("a non-exclusive open of the held store: %v", err)
	}
	if _, direct := other.(*Store); direct {
		t.Fatal("a held store opened directly")
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = state.Open(ctx, path, state.Options{Exclusive: true})
	if err != nil {
		t.Fatalf("an exclusive open of a free store: %v", err)
	}
	defer s.Close()
	if _, direct := s.(*Store); !direct {
		t.Fatal("an exclusive open did not open the store itself")
	}
}

// TestLockedWithoutSocketIsClear: a holder that does not serve the store
// (bbolt opened by something else) gives a clear error naming it, at once.
func TestLockedWithoutSocketIsClear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = state.Open(context.Background(), path, state.Options{})
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("open: %v", err)
	}
	for _, want := range []string{path, "no holder file", "does not answer on its socket", socketPath(path), "stop that process"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestHolderThatCannotServeSaysWhy: a store whose socket path is taken by a
// file still opens; the next process is told why it cannot go through.
func TestHolderThatCannotServeSaysWhy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(socketPath(path), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, state.Options{})
	if err != nil {
		t.Fatalf("open with the socket path taken: %v", err)
	}
	defer s.Close()
	_, err = state.Open(context.Background(), path, state.Options{})
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "not serving other processes") || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("open: %v", err)
	}
}

// TestKilledHolder: another process holds the store and serves it; this
// one goes through its socket. Once it is killed, its socket is stale and
// does not stop this process from opening the store and serving it.
func TestKilledHolder(t *testing.T) {
	if p := os.Getenv("STATE_HOLD_CHILD"); p != "" {
		s, err := Open(p, state.Options{})
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("holding\n")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until killed
		s.Close()
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledHolder$")
	cmd.Env = append(os.Environ(), "STATE_HOLD_CHILD="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "holding\n" {
		t.Fatalf("child: %q %v", line, err)
	}

	through, err := state.Open(ctx, path, state.Options{})
	if err != nil {
		t.Fatalf("open the child's store: %v", err)
	}
	if err := through.PutCredential(ctx, "acme", []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	through.Close()

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Lstat(socketPath(path)); err != nil {
		t.Fatalf("a killed holder leaves its socket: %v", err)
	}
	s, err := state.Open(ctx, path, state.Options{})
	if err != nil {
		t.Fatalf("open after the holder was killed: %v", err)
	}
	defer s.Close()
	if _, direct := s.(*Store); !direct {
		t.Fatal("opened through a dead holder's socket")
	}
	if b, err := s.Credential(ctx, "acme"); err != nil || string(b) != "sealed" {
		t.Fatalf("credential %q %v", b, err)
	}
	// The stale socket was replaced by this process's.
	c, err := net.Dial("unix", socketPath(path))
	if err != nil {
		t.Fatalf("new holder does not serve: %v", err)
	}
	c.Close()
	if h := readHolder(path); !strings.HasPrefix(h, "pid "+strconv.Itoa(os.Getpid())+" ") {
		t.Fatalf("holder %q", h)
	}
}
