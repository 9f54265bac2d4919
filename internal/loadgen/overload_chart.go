package loadgen

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// OverloadSeries is one overload run drawn on a chart.
type OverloadSeries struct {
	Label  string
	Report *OverloadReport
}

// WriteOverloadSVG draws overload runs as an SVG image with two panels
// against the offered load (as a multiple of each run's capacity):
// goodput (solid) and 503s shed (dashed) a second, with the capacity
// dotted; and the p99 (solid) and p50 (dashed) of the admitted writes,
// with each run's unloaded p99 (its first load below 1×) dotted, on a
// log scale.
func WriteOverloadSVG(w io.Writer, title string, series []OverloadSeries) error {
	var b strings.Builder
	startSVG(&b, title)

	var maxX, maxRate, maxMs float64 // maxMs: the worst p99
	for _, s := range series {
		maxRate = math.Max(maxRate, s.Report.CapacityPerSec)
		for _, st := range s.Report.Steps {
			maxX = math.Max(maxX, st.Multiple)
			maxRate = math.Max(maxRate, math.Max(st.GoodputPerSec, st.ShedPerSec))
			maxMs = math.Max(maxMs, st.P99Ms)
		}
	}
	xTop := math.Max(1, math.Ceil(maxX*2-1e-9)/2)
	var xTicks []float64
	xLabels := map[float64]string{}
	for x := 0.0; x <= xTop+1e-9; x += 0.5 {
		xTicks = append(xTicks, x)
		xLabels[x] = trimFloat(x) + "×"
	}
	top := float64(marginTop)

	p1 := newPanel(top, xTop, niceCeil(maxRate*1.05))
	p1.yTicks, p1.yLabels = linearTicks(p1.yMax), map[float64]string{}
	for _, y := range p1.yTicks {
		p1.yLabels[y] = Group(y)
	}
	p1.frame(&b, "goodput (solid) and 503s shed (dashed), capacity dotted", "offered load, × capacity", "writes/s", xTicks, xLabels)
	// Latency on a log scale, from 0.1 ms to the decade above the worst
	// p99: an overloaded run's p99 can be a thousand times its unloaded one.
	decades := math.Max(1, math.Ceil(math.Log10(math.Max(maxMs, 1))-1e-9)) // above 1 ms
	p2 := newPanel(top+panelHeight+panelGap, xTop, decades+1)
	p2.yLabels = map[float64]string{}
	for d := 0.0; d <= decades+1; d++ {
		p2.yTicks = append(p2.yTicks, d)
		p2.yLabels[d] = "0.1"
		if d > 0 {
			p2.yLabels[d] = Group(math.Pow(10, d-1))
		}
	}
	logMs := func(ms float64) float64 { return math.Max(math.Log10(math.Max(ms, 1e-9))+1, 0) }
	p2.frame(&b, "latency of admitted writes (log scale): p99 (solid), p50 (dashed), unloaded p99 dotted", "offered load, × capacity", "ms", xTicks, xLabels)
	for i, s := range series {
		color := chartColors[i%len(chartColors)]
		var good, shed, p50, p99 []point
		unloaded := -1.0
		for _, st := range s.Report.Steps {
			good = append(good, point{st.Multiple, st.GoodputPerSec})
			shed = append(shed, point{st.Multiple, st.ShedPerSec})
			p50 = append(p50, point{st.Multiple, logMs(st.P50Ms)})
			p99 = append(p99, point{st.Multiple, logMs(st.P99Ms)})
			if st.Multiple < 1 && unloaded < 0 {
				unloaded = st.P99Ms
			}
		}
		c := s.Report.CapacityPerSec
		p1.line(&b, []point{{0, c}, {xTop, c}}, color, "2,3")
		p1.line(&b, good, color, "")
		p1.dots(&b, good, color)
		p1.line(&b, shed, color, "5,4")
		p2.line(&b, p99, color, "")
		p2.dots(&b, p99, color)
		p2.line(&b, p50, color, "5,4")
		if unloaded >= 0 {
			p2.line(&b, []point{{0, logMs(unloaded)}, {xTop, logMs(unloaded)}}, color, "2,3")
		}
	}

	for i, s := range series {
		legendEntry(&b, i, s.Label, fmt.Sprintf("capacity %s/s, p99 %s", Group(s.Report.CapacityPerSec), Millis(s.Report.CapacityP99Ms)))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dots marks each of pts with a small circle.
func (p *panel) dots(b *strings.Builder, pts []point, color string) {
	for _, pt := range pts {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", p.px(pt.x), p.py(pt.y), color)
	}
}
