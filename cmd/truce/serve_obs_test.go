package main_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/trucedb/truce/internal/testserver"
)

// --metrics-addr serves /metrics without a token, --debug-addr serves
// pprof (which the API's listener never does), and --access-log logs each
// request.
func TestServeObservability(t *testing.T) {
	bin := testserver.Build(t)
	srv := testserver.Start(t, bin, t.TempDir(), "--metrics-addr", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0",
		"--access-log", "--log-format", "json")
	side := map[string]string{}
	for _, m := range regexp.MustCompile(`"msg":"serving (\w+)","addr":"([^"]+)"`).FindAllStringSubmatch(srv.Stderr(), -1) {
		side[m[1]] = "http://" + m[2]
	}
	if side["metrics"] == "" || side["pprof"] == "" {
		t.Fatalf("no metrics or pprof listener logged:\n%s", srv.Stderr())
	}
	mustDo(t, "PUT", srv.URL+"/v1/collections/notes/docs/n1", map[string]any{"a": 1}, 201)
	mustDo(t, "PUT", srv.URL+"/v1/collections/notes/docs/n1", map[string]any{"a": 1, "_version": 9}, 409)
	r := mustDo(t, "GET", side["metrics"]+"/metrics", nil, 200)
	for _, want := range []string{`truce_conflicts_total{code="version_conflict",collection="notes"} 1`, "truce_store_commit_seconds_count", "go_goroutines"} {
		if !strings.Contains(string(r.raw), want) {
			t.Errorf("the metrics listener's /metrics lacks %s", want)
		}
	}
	mustDo(t, "GET", srv.URL+"/debug/pprof/", nil, 404)
	mustDo(t, "GET", side["pprof"]+"/debug/pprof/", nil, 200)
	srv.Stop()
	if !strings.Contains(srv.Stderr(), `"msg":"request","requestId":`) || !strings.Contains(srv.Stderr(), `"code":"version_conflict"`) {
		t.Errorf("no access log of the requests:\n%s", srv.Stderr())
	}
}

// truce openapi prints the OpenAPI document.
func TestOpenAPICommand(t *testing.T) {
	bin := testserver.Build(t)
	code, stdout, stderr := runTruce(t, bin, "openapi")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("not an OpenAPI 3.1 document (%v): %.200s", err, stdout)
	}
}
