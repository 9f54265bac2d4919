package http

import (
	"net/http/httptest"
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// TestStoredAnswerForm pins the form of a stored answer: the pebble store
// hands the records it wrote before answers were opaque bytes on in this
// form (pebble/idempotency.go), so a change here must keep reading it.
func TestStoredAnswerForm(t *testing.T) {
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := NewHandler(truce.NewService(store, truce.Options{}), Options{})

	const problem = `{"code":"precondition_failed","conflictId":"01J"}`
	for _, tt := range []struct {
		status      int
		contentType string
		body        string
		stored      string
	}{
		{412, "application/problem+json", problem, `{"s":412,"ct":"application/problem+json","b":"eyJjb2RlIjoicHJlY29uZGl0aW9uX2ZhaWxlZCIsImNvbmZsaWN0SWQiOiIwMUoifQ=="}`},
		{204, "", "", `{"s":204}`},
	} {
		if got := encodeAnswer(tt.status, tt.contentType, []byte(tt.body)); string(got) != tt.stored {
			t.Errorf("encodeAnswer(%d) = %s, want %s", tt.status, got, tt.stored)
		}
		rec := httptest.NewRecorder()
		h.replay(rec, httptest.NewRequest("PUT", "/v1/collections/c/docs/d", nil), &truce.IdempotencyRecord{Answer: []byte(tt.stored)})
		if rec.Code != tt.status || rec.Body.String() != tt.body || rec.Header().Get("Content-Type") != tt.contentType ||
			rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay of %s: %d %q %v", tt.stored, rec.Code, rec.Body, rec.Header())
		}
		if tt.body == problem && rec.Header().Get("Link") != conflictLink("01J") {
			t.Errorf("replayed refusal without its conflict's Link: %v", rec.Header())
		}
	}
	rec := httptest.NewRecorder()
	h.replay(rec, httptest.NewRequest("PUT", "/v1/collections/c/docs/d", nil), &truce.IdempotencyRecord{Answer: []byte("garbage")})
	if rec.Code != 500 || rec.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("replay of an unreadable answer: %d %v", rec.Code, rec.Header())
	}
}
