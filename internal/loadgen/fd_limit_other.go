//go:build !unix

package loadgen

// checkFDs does nothing where there is no RLIMIT_NOFILE.
func checkFDs(int) error { return nil }
