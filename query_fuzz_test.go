package truce_test

import (
	"context"
	"testing"

	"github.com/trucedb/truce"
)

// FuzzQuery: whatever the body of a query, the answer is a page or an
// error with a code a client can act on, never an internal error.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"where":{"status":"open","total":{"$gte":10,"$lt":100}},"orderBy":[{"field":"total","desc":true}],"limit":2}`,
		`{"where":{"$or":[{"a":1},{"b":{"$in":[1,"x",null]}}]},"scan":true}`,
		`{"where":{"a.b":{"$prefix":"\u0000"}},"fields":["a.b","_id"]}`,
		`{"where":{"a":{"$exists":false}},"orderBy":[{"field":"a"}],"after":"q1.e30"}`,
		`{"where":{"_version":{"$gt":1}},"scan":true,"orderBy":[{"field":"_updatedAt"}]}`,
	} {
		f.Add([]byte(seed))
	}
	svc, _ := mustService(f)
	ctx := context.Background()
	mustSettings(f, svc, "c", truce.Settings{Indexes: [][]string{{"status", "total"}, {"a"}, {"a.b"}}})
	for i, body := range []string{`{"status":"open","total":12,"a":{"b":"x"}}`, `{"status":"closed","a":1}`, `{"total":"x","a":[1,{"b":2}]}`, `{}`} {
		mustPut(f, svc, "c", docID(i), body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := truce.DecodeQuery(body)
		if err == nil {
			_, err = svc.Query(ctx, "c", q)
		}
		if code := truce.ErrorCode(err); code == truce.CodeInternal || code == truce.CodeUnavailable {
			t.Fatalf("query %s: %v", body, err)
		}
	})
}
