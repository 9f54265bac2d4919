package loadgen

import (
	"os"
	"strings"
)

// LoadAverage returns the machine's 1, 5 and 15 minute load averages as
// uptime prints them, or "" where /proc/loadavg is not there. Benchmarks
// on a shared machine print it next to every figure.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
