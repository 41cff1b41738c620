package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/state/statetest"
)

var prefixes atomic.Int64

// opener opens a fresh key prefix on a shared server per subtest.
func opener(url string) func(t *testing.T) state.Store {
	return func(t *testing.T) state.Store {
		s, err := state.Open(context.Background(), url, state.Options{Prefix: "t" + strconv.FormatInt(prefixes.Add(1), 10)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	statetest.Run(t, opener(srv.URL()))
}

func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster run skipped in -short")
	}
	c := redistest.StartCluster(t)
	statetest.Run(t, opener(c.URL()))
}

func TestRefusesUndurableServer(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "no", "--maxmemory-policy", "allkeys-lru")
	_, err := state.Open(context.Background(), srv.URL(), state.Options{})
	if !errors.Is(err, state.ErrUnsafeStore) || !strings.Contains(err.Error(), "appendonly") || !strings.Contains(err.Error(), "noeviction") {
		t.Fatalf("open undurable: %v", err)
	}
	s, err := state.Open(context.Background(), srv.URL(), state.Options{Unsafe: true})
	if err != nil {
		t.Fatalf("open with Unsafe: %v", err)
	}
	s.Close()
}

func TestRefusesNewerFormat(t *testing.T) {
	srv := redistest.Start(t)
	s, err := Open(context.Background(), srv.URL(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.HSet(context.Background(), s.k.meta(), "format", state.FormatVersion+1).Err(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), srv.URL(), state.Options{}); !errors.Is(err, state.ErrFormatTooNew) {
		t.Fatalf("open newer store: %v", err)
	}
}
