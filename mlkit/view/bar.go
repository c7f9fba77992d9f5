package view

import (
	"fmt"
	"math"
)

// BarChart is a grouped bar chart: one group of bars per category, one bar (and colour) per named
// group of values, e.g. categories = metrics, groups = models. Build it with Bars.
type BarChart struct {
	chartBase
	categories     []string
	groups         []barGroup
	xLabel, yLabel string
	yRange         *[2]float64
	format         string
	noValues       bool
}

type barGroup struct {
	name   string
	values []float64
}

// Bars starts an empty grouped bar chart (600x450 px).
func Bars() *BarChart { return &BarChart{chartBase: newChartBase()} }

// Title sets the chart title.
func (b *BarChart) Title(title string) *BarChart { b.title = title; return b }

// Size sets the chart size in pixels (default 600x450).
func (b *BarChart) Size(width, height int) *BarChart { b.setSize(width, height); return b }

// Interactive makes HTML() (and Show in a notebook) an offline Apache ECharts chart instead of a PNG.
func (b *BarChart) Interactive() *BarChart { b.interactive = true; return b }

// XLabel sets the title of the category axis.
func (b *BarChart) XLabel(label string) *BarChart { b.xLabel = label; return b }

// YLabel sets the title of the value axis.
func (b *BarChart) YLabel(label string) *BarChart { b.yLabel = label; return b }

// YRange fixes the value axis range (default: from min(0, data) to a nice bound above the data).
func (b *BarChart) YRange(lo, hi float64) *BarChart {
	if !(lo < hi) {
		b.setErr(fmt.Errorf("bar chart %q: YRange(%g, %g): lo must be < hi", b.title, lo, hi))
		return b
	}
	b.yRange = &[2]float64{lo, hi}
	return b
}

// Categories sets the category names (the x axis); every group needs one value per category.
func (b *BarChart) Categories(names ...string) *BarChart {
	b.categories = append([]string(nil), names...)
	return b
}

// Group adds a named group of bars with one value per category (NaN: no bar).
func (b *BarChart) Group(name string, values ...float64) *BarChart {
	b.groups = append(b.groups, barGroup{name: name, values: append([]float64(nil), values...)})
	return b
}

// ValueFormat sets the fmt verb used for the value written above each bar (default: compact).
func (b *BarChart) ValueFormat(format string) *BarChart { b.format = format; return b }

// HideValues stops writing values above the bars.
func (b *BarChart) HideValues() *BarChart { b.noValues = true; return b }

// Show displays the chart (see the package function Show) and returns the written file's path, if any.
func (b *BarChart) Show() (string, error) { return Show(b) }

// HTML returns the chart as an <img> with an embedded PNG, or if Interactive as an ECharts chart whose
// PNG shows until its script runs (see echartsHTML).
func (b *BarChart) HTML() string { return b.renderHTML(&renderCtx{}) }

func (b *BarChart) renderHTML(rc *renderCtx) string {
	if !b.interactive {
		return b.staticHTML(b.PNG)
	}
	if err := b.check(); err != nil {
		return errorHTML(err)
	}
	return echartsHTML(rc, b.echartsOption(), b.width, b.height, b.PNG, b.title)
}

func (b *BarChart) check() error {
	if b.err != nil {
		return b.err
	}
	if len(b.categories) == 0 {
		return fmt.Errorf("bar chart %q: no categories (call Categories)", b.title)
	}
	for _, g := range b.groups {
		if len(g.values) != len(b.categories) {
			return fmt.Errorf("bar chart %q: group %q has %d values for %d categories", b.title, g.name, len(g.values), len(b.categories))
		}
	}
	return nil
}

func (b *BarChart) valueText(v float64) string {
	if b.format != "" {
		return fmt.Sprintf(b.format, v)
	}
	return formatValue(v)
}

