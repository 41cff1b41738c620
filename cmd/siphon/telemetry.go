package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// telemetry is the OpenTelemetry export siphon run set up from the
// environment; a nil provider means that signal is not exported (the
// global provider stays a no-op).
type telemetry struct {
	tracer *sdktrace.TracerProvider
	meter  *sdkmetric.MeterProvider
}

// telemetryFromEnv reads the standard OpenTelemetry variables. A signal is
// exported over OTLP/HTTP when its OTEL_*_EXPORTER is "otlp", or is unset
// and an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or the signal's
// own); "none" or OTEL_SDK_DISABLED=true turns it off. The exporters and
// the SDK read the rest themselves: endpoints, OTEL_EXPORTER_OTLP_HEADERS,
// timeouts, OTEL_TRACES_SAMPLER, OTEL_METRIC_EXPORT_INTERVAL,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES. Errors name the variable,
// never the value of a header (they carry credentials).
func telemetryFromEnv(ctx context.Context) (*telemetry, error) {
	tel := &telemetry{}
	if disabled, _ := strconv.ParseBool(os.Getenv("OTEL_SDK_DISABLED")); disabled {
		return tel, nil
	}
	traces, err := wantExport("TRACES")
	if err != nil {
		return nil, err
	}
	metrics, err := wantExport("METRICS")
	if err != nil {
		return nil, err
	}
	if !traces && !metrics {
		return tel, nil
	}
	res, err := resource.New(ctx,
		// The service name is siphon unless OTEL_SERVICE_NAME or
		// OTEL_RESOURCE_ATTRIBUTES say otherwise (later options win).
		resource.WithAttributes(attribute.String("service.name", "siphon"), attribute.String("service.version", version)),
		resource.WithTelemetrySDK(), resource.WithHost(), resource.WithProcessPID(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("telemetry resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	if traces {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		tel.tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	}
	if metrics {
		exp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("OTLP metric exporter: %w", err), tel.shutdown(ctx))
		}
		tel.meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)), sdkmetric.WithResource(res))
	}
	return tel, nil
}

// wantExport decides whether one signal ("TRACES" or "METRICS") is
// exported.
func wantExport(signal string) (bool, error) {
	name := "OTEL_" + signal + "_EXPORTER"
	exporter := strings.TrimSpace(os.Getenv(name))
	if exporter == "" {
		if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") == "" {
			return false, nil
		}
		exporter = "otlp"
	}
	switch exporter {
	case "none":
		return false, nil
	case "otlp":
	default:
		return false, fmt.Errorf("%s=%q: siphon exports with \"otlp\" (OTLP over HTTP) or \"none\"", name, exporter)
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL"} {
		if p := os.Getenv(v); p != "" && p != "http/protobuf" {
			return false, fmt.Errorf("%s=%q: siphon exports OTLP as http/protobuf only", v, p)
		}
	}
	return true, nil
}

// install makes the providers global, so the runtime's spans and metrics
// go to them, and sends the SDK's own errors (an unreachable collector) to
// the run's log.
func (t *telemetry) install(log *slog.Logger) {
	if t.tracer == nil && t.meter == nil {
		return
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("telemetry export", "err", err) }))
	if t.tracer != nil {
		otel.SetTracerProvider(t.tracer)
	}
	if t.meter != nil {
		otel.SetMeterProvider(t.meter)
	}
}

// shutdown flushes what is buffered and stops the exporters.
func (t *telemetry) shutdown(ctx context.Context) error {
	var errs []error
	if t.tracer != nil {
		errs = append(errs, t.tracer.Shutdown(ctx))
	}
	if t.meter != nil {
		errs = append(errs, t.meter.Shutdown(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry shutdown: %w", err)
	}
	return nil
}

// flush shuts the export down at the end of siphon run, bounded so an
// unreachable collector cannot hold the exit; a failure is only logged.
func (t *telemetry) flush(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := t.shutdown(ctx); err != nil {
		log.Warn("telemetry not flushed", "err", err)
	}
}
