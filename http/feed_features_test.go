package http_test

import (
	"encoding/json"
	"testing"
)

// TestFeedCarriesLockAndTransactionEvents: lock and transaction commits
// reach the feed like document writes, with what their Info says.
func TestFeedCarriesLockAndTransactionEvents(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/acc/docs/a", `{"balance":1}`).want(t, 201, "")
	r := c.do("POST", "/v1/collections/acc/docs/a/lock", `{"owner":"alice","ttl":"1m"}`).want(t, 201, "")
	tok := r.Header.Get("Lock-Token")
	c.do("POST", "/v1/tx", `{"ops":[{"op":"patch","collection":"acc","id":"a","lockToken":"`+tok+`","mergePatch":{"balance":2}}]}`).want(t, 200, "")
	c.do("DELETE", "/v1/collections/acc/docs/a/lock", nil, "Lock-Token: "+tok).want(t, 204, "")

	var page struct {
		Items []map[string]any `json:"items"`
		Last  int64            `json:"last"`
	}
	if err := json.Unmarshal(c.do("GET", "/v1/changes?since=0", nil).want(t, 200, "").Body, &page); err != nil {
		t.Fatal(err)
	}
	want := []string{"document.created", "lock.acquired", "document.updated", "transaction.committed", "lock.released"}
	if len(page.Items) != len(want) {
		t.Fatalf("%d events, want %d: %v", len(page.Items), len(want), page.Items)
	}
	for i, w := range want {
		if page.Items[i]["type"] != w {
			t.Fatalf("event %d is %v, want %s", i, page.Items[i]["type"], w)
		}
	}
	if page.Items[1]["owner"] != "alice" || page.Items[1]["expiresAt"] == nil {
		t.Errorf("lock.acquired without its owner and expiry: %v", page.Items[1])
	}
	if page.Items[3]["transaction"] == nil || page.Items[3]["ops"] != 1.0 {
		t.Errorf("transaction.committed without its id and ops: %v", page.Items[3])
	}
	if int64(page.Items[4]["seq"].(float64)) != page.Last {
		t.Errorf("last %d is not the last event's seq", page.Last)
	}
}
