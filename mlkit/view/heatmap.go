package view

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
)

// HeatmapChart is a matrix of coloured cells with row and column labels, a colour scale and the value
// written in each cell: confusion matrices (rows = actual, columns = predicted) as counts or average
// probabilities. Build it with Heatmap or ConfusionMatrix.
type HeatmapChart struct {
	chartBase
	values               [][]float64
	rowLabels, colLabels []string
	xLabel, yLabel       string
	format               string
	scale                *[2]float64
	noColorBar           bool
	rowShares            bool // values are counts: tooltips add each cell's share of its row
}

// Heatmap starts a heatmap of values[row][col] (600x450 px). All rows must have the same length.
func Heatmap(values [][]float64) *HeatmapChart {
	h := &HeatmapChart{chartBase: newChartBase()}
	for i, row := range values {
		if len(row) != len(values[0]) {
			h.setErr(fmt.Errorf("heatmap: row %d has %d values, row 0 has %d", i, len(row), len(values[0])))
		}
		h.values = append(h.values, append([]float64(nil), row...))
	}
	return h
}

// ConfusionMatrix starts a heatmap of a confusion matrix: counts[actual][predicted], labels naming the
// classes in order; axes titled "Actual" (rows) and "Predicted" (columns), integer cell values.
func ConfusionMatrix(labels []string, counts [][]int) *HeatmapChart {
	m := make([][]float64, len(counts))
	for i, row := range counts {
		m[i] = make([]float64, len(row))
		for j, v := range row {
			m[i][j] = float64(v)
		}
	}
	h := Heatmap(m).RowLabels(labels...).ColLabels(labels...).YLabel("Actual").XLabel("Predicted").Format("%.0f").Title("Confusion matrix")
	h.rowShares = true
	if len(counts) != len(labels) || (len(counts) > 0 && len(counts[0]) != len(labels)) {
		h.setErr(fmt.Errorf("confusion matrix: %d labels for a %dx%d matrix", len(labels), len(counts), len(m[0])))
	}
	return h
}

// Title sets the chart title.
func (h *HeatmapChart) Title(title string) *HeatmapChart { h.title = title; return h }

// Size sets the chart size in pixels (default 600x450).
func (h *HeatmapChart) Size(width, height int) *HeatmapChart { h.setSize(width, height); return h }

// Interactive makes HTML() (and Show in a notebook) an offline Apache ECharts chart instead of a PNG.
func (h *HeatmapChart) Interactive() *HeatmapChart { h.interactive = true; return h }

// RowLabels names the rows, top to bottom.
func (h *HeatmapChart) RowLabels(labels ...string) *HeatmapChart {
	h.rowLabels = append([]string(nil), labels...)
	return h
}

// ColLabels names the columns, left to right.
func (h *HeatmapChart) ColLabels(labels ...string) *HeatmapChart {
	h.colLabels = append([]string(nil), labels...)
	return h
}

// XLabel sets the title under the columns (e.g. "Predicted").
func (h *HeatmapChart) XLabel(label string) *HeatmapChart { h.xLabel = label; return h }

// YLabel sets the title beside the rows (e.g. "Actual").
func (h *HeatmapChart) YLabel(label string) *HeatmapChart { h.yLabel = label; return h }

// Format sets the fmt verb of the values written in the cells (default: compact).
func (h *HeatmapChart) Format(format string) *HeatmapChart { h.format = format; return h }

// ColorRange fixes the values mapped to the lightest and darkest colours (default: data min and max).
func (h *HeatmapChart) ColorRange(lo, hi float64) *HeatmapChart {
	if !(lo < hi) {
		h.setErr(fmt.Errorf("heatmap %q: ColorRange(%g, %g): lo must be < hi", h.title, lo, hi))
		return h
	}
	h.scale = &[2]float64{lo, hi}
	return h
}

// HideColorBar removes the colour scale at the right.
func (h *HeatmapChart) HideColorBar() *HeatmapChart { h.noColorBar = true; return h }

// Show displays the chart (see the package function Show) and returns the written file's path, if any.
func (h *HeatmapChart) Show() (string, error) { return Show(h) }

