package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

// defaultServer is the server the client commands talk to when neither
// --server nor $TRUCE_URL names one.
const defaultServer = "http://127.0.0.1:8080"

// cliRetry is the client commands' retry policy: a person is waiting, so
// a server that is down is reported within seconds.
var cliRetry = client.RetryPolicy{MaxAttempts: 3, MaxElapsed: 10 * time.Second, BaseDelay: 200 * time.Millisecond, MaxDelay: 2 * time.Second}

// clientOptions holds the flags that every client command takes.
type clientOptions struct {
	server string
	token  string
	caFile string
	json   bool
}

// addClientCommands adds the commands that talk to a truce server.
func addClientCommands(root *cobra.Command) {
	for _, newCmd := range []func(*clientOptions) *cobra.Command{
		newGetCmd, newPutCmd, newPatchCmd, newDeleteCmd, newHistoryCmd, newDiffCmd,
		newListCmd, newVersionCmd, newRestoreCmd, newCollectionsCmd, newCollectionCmd,
		newConflictsCmd, newResolveCmd, newDismissCmd, newLockCmd, newUnlockCmd, newTxCmd,
		newWatchCmd, newQueryCmd, newBackupCmd, newExportCmd, newImportCmd,
	} {
		o := &clientOptions{}
		cmd := newCmd(o)
		f := cmd.Flags()
		if cmd.HasSubCommands() {
			// The subcommands share o: give them the flags too.
			f = cmd.PersistentFlags()
		}
		f.StringVar(&o.server, "server", "", "`URL` of the truce server (default $TRUCE_URL, else "+defaultServer+")")
		f.StringVar(&o.token, "token", "", "bearer `TOKEN` for the server (default $TRUCE_TOKEN)")
		f.StringVar(&o.caFile, "ca-file", "", "PEM `file` of the CA (or self-signed certificate) to trust for an https:// server (default $TRUCE_CA_FILE)")
		f.BoolVar(&o.json, "json", false, "print JSON for scripts instead of text for people")
		addLockTokenFlag(cmd)
		root.AddCommand(cmd)
	}
}

// client returns a client for the server the flags or the environment
// name.
func (o *clientOptions) client() (*client.Client, error) {
	server, token := o.server, o.token
	if server == "" {
		server = os.Getenv("TRUCE_URL")
	}
	if server == "" {
		server = defaultServer
	}
	if token == "" {
		token = os.Getenv("TRUCE_TOKEN")
	}
	opts := []client.Option{client.WithToken(token), client.WithRetry(cliRetry), client.WithUserAgent("truce-cli/1")}
	caFile := o.caFile
	if caFile == "" {
		caFile = os.Getenv("TRUCE_CA_FILE")
	}
	if caFile != "" {
		opts = append(opts, client.WithCAFile(caFile))
	}
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("--server, --ca-file: %w", err)}
	}
	return c, nil
}

