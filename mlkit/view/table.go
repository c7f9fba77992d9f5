package view

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TableView is a table with a header and rows of strings and numbers, rendered as HTML (escaped),
// aligned plain text, Markdown or PNG. Build it with Table.
type TableView struct {
	title    string
	header   []string
	rows     [][]any
	formats  map[int]string
	hlRows   map[int]bool
	hlCells  map[[2]int]bool
	floatFmt string
	caption  string
}

// Table starts a table with the given column names.
func Table(header ...string) *TableView {
	return &TableView{header: append([]string(nil), header...), formats: map[int]string{},
		hlRows: map[int]bool{}, hlCells: map[[2]int]bool{}, floatFmt: "%.4f"}
}

// Title sets the table title.
func (t *TableView) Title(title string) *TableView { t.title = title; return t }

// Caption sets a note shown under the table.
func (t *TableView) Caption(caption string) *TableView { t.caption = caption; return t }

// Header replaces the column names.
func (t *TableView) Header(cols ...string) *TableView {
	t.header = append([]string(nil), cols...)
	return t
}

// Row appends a row. Cells may be strings, numbers, bools, time.Duration, fmt.Stringer, error or nil.
func (t *TableView) Row(cells ...any) *TableView {
	t.rows = append(t.rows, append([]any(nil), cells...))
	return t
}

// Rows appends several rows.
func (t *TableView) Rows(rows [][]any) *TableView {
	for _, r := range rows {
		t.Row(r...)
	}
	return t
}

// Format sets the fmt verb of the numbers of column col (0-based), e.g. "%.3f" or "%.1f%%".
func (t *TableView) Format(col int, format string) *TableView { t.formats[col] = format; return t }

// FloatFormat sets the default fmt verb of floating-point cells (default "%.4f").
func (t *TableView) FloatFormat(format string) *TableView { t.floatFmt = format; return t }

// HighlightRow highlights row i (0-based, not counting the header), e.g. the best model.
func (t *TableView) HighlightRow(i int) *TableView { t.hlRows[i] = true; return t }

// HighlightCell highlights the cell at row i, column j (0-based).
func (t *TableView) HighlightCell(i, j int) *TableView { t.hlCells[[2]int{i, j}] = true; return t }

// Show displays the table (see the package function Show); outside a notebook it also prints the text
// rendering. It returns the written file's path, if any.
func (t *TableView) Show() (string, error) { return Show(t) }

func (t *TableView) titleText() string { return t.title }

// NumRows returns the number of rows (without the header).
func (t *TableView) NumRows() int { return len(t.rows) }

// numCols returns the number of columns: the widest of header and rows.
func (t *TableView) numCols() int {
	n := len(t.header)
	for _, r := range t.rows {
		n = max(n, len(r))
	}
	return n
}

// cell returns the text of cell (i, j) and whether it is numeric (right-aligned).
func (t *TableView) cell(i, j int) (string, bool) {
	if j >= len(t.rows[i]) {
		return "", false
	}
	v := t.rows[i][j]
	f, hasF := t.formats[j]
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, false
	case float64:
		return t.formatFloat(x, f, hasF), true
	case float32:
		return t.formatFloat(float64(x), f, hasF), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		if hasF {
			return fmt.Sprintf(f, x), true
		}
		return fmt.Sprint(x), true
	case bool:
		return strconv.FormatBool(x), false
	case time.Duration:
		return x.Round(time.Millisecond).String(), true
	case error:
		return x.Error(), false
	case fmt.Stringer:
		return x.String(), false
	default:
		if hasF {
			return fmt.Sprintf(f, x), false
		}
		return fmt.Sprint(x), false
	}
}

func (t *TableView) formatFloat(v float64, f string, hasF bool) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	if !hasF {
		f = t.floatFmt
	}
	return fmt.Sprintf(f, v)
}

func (t *TableView) highlighted(i, j int) bool { return t.hlRows[i] || t.hlCells[[2]int{i, j}] }

// HTML returns the table as an HTML <table>; every string is escaped.
func (t *TableView) HTML() string { return t.renderHTML(&renderCtx{}) }

