package testserver

import "testing"

func TestListeningAddr(t *testing.T) {
	tests := []struct {
		line string
		addr string
		ok   bool
	}{
		{`time=2026-01-02T03:04:05.000Z level=INFO msg=listening addr=127.0.0.1:4321`, "127.0.0.1:4321", true},
		{`time=2026-01-02T03:04:05.000Z level=INFO msg=listening addr=[::1]:80`, "[::1]:80", true},
		{`{"time":"2026-01-02T03:04:05Z","level":"INFO","msg":"listening","addr":"127.0.0.1:4321"}`, "127.0.0.1:4321", true},
		{`time=2026-01-02T03:04:05.000Z level=INFO msg=stopped`, "", false},
		{`time=2026-01-02T03:04:05.000Z level=INFO msg="listening soon" addr=127.0.0.1:1`, "", false},
		{`{"msg":"stopped","addr":"127.0.0.1:1"}`, "", false},
		{`{not json`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		addr, ok := listeningAddr(tt.line)
		if addr != tt.addr && tt.ok || ok != tt.ok {
			t.Errorf("listeningAddr(%q) = %q, %v; want %q, %v", tt.line, addr, ok, tt.addr, tt.ok)
		}
	}
}

func TestLineBufferSplitWrites(t *testing.T) {
	b := newLineBuffer()
	for _, part := range []string{"time=x level=INFO msg=st", "arting\ntime=x msg=listen", "ing addr=127.0.0.1:9", "\nmore\n"} {
		b.Write([]byte(part))
	}
	select {
	case addr := <-b.addr:
		if addr != "127.0.0.1:9" {
			t.Errorf("addr = %q, want 127.0.0.1:9", addr)
		}
	default:
		t.Fatal("no address found")
	}
}