// readBody reads a request body from the file named by -f, or from stdin
// when it is "-" or not given. An unreadable file or an empty body is bad
// usage.
func readBody(cmd *cobra.Command, file string) ([]byte, error) {
	var data []byte
	var err error
	if file == "" || file == "-" {
		in := cmd.InOrStdin()
		if f, ok := in.(*os.File); ok && isTerminal(f) {
			fmt.Fprintln(cmd.ErrOrStderr(), "truce: reading the JSON body from the terminal; end it with Ctrl-D (or give -f FILE)")
		}
		data, err = io.ReadAll(in)
		if err != nil {
			return nil, fmt.Errorf("read the body from stdin: %w", err)
		}
		file = "stdin"
	} else if data, err = os.ReadFile(file); err != nil {
		return nil, &usageError{err: fmt.Errorf("-f: %w", err)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, usageErrorf("the body from %s is empty; give a JSON document with -f FILE or on stdin", file)
	}
	return data, nil
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printDoc prints a document: the JSON on stdout (indented for people,
// compact with --json), and for people a line on stderr with its version
// and ETag, so that stdout stays pure JSON.
func (o *clientOptions) printDoc(cmd *cobra.Command, verb string, d *client.Doc) error {
	if !json.Valid(d.Raw) {
		return errors.New("the server sent a document that is not JSON")
	}
	if !o.json {
		meta := fmt.Sprintf("%s%s/%s  version %d", verb, d.Collection, d.ID, d.Version)
		if d.ETag != "" {
			meta += "  ETag " + d.ETag
		}
		if !d.UpdatedAt.IsZero() {
			meta += "  updated " + d.UpdatedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintln(cmd.ErrOrStderr(), meta)
	}
	return o.writeJSON(cmd, d.Raw)
}

// versionFlag parses --version: a positive integer, or 0 when not given.
func versionFlag(cmd *cobra.Command, v int64) ([]client.CallOption, error) {
	if !cmd.Flags().Changed("version") {
		return nil, nil
	}
	if v < 1 {
		return nil, usageErrorf("--version must be a positive version number, not %d", v)
	}
	return []client.CallOption{client.Version(v)}, nil
}

// preconditionFlags returns the call options of --version and --if-match.
func preconditionFlags(cmd *cobra.Command, version int64, ifMatch string) ([]client.CallOption, error) {
	opts, err := versionFlag(cmd, version)
	if err != nil {
		return nil, err
	}
	if ifMatch != "" {
		opts = append(opts, client.IfMatch(ifMatch))
	}
	return append(opts, lockTokenOption(cmd)...), nil
}

// requestFailed turns a failed request into the error the command
// returns: what the server said, in words, and for a conflict what the
// document is now and what to do next. base is the version the request
// was based on (--version), or 0.
func requestFailed(cmd *cobra.Command, c *client.Client, err error, collection, id string, base int64) error {
	var e *client.Error
	if !errors.As(err, &e) {
		var ne net.Error
		var ue *url.Error
		if errors.As(err, &ne) || errors.As(err, &ue) {
			return fmt.Errorf("cannot reach the truce server at %s: %w\n(name another with --server or $TRUCE_URL)", c.BaseURL(), err)
		}
		return err
	}
	var b strings.Builder
	detail := e.Detail
	if detail == "" {
		detail = e.Title
	}
	b.WriteString(detail)
	b.WriteString(" (")
	if e.Code != "" {
		b.WriteString(e.Code + ", ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Status >= 500 && e.RequestID != "" {
		b.WriteString(", request id " + e.RequestID)
	}
	b.WriteString(")")
	if cur := e.Current; cur != nil && id != "" {
		fmt.Fprintf(&b, "\n  %s/%s is now at version %d, ETag %s.", collection, id, cur.Version, cur.ETag)
		if base > 0 && base < cur.Version {
			if ops, derr := c.Diff(cmd.Context(), collection, id, base, cur.Version); derr == nil && len(ops) > 0 {
				fmt.Fprintf(&b, "\n  What changed since version %d:", base)
				for _, op := range ops {
					b.WriteString("\n    " + formatOp(op))
				}
			}
		}
		fmt.Fprintf(&b, "\n  See it with: truce get %s %s", collection, id)
		if e.ConflictID != "" {
			fmt.Fprintf(&b, "\n  The server recorded it as conflict %s: see it with 'truce conflicts show %s',\n  decide with 'truce resolve %s --strategy … --if-match ETAG' (the ETag it shows)", e.ConflictID, e.ConflictID, e.ConflictID)
		}
		switch {
		case client.IsPreconditionFailed(err) && cmd.Flags().Lookup("if-match") != nil:
			fmt.Fprintf(&b, "\n  To apply your change to it, send it again with --if-match '%s'", cur.ETag)
		case client.IsVersionConflict(err):
			fmt.Fprintf(&b, "\n  To apply your change to it, send it again with --version %d", cur.Version)
		}
	}
	return errors.New(b.String())
}

// formatOp renders one JSON Patch operation on a line.
func formatOp(op client.PatchOp) string {
	switch op.Op {
	case "move", "copy":
		return fmt.Sprintf("%s %s → %s", op.Op, op.From, op.Path)
	case "remove":
		return "remove " + op.Path
	}
	return fmt.Sprintf("%s %s: %s", op.Op, op.Path, op.Value)
}
