package main

import (
	"strings"
	"testing"
)

func TestCLIQuery(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	r := mustTruce(t, "", "collection", "put", "orders", "--index", "status,total", "--index", "email", s)
	if !strings.Contains(r.stdout, `"status",`) || !strings.Contains(r.stdout, `"email"`) {
		t.Errorf("collection put --index: %s", r.stdout)
	}
	mustTruce(t, `{"indexes":[["status","total"]]}`, "collection", "put", "orders", s)
	for i, body := range []string{`{"status":"open","total":5,"who":{"n":"ann"}}`, `{"status":"open","total":50}`, `{"status":"closed","total":7}`} {
		mustTruce(t, body, "put", "orders", "o"+string(rune('1'+i)), s)
	}
	r = mustTruce(t, "", "query", "orders", `{"status":"open"}`, "--order-by", "-total", "--fields", "total,who.n", s)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "WHO.N") ||
		!strings.HasPrefix(lines[1], "o2") || !strings.HasPrefix(lines[2], "o1") || !strings.Contains(lines[2], "ann") {
		t.Errorf("query:\n%s", r.stdout)
	}
	r = mustTruce(t, "", "query", "orders", "--where", `{"status":"open","total":{"$lt":10}}`, "--json", s)
	if strings.Count(r.stdout, "\n") != 1 || jsonObject(t, r.stdout)["_id"] != "o1" {
		t.Errorf("query --json: %q", r.stdout)
	}
	r = mustTruce(t, "", "query", "orders", "--order-by", "total", "--scan", "--limit", "2", "--page-size", "1", "--json", s)
	if strings.Count(r.stdout, "\n") != 2 || !strings.HasPrefix(r.stdout, `{"_id":"o1"`) {
		t.Errorf("query --scan --limit: %q", r.stdout)
	}
	wantFail(t, 1, "", []string{"query", "orders", `{"total":5}`, s}, "index_required", `["total"]`)
	wantFail(t, 1, "", []string{"query", "orders", `{"total":{"$nope":5}}`, s}, "invalid_query", "$nope")
	wantFail(t, 2, "", []string{"query", "orders", `{"total":`, s}, "not JSON")
	wantFail(t, 2, "", []string{"query", "orders", `{}`, "--where", `{}`, s}, "not both")
}
