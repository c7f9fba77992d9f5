package view

import (
	"fmt"
	"image/color"
	"math"
)

// Default chart size in pixels, readable in a notebook and in reports.
const (
	DefaultChartWidth  = 600
	DefaultChartHeight = 450
)

// chartBase holds what every chart has: title, size, interactivity and the first input error.
type chartBase struct {
	title         string
	width, height int
	interactive   bool
	err           error
}

func newChartBase() chartBase {
	return chartBase{width: DefaultChartWidth, height: DefaultChartHeight}
}

func (b *chartBase) setErr(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *chartBase) setSize(w, h int) {
	if w < 100 || h < 80 || w > 8000 || h > 8000 {
		b.setErr(fmt.Errorf("chart size %dx%d out of range (100x80 .. 8000x8000)", w, h))
		return
	}
	b.width, b.height = w, h
}

func (b *chartBase) titleText() string { return b.title }
func (b *chartBase) prefersPNG() bool  { return !b.interactive }

// staticHTML embeds the PNG drawn by draw as an <img>; errors are shown as escaped text.
func (b *chartBase) staticHTML(png func() ([]byte, error)) string {
	data, err := png()
	if err != nil {
		return errorHTML(err)
	}
	return pngImgTag(data, b.width, b.height, b.title)
}

// frame lays out a chart's title, legend and plot area on a canvas.
type frame struct {
	c                              *canvas
	plotX0, plotY0, plotX1, plotY1 float64
}

// legendEntry is one item of a legend.
type legendEntry struct {
	name   string
	col    color.Color
	dashed bool
	box    bool // a filled square (bars) rather than a line
}

const (
	padding      = 12.0
	titleSize    = 16.0
	labelSize    = 13.0
	tickSize     = 11.0
	legendSize   = 12.0
	legendRowH   = 20.0
	legendSwatch = 22.0
)

// drawTitleAndLegend draws the title and a centred, wrapping legend row under it, returning the y
// where the content below may start.
func drawTitleAndLegend(c *canvas, title string, legend []legendEntry) float64 {
	w := float64(c.img.Bounds().Dx())
	y := padding
	if title != "" {
		c.text(c.fitText(title, w-2*padding, titleSize, true), w/2, y, titleSize, true, colBlack, alignCenter, alignTop)
		y += titleSize + 10
	}
	if len(legend) == 0 {
		return y
	}
	// Split the legend into rows that fit the width.
	type placed struct {
		e     legendEntry
		label string
		w     float64
	}
	var rows [][]placed
	var cur []placed
	curW := 0.0
	maxW := w - 2*padding
	for _, e := range legend {
		label := c.fitText(e.name, maxW-legendSwatch-10, legendSize, false)
		iw := legendSwatch + 6 + c.textWidth(label, legendSize, false) + 16
		if len(cur) > 0 && curW+iw > maxW {
			rows = append(rows, cur)
			cur, curW = nil, 0
		}
		cur = append(cur, placed{e, label, iw})
		curW += iw
	}
	rows = append(rows, cur)
	for _, row := range rows {
		total := 0.0
		for _, p := range row {
			total += p.w
		}
		x := (w - total + 16) / 2
		cy := y + legendRowH/2
		for _, p := range row {
			if p.e.box {
				c.fillRect(x+5, cy-6, x+17, cy+6, p.e.col)
			} else {
				c.polyline([]pt{{x, cy}, {x + legendSwatch, cy}}, 2.5, p.e.col, p.e.dashed)
			}
			c.text(p.label, x+legendSwatch+6, cy, legendSize, false, colBlack, alignLeft, alignMiddle)
			x += p.w
		}
		y += legendRowH
	}
	return y + 4
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// dataRange returns the min and max of the finite values of vs (ok false if there are none).
func dataRange(vs ...[]float64) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range vs {
		for _, v := range s {
			if finite(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
				ok = true
			}
		}
	}
	return lo, hi, ok
}

// drawAxes draws grid lines, axis lines, tick labels and axis titles for two value axes (xs may be nil
// for a category axis drawn by the caller). It expects plot bounds already set in f.
func (f *frame) drawYAxis(ys axisScale, yLabel string, yLabelX float64) {
	c := f.c
	for _, t := range ys.ticks {
		py := math.Round(ys.pos(t, f.plotY1, f.plotY0)) + 0.5
		c.line(f.plotX0, py, f.plotX1, py, 1, colGrid)
		c.line(f.plotX0-4, py, f.plotX0, py, 1, colAxis)
		c.text(ys.label(t), f.plotX0-7, py, tickSize, false, colSubtle, alignRight, alignMiddle)
	}
	c.line(f.plotX0, f.plotY0, f.plotX0, f.plotY1, 1, colAxis)
	if yLabel != "" {
		c.textVertical(c.fitText(yLabel, f.plotY1-f.plotY0, labelSize, false), yLabelX, (f.plotY0+f.plotY1)/2, labelSize, false, colBlack)
	}
}

func (f *frame) drawXAxis(xs axisScale, xLabel string) {
	c := f.c
	for _, t := range xs.ticks {
		px := math.Round(xs.pos(t, f.plotX0, f.plotX1)) + 0.5
		c.line(px, f.plotY0, px, f.plotY1, 1, colGrid)
		c.line(px, f.plotY1, px, f.plotY1+4, 1, colAxis)
		c.text(xs.label(t), px, f.plotY1+6, tickSize, false, colSubtle, alignCenter, alignTop)
	}
	c.line(f.plotX0, f.plotY1, f.plotX1, f.plotY1, 1, colAxis)
	if xLabel != "" {
		w := float64(f.c.img.Bounds().Dx())
		c.text(c.fitText(xLabel, w-2*padding, labelSize, false), (f.plotX0+f.plotX1)/2, f.plotY1+6+tickSize+8, labelSize, false, colBlack, alignCenter, alignTop)
	}
}

// yTickWidth returns the widest y tick label.
func yTickWidth(c *canvas, ys axisScale) float64 {
	w := 0.0
	for _, t := range ys.ticks {
		w = math.Max(w, c.textWidth(ys.label(t), tickSize, false))
	}
	return w
}
