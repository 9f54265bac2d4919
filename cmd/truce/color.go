package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// The colours of JSON on a terminal (ANSI SGR sequences).
const (
	colorKey     = "\x1b[1;34m" // bold blue
	colorString  = "\x1b[32m"   // green
	colorNumber  = "\x1b[36m"   // cyan
	colorLiteral = "\x1b[35m"   // magenta: true, false, null
	colorReset   = "\x1b[0m"
)

// useColor reports whether output to w should be coloured: w is a
// terminal and $NO_COLOR is unset or empty (https://no-color.org).
func useColor(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeJSON writes the JSON value b to the command's stdout: one compact
// line with --json; otherwise indented, and coloured on a terminal.
func (o *clientOptions) writeJSON(cmd *cobra.Command, b []byte) error {
	out := cmd.OutOrStdout()
	var buf bytes.Buffer
	var err error
	if o.json {
		err = json.Compact(&buf, b)
	} else {
		err = json.Indent(&buf, b, "", "  ")
	}
	if err != nil {
		return fmt.Errorf("the server sent something that is not JSON: %w", err)
	}
	res := buf.Bytes()
	if !o.json && useColor(out) {
		res = colorJSON(res)
	}
	res = append(res, '\n')
	_, err = out.Write(res)
	return err
}

// colorJSON returns valid JSON text with its object keys, strings,
// numbers and literals wrapped in colours; the punctuation and white
// space are left as they are.
func colorJSON(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(b))
			// A string followed by a colon is an object key.
			k := j
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
				k++
			}
			color := colorString
			if k < len(b) && b[k] == ':' {
				color = colorKey
			}
			out = append(append(append(out, color...), b[i:j]...), colorReset...)
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(b) && bytes.IndexByte([]byte("0123456789.eE+-"), b[j]) >= 0 {
				j++
			}
			out = append(append(append(out, colorNumber...), b[i:j]...), colorReset...)
			i = j
		case c == 't' || c == 'f' || c == 'n':
			j := i + 1
			for j < len(b) && b[j] >= 'a' && b[j] <= 'z' {
				j++
			}
			out = append(append(append(out, colorLiteral...), b[i:j]...), colorReset...)
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}
