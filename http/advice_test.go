package http_test

import (
	"context"
	"strings"
	"testing"

	"github.com/trucedb/truce"
)

// TestAdvice: the Service words its refusals in the domain's terms, and the
// problem's detail adds how to act on them over HTTP: which header, query
// parameter or URL to send.
func TestAdvice(t *testing.T) {
	c, svc := mustServeService(t)
	c.do("PUT", "/v1/collections/strict", `{"requirePreconditions":true}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/strict/docs/s", `{}`, "If-None-Match: *").want(t, 201, "")
	c.do("PUT", "/v1/collections/manual", `{"conflictPolicy":"manual"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/manual/docs/m", `{"t":"a"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/manual/docs/m", `{"t":"b","_version":1}`).want(t, 200, "")
	stale := c.do("PUT", "/v1/collections/manual/docs/m", `{"t":"c","_version":1}`).want(t, 409, "merge_conflict").JSON(t)
	cid, _ := stale["conflictId"].(string)
	if _, err := svc.TrimEvents(context.Background(), truce.EventRetention{MaxCount: 1}); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		got    map[string]any
		advice string
	}{
		{"write without precondition", c.do("PUT", "/v1/collections/strict/docs/s", `{}`).want(t, 428, "precondition_required").JSON(t),
			": send If-Match with the ETag you read, If-None-Match: * to create, or the version you read (_version / ?version=)"},
		{"batch op without precondition", c.do("POST", "/v1/tx", `{"ops":[{"op":"put","collection":"strict","id":"s","document":{}}]}`).want(t, 428, "precondition_required").JSON(t),
			": give the op ifMatch, ifNoneMatch or version"},
		{"resolve without If-Match", c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"keep-current"}`).want(t, 428, "precondition_required").JSON(t),
			": send If-Match with that ETag"},
		{"collection not empty", c.do("DELETE", "/v1/collections/manual", nil).want(t, 409, "not_empty").JSON(t),
			": send ?force=true"},
		{"transaction gone", c.do("POST", "/v1/transactions/gone/commit", nil).want(t, 410, "transaction_expired").JSON(t),
			" (POST /v1/transactions begins one)"},
		{"recorded conflict", stale,
			"; recorded as conflict " + cid + " (GET /v1/conflicts/" + cid + ")"},
		{"events expired", c.do("GET", "/v1/changes?since=1", nil).want(t, 410, "events_expired").JSON(t),
			" (without since or Last-Event-ID)"},
	} {
		if d, _ := tt.got["detail"].(string); !strings.HasSuffix(d, tt.advice) || strings.Count(d, tt.advice) != 1 {
			t.Errorf("%s: detail %q, want it to end with %q", tt.name, d, tt.advice)
		}
	}
}
