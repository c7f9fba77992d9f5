package view

import (
	"fmt"
	"sort"
	"strings"
)

// CellsView is a confusion matrix whose cells open the images behind them, all embedded in the output
// (no server): under the matrix, one collapsed <details> line per non-empty cell ("actual dog, predicted
// cat: 3 images"), the mistakes first, busiest first, then the diagonal (the correct predictions) folded
// into one more line. Opening a line shows its thumbnails. The matrix is its PNG with a transparent box
// over each cell that carries the cell's hover text ("actual dog, predicted cat: 2 (0.33 of actual
// dog)"); in a trusted notebook a click on a cell opens its line. Untrusted, the lines open by themselves
// (<details> needs no script), so the drill-down works in every viewer, and no chart library is sent. Other charts
// (the mean-probability matrix) can stand beside the matrix. Build it with ConfusionCells.
type CellsView struct {
	matrix   *HeatmapChart
	beside   []Renderable
	cells    map[[2]int][]Item
	counts   map[[2]int]int
	maxItems int
	thumb    int
	more     func(row, col, hidden int) string
}

// Defaults of CellsView.
const (
	// DefaultCellItems is the most thumbnails a CellsView embeds per mistake's cell (half that per
	// diagonal cell).
	DefaultCellItems = 12
	// DefaultCellThumb is the thumbnail size of a CellsView in pixels.
	DefaultCellThumb = 80
)

// ConfusionCells starts a drill-down of matrix (a ConfusionMatrix: rows actual, columns predicted); add
// the images behind each cell with Cell.
func ConfusionCells(matrix *HeatmapChart) *CellsView {
	return &CellsView{matrix: matrix, cells: map[[2]int][]Item{}, counts: map[[2]int]int{}, maxItems: DefaultCellItems, thumb: DefaultCellThumb}
}

// Cell sets the images behind the cell (row, col) (0-based: actual row, predicted column).
func (c *CellsView) Cell(row, col int, items ...Item) *CellsView {
	c.cells[[2]int{row, col}] = append([]Item(nil), items...)
	return c
}

// Count sets how many images are behind the cell (row, col) when Cell was given only the first few of
// them (the caller need not load images that would not be embedded); it is never less than Cell's.
func (c *CellsView) Count(row, col, n int) *CellsView {
	c.counts[[2]int{row, col}] = n
	return c
}

// total is the number of images behind cell k.
func (c *CellsView) total(k [2]int) int { return max(len(c.cells[k]), c.counts[k]) }

// Beside puts other renderables to the right of the matrix (wrapping under it when the output is narrow).
func (c *CellsView) Beside(r ...Renderable) *CellsView { c.beside = append(c.beside, r...); return c }

// MaxPerCell sets the most thumbnails embedded per off-diagonal cell (at least 1; default
// DefaultCellItems), half that on the diagonal (the correct predictions); the rest are counted ("and 7
// more"), which keeps the notebook small.
func (c *CellsView) MaxPerCell(n int) *CellsView { c.maxItems = max(1, n); return c }

// ThumbSize sets the thumbnails' largest side in pixels (16..1024; default DefaultCellThumb).
func (c *CellsView) ThumbSize(px int) *CellsView { c.thumb = min(max(px, 16), 1024); return c }

// More sets the note after a cell's thumbnails when hidden of them were left out, e.g. the call that
// shows them all; the default is "and N more".
func (c *CellsView) More(f func(row, col, hidden int) string) *CellsView { c.more = f; return c }

// Show displays the view (see the package function Show).
func (c *CellsView) Show() (string, error) { return Show(c) }

func (c *CellsView) titleText() string { return c.matrix.title }

// PNG draws the matrix and what stands beside it (the images behind the cells are not drawn).
func (c *CellsView) PNG() ([]byte, error) { return c.top().PNG() }

// top is the matrix and the renderables beside it.
func (c *CellsView) top() *Layout { return Row(append([]Renderable{c.matrix}, c.beside...)...) }

// HTML returns the interactive matrix (its PNG where scripts do not run), what stands beside it, and the
// cells' lines with their thumbnails.
func (c *CellsView) HTML() string { return c.renderHTML(&renderCtx{}) }

// cellsNote is the line between the matrix and the cells' lines.
const cellsNote = "The images behind each cell: click a cell of the matrix (trusted notebook) or a line below; hover a cell for its count."