// HTML returns the chart as an <img> with an embedded PNG, or if Interactive as an ECharts chart whose
// PNG shows until its script runs (see echartsHTML).
func (h *HeatmapChart) HTML() string { return h.renderHTML(&renderCtx{}) }

func (h *HeatmapChart) renderHTML(rc *renderCtx) string {
	if !h.interactive {
		return h.staticHTML(h.PNG)
	}
	if err := h.check(); err != nil {
		return errorHTML(err)
	}
	return echartsHTML(rc, h.echartsOption(), h.width, h.height, h.PNG, h.title)
}

func (h *HeatmapChart) check() error {
	if h.err != nil {
		return h.err
	}
	if len(h.values) == 0 || len(h.values[0]) == 0 {
		return fmt.Errorf("heatmap %q: empty matrix", h.title)
	}
	if len(h.rowLabels) != 0 && len(h.rowLabels) != len(h.values) {
		return fmt.Errorf("heatmap %q: %d row labels for %d rows", h.title, len(h.rowLabels), len(h.values))
	}
	if len(h.colLabels) != 0 && len(h.colLabels) != len(h.values[0]) {
		return fmt.Errorf("heatmap %q: %d column labels for %d columns", h.title, len(h.colLabels), len(h.values[0]))
	}
	return nil
}

func (h *HeatmapChart) labels() (rows, cols []string) {
	rows, cols = h.rowLabels, h.colLabels
	if len(rows) == 0 {
		for i := range h.values {
			rows = append(rows, strconv.Itoa(i))
		}
	}
	if len(cols) == 0 {
		for j := range h.values[0] {
			cols = append(cols, strconv.Itoa(j))
		}
	}
	return rows, cols
}

func (h *HeatmapChart) colorRange() (lo, hi float64) {
	if h.scale != nil {
		return h.scale[0], h.scale[1]
	}
	lo, hi, ok := dataRange(h.values...)
	if !ok {
		return 0, 1
	}
	if lo > 0 && lo < hi {
		lo = 0 // counts and probabilities read best from 0
	}
	if lo == hi {
		hi = lo + 1
	}
	return lo, hi
}

// cellTip describes cell (i, j) in words, e.g. "actual dog, predicted cat: 3 (0.75 of actual dog)" in
// a confusion matrix (the share of the row after a count), "actual dog, predicted cat: 0.82" in a
// matrix of probabilities, "row 1, column 2: 0.5" without labels.
func (h *HeatmapChart) cellTip(i, j int) string {
	rows, cols := h.labels()
	rowName, colName := strings.ToLower(h.yLabel), strings.ToLower(h.xLabel)
	if rowName == "" {
		rowName = "row"
	}
	if colName == "" {
		colName = "column"
	}
	row, col := rowName+" "+rows[i], colName+" "+cols[j]
	v := h.values[i][j]
	tip := fmt.Sprintf("%s, %s: %s", row, col, h.valueText(v))
	if h.rowShares {
		sum := 0.0
		for _, x := range h.values[i] {
			if finite(x) {
				sum += x
			}
		}
		if sum > 0 {
			tip += fmt.Sprintf(" (%.2f of %s)", v/sum, row)
		}
	}
	return tip
}

func (h *HeatmapChart) valueText(v float64) string {
	if !finite(v) {
		return "–"
	}
	if h.format != "" {
		return fmt.Sprintf(h.format, v)
	}
	return formatValue(v)
}

// blues is the sequential colour map of heatmaps (ColorBrewer "Blues").
var blues = []string{"#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"}

// heatColor maps t in [0,1] onto the colour map.
func heatColor(t float64) color.RGBA {
	if !finite(t) {
		return color.RGBA{0xee, 0xee, 0xee, 0xff}
	}
	t = math.Max(0, math.Min(1, t))
	pos := t * float64(len(blues)-1)
	i := min(int(pos), len(blues)-2)
	f := pos - float64(i)
	_, a, _ := parseColor(blues[i])
	_, b, _ := parseColor(blues[i+1])
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + (float64(y)-float64(x))*f)) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// textOn returns black or white, whichever reads better on bg.
func textOn(bg color.RGBA) color.RGBA {
	lum := 0.2126*float64(bg.R) + 0.7152*float64(bg.G) + 0.0722*float64(bg.B)
	if lum < 140 {
		return colWhite
	}
	return colBlack
}

