package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress draws one line of progress on a terminal's stderr, redrawn in
// place at most ten times a second: documents and bytes done, the rate,
// and, when the total is known, a bar and the time left. On anything
// but a terminal (a pipe, a file, --json) it draws nothing.
type progress struct {
	w     io.Writer // nil: draw nothing
	what  string    // the work, such as "export"
	start time.Time

	mu sync.Mutex
	// docs and bytes are done so far; totalBytes, when positive, is the
	// whole of the work in bytes, totalDocs in documents.
	docs, bytes           int64
	totalDocs, totalBytes int64
	drawn                 time.Time
	width                 int
}

// newProgress returns a progress line on stderr if it is a terminal and
// quiet is false.
func newProgress(stderr io.Writer, what string, quiet bool) *progress {
	p := &progress{what: what, start: time.Now()}
	f, ok := stderr.(*os.File)
	if !quiet && ok && term.IsTerminal(int(f.Fd())) {
		p.w = stderr
	}
	return p
}

// add counts docs documents and n bytes more, and redraws.
func (p *progress) add(docs, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.docs += docs
	p.bytes += n
	p.draw(false)
}

// set sets the bytes done, and redraws.
func (p *progress) set(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes = n
	p.draw(false)
}

// total sets the totals, where known (0: unknown).
func (p *progress) total(docs, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.totalDocs, p.totalBytes = docs, bytes
}

// done draws the final line and ends it.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return
	}
	p.draw(true)
	fmt.Fprintln(p.w)
}

// draw redraws the line, unless it was drawn less than 100 ms ago and
// force is false. p.mu is held.
func (p *progress) draw(force bool) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(p.drawn) < 100*time.Millisecond {
		return
	}
	p.drawn = now
	fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
	line := p.line(now.Sub(p.start))
	p.width = len([]rune(line))
	fmt.Fprint(p.w, line)
}

// line renders the progress after elapsed.
func (p *progress) line(elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString(p.what + " ")
	if p.totalBytes > 0 {
		frac := min(float64(p.bytes)/float64(p.totalBytes), 1)
		const width = 20
		full := int(frac * width)
		fmt.Fprintf(&b, "[%s%s] %3.0f%% ", strings.Repeat("#", full), strings.Repeat(".", width-full), frac*100)
	}
	if p.docs > 0 || p.totalDocs > 0 {
		fmt.Fprintf(&b, "%d", p.docs)
		if p.totalDocs > 0 {
			fmt.Fprintf(&b, "/%d", p.totalDocs)
		}
		b.WriteString(" docs  ")
	}
	b.WriteString(formatBytes(p.bytes))
	if p.totalBytes > 0 {
		b.WriteString("/" + formatBytes(p.totalBytes))
	}
	secs := elapsed.Seconds()
	if secs > 0 {
		fmt.Fprintf(&b, "  %s/s", formatBytes(int64(float64(p.bytes)/secs)))
		if p.docs > 0 {
			fmt.Fprintf(&b, " %.0f docs/s", float64(p.docs)/secs)
		}
	}
	fmt.Fprintf(&b, "  %s", elapsed.Round(time.Second))
	if p.totalBytes > 0 && p.bytes > 0 && p.bytes < p.totalBytes {
		left := time.Duration(float64(elapsed) * float64(p.totalBytes-p.bytes) / float64(p.bytes))
		fmt.Fprintf(&b, "  ETA %s", left.Round(time.Second))
	}
	return b.String()
}

// formatBytes renders n bytes for people: 512 B, 1.5 KiB, 3.2 MiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
