package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tracingEnabled reports whether the environment names an OTLP endpoint,
// the switch of OpenTelemetry tracing.
func tracingEnabled() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// startTracing sends traces over OTLP/HTTP to the endpoint the standard
// OTEL_ environment variables name: a span per request (named by its
// route) and one per store commit. It returns h wrapped, and a function
// that flushes the spans at shutdown. Without an endpoint it returns h as
// it is: tracing costs nothing when off.
func startTracing(ctx context.Context, h http.Handler, log *slog.Logger) (http.Handler, func(context.Context) error, error) {
	if !tracingEnabled() {
		return h, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "truce")), resource.WithFromEnv())
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	log.Info("tracing", "exporter", "otlp/http")
	return otelhttp.NewHandler(h, "truce"), tp.Shutdown, nil
}