// PNG draws the chart.
func (h *HeatmapChart) PNG() ([]byte, error) {
	data, _, err := h.drawPNG()
	return data, err
}

// heatGrid is where a heatmap's PNG draws its cells: the top-left corner of the grid and the side of
// one (square) cell, in pixels.
type heatGrid struct{ x0, y0, cell float64 }

// drawPNG draws the chart and says where its cells are.
func (h *HeatmapChart) drawPNG() ([]byte, heatGrid, error) {
	if err := h.check(); err != nil {
		return nil, heatGrid{}, err
	}
	c, err := newCanvas(h.width, h.height, colWhite)
	if err != nil {
		return nil, heatGrid{}, fmt.Errorf("heatmap %q: %w", h.title, err)
	}
	rows, cols := h.labels()
	n, m := len(rows), len(cols)
	W, H := float64(h.width), float64(h.height)
	top := drawTitleAndLegend(c, h.title, nil) + 4
	left := padding
	if h.yLabel != "" {
		left += labelSize + 8
	}
	rowLabelW := 0.0
	for _, r := range rows {
		rowLabelW = math.Max(rowLabelW, c.textWidth(r, tickSize, false))
	}
	rowLabelW = math.Min(rowLabelW, W*0.3)
	gridX0 := left + rowLabelW + 8
	right := W - padding
	if !h.noColorBar {
		right -= 70
	}
	bottom := H - padding
	if h.xLabel != "" {
		bottom -= labelSize + 8
	}
	// Column labels: horizontal if they fit in a cell, else vertical.
	colLabelW := 0.0
	for _, s := range cols {
		colLabelW = math.Max(colLabelW, c.textWidth(s, tickSize, false))
	}
	cell := math.Min((right-gridX0)/float64(m), (bottom-tickSize-8-top)/float64(n))
	vertical := colLabelW > cell-4
	colLabelH := tickSize + 8
	if vertical {
		colLabelH = math.Min(colLabelW, H*0.25) + 8
		cell = math.Min((right-gridX0)/float64(m), (bottom-colLabelH-top)/float64(n))
	}
	if cell < 4 {
		return nil, heatGrid{}, fmt.Errorf("heatmap %q: %dx%d cells do not fit in %dx%d px", h.title, n, m, h.width, h.height)
	}
	gridW, gridH := cell*float64(m), cell*float64(n)
	gridX0 += math.Max(0, (right-gridX0-gridW)/2)
	gridY0 := top
	lo, hi := h.colorRange()
	valueSize := math.Max(7, math.Min(16, cell*0.36))
	for i := range n {
		y := gridY0 + cell*float64(i)
		c.text(c.fitText(rows[i], rowLabelW, tickSize, false), gridX0-6, y+cell/2, tickSize, false, colBlack, alignRight, alignMiddle)
		for j := range m {
			x := gridX0 + cell*float64(j)
			v := h.values[i][j]
			bg := heatColor((v - lo) / (hi - lo))
			c.fillRect(x, y, x+cell, y+cell, bg)
			txt := h.valueText(v)
			size := valueSize
			for size > 6 && c.textWidth(txt, size, i == j) > cell-4 {
				size--
			}
			if c.textWidth(txt, size, i == j) <= cell-2 {
				c.text(txt, x+cell/2, y+cell/2, size, n == m && i == j, textOn(bg), alignCenter, alignMiddle)
			}
		}
	}
	// Thin white separators between cells, and a frame.
	for i := 1; i < n; i++ {
		y := gridY0 + cell*float64(i)
		c.line(gridX0, y, gridX0+gridW, y, 1, colWhite)
	}
	for j := 1; j < m; j++ {
		x := gridX0 + cell*float64(j)
		c.line(x, gridY0, x, gridY0+gridH, 1, colWhite)
	}
	c.strokeRect(gridX0, gridY0, gridX0+gridW+1, gridY0+gridH+1, colAxis)
	for j, s := range cols {
		cx := gridX0 + cell*(float64(j)+0.5)
		if vertical {
			s = c.fitText(s, colLabelH-8, tickSize, false)
			w := c.textWidth(s, tickSize, false)
			c.textVertical(s, cx, gridY0+gridH+6+w/2, tickSize, false, colBlack)
		} else {
			c.text(s, cx, gridY0+gridH+6, tickSize, false, colBlack, alignCenter, alignTop)
		}
	}
	if h.xLabel != "" {
		c.text(c.fitText(h.xLabel, W-2*padding, labelSize, true), gridX0+gridW/2, gridY0+gridH+colLabelH+2, labelSize, true, colBlack, alignCenter, alignTop)
	}
	if h.yLabel != "" {
		c.textVertical(c.fitText(h.yLabel, gridH, labelSize, true), padding+labelSize/2, gridY0+gridH/2, labelSize, true, colBlack)
	}
	if !h.noColorBar {
		bx0 := gridX0 + gridW + 22
		bx1 := bx0 + 14
		for py := 0.0; py < gridH; py++ {
			t := 1 - py/gridH
			c.fillRect(bx0, gridY0+py, bx1, gridY0+py+1, heatColor(t))
		}
		c.strokeRect(bx0, gridY0, bx1, gridY0+gridH, colAxis)
		s := niceScale(lo, hi, max(2, int(gridH/45)), true, false)
		for _, t := range s.ticks {
			py := s.pos(t, gridY0+gridH, gridY0)
			c.line(bx1, py, bx1+4, py, 1, colAxis)
			c.text(s.label(t), bx1+6, py, tickSize, false, colSubtle, alignLeft, alignMiddle)
		}
	}
	data, err := c.encodePNG()
	return data, heatGrid{x0: gridX0, y0: gridY0, cell: cell}, err
}

