package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// clearOTelEnv unsets the variables telemetryFromEnv reads, so the
// environment the tests run in does not leak in.
func clearOTelEnv(t *testing.T) {
	for _, v := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME"} {
		t.Setenv(v, "")
	}
}

func TestTelemetryOffUnlessAskedFor(t *testing.T) {
	for _, env := range [][]string{
		nil,
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", "OTEL_SDK_DISABLED", "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", "OTEL_TRACES_EXPORTER", "none", "OTEL_METRICS_EXPORTER", "none"},
	} {
		clearOTelEnv(t)
		for i := 0; i < len(env); i += 2 {
			t.Setenv(env[i], env[i+1])
		}
		tel, err := telemetryFromEnv(context.Background())
		if err != nil || tel.tracer != nil || tel.meter != nil {
			t.Errorf("env %v: %+v %v; want nothing exported", env, tel, err)
		}
	}
}

func TestTelemetryEnvErrors(t *testing.T) {
	for _, c := range []struct{ env [4]string }{
		{[4]string{"OTEL_TRACES_EXPORTER", "zipkin", "OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer s3cret"}},
		{[4]string{"OTEL_METRICS_EXPORTER", "prometheus", "OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer s3cret"}},
		{[4]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}},
		{[4]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"}},
	} {
		clearOTelEnv(t)
		t.Setenv(c.env[0], c.env[1])
		t.Setenv(c.env[2], c.env[3])
		_, err := telemetryFromEnv(context.Background())
		if err == nil {
			t.Errorf("env %v: no error", c.env)
			continue
		}
		// The error names the variable at fault, never a header's value.
		if !strings.Contains(err.Error(), c.env[2]) && !strings.Contains(err.Error(), c.env[0]) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("env %v: error %q", c.env, err)
		}
	}
}

// TestTelemetryExportsToTheEndpoint exports one span and one metric to a
// collector stand-in over OTLP/HTTP, as siphon run does when
// OTEL_EXPORTER_OTLP_ENDPOINT is set.
func TestTelemetryExportsToTheEndpoint(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{} // path → bytes received
	auth := map[string]string{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path] += len(body)
		auth[r.URL.Path] = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	clearOTelEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20k")
	ctx := context.Background()
	tel, err := telemetryFromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tel.tracer == nil || tel.meter == nil {
		t.Fatalf("an OTLP endpoint alone must export both signals: %+v", tel)
	}
	_, span := tel.tracer.Tracer("test").Start(ctx, "poll")
	span.End()
	c, err := tel.meter.Meter("test").Int64Counter("siphon.records.polled")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 3)
	if err := tel.shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, path := range []string{"/v1/traces", "/v1/metrics"} {
		if got[path] == 0 || auth[path] != "Bearer k" {
			t.Errorf("%s: %d bytes, authorization %q; want the export with the configured header", path, got[path], auth[path])
		}
	}
}

// TestRunRefusesABadTelemetryEnv: siphon run reads the environment before
// it runs anything, and says which variable is wrong.
func TestRunRefusesABadTelemetryEnv(t *testing.T) {
	dir := operatorConfig(t)
	clearOTelEnv(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	code, out, errOut := siphon(t, "run", "--once", dir)
	if code != 1 || !strings.Contains(errOut, `OTEL_METRICS_EXPORTER="prometheus"`) || strings.Contains(out, "jobs run") {
		t.Fatalf("run: %d %q %q", code, out, errOut)
	}
}