func (c *CellsView) renderHTML(rc *renderCtx) string {
	h := c.matrix
	if err := h.check(); err != nil {
		return errorHTML(err)
	}
	data, grid, err := h.drawPNG()
	if err != nil {
		return errorHTML(err)
	}
	rows, cols := h.labels()
	base := uniqueID("cells")
	var b strings.Builder
	b.WriteString(`<div class="mlkv-cells">`)
	// The matrix is its PNG with a transparent box over every cell: its hover text (any viewer) and, in a
	// trusted notebook, a click that opens the cell's line. No chart library is needed.
	fmt.Fprintf(&b, `<div style="display:inline-block;vertical-align:top;margin:0 12px 12px 0">`+
		`<div style="position:relative;width:%dpx;height:%dpx">%s`, h.width, h.height, pngImgTag(data, h.width, h.height, h.title))
	for i := range rows {
		for j := range cols {
			x, y := grid.x0+grid.cell*float64(j), grid.y0+grid.cell*float64(i)
			cursor := ""
			if c.total([2]int{i, j}) > 0 {
				cursor = ";cursor:pointer"
			}
			fmt.Fprintf(&b, `<div id="%s-o-%d-%d" class="mlkv-cell-box" title="%s" style="position:absolute;left:%.0fpx;top:%.0fpx;width:%.0fpx;height:%.0fpx%s"></div>`,
				base, i, j, esc(h.cellTip(i, j)), x, y, grid.cell, grid.cell, cursor)
		}
	}
	b.WriteString(`</div></div>`)
	for _, r := range c.beside {
		if r == nil {
			continue
		}
		b.WriteString(`<div style="display:inline-block;vertical-align:top;margin:0 12px 12px 0">`)
		b.WriteString(renderWith(r, rc))
		b.WriteString(`</div>`)
	}
	var off, diag [][2]int
	diagItems := 0
	for k, items := range c.cells {
		if len(items) == 0 || k[0] < 0 || k[0] >= len(rows) || k[1] < 0 || k[1] >= len(cols) {
			continue
		}
		if k[0] == k[1] {
			diag = append(diag, k)
			diagItems += c.total(k)
		} else {
			off = append(off, k)
		}
	}
	busiest := func(ks [][2]int) {
		sort.Slice(ks, func(i, j int) bool {
			a, b := ks[i], ks[j]
			if na, nb := c.total(a), c.total(b); na != nb {
				return na > nb
			}
			if a[0] != b[0] {
				return a[0] < b[0]
			}
			return a[1] < b[1]
		})
	}
	busiest(off)
	busiest(diag)
	if len(off)+len(diag) > 0 {
		fmt.Fprintf(&b, `<div class="mlkv-note" style="%s">%s</div>`, styNote, esc(cellsNote))
	}
	for _, k := range off {
		c.writeCell(&b, rc, base, k, rows, cols)
	}
	if len(diag) > 0 {
		fmt.Fprintf(&b, `<details class="mlkv-diag" style="margin:2px 0"><summary style="%s">%s</summary><div style="margin:0 0 0 16px">`,
			stySummary, esc(fmt.Sprintf("correct predictions (the diagonal): %s in %s", Count(diagItems, "image"), Count(len(diag), "cell"))))
		for _, k := range diag {
			c.writeCell(&b, rc, base, k, rows, cols)
		}
		b.WriteString(`</div></details>`)
	}
	// Trusted: a click on a cell's box opens its line (and the diagonal's, around it) and scrolls to it.
	fmt.Fprintf(&b, `<script>(function(){var b=%q;for(var i=0;i<%d;i++){for(var j=0;j<%d;j++){(function(i,j){`+
		`var o=document.getElementById(b+"-o-"+i+"-"+j),el=document.getElementById(b+"-"+i+"-"+j);if(!o||!el){return;}`+
		`o.onclick=function(){for(var d=el;d;d=d.parentElement){if(d.tagName==="DETAILS"){d.open=true;}}`+
		`if(el.scrollIntoView){el.scrollIntoView({block:"nearest"});}};})(i,j);}}})();</script>`, base, len(rows), len(cols))
	b.WriteString(`</div>`)
	return b.String()
}

// stySummary styles a <details> line.
const stySummary = "font:13px sans-serif;margin:2px 0;padding:2px 0;cursor:pointer"

// writeCell writes one cell's <details>: its line and, inside, its thumbnails and the count left out.
func (c *CellsView) writeCell(b *strings.Builder, rc *renderCtx, base string, k [2]int, rows, cols []string) {
	items, total := c.cells[k], c.total(k)
	limit := c.maxItems
	if k[0] == k[1] {
		limit = max(1, limit/2) // the correct predictions: fewer, they matter less than the mistakes
	}
	shown := items[:min(len(items), limit)]
	fmt.Fprintf(b, `<details id="%s-%d-%d" class="mlkv-cell-list" style="margin:2px 0"><summary style="%s">%s</summary>`,
		base, k[0], k[1], stySummary, esc(fmt.Sprintf("actual %s, predicted %s: %s", rows[k[0]], cols[k[1]], Count(total, "image"))))
	g := Gallery().PageSize(0).ThumbSize(c.thumb).Columns(8).Add(shown...).HidePaging() // the line above counts them
	b.WriteString(`<div style="margin:4px 0 8px 16px">`)
	b.WriteString(g.renderHTML(rc))
	if hidden := total - len(shown); hidden > 0 {
		note := fmt.Sprintf("and %d more", hidden)
		if c.more != nil {
			note = c.more(k[0], k[1], hidden)
		}
		fmt.Fprintf(b, `<div class="mlkv-note" style="%s">%s</div>`, styNote, esc(note))
	}
	b.WriteString(`</div></details>`)
}
