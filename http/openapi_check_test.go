package http_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	trucehttp "github.com/trucedb/truce/http"
)

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

// spec loads the OpenAPI document of the Handler once, validated.
func spec(tb testing.TB) (*openapi3.T, routers.Router) {
	tb.Helper()
	specOnce.Do(func() {
		b, err := trucehttp.OpenAPI()
		if err != nil {
			specErr = err
			return
		}
		loader := openapi3.NewLoader()
		if specDoc, specErr = loader.LoadFromData(b); specErr != nil {
			return
		}
		if specErr = specDoc.Validate(context.Background()); specErr != nil {
			return
		}
		specRouter, specErr = gorillamux.NewRouter(specDoc)
	})
	if specErr != nil {
		tb.Fatalf("the OpenAPI document: %v", specErr)
	}
	return specDoc, specRouter
}

func init() {
	openapi3filter.RegisterBodyDecoder("application/merge-patch+json", openapi3filter.JSONBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.PlainBodyDecoder)
}

// checked wraps h so that every request and every answer is checked
// against the OpenAPI document: an answer whose status, headers or body
// the document does not describe fails tb, and so does a request to a
// route the document lacks (but for the 404 and 405 that such a request
// gets). A request the document says is invalid must be refused (4xx): the
// server must not take what its contract says it refuses.
func checked(tb testing.TB, h http.Handler) http.Handler {
	_, router := spec(tb)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			h.ServeHTTP(w, r) // hijacked: nothing to check but the handshake
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}

		vr := r.Clone(context.Background())
		vr.Body = io.NopCloser(bytes.NewReader(body))
		vr.URL.Scheme, vr.URL.Host = "", ""
		if vr.Method == http.MethodHead {
			vr.Method = http.MethodGet
		}
		route, params, err := router.FindRoute(vr)
		if err != nil {
			if rec.status != http.StatusNotFound && rec.status != http.StatusMethodNotAllowed && rec.status != http.StatusBadRequest &&
				rec.status != http.StatusUnauthorized && rec.status != http.StatusTooManyRequests {
				tb.Errorf("OpenAPI: %s %s answered %d, but the document has no such route: %v", r.Method, r.URL.Path, rec.status, err)
			}
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: false}}
		reqErr := openapi3filter.ValidateRequest(context.Background(), in)
		if reqErr != nil && rec.status < 400 {
			tb.Errorf("OpenAPI: %s %s answered %d to a request the document says is invalid: %v", r.Method, r.URL.RequestURI(), rec.status, reqErr)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.status, Header: rec.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		ct := rec.Header().Get("Content-Type")
		if r.Method == http.MethodHead || strings.HasPrefix(ct, "text/event-stream") || rec.status == http.StatusNotModified || rec.status == http.StatusNoContent || rec.status == http.StatusSwitchingProtocols {
			out.Options.ExcludeResponseBody = true
		} else {
			out.SetBodyBytes(rec.body.Bytes())
		}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			b := rec.body.String()
			if len(b) > 500 {
				b = b[:500] + "…"
			}
			tb.Errorf("OpenAPI: the answer %d to %s %s does not match the document: %v\nbody: %s", rec.status, r.Method, r.URL.RequestURI(), err, b)
		}
	})
}

// recorder passes an answer through and keeps its status and body.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len() < 1<<20 {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func TestOpenAPIDocument(t *testing.T) {
	doc, _ := spec(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	// Every code of the catalogue answers some route.
	seen := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					if mt.Schema == nil || mt.Schema.Value == nil {
						continue
					}
					for _, s := range mt.Schema.Value.AllOf {
						if p := s.Value.Properties["code"]; p != nil {
							for _, c := range p.Value.Enum {
								seen[c.(string)] = true
							}
						}
					}
				}
			}
		}
	}
	for _, c := range doc.Components.Schemas["Problem"].Value.Properties["code"].Value.Enum {
		if !seen[c.(string)] {
			t.Errorf("no route answers the code %s", c)
		}
	}
}

// The document is served, and is the one the tests check against.
func TestOpenAPIServed(t *testing.T) {
	c := mustServe(t)
	r := c.do("GET", "/v1/openapi.json", nil).want(t, 200, "")
	if !bytes.Contains(r.Body, []byte(`"openapi":"3.1.0"`)) {
		t.Fatalf("not an OpenAPI 3.1 document: %.200s", r.Body)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Every route of the route tables is in the document, with the scope it
// needs; a route added without its apiOp fails here.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc, _ := spec(t)
	probe := mustAuthServer(t, trucehttp.Options{})
	for _, rt := range trucehttp.Routes(probe.handler) {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		item := doc.Paths.Find(strings.TrimSuffix(path, "{$}")) // "/{$}" is the path "/"
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("the document lacks %s", rt.Pattern)
			continue
		}
		op := item.GetOperation(method)
		if rt.Access == "none" {
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s: a public route, but the document asks for a token", rt.Pattern)
			}
			continue
		}
		if op.Security == nil || len(*op.Security) != 1 || (*op.Security)[0]["bearer"] == nil {
			t.Errorf("%s: the document does not ask for a bearer token", rt.Pattern)
		}
		if rt.Transaction {
			if op.Parameters.GetByInAndName("header", "Truce-Transaction") == nil || (method != "GET" && op.Responses.Status(202) == nil) {
				t.Errorf("%s: the document lacks its Truce-Transaction header or its 202 (staged)", rt.Pattern)
			}
		}
	}
}
