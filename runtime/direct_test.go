package runtime_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/runtime"
)

// pageGate holds the first request for a page after the first of a list
// until it is opened, so the test can look at the store and the
// destination between two pages of a walk.
type pageGate struct {
	path       string
	open, held chan struct{}
	once       sync.Once
}

func (g *pageGate) RoundTrip(req *http.Request) (*http.Response, error) {
	page, _ := strconv.Atoi(req.URL.Query().Get("page"))
	if page > 1 && strings.HasSuffix(req.URL.Path, g.path) {
		g.once.Do(func() { close(g.held) })
		select {
		case <-g.open:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// delivery = "direct" writes a page's records to the destination before
// the walk reads its next page: in the middle of a --once poll, when no
// process worker runs, the first page is already in the destination and
// its queue is empty. Queued delivery, at the same point, has written
// nothing and holds the page in the queue.
func TestDirectDeliveryWritesBeforeTheNextPage(t *testing.T) {
	for _, direct := range []bool{true, false} {
		name := map[bool]string{true: "direct", false: "queued"}[direct]
		t.Run(name, func(t *testing.T) {
			pipeline := volunteers
			if direct {
				pipeline += "\n  delivery = \"direct\""
			}
			h := newHarness(t, harnessOpts{tenants: 1, users: 250, pipeline: pipeline})
			if got := h.plan.Pipelines[0].Delivery == "direct"; got != direct {
				t.Fatalf("pipeline delivery %q", h.plan.Pipelines[0].Delivery)
			}
			tenant := h.sim.Tenants()[0].ID
			g := &pageGate{path: "/users", open: make(chan struct{}), held: make(chan struct{})}
			r := h.runnerAdjusted(func(c *runtime.Config) {
				c.Source = func(c *vomo.Config) {
					c.PerPage = 100
					c.HTTPClient = &http.Client{Transport: g}
				}
			})
			done := make(chan error, 1)
			go func() {
				sum, err := r.RunOnce(context.Background())
				if err == nil && sum.Failed() {
					t.Errorf("run: %+v", sum)
				}
				done <- err
			}()
			select {
			case <-g.held:
			case err := <-done:
				t.Fatalf("the run ended before its second page: %v", err)
			}
			depth := func() int64 {
				d, err := h.store.Depth(context.Background(), h.queue(tenant))
				if err != nil {
					t.Fatal(err)
				}
				return d.Stream + d.Retry
			}
			// The destination is launched on its first batch: no file yet is
			// no rows.
			rows := func() int {
				if _, err := os.Stat(filepath.Join(h.dir, "out", "destination.db")); errors.Is(err, fs.ErrNotExist) {
					return 0
				}
				return len(h.rows("volunteers")[tenant])
			}
			deadline := time.Now().Add(30 * time.Second) // a bound against hanging, not a timing assertion
			if direct {
				h.waitFor(deadline, "the first page in the destination and an empty queue", func() bool {
					return rows() > 0 && depth() == 0
				})
			} else {
				// Nothing processes the queues while --once polls.
				h.waitFor(deadline, "the first page queued", func() bool { return depth() > 0 })
				if n := rows(); n != 0 {
					t.Errorf("queued delivery wrote %d rows before the drain", n)
				}
			}
			close(g.open)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			h.assertExact()
		})
	}
}
