package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/statetest"
)

func openTemp(t *testing.T) state.Store {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	statetest.Run(t, openTemp)
}

func TestOpenByURL(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{filepath.Join(dir, "a.db"), "file:" + filepath.Join(dir, "b.db"), "file://" + filepath.Join(dir, "c.db")} {
		s, err := state.Open(context.Background(), u, state.Options{})
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if info, _ := s.Info(context.Background()); info.Backend != "local" {
			t.Fatalf("%s: %+v", u, info)
		}
		s.Close()
	}
}

func TestSecondOpenFailsNamingTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(path, state.Options{})
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second open: %v", err)
	}
}

func TestRefusesNewerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bMeta).Put(kFormat, []byte(strconv.Itoa(state.FormatVersion+1)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, state.Options{}); !errors.Is(err, state.ErrFormatTooNew) {
		t.Fatalf("open newer store: %v", err)
	}
}

func TestEpochSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, _ := Open(path, state.Options{})
	a, _ := s.Info(context.Background())
	s.Close()
	s, _ = Open(path, state.Options{})
	defer s.Close()
	b, _ := s.Info(context.Background())
	if a.Epoch != b.Epoch || a.Epoch == "" {
		t.Fatalf("epochs %q %q", a.Epoch, b.Epoch)
	}
}

// TestReopenOnlyReads: opening a store already in this format to look at
// it (plan --store, status) leaves the file byte for byte as it was.
func TestReopenOnlyReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ActiveConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("reopening a current store and reading it changed the file")
	}
}

// TestCrashMidCommit kills a process that commits pages in a loop and checks
// that every page is either whole (entries and walk progress) or absent.
func TestCrashMidCommit(t *testing.T) {
	if os.Getenv("STATE_CRASH_CHILD") != "" {
		crashChild(os.Getenv("STATE_CRASH_CHILD"))
		return
	}
	path := filepath.Join(t.TempDir(), "state.db")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidCommit$")
		cmd.Env = append(os.Environ(), "STATE_CRASH_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		if line, err := r.ReadString('\n'); err != nil || line != "committing\n" {
			t.Fatalf("child: %q %v", line, err)
		}
		time.Sleep(time.Duration(50+round*30) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()

		s, err := Open(path, state.Options{})
		if err != nil {
			t.Fatalf("reopen after kill: %v", err)
		}
		cp, err := s.Checkpoint(context.Background(), "acme", "users")
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.Depth(context.Background(), state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if cp.Walk == nil || cp.Walk.Position != d.Stream || d.Stream == 0 {
			t.Fatalf("round %d: walk %+v but %d entries", round, cp.Walk, d.Stream)
		}
	}
}

func crashChild(path string) {
	ctx := context.Background()
	s, err := Open(path, state.Options{})
	if err != nil {
		os.Exit(3)
	}
	l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: "child" + strconv.Itoa(os.Getpid()), TTL: time.Millisecond})
	if err != nil || !ok {
		os.Exit(4)
	}
	cp, _ := s.Checkpoint(ctx, "acme", "users")
	pos := int64(0)
	if cp.Walk != nil {
		pos = cp.Walk.Position
	}
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	for i := 0; ; i++ {
		es := make([]state.Entry, 10)
		for j := range es {
			es[j] = state.Entry{Pipeline: "users", Key: strconv.Itoa(i*10 + j), Payload: []byte("{}")}
		}
		pos += 10
		if _, err := s.CommitPage(ctx, state.PageCommit{
			Lease:   l,
			Walks:   []state.WalkUpdate{{Pipeline: "users", Generation: cp.Generation, Walk: state.Walk{Position: pos}}},
			Enqueue: []state.Enqueue{{Queue: q, Entries: es}},
		}); err != nil {
			os.Exit(5)
		}
		if i == 0 {
			os.Stdout.WriteString("committing\n")
		}
	}
}

func BenchmarkStore(b *testing.B) {
	statetest.Bench(b, func(b *testing.B) (state.Store, *state.Trips) {
		trips := &state.Trips{}
		s, err := Open(filepath.Join(b.TempDir(), "state.db"), state.Options{Trips: trips})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, trips
	})
}

// A checkpoint written before walks kept a record count and the source's
// progress reads with neither, so the runtime resumes it conservatively;
// the store format version did not change for these optional fields.
func TestReadsCheckpointWithoutProgress(t *testing.T) {
	s := openTemp(t).(*Store)
	old := `{"cursor":1767225600000000,"gen":2,"walk":{"after":1767225600000000,"cap":1767229200000000,"pos":30,"total":90}}`
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tenantSub(tx, "acme", bCheckpts)
		if err != nil {
			return err
		}
		return b.Put([]byte("users"), []byte(old))
	})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := s.Checkpoint(context.Background(), "acme", "users")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if cp.Generation != 2 || !cp.Cursor.Equal(at) || !cp.LastComplete.IsZero() || cp.Walk == nil ||
		cp.Walk.Position != 30 || cp.Walk.Total != 90 || !cp.Walk.Cap.Equal(at.Add(time.Hour)) ||
		cp.Walk.Records != 0 || cp.Walk.Progress != nil {
		t.Fatalf("old checkpoint read as %+v (walk %+v)", cp, cp.Walk)
	}
}
