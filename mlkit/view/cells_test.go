package view

import (
	"fmt"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cellsView is a 3-class drill-down: actual dog predicted cat twice, 15 butterflies right (more than a
// cell embeds), three elephants right (one given), and the mean-probability matrix beside it.
func cellsView() *CellsView {
	labels := []string{"butterfly", "dog", "elephant"}
	counts := [][]int{{15, 0, 0}, {0, 4, 2}, {0, 0, 1}}
	item := func(name string, c color.Color) Item {
		return Item{Picture: solidImage(40, 30, c), Caption: name, Label: "p 0.9", Color: ColorWrong}
	}
	var butterflies []Item
	for i := range 15 {
		butterflies = append(butterflies, item(fmt.Sprintf("b%02d.jpg", i), color.RGBA{10, 10, 200, 255}))
	}
	var dogs []Item
	for i := range 4 {
		dogs = append(dogs, item(fmt.Sprintf("d%d.jpg", i), color.RGBA{10, 200, 10, 255}))
	}
	return ConfusionCells(ConfusionMatrix(labels, counts).Title("m — validation counts").Size(420, 380)).
		Beside(Heatmap([][]float64{{0.9, 0.05, 0.05}, {0.1, 0.6, 0.3}, {0, 0.1, 0.9}}).Title("mean probability").Size(420, 380)).
		Cell(0, 0, butterflies...).
		Cell(1, 1, dogs...).
		Cell(1, 2, item("dc1.jpg", color.RGBA{200, 10, 10, 255}), item("dc2.jpg", color.RGBA{200, 10, 10, 255})).
		Cell(2, 2, item("e.jpg", color.RGBA{100, 100, 100, 255})).
		Count(2, 2, 3). // two more elephants, not given
		Cell(0, 1).     // empty: no line
		More(func(row, col, hidden int) string {
			return fmt.Sprintf("and %d more: ShowCell(%d, %d)", hidden, row, col)
		})
}

var detailsIDRe = regexp.MustCompile(`<details id="(mlkv-cells-[0-9a-f]+-\d+)-(\d+)-(\d+)"`)

// TestConfusionCellsUntrusted checks the drill-down an untrusted notebook shows: the matrix's PNG and the
// probability matrix beside it, then one <details> line per non-empty cell, the mistakes first, the
// diagonal folded into one more line, each with its thumbnails (at most MaxPerCell, the rest counted),
// all of it kept whole by JupyterLab's sanitizer.
func TestConfusionCellsUntrusted(t *testing.T) {
	out := cellsView().HTML()
	u := sanitizeLikeJupyterLab(out)
	for _, r := range u.removed {
		t.Errorf("the untrusted sanitizer drops %s", r)
	}
	if u.scripts != 1 || strings.Contains(out, "echarts") {
		t.Errorf("want one script (the cells' clicks) and no chart library, got %d scripts", u.scripts)
	}
	var pngs, thumbs, details, boxes int
	for _, e := range elements(u.html) {
		switch {
		case e.attrs["class"] == "mlkv-cell-box":
			boxes++
			if e.style["position"] != "absolute" || e.style["left"] == "" || e.style["width"] == "" || e.attrs["title"] == "" {
				t.Errorf("cell box %v: not an absolutely placed box with hover text", e)
			}
		case e.name == "img" && strings.HasPrefix(e.attrs["src"], "data:image/png;base64,"):
			pngs++
		case e.name == "img" && strings.HasPrefix(e.attrs["src"], "data:image/jpeg;base64,"):
			thumbs++
		case e.name == "details":
			details++
			if e.attrs["open"] != "" {
				t.Errorf("a cell's line is open from the start: %v", e.attrs)
			}
		}
	}
	// Diagonal cells embed half as many: 6 of the 15 butterflies.
	if pngs != 2 || thumbs != DefaultCellItems/2+4+1+2 || details != 5 || boxes != 9 {
		t.Errorf("got %d PNG charts, %d thumbnails, %d <details>, %d cell boxes; want 2, %d, 5 (3 diagonal cells + 1 mistake + the diagonal's line), 9",
			pngs, thumbs, details, boxes, DefaultCellItems/2+4+1+2)
	}
	if !strings.Contains(u.html, `title="actual dog, predicted elephant: 2 (0.33 of actual dog)"`) {
		t.Error("the (dog, elephant) cell's box lacks its hover text")
	}
	lines := []string{
		"actual dog, predicted elephant: 2 images",
		"correct predictions (the diagonal): 22 images in 3 cells",
		"actual butterfly, predicted butterfly: 15 images",
		"and 9 more: ShowCell(0, 0)",
		"actual dog, predicted dog: 4 images",
		"actual elephant, predicted elephant: 3 images",
		"and 2 more",
	}
	last := -1
	for _, l := range lines {
		i := strings.Index(u.html, l)
		if i < 0 {
			t.Errorf("untrusted drill-down lacks %q", l)
			continue
		}
		if i < last {
			t.Errorf("%q is out of order (mistakes first, then the diagonal, busiest first)", l)
		}
		last = i
	}
	if regexp.MustCompile(`<summary[^>]*>actual butterfly, predicted dog`).MatchString(u.html) {
		t.Error("an empty cell has a line")
	}
	if !strings.Contains(u.html, cellsNote) {
		t.Error("the note on how to open the cells is missing")
	}
	if dir := os.Getenv("MLKIT_VIEW_UNTRUSTED_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "confusion-cells.html"), []byte(Page("confusion cells (untrusted)", `<div style="width:900px">`+u.html+`</div>`)), 0o644); err != nil {
			t.Fatal(err)
		}
		// And as a trusted notebook shows it, scripts included.
		if err := os.WriteFile(filepath.Join(dir, "confusion-cells-trusted.html"), []byte(Page("confusion cells (trusted)", `<div style="width:900px">`+out+`</div>`)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConfusionCellsClickOpensCell runs the view's script (trusted) under node: a click on a mistake's
// cell box opens its <details>; a click on a diagonal cell opens it and the diagonal's line around it; an
// empty cell's box has no line to open. Skipped without node.
func TestConfusionCellsClickOpensCell(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH: skipping the click check")
	}
	out := cellsView().HTML()
	ids := detailsIDRe.FindAllStringSubmatch(out, -1)
	if len(ids) != 4 {
		t.Fatalf("want 4 cell lines with ids, got %d", len(ids))
	}
	base := ids[0][1]
	s := scriptRe.FindAllString(out, -1)
	if len(s) != 1 {
		t.Fatalf("want one script, got %d", len(s))
	}
	js := `const vm = require("vm");
const els = {};
const base = ` + strconvQuote(base) + `;
function mk(id, parent, tag) { const e = {id, tagName: tag || "DIV", parentElement: parent || null, open: false, scrolled: 0, scrollIntoView(){ this.scrolled++; }}; if (id) els[id] = e; return e; }
for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) mk(base+"-o-"+i+"-"+j);
const diag = mk("", null, "DETAILS");
for (const [r, c] of [[0,0],[1,1],[2,2]]) mk(base+"-"+r+"-"+c, diag, "DETAILS");
mk(base+"-1-2", null, "DETAILS");
const ctx = {console, document: {getElementById: id => els[id] || null}};
vm.createContext(ctx);
vm.runInContext(` + strconvQuote(strings.TrimSuffix(strings.TrimPrefix(s[0], "<script>"), "</script>")) + `, ctx);
els[base+"-o-1-2"].onclick();  // actual dog, predicted elephant
if (!els[base+"-1-2"].open || els[base+"-1-2"].scrolled !== 1) throw new Error("the mistake's line did not open");
if (diag.open) throw new Error("the diagonal opened on a mistake's click");
els[base+"-o-1-1"].onclick();
if (!els[base+"-1-1"].open || !diag.open) throw new Error("the diagonal cell or its line did not open");
if (els[base+"-o-0-1"].onclick) throw new Error("an empty cell has a click handler");
console.log("ok");
`
	script := filepath.Join(t.TempDir(), "click.js")
	if err := os.WriteFile(script, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := exec.Command(node, script).CombinedOutput(); err != nil || !strings.Contains(string(res), "ok") {
		t.Fatalf("node: %v\n%s", err, res)
	}
}

// TestConfusionCellsPNG checks that the file output is the matrices' PNG.
func TestConfusionCellsPNG(t *testing.T) {
	c := cellsView()
	if c.prefersPNGCheck() {
		t.Fatal("a drill-down prefers PNG: Show would lose the images behind the cells")
	}
	data, err := c.PNG()
	if err != nil || len(data) < 8 || string(data[1:4]) != "PNG" {
		t.Fatalf("PNG: %v", err)
	}
}

// prefersPNGCheck reports whether Show would display c as a PNG.
func (c *CellsView) prefersPNGCheck() bool {
	var r Renderable = c
	p, ok := r.(pngPreferrer)
	return ok && p.prefersPNG()
}

// TestConfusionCellsSideBySide checks that the matrix's box is the chart's width (so the probability
// matrix beside it fits a 900-px output area) and that the cells' galleries carry no paging line (the
// cell's line counts its images).
func TestConfusionCellsSideBySide(t *testing.T) {
	u := sanitizeLikeJupyterLab(cellsView().HTML())
	els := elements(u.html)
	var boxes []element
	for _, e := range els {
		if e.style["position"] == "relative" && e.attrs["class"] == "" {
			boxes = append(boxes, e)
		}
	}
	if len(boxes) != 1 || boxes[0].style["width"] != "420px" || boxes[0].style["height"] != "380px" {
		t.Fatalf("the matrix's box is not 420x380 px: %v", boxes)
	}
	if strings.Contains(u.html, "page 1 of 1") {
		t.Error("a cell's gallery shows a paging line")
	}
}
