package sock_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/local"
	"github.com/siphonhq/siphon/internal/state/sock"
	"github.com/siphonhq/siphon/internal/state/statetest"
)

// serve serves st on a fresh socket and returns a client of it.
func serve(t *testing.T, st state.Store) (*sock.Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	srv, err := sock.Serve(path, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	c, err := sock.Dial(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// TestConformance runs the whole suite through a client, the socket and a
// server, on a local store.
func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store {
		st, err := local.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		c, _ := serve(t, st)
		return c
	})
}

// blockingStore blocks Depth until its context ends and reports the
// context's error; every other method but Info is absent.
type blockingStore struct {
	state.Store
	entered chan struct{}
	ended   chan error
}

func (blockingStore) Info(context.Context) (state.Info, error) {
	return state.Info{Backend: "test"}, nil
}

func (b blockingStore) Depth(ctx context.Context, q state.QueueRef) (state.Depth, error) {
	close(b.entered)
	<-ctx.Done()
	b.ended <- ctx.Err()
	return state.Depth{}, ctx.Err()
}

// TestCancelEndsTheServersCall: cancelling the client's context returns
// context.Canceled at once and ends the call's context in the server.
func TestCancelEndsTheServersCall(t *testing.T) {
	st := blockingStore{entered: make(chan struct{}), ended: make(chan error, 1)}
	c, _ := serve(t, st)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-st.entered
		cancel()
	}()
	_, err := c.Depth(ctx, state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	if err := <-st.ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("server's context ended with %v", err)
	}
}

// scanStore streams pages 0..pages-1 of 100 ids each, or fails after
// failAfter pages, and reports how many pages it handed over.
type scanStore struct {
	state.Store
	pages, failAfter int64
	handed           chan int64
}

func (scanStore) Info(context.Context) (state.Info, error) { return state.Info{Backend: "test"}, nil }

func (s scanStore) ScanPages(ctx context.Context, tenant, resource, scanID string, fn func(int64, []string) error) error {
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprint(1_000_000 + i)
	}
	var p int64
	defer func() { s.handed <- p }()
	for ; p < s.pages; p++ {
		if p == s.failAfter {
			return fmt.Errorf("scan %s/%s page %d: %w", tenant, resource, p, state.ErrNotFound)
		}
		if err := fn(p, ids); err != nil {
			return err
		}
	}
	return nil
}

// TestScanPagesStopsWhenTheCallbackFails: the callback's own error comes
// back, and the server stops reading pages instead of streaming the rest.
func TestScanPagesStopsWhenTheCallbackFails(t *testing.T) {
	const pages = 20000 // about 14 MB of lines, far more than socket buffers hold
	st := scanStore{pages: pages, failAfter: -1, handed: make(chan int64, 1)}
	c, _ := serve(t, st)
	stop := errors.New("enough")
	var seen []int64
	err := c.ScanPages(context.Background(), "acme", "users", "s1", func(page int64, ids []string) error {
		if len(ids) != 100 {
			t.Fatalf("page %d has %d ids", page, len(ids))
		}
		seen = append(seen, page)
		if len(seen) == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("ScanPages returned %v, want the callback's error", err)
	}
	if fmt.Sprint(seen) != "[0 1 2]" {
		t.Fatalf("pages %v", seen)
	}
	if n := <-st.handed; n >= pages {
		t.Fatalf("server streamed all %d pages to a client that stopped after 3", n)
	}
}

// TestScanPagesServerError: a store error mid-scan reaches the client with
// its sentinel, after the pages before it.
func TestScanPagesServerError(t *testing.T) {
	st := scanStore{pages: 10, failAfter: 4, handed: make(chan int64, 1)}
	c, _ := serve(t, st)
	n := 0
	err := c.ScanPages(context.Background(), "acme", "users", "s1", func(int64, []string) error {
		n++
		return nil
	})
	if !errors.Is(err, state.ErrNotFound) || !strings.Contains(err.Error(), "scan acme/users page 4") || n != 4 {
		t.Fatalf("after %d pages: %v", n, err)
	}
}

// staleSocket leaves a socket file at path that nobody answers on, as a
// killed server does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
}

func TestStaleSocketIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	staleSocket(t, path)
	if _, err := sock.Dial(context.Background(), path, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("dial a dead socket: %v", err)
	}
	srv, err := sock.Serve(path, scanStore{})
	if err != nil {
		t.Fatalf("serve over a stale socket: %v", err)
	}
	defer srv.Close()
	c, err := sock.Dial(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestServeRefusesALiveSocket(t *testing.T) {
	_, path := serve(t, scanStore{})
	if _, err := sock.Serve(path, scanStore{}); err == nil || !strings.Contains(err.Error(), "another process serves") {
		t.Fatalf("second server: %v", err)
	}
	// The first server still answers.
	if _, err := sock.Dial(context.Background(), path, nil); err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sock.Serve(path, scanStore{}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("serve over a file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatalf("file became %q", b)
	}
}

// TestSocketIsPrivate: the socket is its owner's only, the client refuses
// one others may use, and Close removes it.
func TestSocketIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	srv, err := sock.Serve(path, scanStore{})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket %v %v", fi.Mode(), err)
	}
	// The temporary name it was bound under is gone.
	if es, err := os.ReadDir(filepath.Dir(path)); err != nil || len(es) != 1 {
		t.Fatalf("directory holds %v %v", es, err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := sock.Dial(context.Background(), path, nil); err == nil || !strings.Contains(err.Error(), "only its owner") {
		t.Fatalf("dial a socket others may use: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after Close: %v", err)
	}
}

// TestDialGivesUpOnAHungServer: a socket that accepts connections but never
// answers fails Dial instead of hanging it.
func TestDialGivesUpOnAHungServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", path) // never accepts: connections wait in the backlog
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := sock.Dial(ctx, path, nil); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path) {
		t.Fatalf("dial a hung server: %v", err)
	}
}

// BenchmarkStore runs the store benchmarks through the socket, to set
// beside the local store's own figures: the cost of going through a
// running hub is the socket's.
func BenchmarkStore(b *testing.B) {
	statetest.Bench(b, func(b *testing.B) (state.Store, *state.Trips) {
		dir := b.TempDir()
		st, err := local.Open(filepath.Join(dir, "state.db"), state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		srv, err := sock.Serve(filepath.Join(dir, "s.sock"), st)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { srv.Close() })
		trips := &state.Trips{}
		c, err := sock.Dial(context.Background(), filepath.Join(dir, "s.sock"), trips)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c, trips
	})
}
