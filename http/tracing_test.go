package http_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// Under otelhttp (truce serve with OTEL_EXPORTER_OTLP_ENDPOINT), a request's
// span is named by its route, and a write has a store.commit span within.
func TestTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := truce.NewService(store, truce.Options{})
	srv := httptest.NewServer(otelhttp.NewHandler(trucehttp.NewHandler(svc, trucehttp.Options{}), "truce", otelhttp.WithTracerProvider(tp)))
	t.Cleanup(func() { srv.Close(); store.Close() })
	c := &client{tb: t, base: srv.URL, hc: srv.Client()}
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":1}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":1,"_version":7}`).want(t, 409, "version_conflict")

	spans := exp.GetSpans()
	var names []string
	var request, commit *tracetest.SpanStub
	for i := range spans {
		s := &spans[i]
		names = append(names, s.Name)
		switch s.Name {
		case "PUT /v1/collections/{c}/docs/{id}":
			if request == nil {
				request = s
			}
		case "store.commit":
			if commit == nil {
				commit = s
			}
		}
	}
	if request == nil || commit == nil {
		t.Fatalf("spans %s: want the request's, named by its route, and a store.commit", strings.Join(names, ", "))
	}
	if commit.Parent.SpanID() != request.SpanContext.SpanID() {
		t.Errorf("store.commit is not a child of the request's span")
	}
	var sawCode bool
	for _, s := range spans {
		for _, a := range s.Attributes {
			if a.Key == "truce.code" && a.Value.AsString() == "version_conflict" {
				sawCode = true
			}
		}
	}
	if !sawCode {
		t.Errorf("no span carries truce.code=version_conflict")
	}
}
