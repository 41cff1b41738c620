package runtime_test

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// hubMetrics are the runtime's metrics about the hub as a whole, whose
// points carry no tenant. Every other metric is a tenant's.
var hubMetrics = map[string]bool{}

// tenantWorkKeys are log attributes only tenant work has: a line with one
// of them is about a tenant's job, poll, batch or record.
var tenantWorkKeys = []string{"job", "pipeline", "pipelines", "destination", "resource", "key", "trace_id", "poll_trace_id", "fence"}

// TestEverySignalOfTenantWorkCarriesTheTenant runs three tenants once at
// debug level against a source answering 5xx and cut bodies, one
// tenant with a revoked token (401: its poll fails and pauses it) and one
// record in ten of the others refused by the mapping (to the DLQ), and
// checks that every span, every point of a tenant's metric and
// every log line of tenant work names the tenant, and a tenant of the run.
func TestEverySignalOfTenantWorkCarriesTheTenant(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 3, users: 100, pipeline: failsOneInTen, adjust: func(sc *vomosim.Scenario) {
		// 5xx and cut bodies: the source client's retry lines run too.
		sc.Faults.Enabled, sc.Faults.ErrorRate, sc.Faults.TruncateRate = true, 0.3, 0.1
	}})
	tenants := h.sim.Tenants()
	known := map[string]bool{}
	for _, ti := range tenants {
		known[ti.ID] = true
	}
	if err := h.sim.Revoke(tenants[0].ID); err != nil {
		t.Fatal(err)
	}
	var logs logCapture
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	r := h.runnerAdjusted(func(c *runtime.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.MeterProvider, c.TracerProvider = mp, tp
	})
	if _, err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Spans.
	names := map[string]int{}
	for _, sp := range spans.Ended() {
		names[sp.Name()]++
		if tenant := spanAttr(sp, "siphon.tenant"); !known[tenant] {
			t.Errorf("span %s carries tenant %q, not a tenant of the run", sp.Name(), tenant)
		}
	}
	for _, want := range []string{"job", "poll", "process"} {
		if names[want] == 0 {
			t.Errorf("no %s span: the run did too little to check (%v)", want, names)
		}
	}

	// Metrics.
	m := collected(t, reader)
	if len(m) == 0 {
		t.Fatal("no metric collected")
	}
	for name, ps := range m {
		if hubMetrics[name] {
			continue
		}
		for _, p := range ps {
			if !known[p.attrs["siphon.tenant"]] {
				t.Errorf("metric %s has a point without a tenant of the run: %v (a hub-wide metric goes in hubMetrics)", name, p.attrs)
			}
		}
	}

	// Log lines.
	perTenant, msgs := map[string]int{}, map[string]int{}
	for _, l := range logs.lines(t) {
		msg, _ := l["msg"].(string)
		msgs[msg]++
		if _, plugin := l["plugin_name"]; plugin {
			// The plugin process's own lines (start-up, handshake): one
			// plugin process serves every tenant of its destination.
			continue
		}
		work := slices.ContainsFunc(tenantWorkKeys, func(k string) bool { _, ok := l[k]; return ok })
		tenant, _ := l["tenant"].(string)
		if tenant != "" {
			perTenant[tenant]++
		}
		if work && !known[tenant] {
			t.Errorf("log line of tenant work without a tenant of the run: %v", l)
		}
		if tenant != "" && !known[tenant] {
			t.Errorf("log line names tenant %q, not a tenant of the run: %v", tenant, l)
		}
	}
	for _, want := range []string{"vomo: retrying", "poll failed", "mapping failed; to the DLQ"} {
		if msgs[want] == 0 {
			t.Errorf("no %q line: the run did not take the path the test means to check (%v)", want, msgs)
		}
	}
	for id := range known {
		if perTenant[id] == 0 {
			ids := make([]string, 0, len(perTenant))
			for k := range perTenant {
				ids = append(ids, k)
			}
			sort.Strings(ids)
			t.Errorf("no log line of tenant %s (lines name %v): the run did too little to check", id, ids)
		}
	}
}
