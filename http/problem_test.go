package http_test

import (
	"net/http"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

// Every code has its own status: a code missing from the table would be
// answered as a 500.
func TestEveryCodeHasAStatus(t *testing.T) {
	for _, c := range truce.Codes() {
		if s := trucehttp.StatusOf(c); s == http.StatusInternalServerError && c != truce.CodeInternal {
			t.Errorf("code %s has no status", c)
		}
		if c.Info().Explain == "" || c.Info().Title == "" {
			t.Errorf("code %s has no explanation", c)
		}
	}
}