// PNG draws the chart.
func (b *BarChart) PNG() ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	c, err := newCanvas(b.width, b.height, colWhite)
	if err != nil {
		return nil, fmt.Errorf("bar chart %q: %w", b.title, err)
	}
	var legend []legendEntry
	for i, g := range b.groups {
		legend = append(legend, legendEntry{name: g.name, col: paletteColor(i), box: true})
	}
	top := drawTitleAndLegend(c, b.title, legend)
	W, H := float64(b.width), float64(b.height)
	f := &frame{c: c, plotY0: top + 14, plotX1: W - padding - 6}
	f.plotY1 = H - padding - tickSize - 8
	if b.xLabel != "" {
		f.plotY1 -= labelSize + 8
	}
	var ys axisScale
	yTicks := max(2, int((f.plotY1-f.plotY0)/55))
	if b.yRange != nil {
		ys = niceScale(b.yRange[0], b.yRange[1], yTicks, true, false)
	} else {
		vals := make([][]float64, len(b.groups))
		for i, g := range b.groups {
			vals[i] = g.values
		}
		lo, hi, ok := dataRange(vals...)
		if !ok {
			lo, hi = 0, 1
		}
		ys = niceScale(math.Min(lo, 0), math.Max(hi, 0), yTicks, false, false)
	}
	left := padding + yTickWidth(c, ys) + 10
	yLabelX := padding + labelSize/2
	if b.yLabel != "" {
		left += labelSize + 8
	}
	f.plotX0 = left
	if f.plotX1-f.plotX0 < 20 || f.plotY1-f.plotY0 < 20 {
		return nil, fmt.Errorf("bar chart %q: %dx%d px leaves no room for the plot", b.title, b.width, b.height)
	}
	f.drawYAxis(ys, b.yLabel, yLabelX)
	f.c.line(f.plotX0, f.plotY1, f.plotX1, f.plotY1, 1, colAxis)

	nc, ng := len(b.categories), max(1, len(b.groups))
	slot := (f.plotX1 - f.plotX0) / float64(nc)
	barW := slot * 0.8 / float64(ng)
	base := ys.pos(math.Max(ys.lo, math.Min(0, ys.hi)), f.plotY1, f.plotY0)
	valueSize := math.Max(8, math.Min(11, barW*0.45))
	clip := &canvas{img: subRGBA(c.img, f.plotX0+1, f.plotY0-20, f.plotX1, f.plotY1), faces: c.faces}
	for ci, cat := range b.categories {
		x0 := f.plotX0 + slot*float64(ci) + slot*0.1
		c.text(c.fitText(cat, slot-4, tickSize, false), f.plotX0+slot*(float64(ci)+0.5), f.plotY1+6, tickSize, false, colBlack, alignCenter, alignTop)
		for gi, g := range b.groups {
			v := g.values[ci]
			if !finite(v) {
				continue
			}
			bx := x0 + barW*float64(gi)
			vy := ys.pos(math.Max(ys.lo, math.Min(ys.hi, v)), f.plotY1, f.plotY0)
			y0, y1 := math.Min(vy, base), math.Max(vy, base)
			clip.fillRect(bx+1, y0, bx+barW-1, y1, paletteColor(gi))
			if !b.noValues {
				txt := b.valueText(v)
				if c.textWidth(txt, valueSize, false) <= barW+6 {
					if v >= 0 {
						clip.text(txt, bx+barW/2, y0-2, valueSize, false, colBlack, alignCenter, alignBottom)
					} else {
						clip.text(txt, bx+barW/2, y1+2, valueSize, false, colBlack, alignCenter, alignTop)
					}
				}
			}
		}
	}
	if b.xLabel != "" {
		c.text(c.fitText(b.xLabel, W-2*padding, labelSize, false), (f.plotX0+f.plotX1)/2, f.plotY1+6+tickSize+8, labelSize, false, colBlack, alignCenter, alignTop)
	}
	return c.encodePNG()
}

// echartsOption returns the ECharts option of the chart.
func (b *BarChart) echartsOption() map[string]any {
	opt := echartsBase(b.title)
	yAxis := map[string]any{"type": "value", "name": b.yLabel, "nameLocation": "middle", "nameGap": 45}
	if b.yRange != nil {
		yAxis["min"], yAxis["max"] = b.yRange[0], b.yRange[1]
	}
	opt["xAxis"] = map[string]any{"type": "category", "data": b.categories, "name": b.xLabel, "nameLocation": "middle", "nameGap": 28}
	opt["yAxis"] = yAxis
	opt["grid"] = map[string]any{"left": 70, "right": 30, "top": 80, "bottom": 60}
	opt["tooltip"] = map[string]any{"trigger": "axis", "axisPointer": map[string]any{"type": "shadow"}}
	var names []string
	var series []any
	for _, g := range b.groups {
		data := make([]any, len(g.values))
		for i, v := range g.values {
			if finite(v) {
				data[i] = roundForDisplay(v, b.format)
			} else {
				data[i] = "-"
			}
		}
		series = append(series, map[string]any{"name": g.name, "type": "bar", "data": data,
			"label": map[string]any{"show": !b.noValues, "position": "top", "fontSize": 10}})
		names = append(names, g.name)
	}
	opt["legend"] = map[string]any{"data": names, "top": 30}
	opt["series"] = series
	return opt
}
