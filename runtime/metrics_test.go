package runtime_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/siphonhq/siphon/runtime"
)

// point is one data point of a collected metric.
type point struct {
	attrs map[string]string
	value float64
}

// collected reads every metric from the reader by name.
func collected(t *testing.T, reader *sdkmetric.ManualReader) map[string][]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	attrsOf := func(s attribute.Set) map[string]string {
		m := map[string]string{}
		for _, kv := range s.ToSlice() {
			m[string(kv.Key)] = kv.Value.String()
		}
		return m
	}
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrsOf(dp.Attributes), float64(dp.Value)})
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrsOf(dp.Attributes), float64(dp.Value)})
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrsOf(dp.Attributes), dp.Value})
				}
			default:
				t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// sum adds the points whose attributes include every given pair.
func sum(ps []point, match ...string) float64 {
	var total float64
next:
	for _, p := range ps {
		for i := 0; i+1 < len(match); i += 2 {
			if p.attrs[match[i]] != match[i+1] {
				continue next
			}
		}
		total += p.value
	}
	return total
}

// TestMetricsAndSpansOfARun runs two tenants once, one record in ten
// failing its mapping (under the pause threshold), and checks the counts
// the metrics report against what the run did, that every batch span links
// to the poll span that found its records, and that no token is in any
// attribute.
func TestMetricsAndSpansOfARun(t *testing.T) {
	const users = 150
	h := newHarness(t, harnessOpts{tenants: 2, users: users, pipeline: `
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  filter      = tonumber(record.id) % 10 == 0 ? null : true
  fields = {
    email = record.email
  }`})
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	r := h.runnerAdjusted(func(c *runtime.Config) { c.MeterProvider, c.TracerProvider = mp, tp })
	s, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	m := collected(t, reader)
	var dead int64
	for _, ti := range h.sim.Tenants() {
		id := ti.ID
		bad := 0
		for key := range h.truth(id) {
			if atoi(t, key)%10 == 0 {
				bad++
			}
		}
		if bad == 0 {
			t.Fatal("no record fails the mapping")
		}
		dead += int64(bad)
		checks := []struct {
			name string
			got  float64
			want int
		}{
			{"polled", sum(m["siphon.records.polled"], "siphon.tenant", id, "siphon.pipeline", "volunteers"), users},
			{"written", sum(m["siphon.records.written"], "siphon.tenant", id, "siphon.destination", "db"), users - bad},
			{"failed mapping", sum(m["siphon.records.failed"], "siphon.tenant", id, "siphon.failure", "mapping"), bad},
			{"failed (all)", sum(m["siphon.records.failed"], "siphon.tenant", id), bad},
			{"dlq depth", sum(m["siphon.dlq.depth"], "siphon.tenant", id), bad},
			{"queue depth", sum(m["siphon.queue.depth"], "siphon.tenant", id, "siphon.destination", "db"), 0},
		}
		for _, c := range checks {
			if c.got != float64(c.want) {
				t.Errorf("%s: %s = %v, want %d", id, c.name, c.got, c.want)
			}
		}
		if got := len(h.rows("volunteers")[id]); got != users-bad {
			t.Errorf("%s: %d rows, want %d", id, got, users-bad)
		}
		// The cursor stops a settle (30s) behind the walk's start.
		lag := m["siphon.checkpoint.lag"]
		if n := sum(lag, "siphon.tenant", id, "siphon.pipeline", "volunteers"); n < 30 || countOf(lag, "siphon.tenant", id) != 1 {
			t.Errorf("%s: checkpoint lag %v s over %d points, want one of at least 30", id, n, countOf(lag, "siphon.tenant", id))
		}
	}
	if s.Dead != dead || s.Written != int64(2*users)-dead {
		t.Errorf("summary %+v, want %d dead", s, dead)
	}

	// Spans: one poll per job, batches linked to the polls that found
	// their records.
	polls := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var batches []sdktrace.ReadOnlySpan
	for _, sp := range spans.Ended() {
		switch sp.Name() {
		case "poll":
			polls[sp.SpanContext().SpanID()] = sp
		case "process":
			batches = append(batches, sp)
		}
	}
	if len(polls) != s.JobsRun || s.JobsRun != 2 {
		t.Fatalf("%d poll spans for %d jobs run, want 2", len(polls), s.JobsRun)
	}
	if len(batches) < 2 {
		t.Fatalf("%d process spans, want one per tenant at least", len(batches))
	}
	for _, b := range batches {
		tenant := spanAttr(b, "siphon.tenant")
		if len(b.Links()) == 0 {
			t.Errorf("process span of %s has no link", tenant)
		}
		for _, l := range b.Links() {
			p, ok := polls[l.SpanContext.SpanID()]
			if !ok || p.SpanContext().TraceID() != l.SpanContext.TraceID() {
				t.Errorf("process span of %s links to %v, not a poll span", tenant, l.SpanContext)
				continue
			}
			if got := spanAttr(p, "siphon.tenant"); got != tenant {
				t.Errorf("process span of %s links to the poll of %s", tenant, got)
			}
		}
	}

	// No token in any attribute of any span or metric.
	for _, ti := range h.sim.Tenants() {
		for _, sp := range spans.Ended() {
			for _, kv := range sp.Attributes() {
				if strings.Contains(kv.Value.String(), ti.Token) {
					t.Errorf("span %s attribute %s carries a token", sp.Name(), kv.Key)
				}
			}
		}
		for name, ps := range m {
			for _, p := range ps {
				for k, v := range p.attrs {
					if strings.Contains(v, ti.Token) {
						t.Errorf("metric %s attribute %s carries a token", name, k)
					}
				}
			}
		}
	}
}

func countOf(ps []point, key, value string) int {
	n := 0
	for _, p := range ps {
		if p.attrs[key] == value {
			n++
		}
	}
	return n
}

func spanAttr(sp sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}
