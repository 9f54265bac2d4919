package main

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	hosts := map[string][]string{
		"localhost": {"127.0.0.1", "::1"},
		"mixed":     {"127.0.0.1", "192.0.2.7"},
		"public":    {"192.0.2.7"},
		"empty":     {},
	}
	lookup := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		ips, ok := hosts[host]
		if !ok {
			return nil, errors.New("no such host")
		}
		var out []netip.Addr
		for _, s := range ips {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.8.9.10:0", true},
		{"[::1]:8080", true},
		{"[::ffff:127.0.0.1]:8080", true},
		{"localhost:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"[::]:8080", false},
		{"192.0.2.7:8080", false},
		{"[2001:db8::1]:8080", false},
		{"mixed:8080", false},
		{"public:8080", false},
		{"empty:8080", false},
		{"unknown:8080", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		err := checkLoopback(context.Background(), tt.addr, lookup)
		if (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}
