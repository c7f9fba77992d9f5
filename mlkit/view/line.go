package view

import (
	"fmt"
	"math"
)

// LineChart is a chart of named series of (x, y) points: training curves (loss and accuracy per epoch,
// train vs validation), ROC and precision-recall curves. Build it with Line, ROC or PR.
type LineChart struct {
	chartBase
	series         []lineSeries
	xLabel, yLabel string
	xRange, yRange *[2]float64
	diagonal       bool
	markers        int // -1: automatic (on for short series), 0: off, 1: on
	lines          bool
}

type lineSeries struct {
	name   string
	x, y   []float64
	dashed bool
}

// Line starts an empty line chart (600x450 px).
func Line() *LineChart {
	return &LineChart{chartBase: newChartBase(), markers: -1, lines: true}
}

// ROC starts a chart for ROC curves: axes fixed to [0,1], false/true positive rate labels, and the
// dashed diagonal of a random classifier. Add curves with Series (fpr, tpr).
func ROC() *LineChart {
	return Line().Title("ROC curve").XLabel("False positive rate").YLabel("True positive rate").
		XRange(0, 1).YRange(0, 1).Diagonal(true).Markers(false)
}

// PR starts a chart for precision-recall curves: axes fixed to [0,1], recall on x, precision on y.
// Add curves with Series (recall, precision).
func PR() *LineChart {
	return Line().Title("Precision-recall curve").XLabel("Recall").YLabel("Precision").
		XRange(0, 1).YRange(0, 1).Markers(false)
}

// Title sets the chart title.
func (l *LineChart) Title(title string) *LineChart { l.title = title; return l }

// Size sets the chart size in pixels (default 600x450).
func (l *LineChart) Size(width, height int) *LineChart { l.setSize(width, height); return l }

// Interactive makes HTML() (and Show in a notebook) an offline Apache ECharts chart instead of a PNG.
func (l *LineChart) Interactive() *LineChart { l.interactive = true; return l }

// XLabel sets the x axis title.
func (l *LineChart) XLabel(label string) *LineChart { l.xLabel = label; return l }

// YLabel sets the y axis title.
func (l *LineChart) YLabel(label string) *LineChart { l.yLabel = label; return l }

// XRange fixes the x axis range (default: nice bounds around the data).
func (l *LineChart) XRange(lo, hi float64) *LineChart {
	if !(lo < hi) {
		l.setErr(fmt.Errorf("line chart %q: XRange(%g, %g): lo must be < hi", l.title, lo, hi))
		return l
	}
	l.xRange = &[2]float64{lo, hi}
	return l
}

// YRange fixes the y axis range (default: nice bounds around the data).
func (l *LineChart) YRange(lo, hi float64) *LineChart {
	if !(lo < hi) {
		l.setErr(fmt.Errorf("line chart %q: YRange(%g, %g): lo must be < hi", l.title, lo, hi))
		return l
	}
	l.yRange = &[2]float64{lo, hi}
	return l
}

// Diagonal draws (or not) a dashed reference line from the lower-left to the upper-right corner.
func (l *LineChart) Diagonal(on bool) *LineChart { l.diagonal = on; return l }

// Markers shows (or hides) a dot at each point; by default dots are shown for series of <= 40 points.
func (l *LineChart) Markers(on bool) *LineChart {
	l.markers = 0
	if on {
		l.markers = 1
	}
	return l
}

// ScatterOnly draws points without connecting lines (a scatter plot).
func (l *LineChart) ScatterOnly() *LineChart { l.lines = false; l.markers = 1; return l }

// Series adds a named series of points (x[i], y[i]); NaN values leave a gap. x and y must have the
// same length. Slices are copied.
func (l *LineChart) Series(name string, x, y []float64) *LineChart {
	if len(x) != len(y) {
		l.setErr(fmt.Errorf("line chart %q: series %q has %d x values but %d y values", l.title, name, len(x), len(y)))
		return l
	}
	l.series = append(l.series, lineSeries{name: name, x: append([]float64(nil), x...), y: append([]float64(nil), y...)})
	return l
}

