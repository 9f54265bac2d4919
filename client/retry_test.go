package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trucedb/truce/client"
)

// A 503 with Retry-After is retried after (at least) that long, with the
// same Idempotency-Key and the whole body again. This test really waits.
func TestRetry503RetryAfter(t *testing.T) {
	c, ft := newFaults(t, mustServe(t), []fault{problemAnswer(503, "unavailable", true, "1")})
	ctx := testCtx(t)
	start := time.Now()
	d, err := c.Put(ctx, "notes", "a", note{Title: "after the outage", Items: []string{"x"}})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if decodeNote(t, d).Title != "after the outage" {
		t.Errorf("stored %s", d.Raw)
	}
	log := ft.log()
	if len(log) != 2 {
		t.Fatalf("%d attempts, want 2", len(log))
	}
	if wait := log[1].At.Sub(log[0].At); wait < time.Second {
		t.Errorf("retried after %v, want at least the Retry-After of 1 s", wait)
	}
	if string(log[1].Body) != string(log[0].Body) || len(log[0].Body) == 0 {
		t.Errorf("bodies differ: %q then %q", log[0].Body, log[1].Body)
	}
	k0, k1 := log[0].Header.Get("Idempotency-Key"), log[1].Header.Get("Idempotency-Key")
	if k0 == "" || k0 != k1 {
		t.Errorf("Idempotency-Keys %q then %q, want one key on both", k0, k1)
	}
	t.Logf("503 + Retry-After: 1 → success after %v", time.Since(start).Round(time.Millisecond))
}

// Retry-After is honoured on 429 and 423 too, as seconds or a date; the
// waits come from the fault transport's view of the client.
func TestRetryAfterStatuses(t *testing.T) {
	for _, tt := range []struct {
		name       string
		answer     fault
		atLeast    time.Duration
		retryAfter string
	}{
		{"429 rate_limited", problemAnswer(429, "rate_limited", true, "3"), 3 * time.Second, "3"},
		{"423 locked", problemAnswer(423, "locked", true, "2"), 2 * time.Second, "2"},
		{"503 date", problemAnswer(503, "unavailable", true, time.Now().Add(10*time.Second).UTC().Format(http.TimeFormat)), 8 * time.Second, ""},
		{"409 idempotency_key_in_use", problemAnswer(409, "idempotency_key_in_use", true, "1"), time.Second, "1"},
		{"502 from a proxy", plainAnswer(502, "bad gateway"), 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, ft := newFaults(t, mustServe(t), []fault{tt.answer, tt.answer})
			waits := recordSleeps(c)
			if _, err := c.Create(testCtx(t), "notes", note{Title: "x"}); err != nil {
				t.Fatalf("Create: %v", err)
			}
			if n := len(ft.log()); n != 3 {
				t.Errorf("%d attempts, want 3", n)
			}
			if len(*waits) != 2 {
				t.Fatalf("waits %v, want 2", *waits)
			}
			for _, w := range *waits {
				if w < tt.atLeast {
					t.Errorf("waited %v, want at least %v", w, tt.atLeast)
				}
			}
		})
	}
}

// A transport error on a GET is retried; so is one on a POST and a PATCH,
// which carry the same Idempotency-Key and body on every attempt; a new
// call gets a new key.
func TestRetryTransportErrors(t *testing.T) {
	c, ft := newFaults(t, mustServe(t), nil)
	waits := recordSleeps(c)
	ctx := testCtx(t)
	if _, err := c.Put(ctx, "notes", "a", note{Title: "x"}); err != nil {
		t.Fatal(err)
	}

	ft.reset(drop, drop)
	if d, err := c.Get(ctx, "notes", "a"); err != nil || d.ID != "a" {
		t.Fatalf("Get after two dropped connections = %+v, %v", d, err)
	}
	if n := len(ft.log()); n != 3 {
		t.Errorf("GET: %d attempts, want 3", n)
	}

	var keys []string
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"Create", func() error {
			_, err := c.Create(ctx, "notes", note{Title: "posted", Items: []string{"1", "2"}})
			return err
		}},
		{"Patch", func() error {
			_, err := c.Patch(ctx, "notes", "a", client.MergePatch(map[string]any{"items": []string{"p"}}))
			return err
		}},
		{"Create again", func() error {
			_, err := c.Create(ctx, "notes", note{Title: "posted", Items: []string{"1", "2"}})
			return err
		}},
	} {
		ft.reset(drop)
		if err := call.do(); err != nil {
			t.Fatalf("%s after a dropped connection: %v", call.name, err)
		}
		log := ft.log()
		if len(log) != 2 {
			t.Fatalf("%s: %d attempts, want 2", call.name, len(log))
		}
		k := log[0].Header.Get("Idempotency-Key")
		if k == "" || log[1].Header.Get("Idempotency-Key") != k {
			t.Errorf("%s: Idempotency-Keys %q, %q", call.name, k, log[1].Header.Get("Idempotency-Key"))
		}
		if string(log[0].Body) != string(log[1].Body) || len(log[1].Body) == 0 {
			t.Errorf("%s: bodies %q then %q", call.name, log[0].Body, log[1].Body)
		}
		keys = append(keys, k)
	}
	if keys[0] == keys[2] || keys[0] == keys[1] {
		t.Errorf("separate calls share a key: %v", keys)
	}
	if len(*waits) != 5 {
		t.Errorf("waits %v, want 5", *waits)
	}
}