// Table cell styles (inline, see the Inline styles note in html.go).
const (
	styTable  = "border-collapse:collapse;font:13px sans-serif;margin:0 0 4px 0"
	styTH     = "border:1px solid #cccccc;padding:3px 8px;background:#f0f0f0;font-weight:bold;text-align:left"
	styTD     = "border:1px solid #cccccc;padding:3px 8px"
	styTDNum  = ";text-align:right"
	styTDText = ";text-align:left" // JupyterLab's own style sheet right-aligns every cell
	styTDHigh = ";background:#fff3b0;font-weight:bold"
)

func (t *TableView) renderHTML(rc *renderCtx) string {
	var b strings.Builder
	b.WriteString(`<div class="mlkv-tablewrap" style="overflow-x:auto">`)
	if t.title != "" {
		fmt.Fprintf(&b, `<div class="mlkv-title" style="%s">%s</div>`, styTitle, esc(t.title))
	}
	fmt.Fprintf(&b, `<table class="mlkv-table" style="%s">`, styTable)
	nc := t.numCols()
	if len(t.header) > 0 {
		b.WriteString("<thead><tr>")
		for j := range nc {
			h := ""
			if j < len(t.header) {
				h = t.header[j]
			}
			fmt.Fprintf(&b, `<th style="%s">%s</th>`, styTH, esc(h))
		}
		b.WriteString("</tr></thead>")
	}
	b.WriteString("<tbody>")
	for i := range t.rows {
		if t.hlRows[i] {
			b.WriteString(`<tr class="mlkv-hl">`)
		} else {
			b.WriteString("<tr>")
		}
		for j := range nc {
			s, num := t.cell(i, j)
			var cls []string
			style := styTD
			if num {
				cls = append(cls, "mlkv-num")
				style += styTDNum
			} else {
				style += styTDText
			}
			if t.highlighted(i, j) {
				cls = append(cls, "mlkv-hl")
				style += styTDHigh
			}
			if len(cls) > 0 {
				fmt.Fprintf(&b, `<td class="%s" style="%s">%s</td>`, strings.Join(cls, " "), style, esc(s))
			} else {
				fmt.Fprintf(&b, `<td style="%s">%s</td>`, style, esc(s))
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
	if t.caption != "" {
		fmt.Fprintf(&b, `<div class="mlkv-note" style="%s">%s</div>`, styNote, esc(t.caption))
	}
	b.WriteString("</div>")
	return b.String()
}

// grid returns the header and cell texts (single-line) and which columns are numeric.
func (t *TableView) grid() (header []string, cells [][]string, numeric []bool) {
	nc := t.numCols()
	oneLine := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ")
	header = make([]string, nc)
	for j := range nc {
		if j < len(t.header) {
			header[j] = oneLine.Replace(t.header[j])
		}
	}
	numeric = make([]bool, nc)
	for j := range numeric {
		numeric[j] = len(t.rows) > 0
	}
	cells = make([][]string, len(t.rows))
	for i := range t.rows {
		cells[i] = make([]string, nc)
		for j := range nc {
			s, num := t.cell(i, j)
			cells[i][j] = oneLine.Replace(s)
			if !num && s != "" {
				numeric[j] = false
			}
		}
	}
	return header, cells, numeric
}

// Text returns the table as aligned plain text for terminals; highlighted rows are marked with '*'.
func (t *TableView) Text() string {
	header, cells, numeric := t.grid()
	widths := make([]int, len(header))
	for j, h := range header {
		widths[j] = utf8.RuneCountInString(h)
	}
	for _, r := range cells {
		for j, s := range r {
			widths[j] = max(widths[j], utf8.RuneCountInString(s))
		}
	}
	pad := func(s string, w int, right bool) string {
		n := w - utf8.RuneCountInString(s)
		if n <= 0 {
			return s
		}
		if right {
			return strings.Repeat(" ", n) + s
		}
		return s + strings.Repeat(" ", n)
	}
	anyHL := len(t.hlRows) > 0 || len(t.hlCells) > 0
	var b strings.Builder
	if t.title != "" {
		b.WriteString(t.title + "\n")
	}
	line := func(cols []string, mark string) {
		if anyHL {
			b.WriteString(mark)
		}
		for j, s := range cols {
			if j > 0 {
				b.WriteString("  ")
			}
			b.WriteString(pad(s, widths[j], numeric[j]))
		}
		b.WriteString("\n")
	}
	if len(header) > 0 {
		line(header, "  ")
		seps := make([]string, len(header))
		for j := range seps {
			seps[j] = strings.Repeat("-", widths[j])
		}
		line(seps, "  ")
	}
	for i, r := range cells {
		mark := "  "
		for j := range r {
			if t.highlighted(i, j) {
				mark = "* "
			}
		}
		line(r, mark)
	}
	if t.caption != "" {
		b.WriteString(t.caption + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// mdEscaper escapes Markdown specials and HTML, since notebook Markdown renders inline HTML.
var mdEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
	`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "#", `\#`,
	"\r\n", " ", "\n", " ", "\r", " ")

// Markdown returns the table in GitHub-flavoured Markdown; highlighted cells are bold.
func (t *TableView) Markdown() string {
	header, cells, numeric := t.grid()
	var b strings.Builder
	if t.title != "" {
		b.WriteString("**" + mdEscaper.Replace(t.title) + "**\n\n")
	}
	if len(header) == 0 {
		return strings.TrimSpace(b.String())
	}
	b.WriteString("|")
	for _, h := range header {
		b.WriteString(" " + mdEscaper.Replace(h) + " |")
	}
	b.WriteString("\n|")
	for j := range header {
		if numeric[j] {
			b.WriteString(" ---: |")
		} else {
			b.WriteString(" --- |")
		}
	}
	b.WriteString("\n")
	for i, r := range cells {
		b.WriteString("|")
		for j, s := range r {
			s = mdEscaper.Replace(s)
			if t.highlighted(i, j) && s != "" {
				s = "**" + s + "**"
			}
			b.WriteString(" " + s + " |")
		}
		b.WriteString("\n")
	}
	if t.caption != "" {
		b.WriteString("\n" + mdEscaper.Replace(t.caption) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// PNG draws the table as an image.
func (t *TableView) PNG() ([]byte, error) {
	header, cells, numeric := t.grid()
	if err := loadFonts(); err != nil {
		return nil, err
	}
	probe, err := newCanvas(1, 1, colWhite)
	if err != nil {
		return nil, err
	}
	const size, rowH, cellPad = 13.0, 24.0, 8.0
	widths := make([]float64, len(header))
	for j, h := range header {
		widths[j] = probe.textWidth(h, size, true)
	}
	for _, r := range cells {
		for j, s := range r {
			widths[j] = math.Max(widths[j], probe.textWidth(s, size, false))
		}
	}
	for j := range widths {
		widths[j] = math.Min(widths[j], 400) + 2*cellPad
	}
	total := 0.0
	for _, w := range widths {
		total += w
	}
	titleH := 0.0
	if t.title != "" {
		titleH = titleSize + 10
	}
	W := int(math.Max(2*padding+total, 120))
	if t.title != "" {
		W = max(W, int(2*padding+probe.textWidth(t.title, titleSize, true)))
	}
	nRows := len(cells)
	if len(header) > 0 {
		nRows++
	}
	H := int(2*padding + titleH + rowH*float64(nRows) + 1)
	c, err := newCanvas(W, H, colWhite)
	if err != nil {
		return nil, fmt.Errorf("table %q: %w", t.title, err)
	}
	y := padding
	if t.title != "" {
		c.text(t.title, padding, y, titleSize, true, colBlack, alignLeft, alignTop)
		y += titleH
	}
	hlCol := parseColorMust("#fff3b0")
	headCol := parseColorMust("#f0f0f0")
	border := parseColorMust("#cccccc")
	drawRow := func(row []string, bold bool, hl func(j int) bool, bg func(j int) bool) {
		x := padding
		for j, s := range row {
			if bg(j) {
				col := hlCol
				if bold {
					col = headCol
				}
				c.fillRect(x, y, x+widths[j], y+rowH, col)
			}
			c.strokeRect(x, y, x+widths[j]+1, y+rowH+1, border)
			s = c.fitText(s, widths[j]-2*cellPad, size, bold || hl(j))
			if numeric[j] && !bold {
				c.text(s, x+widths[j]-cellPad, y+rowH/2, size, hl(j), colBlack, alignRight, alignMiddle)
			} else {
				c.text(s, x+cellPad, y+rowH/2, size, bold || hl(j), colBlack, alignLeft, alignMiddle)
			}
			x += widths[j]
		}
		y += rowH
	}
	if len(header) > 0 {
		all := func(int) bool { return true }
		drawRow(header, true, all, all)
	}
	for i, r := range cells {
		hl := func(j int) bool { return t.highlighted(i, j) }
		drawRow(r, false, hl, hl)
	}
	return c.encodePNG()
}