// Values adds a named series with x = 1, 2, ..., len(y) (e.g. one value per epoch).
func (l *LineChart) Values(name string, y []float64) *LineChart {
	x := make([]float64, len(y))
	for i := range x {
		x[i] = float64(i + 1)
	}
	return l.Series(name, x, y)
}

// Dashed draws the most recently added series with a dashed line (e.g. validation vs train).
func (l *LineChart) Dashed() *LineChart {
	if n := len(l.series); n > 0 {
		l.series[n-1].dashed = true
	}
	return l
}

// Show displays the chart (see the package function Show) and returns the written file's path, if any.
func (l *LineChart) Show() (string, error) { return Show(l) }

// HTML returns the chart as an <img> with an embedded PNG, or if Interactive as an ECharts chart whose
// PNG shows until its script runs (see echartsHTML).
func (l *LineChart) HTML() string { return l.renderHTML(&renderCtx{}) }

func (l *LineChart) renderHTML(rc *renderCtx) string {
	if !l.interactive {
		return l.staticHTML(l.PNG)
	}
	if l.err != nil {
		return errorHTML(l.err)
	}
	return echartsHTML(rc, l.echartsOption(), l.width, l.height, l.PNG, l.title)
}

func (l *LineChart) showMarkers(s lineSeries) bool {
	if l.markers >= 0 {
		return l.markers == 1
	}
	return len(s.x) <= 40
}

// scales computes the axis scales of the chart.
func (l *LineChart) scales(plotW, plotH float64) (xs, ys axisScale) {
	var allX, allY [][]float64
	integerX := true
	for _, s := range l.series {
		allX, allY = append(allX, s.x), append(allY, s.y)
		for _, v := range s.x {
			if finite(v) && v != math.Trunc(v) {
				integerX = false
			}
		}
	}
	xTicks := max(2, int(plotW/90))
	yTicks := max(2, int(plotH/55))
	if l.xRange != nil {
		xs = niceScale(l.xRange[0], l.xRange[1], xTicks, true, false)
	} else {
		lo, hi, ok := dataRange(allX...)
		if !ok {
			lo, hi = 0, 1
		}
		xs = niceScale(lo, hi, xTicks, integerX, integerX)
	}
	if l.yRange != nil {
		ys = niceScale(l.yRange[0], l.yRange[1], yTicks, true, false)
	} else {
		lo, hi, ok := dataRange(allY...)
		if !ok {
			lo, hi = 0, 1
		}
		ys = niceScale(lo, hi, yTicks, false, false)
	}
	return xs, ys
}