// roundForDisplay rounds v the way format prints it, so interactive labels match the PNG.
func roundForDisplay(v float64, format string) float64 {
	if format == "" {
		if f, err := strconv.ParseFloat(formatValue(v), 64); err == nil {
			return f
		}
		return v
	}
	if f, err := strconv.ParseFloat(fmt.Sprintf(format, v), 64); err == nil {
		return f
	}
	return v
}

// echartsOption returns the ECharts option of the chart.
func (h *HeatmapChart) echartsOption() map[string]any {
	opt := echartsBase(h.title)
	rows, cols := h.labels()
	lo, hi := h.colorRange()
	// Each cell carries its label text (the PNG's, e.g. two decimals) as dimension 3 and its own
	// tooltip, which ECharts inserts as HTML: escaped, with braces as entities so that ECharts' {a}..{e}
	// templates cannot pick up a user's label.
	var data []any
	for i, row := range h.values {
		for j, v := range row {
			if finite(v) {
				tip := strings.ReplaceAll(strings.ReplaceAll(esc(h.cellTip(i, j)), "{", "&#123;"), "}", "&#125;")
				data = append(data, map[string]any{"value": []any{j, i, roundForDisplay(v, h.format), h.valueText(v)},
					"tooltip": map[string]any{"formatter": tip}})
			}
		}
	}
	opt["xAxis"] = map[string]any{"type": "category", "data": cols, "name": h.xLabel, "nameLocation": "middle", "nameGap": 30, "splitArea": map[string]any{"show": true}}
	opt["yAxis"] = map[string]any{"type": "category", "data": rows, "name": h.yLabel, "nameLocation": "middle", "nameGap": 70, "inverse": true, "splitArea": map[string]any{"show": true}}
	opt["grid"] = map[string]any{"left": 100, "right": 90, "top": 50, "bottom": 60}
	opt["tooltip"] = map[string]any{"position": "top"}
	opt["visualMap"] = map[string]any{"min": lo, "max": hi, "calculable": true, "orient": "vertical", "right": 10, "top": "middle",
		"inRange": map[string]any{"color": blues}, "show": !h.noColorBar}
	opt["series"] = []any{map[string]any{"type": "heatmap", "data": data, "label": map[string]any{"show": true, "formatter": "{@[3]}"},
		"emphasis": map[string]any{"itemStyle": map[string]any{"borderColor": "#333", "borderWidth": 1}}}}
	return opt
}
