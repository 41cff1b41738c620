package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/examples/memory"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// The probe destination is the memory destination with a log of its
// writes and faults chosen by its config, served from the test binary like
// the built-ins (the registration runs in the plugin process too):
//
//	log       = file   each Write appends "<tenant> <keys,…>" to it
//	hold      = file   while it exists, Write blocks until cancelled
//	retryable = "msg"  every record fails with a retryable "msg"…
//	fail_while = file  …only while this file exists
//	delay     = "5ms"  each Write first sleeps this long
func init() {
	destinations.Register("probe", func() sdk.Destination { return &probe{Destination: memory.New()} })
}

type probe struct {
	*memory.Destination
	mu                         sync.Mutex
	log, hold, fail, failWhile string
	delay                      time.Duration
}

func (p *probe) Configure(ctx context.Context, cfg sdk.Config) sdk.Diagnostics {
	diags := cfg.Unexpected("log", "hold", "retryable", "fail_while", "delay")
	p.log, p.hold, p.fail = cfg.String("log", &diags), cfg.String("hold", &diags), cfg.String("retryable", &diags)
	p.failWhile = cfg.String("fail_while", &diags)
	if d := cfg.String("delay", &diags); d != "" {
		var err error
		if p.delay, err = time.ParseDuration(d); err != nil {
			diags = append(diags, sdk.Errorf([]string{"delay"}, "delay: %v", err)...)
		}
	}
	return diags
}

func (p *probe) Write(ctx context.Context, b sdk.Batch) ([]sdk.Result, error) {
	keys := make([]string, len(b.Records))
	for i, r := range b.Records {
		keys[i] = r.Key
	}
	if err := p.record(b.Tenant + " " + strings.Join(keys, ",")); err != nil {
		return nil, err
	}
	if p.hold != "" && exists(p.hold) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if p.delay > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(p.delay):
		}
	}
	if p.fail != "" && (p.failWhile == "" || exists(p.failWhile)) {
		out := make([]sdk.Result, len(b.Records))
		for i := range out {
			out[i] = sdk.Result{Status: sdk.StatusRetryable, Message: p.fail}
		}
		return out, nil
	}
	return p.Destination.Write(ctx, b)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (p *probe) record(line string) error {
	if p.log == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	return errors.Join(err, f.Close())
}

// probeBlock is the harness's destination block for the probe, logging to
// dir/writes.log; extra are more config attributes.
func probeBlock(dir, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return fmt.Sprintf("plugin = \"probe\"\n  config = { log = %q%s }", filepath.Join(dir, "writes.log"), extra)
}

// probeWrite is one logged Write.
type probeWrite struct {
	tenant string
	keys   []string
}

// probeWrites reads the probe's log; a missing log is no writes yet.
func probeWrites(t testing.TB, dir string) []probeWrite {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "writes.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []probeWrite
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		tenant, keys, _ := strings.Cut(sc.Text(), " ")
		out = append(out, probeWrite{tenant: tenant, keys: strings.Split(keys, ",")})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// backlog enqueues n volunteers entries with keys prefix0… for a tenant
// straight into the store, as polls would have, under a lease of a job of
// its own.
func (h *harness) backlog(tenant, prefix string, n int) {
	h.t.Helper()
	if err := h.enqueueBacklog(tenant, prefix, n); err != nil {
		h.t.Fatal(err)
	}
}

// enqueueBacklog is backlog for any goroutine.
func (h *harness) enqueueBacklog(tenant, prefix string, n int) error {
	ctx := context.Background()
	l, ok, err := h.store.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "test-backlog", Owner: "test", TTL: time.Minute})
	if err != nil || !ok {
		return fmt.Errorf("backlog lease of %s: %v %v", tenant, ok, err)
	}
	at := h.clk.Now().Add(-time.Hour).UTC()
	for start := 0; start < n; start += 1000 {
		var es []state.Entry
		for i := start; i < min(n, start+1000); i++ {
			key := fmt.Sprintf("%s%d", prefix, i)
			es = append(es, state.Entry{Pipeline: "volunteers", Key: key, Op: "upsert", Version: at, ContentHash: key,
				Payload: fmt.Appendf(nil, `{"id":%q,"email":"%s@example.org","membership_status":"ACTIVE","updated_at":%q}`, key, key, at.Format(time.RFC3339))})
		}
		if _, err := h.store.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: h.queue(tenant), Entries: es}}}); err != nil {
			return fmt.Errorf("backlog of %s: %w", tenant, err)
		}
	}
	return h.store.Release(ctx, l)
}
