package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// buildInfo describes the running binary from the information the Go
// toolchain embeds in it: the module version, the VCS commit it was built
// from and whether the work tree had changes, the Go version, and the
// commit's time (the VCS time is the only build time Go records). Parts
// the binary does not carry, as in a `go run` or a test binary, read
// "unknown".
func buildInfo() string {
	version, commit, modified, built := "unknown", "unknown", "", "unknown"
	goVersion := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			case "vcs.time":
				built = s.Value
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "truce %s\n", version)
	fmt.Fprintf(&b, "commit: %s%s\n", commit, modified)
	fmt.Fprintf(&b, "go: %s\n", goVersion)
	fmt.Fprintf(&b, "commit time: %s\n", built)
	return b.String()
}
