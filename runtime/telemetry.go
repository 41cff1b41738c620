package runtime

import (
	"context"
	"crypto/rand"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/siphonhq/siphon/internal/state"
)

// tracerName names the runtime's tracer and meter.
const tracerName = "github.com/siphonhq/siphon/runtime"

// startSpan starts a span with the runner's tracer (Config.TracerProvider,
// by default the global one: a no-op until the process installs an SDK
// provider). A no-op span has no ids, so the context then gets random
// ones: log lines still carry a trace_id that ties a poll to the batches
// that wrote what it found.
func (r *Runner) startSpan(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, span := r.tracer.Start(ctx, name, opts...)
	if span.SpanContext().IsValid() {
		return ctx, span
	}
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(ctx, sc), span
}

type traceOption = trace.SpanStartOption

var withAttributes = trace.WithAttributes

func attrs(tenant, destination string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("siphon.tenant", tenant), attribute.String("siphon.destination", destination)}
}

// traceparent is the W3C trace context of the span in ctx, carried by
// every queued entry so the batch that writes it links back to the poll.
func traceparent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// withLinks links a batch's span to the polls that found its entries.
func withLinks(entries []state.Entry) trace.SpanStartOption {
	seen := map[string]bool{}
	var links []trace.Link
	for _, e := range entries {
		if e.Trace == "" || seen[e.Trace] {
			continue
		}
		seen[e.Trace] = true
		ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": e.Trace})
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return trace.WithLinks(links...)
}

// withTrace adds the trace id of the span in ctx to a logger, when there
// is one.
func withTrace(ctx context.Context, log *slog.Logger) *slog.Logger {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return log.With("trace_id", sc.TraceID().String())
	}
	return log
}