// PNG draws the chart.
func (l *LineChart) PNG() ([]byte, error) {
	if l.err != nil {
		return nil, l.err
	}
	c, err := newCanvas(l.width, l.height, colWhite)
	if err != nil {
		return nil, fmt.Errorf("line chart %q: %w", l.title, err)
	}
	var legend []legendEntry
	for i, s := range l.series {
		legend = append(legend, legendEntry{name: s.name, col: paletteColor(i), dashed: s.dashed})
	}
	if len(l.series) == 1 && l.series[0].name == "" {
		legend = nil
	}
	top := drawTitleAndLegend(c, l.title, legend)
	W, H := float64(l.width), float64(l.height)
	f := &frame{c: c, plotY0: top + 6, plotX1: W - padding - 10}
	f.plotY1 = H - padding - tickSize - 8
	if l.xLabel != "" {
		f.plotY1 -= labelSize + 8
	}
	// The y tick labels depend on the plot height only; x ticks on the width, which depends on the
	// y label width: estimate with a provisional width.
	_, ys := l.scales(W*0.8, f.plotY1-f.plotY0)
	left := padding + yTickWidth(c, ys) + 10
	yLabelX := padding + labelSize/2
	if l.yLabel != "" {
		left += labelSize + 8
	}
	f.plotX0 = left
	xs, ys := l.scales(f.plotX1-f.plotX0, f.plotY1-f.plotY0)
	if f.plotX1-f.plotX0 < 20 || f.plotY1-f.plotY0 < 20 {
		return nil, fmt.Errorf("line chart %q: %dx%d px leaves no room for the plot", l.title, l.width, l.height)
	}
	f.drawYAxis(ys, l.yLabel, yLabelX)
	f.drawXAxis(xs, l.xLabel)

	// Data is drawn into the plot rectangle only (clipped).
	clip := &canvas{img: subRGBA(c.img, f.plotX0, f.plotY0-3, f.plotX1+3, f.plotY1+1), faces: c.faces}
	if l.diagonal {
		clip.polyline([]pt{{f.plotX0, f.plotY1}, {f.plotX1, f.plotY0}}, 1.2, colDiagonal, true)
	}
	for i, s := range l.series {
		col := paletteColor(i)
		var seg []pt
		flush := func() {
			if l.lines && len(seg) > 1 {
				clip.polyline(seg, 2.2, col, s.dashed)
			}
			seg = seg[:0]
		}
		for j := range s.x {
			if !finite(s.x[j]) || !finite(s.y[j]) {
				flush()
				continue
			}
			seg = append(seg, pt{xs.pos(s.x[j], f.plotX0, f.plotX1), ys.pos(s.y[j], f.plotY1, f.plotY0)})
			if l.showMarkers(s) {
				p := seg[len(seg)-1]
				clip.circle(p.x, p.y, 3.2, col)
			}
		}
		flush()
	}
	return c.encodePNG()
}

// echartsOption returns the ECharts option of the chart.
func (l *LineChart) echartsOption() map[string]any {
	opt := echartsBase(l.title)
	xAxis := map[string]any{"type": "value", "name": l.xLabel, "nameLocation": "middle", "nameGap": 28, "scale": true}
	yAxis := map[string]any{"type": "value", "name": l.yLabel, "nameLocation": "middle", "nameGap": 45, "scale": true}
	if l.xRange != nil {
		xAxis["min"], xAxis["max"] = l.xRange[0], l.xRange[1]
	}
	if l.yRange != nil {
		yAxis["min"], yAxis["max"] = l.yRange[0], l.yRange[1]
	}
	opt["xAxis"], opt["yAxis"] = xAxis, yAxis
	opt["grid"] = map[string]any{"left": 70, "right": 30, "top": 80, "bottom": 60}
	opt["tooltip"] = map[string]any{"trigger": "axis"}
	var names []string
	var series []any
	for _, s := range l.series {
		data := make([]any, len(s.x))
		for j := range s.x {
			if finite(s.x[j]) && finite(s.y[j]) {
				data[j] = []float64{s.x[j], s.y[j]}
			} else {
				data[j] = "-" // a gap
			}
		}
		typ := "line"
		if !l.lines {
			typ = "scatter"
		}
		ser := map[string]any{"name": s.name, "type": typ, "data": data, "showSymbol": l.showMarkers(s), "symbolSize": 6}
		if s.dashed {
			ser["lineStyle"] = map[string]any{"type": "dashed"}
		}
		series = append(series, ser)
		names = append(names, s.name)
	}
	if l.diagonal {
		x0, x1, y0, y1 := 0.0, 1.0, 0.0, 1.0
		if l.xRange != nil {
			x0, x1 = l.xRange[0], l.xRange[1]
		}
		if l.yRange != nil {
			y0, y1 = l.yRange[0], l.yRange[1]
		}
		series = append(series, map[string]any{"name": "chance", "type": "line", "silent": true, "showSymbol": false,
			"data": [][]float64{{x0, y0}, {x1, y1}}, "lineStyle": map[string]any{"type": "dashed", "color": "#999", "width": 1},
			"tooltip": map[string]any{"show": false}})
	}
	opt["legend"] = map[string]any{"data": names, "top": 30}
	opt["series"] = series
	return opt
}
