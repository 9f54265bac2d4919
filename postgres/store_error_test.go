package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/trucedb/truce"
	"github.com/trucedb/truce/postgres"
)

// TestStoreErrorDiskFull: PostgreSQL's disk_full (53100) is the store's
// insufficient_storage, retryable once space is freed; its other
// insufficient_resources errors (too many connections) stay unavailable.
func TestStoreErrorDiskFull(t *testing.T) {
	for _, tc := range []struct {
		code string
		want truce.Code
	}{
		{"53100", truce.CodeInsufficientStorage},
		{"53300", truce.CodeUnavailable},
		{"08006", truce.CodeUnavailable},
	} {
		err := postgres.StoreError(context.Background(), "commit", fmt.Errorf("exec: %w", &pgconn.PgError{Code: tc.code, Message: "x"}))
		if got := truce.ErrorCode(err); got != tc.want {
			t.Errorf("SQLSTATE %s: %v (code %s), want %s", tc.code, err, got, tc.want)
		}
	}
}
