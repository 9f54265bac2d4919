package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trucedb/truce/internal/loadgen"
)

// serverCounts is one reading of a server's /metrics: its requests,
// conflicts by code, and merges.
type serverCounts struct {
	requests  float64
	conflicts map[string]float64
	merged    float64
	// commits and fsyncs count the store's commits and its write-ahead
	// log's fsyncs (Pebble only): their ratio is the group commit's batch.
	commits, fsyncs float64
}

// scrapeServer reads the server's /metrics, which needs an admin token
// (or a server without auth).
func scrapeServer(ctx context.Context, server, token string) (*serverCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s (it needs an admin token)", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	c := &serverCounts{conflicts: map[string]float64{}}
	sum := func(name string, each func(m *dto.Metric, v float64)) {
		if f := fams[name]; f != nil {
			for _, m := range f.Metric {
				each(m, m.GetCounter().GetValue())
			}
		}
	}
	sum("truce_http_requests_total", func(m *dto.Metric, v float64) {
		if !isMetricsRoute(m) {
			c.requests += v
		}
	})
	sum("truce_conflicts_total", func(m *dto.Metric, v float64) { c.conflicts[label(m, "code")] += v })
	count := func(name string) float64 {
		var n float64
		if f := fams[name]; f != nil {
			for _, m := range f.Metric {
				n += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return n
	}
	c.commits, c.fsyncs = count("truce_store_commit_seconds"), count("truce_store_wal_fsync_seconds")
	sum("truce_merges_total", func(m *dto.Metric, v float64) {
		if label(m, "outcome") == "merged" {
			c.merged += v
		}
	})
	return c, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// isMetricsRoute reports whether m counts the scrapes themselves.
func isMetricsRoute(m *dto.Metric) bool { return label(m, "route") == "/metrics" }

// since returns what the server counted from before to c.
func (c *serverCounts) since(before *serverCounts) *loadgen.ServerCounts {
	out := &loadgen.ServerCounts{Requests: c.requests - before.requests, Merged: c.merged - before.merged,
		ConflictsByCode: map[string]float64{}}
	for code, v := range c.conflicts {
		if d := v - before.conflicts[code]; d > 0 {
			out.ConflictsByCode[code] = d
			out.Conflicts += d
		}
	}
	if out.Requests > 0 {
		out.ConflictRate = out.Conflicts / out.Requests
	}
	out.Commits = c.commits - before.commits
	if fsyncs := c.fsyncs - before.fsyncs; fsyncs > 0 {
		out.CommitsPerFsync = out.Commits / fsyncs
	}
	return out
}
