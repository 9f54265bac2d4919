// Command truce is the truce JSON document server and its command-line
// client. `truce serve` runs the server; the other commands talk to one.
//
// Exit status, which scripts rely on (docs/api.md section 11): 0 on success, 1 when
// a request or the server fails, 2 on bad usage (an unknown command or flag,
// a bad flag value, a missing or extra argument).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process's exit status.
func run(args []string, stdout, stderr io.Writer) int {
	// A subcommand's own PersistentPreRunE must not hide the root's, which
	// marks the end of usage checking.
	cobra.EnableTraverseRunHooks = true

	root, started := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	// Cobra reports bad commands, flags and arguments before the command
	// starts; anything that fails before then is bad usage.
	var uerr *usageError
	if !*started || errors.As(err, &uerr) {
		fmt.Fprintf(stderr, "truce: %v\n", err)
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(stderr, "truce: %v\n", err)
	return exitFailure
}

// newRootCmd returns the root command and a flag that turns true once a
// subcommand has passed cobra's checks of its flags and arguments.
func newRootCmd(stdout, stderr io.Writer) (*cobra.Command, *bool) {
	started := new(bool)
	root := &cobra.Command{
		Use:   "truce",
		Short: "truce is a JSON document server that never loses an update",
		Long: `truce is a JSON document server that never loses an update.

Two writers that change the same document find out, every time: a precise
409 or 412 with the current state, a three-way merge where the changes do
not touch, a recorded conflict to resolve later, locks, atomic transactions
and a live feed of what changed.

Run the server with 'truce serve'.`,
		Version:       buildInfo(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			*started = true
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// --version prints what 'truce version' prints, and nothing else.
	root.SetVersionTemplate("{{.Version}}")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err: err}
	})
	root.AddCommand(newServeCmd(stderr))
	root.AddCommand(newBenchCmd())
	root.AddCommand(newTokenCmd(stdout))
	root.AddCommand(newOpenAPICmd(stdout))
	addClientCommands(root)
	return root, started
}

// usageError marks an error as bad usage: exit status 2 and a hint to
// read the help.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// enumValue is a string flag that takes one of a fixed set of values, so
// that a bad value is reported when the flags are parsed.
type enumValue struct {
	value   string
	allowed []string
}

func newEnumValue(def string, allowed ...string) *enumValue {
	return &enumValue{value: def, allowed: allowed}
}

func (e *enumValue) String() string { return e.value }
func (e *enumValue) Type() string   { return "string" }

func (e *enumValue) Set(s string) error {
	if !slices.Contains(e.allowed, s) {
		return fmt.Errorf("must be one of %s", strings.Join(e.allowed, ", "))
	}
	e.value = s
	return nil
}
