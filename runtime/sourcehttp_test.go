package runtime_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/runtime"
)

// Jobs polling one source at once reuse the connections earlier jobs
// opened, as many as can run at once, rather than the 2 per host Go's
// default transport keeps: a second run --once over the same runner
// opens next to no new connection.
func TestJobsReuseSourceConnections(t *testing.T) {
	clk := clock.Real{}
	var opened atomic.Int64
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // the jobs' requests overlap
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Date", clk.Now().UTC().Format(http.TimeFormat))
		_, _ = w.Write([]byte(`{"data":[],"links":{"next":null},"meta":{"current_page":1,"per_page":15,"total":0,"last_page":1}}`))
	}))
	hs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	hs.Start()
	defer hs.Close()
	plan := schedPlan(t, 16, hs.URL+"/v1", clk.Now())
	const workers = 8
	r, err := runtime.New(runtime.Config{Plan: plan, Store: schedStores(t, "bbolt", 1, nil)[0], Clock: clk,
		Logger: slog.New(slog.DiscardHandler), Credentials: fixedToken{}, Owner: "conns", LeaseTTL: 10 * time.Second,
		Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	ctx := context.Background()
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatalf("first run: %v", err)
	}
	first := opened.Load()
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if again := opened.Load() - first; again > 2 {
		t.Errorf("the second run opened %d connections (the first %d), want at most 2: %d jobs at a time kept theirs", again, first, workers)
	}
}
