package loadgen

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartWidth  = 960
	panelHeight = 300
	marginLeft  = 70
	marginRight = 220 // room for the legend
	marginTop   = 50
	panelGap    = 80
)

// chartColors tells the series apart.
var chartColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// Series is one run drawn on a chart.
type Series struct {
	Label  string
	Report *Report
}

// startSVG writes the start of a two-panel chart titled title to b.
func startSVG(b *strings.Builder, title string) {
	height := marginTop + 2*panelHeight + panelGap + 60
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", marginLeft, esc(title))
}

// WriteSVG draws the runs as an SVG image with two panels: latency over
// time (p50 dashed and p99 solid, per interval) and the percentile curve
// (latency against percentile, on the scale 0, 90, 99, 99.9, … %).
func WriteSVG(w io.Writer, title string, series []Series) error {
	var b strings.Builder
	startSVG(&b, title)

	// Panel 1: latency over time.
	var maxT, maxY float64
	for _, s := range series {
		for _, iv := range s.Report.Intervals {
			maxT = math.Max(maxT, iv.EndSeconds)
			maxY = math.Max(maxY, iv.P99Ms)
		}
	}
	top := float64(marginTop)
	tTop, tTicks := timeTicks(maxT)
	p1 := newPanel(top, tTop, niceCeil(maxY*1.05))
	p1.frame(&b, "latency over time (p50 dashed, p99 solid)", "seconds", "ms", tTicks, nil)
	for i, s := range series {
		color := chartColors[i%len(chartColors)]
		var p50, p99 []point
		for _, iv := range s.Report.Intervals {
			p50 = append(p50, point{iv.EndSeconds, iv.P50Ms})
			p99 = append(p99, point{iv.EndSeconds, iv.P99Ms})
		}
		p1.line(&b, p50, color, "5,4")
		p1.line(&b, p99, color, "")
	}

	// Panel 2: the percentile curve, up to 99.999%.
	const maxNines = 5.0
	maxY = 0
	for _, s := range series {
		for _, p := range s.Report.Percentiles {
			if p.Percentile < 100 {
				maxY = math.Max(maxY, p.Ms)
			}
		}
	}
	p2 := newPanel(top+panelHeight+panelGap, maxNines, niceCeil(maxY*1.05))
	labels := map[float64]string{0: "0%", 1: "90%", 2: "99%", 3: "99.9%", 4: "99.99%", 5: "99.999%"}
	p2.frame(&b, "latency by percentile", "percentile", "ms", []float64{0, 1, 2, 3, 4, 5}, labels)
	for i, s := range series {
		var pts []point
		for _, p := range s.Report.Percentiles {
			if p.Percentile >= 100 {
				continue
			}
			x := math.Min(-math.Log10(1-p.Percentile/100), maxNines)
			pts = append(pts, point{x, p.Ms})
		}
		p2.line(&b, pts, chartColors[i%len(chartColors)], "")
	}

	for i, s := range series {
		legendEntry(&b, i, s.Label, fmt.Sprintf("p99 %s, %s ops/s", Millis(s.Report.Latency.P99), Group(s.Report.Throughput)))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

type point struct{ x, y float64 }

// panel maps data coordinates into one panel's plot area.
type panel struct {
	left, top, width, height float64
	xMax, yMax               float64
	// yTicks and yLabels, if set, replace the five even ticks.
	yTicks  []float64
	yLabels map[float64]string
}

func newPanel(top, xMax, yMax float64) *panel {
	return &panel{
		left: marginLeft, top: top,
		width:  chartWidth - marginLeft - marginRight,
		height: panelHeight,
		xMax:   math.Max(xMax, 1e-9), yMax: math.Max(yMax, 1e-9),
	}
}

func (p *panel) px(x float64) float64 { return p.left + p.width*x/p.xMax }
func (p *panel) py(y float64) float64 { return p.top + p.height*(1-math.Min(y, p.yMax)/p.yMax) }

// frame draws the axes, grid, ticks and captions.
func (p *panel) frame(b *strings.Builder, caption, xLabel, yLabel string, xTicks []float64, xTickLabels map[float64]string) {
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", p.left, p.top-10, esc(caption))
	yTicks := p.yTicks
	if yTicks == nil {
		yTicks = linearTicks(p.yMax)
	}
	for _, y := range yTicks {
		label, ok := p.yLabels[y]
		if !ok {
			label = trimFloat(y)
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", p.left, p.py(y), p.left+p.width, p.py(y))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", p.left-6, p.py(y)+4, esc(label))
	}
	for _, x := range xTicks {
		label, ok := xTickLabels[x]
		if !ok {
			label = trimFloat(x)
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", p.px(x), p.top, p.px(x), p.top+p.height)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", p.px(x), p.top+p.height+16, esc(label))
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", p.left, p.top, p.width, p.height)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", p.left+p.width/2, p.top+p.height+34, esc(xLabel))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		p.left-48, p.top+p.height/2, p.left-48, p.top+p.height/2, esc(yLabel))
}

// line draws pts as a polyline.
func (p *panel) line(b *strings.Builder, pts []point, color, dash string) {
	if len(pts) == 0 {
		return
	}
	var coords []string
	for _, pt := range pts {
		coords = append(coords, fmt.Sprintf("%.1f,%.1f", p.px(pt.x), p.py(pt.y)))
	}
	dashAttr := ""
	if dash != "" {
		dashAttr = ` stroke-dasharray="` + dash + `"`
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", color, dashAttr, strings.Join(coords, " "))
}

// niceCeil rounds v up to a round number: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5,
// 6 or 8 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*e >= v*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

// timeTicks returns the end of a time axis that holds max seconds and its
// ticks, a round number of seconds apart, at most ten of them.
func timeTicks(max float64) (float64, []float64) {
	step := 1.0
	for _, st := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		step = st
		if max/st <= 10 {
			break
		}
	}
	top := math.Max(step, math.Ceil(max/step-1e-9)*step)
	var ticks []float64
	for t := 0.0; t <= top+1e-9; t += step {
		ticks = append(ticks, t)
	}
	return top, ticks
}

// linearTicks returns five evenly spaced ticks from 0 to max.
func linearTicks(max float64) []float64 {
	var t []float64
	for i := range 6 {
		t = append(t, max*float64(i)/5)
	}
	return t
}

func trimFloat(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func esc(s string) string { return html.EscapeString(s) }

// legendEntry draws the legend of series i, right of the plot: its
// colour's line, its label and, below, a note on its figures.
func legendEntry(b *strings.Builder, i int, label, note string) {
	lx := chartWidth - marginRight + 20
	y := marginTop + 20 + i*36
	color := chartColors[i%len(chartColors)]
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", lx, y, lx+24, y, color)
	fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", lx+30, y+4, esc(label))
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", lx+30, y+18, esc(note))
}