// Conflicts are not retried: the same stale precondition fails again.
// Neither are other refusals.
func TestNoRetry(t *testing.T) {
	c, ft := newFaults(t, mustServe(t), nil)
	waits := recordSleeps(c)
	ctx := testCtx(t)
	v1, err := c.Put(ctx, "notes", "a", note{Title: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "notes", "a", note{Title: "2"}); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"409 version_conflict": func() error { _, err := c.Put(ctx, "notes", "a", note{}, client.Version(1)); return err },
		"412 precondition_failed": func() error {
			_, err := c.Patch(ctx, "notes", "a", client.MergePatch(map[string]int{"n": 1}), client.IfMatch(v1.ETag))
			return err
		},
		"404 not_found": func() error { _, err := c.Get(ctx, "notes", "nosuch"); return err },
		"400 bad json":  func() error { _, err := c.Put(ctx, "notes", "b", []byte("{")); return err },
		"409 with Retry-After, injected": func() error {
			ft.reset(problemAnswer(409, "version_conflict", true, "1"))
			_, err := c.Get(ctx, "notes", "a")
			return err
		},
	} {
		ft.reset()
		err := call()
		mustErr(t, err)
		var re *client.RetryError
		if errors.As(err, &re) {
			t.Errorf("%s: a RetryError: %v", name, err)
		}
		if n := len(ft.log()); n != 1 {
			t.Errorf("%s: %d attempts, want 1", name, n)
		}
	}
	if len(*waits) != 0 {
		t.Errorf("waited %v", *waits)
	}
}

// The backoff doubles from BaseDelay up to MaxDelay, MaxAttempts bounds the
// attempts, and the last error is still an *Error inside a RetryError.
func TestRetryPolicyBounds(t *testing.T) {
	unavailable := problemAnswer(503, "unavailable", true, "")
	script := make([]fault, 10)
	for i := range script {
		script[i] = unavailable
	}
	c, ft := newFaults(t, mustServe(t), script, client.WithRetry(client.RetryPolicy{
		MaxAttempts: 6, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
	}))
	waits := recordSleeps(c)
	_, err := c.Get(testCtx(t), "notes", "a")
	var re *client.RetryError
	if !errors.As(err, &re) || re.Attempts != 6 {
		t.Fatalf("err = %v, want a RetryError after 6 attempts", err)
	}
	if e := mustErr(t, err); e.Status != 503 || e.Code != "unavailable" {
		t.Errorf("last error %+v", e)
	}
	if !strings.Contains(err.Error(), "gave up after 6 attempts") {
		t.Errorf("Error() = %q", err)
	}
	want := []time.Duration{10, 20, 40, 50, 50}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !cmp.Equal(*waits, want) {
		t.Errorf("waits %v, want %v (the jitter's ceilings)", *waits, want)
	}
	if n := len(ft.log()); n != 6 {
		t.Errorf("%d attempts", n)
	}

	// MaxAttempts 1: no retries, and the error as it came.
	c, ft = newFaults(t, mustServe(t), []fault{unavailable}, client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	_, err = c.Get(testCtx(t), "notes", "a")
	if errors.As(err, &re) || mustErr(t, err).Status != 503 || len(ft.log()) != 1 {
		t.Errorf("MaxAttempts 1: %v after %d attempts", err, len(ft.log()))
	}
}

// A wait that would pass MaxElapsed or the context's deadline is not
// started: the call fails at once. A context that ends during a wait ends
// the call with both errors.
func TestRetryBudget(t *testing.T) {
	url := mustServe(t)
	long := problemAnswer(503, "unavailable", true, "60")

	c, ft := newFaults(t, url, []fault{long}, client.WithRetry(client.RetryPolicy{MaxElapsed: 5 * time.Second}))
	start := time.Now()
	_, err := c.Get(testCtx(t), "notes", "a")
	var re *client.RetryError
	if !errors.As(err, &re) || re.Attempts != 1 || !strings.Contains(re.Reason, "retry policy") || time.Since(start) > 2*time.Second {
		t.Errorf("Retry-After beyond MaxElapsed: %v after %v", err, time.Since(start))
	}
	if len(ft.log()) != 1 {
		t.Errorf("%d attempts", len(ft.log()))
	}

	c, _ = newFaults(t, url, []fault{problemAnswer(503, "unavailable", true, "10")})
	ctx, cancel := context.WithTimeout(testCtx(t), 3*time.Second)
	defer cancel()
	start = time.Now()
	_, err = c.Get(ctx, "notes", "a")
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "deadline") || time.Since(start) > 2*time.Second {
		t.Errorf("Retry-After beyond the deadline: %v after %v", err, time.Since(start))
	}

	c, _ = newFaults(t, url, []fault{problemAnswer(503, "unavailable", true, "2")})
	ctx, cancel = context.WithCancel(testCtx(t))
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	_, err = c.Get(ctx, "notes", "a")
	if !errors.Is(err, context.Canceled) || mustErr(t, err).Status != 503 || time.Since(start) > time.Second {
		t.Errorf("cancelled while waiting: %v after %v", err, time.Since(start))
	}
}
