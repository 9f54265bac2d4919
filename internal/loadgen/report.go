package loadgen

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report is a run's figures, as `truce bench --json` prints them.
type Report struct {
	Target    string  `json:"target"`
	Workload  string  `json:"workload"`
	Clients   int     `json:"clients"`
	DocSize   int     `json:"docSize"`
	Docs      int     `json:"docs,omitempty"`
	ReadRatio float64 `json:"readRatio,omitempty"`
	Seconds   float64 `json:"seconds"`

	Ops        int64   `json:"ops"`
	Throughput float64 `json:"throughput"` // operations per second
	Reads      int64   `json:"reads"`
	Writes     int64   `json:"writes"`
	Goodput    float64 `json:"goodput"` // successful writes per second
	Conflicts  int64   `json:"conflicts"`
	Retries    int64   `json:"retries"`
	Merged     int64   `json:"merged"`

	Latency     Latency      `json:"latencyMs"`
	Percentiles []Percentile `json:"percentiles"` // the percentile curve
	Intervals   []Interval   `json:"intervals"`   // the time series
	Load        string       `json:"load,omitempty"`
	// Delivery is what watch-fanout's feed subscribers received.
	Delivery *Delivery `json:"delivery,omitempty"`
	// Server is what the server's /metrics counted while the run was
	// measured; nil when they could not be read.
	Server *ServerCounts `json:"server,omitempty"`
}

// ServerCounts is what a truce server's /metrics counted over a run: every
// request it answered (from any client) and the refusals among them that
// were conflicts (409, 412, 423, 428), by code, and its merges.
type ServerCounts struct {
	Requests        float64            `json:"requests"`
	Conflicts       float64            `json:"conflicts"`
	ConflictRate    float64            `json:"conflictRate"` // conflicts per request
	ConflictsByCode map[string]float64 `json:"conflictsByCode,omitempty"`
	Merged          float64            `json:"merged"`
	// Commits counts the store's commits; CommitsPerFsync is how many
	// commits each fsync of the write-ahead log made durable on average,
	// the group commit's batch size (0 when the store reports no fsyncs:
	// PostgreSQL's are its own).
	Commits         float64 `json:"commits"`
	CommitsPerFsync float64 `json:"commitsPerFsync,omitempty"`
}

// Latency holds a run's latency summary in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Percentile is one point of the percentile curve.
type Percentile struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// curvePercentiles are the points of the percentile curve: dense toward
// the tail, where latency is decided.
var curvePercentiles = []float64{0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96.25, 97.5,
	98.125, 98.75, 99, 99.375, 99.5, 99.6875, 99.75, 99.85, 99.9, 99.925, 99.95, 99.975, 99.99, 99.995, 99.999, 100}

// NewReport summarizes s. The caller fills in what the run was
// (Target, Workload, Clients, DocSize, …).
func NewReport(s *Stats) *Report {
	r := &Report{
		Seconds:   s.Elapsed.Seconds(),
		Ops:       s.Ops,
		Reads:     s.Reads,
		Writes:    s.Writes,
		Conflicts: s.Conflicts,
		Retries:   s.Retries,
		Merged:    s.Merged,
		Intervals: s.Intervals,
	}
	if r.Seconds > 0 {
		r.Throughput = float64(s.Ops) / r.Seconds
		r.Goodput = float64(s.Writes) / r.Seconds
	}
	h := s.Latency
	if h != nil && h.TotalCount() > 0 {
		r.Latency = Latency{
			Mean: round3(h.Mean() / 1000),
			P50:  ms(h.ValueAtPercentile(50)),
			P90:  ms(h.ValueAtPercentile(90)),
			P99:  ms(h.ValueAtPercentile(99)),
			P999: ms(h.ValueAtPercentile(99.9)),
			Max:  ms(h.Max()),
		}
		for _, p := range curvePercentiles {
			v := h.ValueAtPercentile(p)
			if p == 100 {
				v = h.Max()
			}
			r.Percentiles = append(r.Percentiles, Percentile{Percentile: p, Ms: ms(v)})
		}
	}
	return r
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// WriteTable writes the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	what := fmt.Sprintf("%s, %d clients, %d-byte documents", r.Workload, r.Clients, r.DocSize)
	if r.Docs == 1 {
		what += ", 1 document"
	} else if r.Docs > 0 {
		what += fmt.Sprintf(", %d documents", r.Docs)
	}
	if r.Workload == "mixed" {
		what += fmt.Sprintf(", %.0f%% reads", r.ReadRatio*100)
	}
	fmt.Fprintf(tw, "target\t%s\n", r.Target)
	fmt.Fprintf(tw, "workload\t%s\n", what)
	fmt.Fprintf(tw, "measured\t%.1f s, %s operations\n", r.Seconds, Group(float64(r.Ops)))
	fmt.Fprintf(tw, "throughput\t%s ops/s\n", Group(r.Throughput))
	fmt.Fprintf(tw, "goodput\t%s writes/s (%s writes)\n", Group(r.Goodput), Group(float64(r.Writes)))
	fmt.Fprintf(tw, "conflicts\t%s (retries %s", Group(float64(r.Conflicts)), Group(float64(r.Retries)))
	if r.Merged > 0 {
		fmt.Fprintf(tw, ", merged writes %s", Group(float64(r.Merged)))
	}
	fmt.Fprintf(tw, ")\n")
	if s := r.Server; s != nil {
		fmt.Fprintf(tw, "server conflicts\t%s of %s requests (%.2f%%)", Group(s.Conflicts), Group(s.Requests), 100*s.ConflictRate)
		codes := make([]string, 0, len(s.ConflictsByCode))
		for c := range s.ConflictsByCode {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for i, c := range codes {
			sep := ", "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(tw, "%s%s %s", sep, c, Group(s.ConflictsByCode[c]))
		}
		if s.Merged > 0 {
			fmt.Fprintf(tw, "; merged %s", Group(s.Merged))
		}
		fmt.Fprintf(tw, " (its /metrics)\n")
		if s.CommitsPerFsync > 0 {
			fmt.Fprintf(tw, "group commit\t%s commits, %.1f per WAL fsync (its /metrics)\n", Group(s.Commits), s.CommitsPerFsync)
		}
	}
	l := r.Latency
	fmt.Fprintf(tw, "latency\tp50 %s  p90 %s  p99 %s  p999 %s  max %s  (mean %s)\n",
		Millis(l.P50), Millis(l.P90), Millis(l.P99), Millis(l.P999), Millis(l.Max), Millis(l.Mean))
	if d := r.Delivery; d != nil {
		fmt.Fprintf(tw, "subscribers\t%s (events delivered %s of %s, missing %s)\n", Group(float64(d.Subscribers)),
			Group(float64(d.Delivered)), Group(float64(d.Expected)), Group(float64(d.Expected-d.Delivered)))
		l := d.Latency
		fmt.Fprintf(tw, "delivery delay\tp50 %s  p90 %s  p99 %s  p999 %s  max %s  (mean %s; write sent to event received)\n",
			Millis(l.P50), Millis(l.P90), Millis(l.P99), Millis(l.P999), Millis(l.Max), Millis(l.Mean))
	}
	if r.Load != "" {
		fmt.Fprintf(tw, "machine load\t%s\n", r.Load)
	}
	return tw.Flush()
}

// Millis formats a latency in milliseconds for people.
func Millis(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
}

// Group formats x rounded to an integer with thousands separators.
func Group(x float64) string {
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
