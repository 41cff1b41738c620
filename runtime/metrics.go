package runtime

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/siphonhq/siphon/internal/state"
)

// Metric names and attributes; README.md "Telemetry" lists them for
// operators. Attributes name tenants, pipelines and destinations only:
// never a token or a record's content.
const (
	metricPolled   = "siphon.records.polled"
	metricWritten  = "siphon.records.written"
	metricFailed   = "siphon.records.failed"
	metricQueue    = "siphon.queue.depth"
	metricDLQ      = "siphon.dlq.depth"
	metricCheckLag = "siphon.checkpoint.lag"

	attrTenant      = "siphon.tenant"
	attrPipeline    = "siphon.pipeline"
	attrDestination = "siphon.destination"
	attrFailure     = "siphon.failure"
)

// Values of siphon.failure: why records failed, and so where they went.
const (
	failMapping     = "mapping"      // the filter or mapping failed: DLQ
	failRefused     = "refused"      // the destination refused the record: DLQ
	failRetry       = "retry"        // a retryable write failure: retried later
	failMaxAttempts = "max_attempts" // a retryable failure at max_attempts: DLQ
	failReclaimed   = "reclaimed"    // delivered too often without a result: DLQ
)

// metrics are the runner's instruments. The counters are counted where the
// work happens; the gauges are read from the store when the metric reader
// collects, so they are the hub's view, not this process's.
type metrics struct {
	polled, written, failed metric.Int64Counter
	queue, dlq              metric.Int64ObservableGauge
	lag                     metric.Float64ObservableGauge
	reg                     metric.Registration
}

func newMetrics(r *Runner, mp metric.MeterProvider) (*metrics, error) {
	meter := mp.Meter(tracerName)
	m := &metrics{}
	var errs [6]error
	m.polled, errs[0] = meter.Int64Counter(metricPolled, metric.WithUnit("{record}"),
		metric.WithDescription("Records read from the source and queued, per tenant and pipeline."))
	m.written, errs[1] = meter.Int64Counter(metricWritten, metric.WithUnit("{record}"),
		metric.WithDescription("Records the destination accepted, per tenant and destination."))
	m.failed, errs[2] = meter.Int64Counter(metricFailed, metric.WithUnit("{record}"),
		metric.WithDescription("Records that failed, per tenant, destination and siphon.failure (mapping, refused, retry, max_attempts, reclaimed)."))
	m.queue, errs[3] = meter.Int64ObservableGauge(metricQueue, metric.WithUnit("{record}"),
		metric.WithDescription("Entries queued or waiting to retry, per tenant and destination."))
	m.dlq, errs[4] = meter.Int64ObservableGauge(metricDLQ, metric.WithUnit("{record}"),
		metric.WithDescription("Entries in the tenant's dead-letter queue."))
	m.lag, errs[5] = meter.Float64ObservableGauge(metricCheckLag, metric.WithUnit("s"),
		metric.WithDescription("How far a tenant's pipeline checkpoint is behind now, once it has one."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("runtime metrics: %w", err)
	}
	reg, err := meter.RegisterCallback(r.observe, m.queue, m.dlq, m.lag)
	if err != nil {
		return nil, fmt.Errorf("runtime metrics: %w", err)
	}
	m.reg = reg
	return m, nil
}

// close stops the gauges' callback, so a closed runner is not read.
func (m *metrics) close() error { return m.reg.Unregister() }

// observe reads the gauges of every tenant of the plan from the store.
func (r *Runner) observe(ctx context.Context, o metric.Observer) error {
	now := r.clk.Now()
	for _, t := range r.plan.Tenants {
		if err := ctx.Err(); err != nil {
			return err
		}
		tenant := attribute.String(attrTenant, t.ID)
		dead := int64(-1)
		for _, dest := range r.tenantDestinations(t) {
			d, err := r.st.Depth(ctx, r.queueRef(t, dest))
			if err != nil {
				return fmt.Errorf("queue depth %s/%s: %w", t.ID, dest, err)
			}
			o.ObserveInt64(r.metrics.queue, d.Stream+d.Retry, metric.WithAttributes(tenant, attribute.String(attrDestination, dest)))
			dead = d.Dead
		}
		if dead >= 0 {
			o.ObserveInt64(r.metrics.dlq, dead, metric.WithAttributes(tenant))
		}
		for _, name := range t.Active {
			cp, err := r.st.Checkpoint(ctx, t.ID, name)
			if err != nil {
				return fmt.Errorf("checkpoint %s/%s: %w", t.ID, name, err)
			}
			if !cp.Cursor.IsZero() {
				o.ObserveFloat64(r.metrics.lag, now.Sub(cp.Cursor).Seconds(), metric.WithAttributes(tenant, attribute.String(attrPipeline, name)))
			}
		}
	}
	return nil
}

// countPolled counts a committed page's entries by pipeline, leaving out
// the pipelines whose walk the commit skipped (their entries were dropped).
func (r *Runner) countPolled(ctx context.Context, tenant string, enq []state.Enqueue, skipped []string) {
	n := map[string]int64{}
	for _, e := range enq {
		for _, en := range e.Entries {
			n[en.Pipeline]++
		}
	}
	for _, p := range skipped {
		delete(n, p)
	}
	for p, c := range n {
		r.metrics.polled.Add(ctx, c, metric.WithAttributes(attribute.String(attrTenant, tenant), attribute.String(attrPipeline, p)))
	}
}

func (r *Runner) countWritten(ctx context.Context, q state.QueueRef, n int) {
	if n > 0 {
		r.metrics.written.Add(ctx, int64(n), metric.WithAttributes(attribute.String(attrTenant, q.Tenant), attribute.String(attrDestination, q.Destination)))
	}
}

func (r *Runner) countFailed(ctx context.Context, q state.QueueRef, failure string, n int) {
	if n > 0 {
		r.metrics.failed.Add(ctx, int64(n), metric.WithAttributes(attribute.String(attrTenant, q.Tenant),
			attribute.String(attrDestination, q.Destination), attribute.String(attrFailure, failure)))
	}
}
