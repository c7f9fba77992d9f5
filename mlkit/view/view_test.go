package view

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/internal/testshared"
)

// hostile strings that would inject markup or break attributes if not escaped.
var hostile = []string{
	`<script>alert(1)</script>`,
	`"onerror="alert(2)`,
	`' onmouseover='alert(3)`,
	`</div></div><img src=x onerror=alert(4)>`,
	`</style><b>x</b>`,
	`</script><script>alert(5)</script>`,
	`猫 🐈 naïve — ünïcödé`,
	"tab\there & new\nline",
}

var scriptRe = regexp.MustCompile(`(?s)<script>.*?</script>`)

var tagRe = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)`)

// checkMarkup asserts that the only tags in s are the ones view emits and that div/span/table tags are
// balanced, so no hostile string opened or closed an element.
func checkMarkup(t *testing.T, what, s string) {
	t.Helper()
	allowed := map[string]bool{"div": true, "span": true, "img": true, "style": true, "table": true, "thead": true,
		"tbody": true, "tr": true, "th": true, "td": true, "script": true}
	open := map[string]int{}
	for _, m := range tagRe.FindAllStringSubmatch(s, -1) {
		name := strings.ToLower(m[2])
		if !allowed[name] {
			t.Errorf("%s: unexpected tag <%s%s> in output", what, m[1], name)
		}
		if m[1] == "/" {
			open[name]--
		} else if name != "img" {
			open[name]++
		}
	}
	for name, n := range open {
		if n != 0 {
			t.Errorf("%s: <%s> unbalanced by %d", what, name, n)
		}
	}
	for _, bad := range []string{`"onerror="`, `' onmouseover='`, "<b>x</b>", "alert(1)</script>"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s: output contains unescaped %q", what, bad)
		}
	}
}

func TestGalleryEscapesHostileStrings(t *testing.T) {
	g := Gallery().Title(strings.Join(hostile, " "))
	for i, h := range hostile {
		g.Add(Item{ID: h, Image: filepath.Join(t.TempDir(), h+".jpg"), Caption: h, Label: h, Badge: h,
			Color: `red;background:url(javascript:alert(` + h + `))`, Score: float64(i) / 10})
	}
	// One item that does load, with a hostile colour that must be dropped.
	g.Add(Item{Picture: solidImage(40, 30, color.RGBA{200, 10, 10, 255}), Caption: hostile[0], Color: `" style="x`})
	out := g.HTML()
	checkMarkup(t, "gallery", out)
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("gallery: escaped caption not found")
	}
	if !strings.Contains(out, "猫 🐈 naïve — ünïcödé") {
		t.Errorf("gallery: unicode caption not preserved")
	}
	if strings.Contains(out, "javascript:") && !strings.Contains(out, "javascript:alert(") {
		t.Errorf("gallery: colour leaked into style")
	}
	if strings.Contains(out, "background:url(") {
		t.Errorf("gallery: hostile colour reached a style attribute")
	}
	// Missing files show an escaped error instead of failing the whole gallery.
	if n := strings.Count(out, `class="mlkv-err"`); n != len(hostile) {
		t.Errorf("gallery: %d error tiles, want %d", n, len(hostile))
	}
	if _, err := g.PNG(); err != nil {
		t.Errorf("gallery PNG with hostile strings: %v", err)
	}
}

func TestTableEscapesHostileStrings(t *testing.T) {
	tb := Table(hostile...).Title(hostile[3]).Caption(hostile[4])
	row := make([]any, len(hostile))
	for i, h := range hostile {
		row[i] = h
	}
	tb.Row(row...).Row(1, 2.5, nil, true).HighlightRow(0).HighlightCell(1, 1)
	out := tb.HTML()
	checkMarkup(t, "table", out)
	md := tb.Markdown()
	for _, bad := range []string{"<script", "<img", "</div", "<b>"} {
		if strings.Contains(md, bad) {
			t.Errorf("markdown contains raw %q:\n%s", bad, md)
		}
	}
	// Every table line has the same number of unescaped pipes: nothing broke the columns.
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != len(hostile)+1 {
			t.Errorf("markdown line has %d column separators, want %d: %q", n, len(hostile)+1, line)
		}
	}
	if strings.Contains(tb.Text(), "\n\n") {
		t.Errorf("text rendering: a newline in a cell split a row")
	}
	if _, err := tb.PNG(); err != nil {
		t.Errorf("table PNG: %v", err)
	}
}

func TestChartsEscapeHostileTitles(t *testing.T) {
	h := strings.Join(hostile, " ")
	charts := []Renderable{
		Line().Title(h).XLabel(h).YLabel(h).Values(h, []float64{1, 2, 3}),
		Line().Title(h).Values(h, []float64{1, 2, 3}).Interactive(),
		Bars().Title(h).Categories(h, "b").Group(h, 1, 2).Interactive(),
		Heatmap([][]float64{{1, 2}, {3, 4}}).Title(h).RowLabels(h, "b").ColLabels("a", h).Interactive(),
		Heatmap([][]float64{{1, 2}, {3, 4}}).Title(h).RowLabels(h, "b").ColLabels("a", h),
	}
	for i, c := range charts {
		out := c.HTML()
		// Inline scripts: our own only (the library once, one init per chart); their bodies must not
		// contain anything that ends the element or opens markup, and are then left out of the tag check.
		withoutLib := strings.Replace(out, echartsJS, "", 1)
		stripped := scriptRe.ReplaceAllStringFunc(withoutLib, func(s string) string {
			body := strings.TrimSuffix(strings.TrimPrefix(s, "<script>"), "</script>")
			if strings.Contains(body, "<") || strings.Contains(body, ">") && !strings.Contains(body, "mlkit/view") {
				t.Errorf("chart %d: script body contains raw < or >: %.200s", i, body)
			}
			return "<script></script>"
		})
		checkMarkup(t, "chart", stripped)
	}
}

func TestPaging(t *testing.T) {
	cases := []struct {
		total, size, page               int
		wantPage, wantPages, start, end int
		text                            string
	}{
		{430, 48, 1, 1, 9, 48, 96, "page 2 of 9, 430 items (49–96)"},
		{430, 48, 8, 8, 9, 384, 430, "page 9 of 9, 430 items (385–430)"},
		{430, 48, 99, 8, 9, 384, 430, "page 9 of 9, 430 items (385–430)"},
		{430, 48, -3, 0, 9, 0, 48, "page 1 of 9, 430 items (1–48)"},
		{48, 48, 0, 0, 1, 0, 48, "page 1 of 1, 48 items (1–48)"},
		{49, 48, 1, 1, 2, 48, 49, "page 2 of 2, 49 items (49–49)"},
		{0, 48, 0, 0, 1, 0, 0, "page 1 of 1, 0 items"},
		{1, 10, 0, 0, 1, 0, 1, "page 1 of 1, 1 item (1–1)"},
		{7, 0, 0, 0, 1, 0, 7, "page 1 of 1, 7 items (1–7)"},
	}
	for _, c := range cases {
		p := NewPaging(c.total, c.size, c.page)
		if p.Page != c.wantPage || p.Pages != c.wantPages || p.Start != c.start || p.End != c.end || p.String() != c.text {
			t.Errorf("NewPaging(%d,%d,%d) = %+v %q; want page %d of %d, [%d,%d) %q",
				c.total, c.size, c.page, p, p.String(), c.wantPage, c.wantPages, c.start, c.end, c.text)
		}
	}
	// A gallery shows exactly the items of its page.
	g := Gallery().PageSize(4).Page(2).Columns(2)
	for i := range 10 {
		g.Add(Item{Picture: solidImage(8, 8, color.RGBA{uint8(i * 20), 0, 0, 255}), Caption: "item-" + string(rune('a'+i))})
	}
	out := g.HTML()
	if !strings.Contains(out, "page 3 of 3, 10 items (9–10)") {
		t.Errorf("gallery paging line missing")
	}
	for i := range 10 {
		want := i >= 8
		if got := strings.Contains(out, ">item-"+string(rune('a'+i))+"<"); got != want {
			t.Errorf("item %d shown=%v, want %v", i, got, want)
		}
	}
}

func solidImage(w, h int, c color.Color) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}

var dataURIRe = regexp.MustCompile(`data:image/jpeg;base64,([A-Za-z0-9+/=]+)`)

func TestGalleryRealImages(t *testing.T) {
	dir := testshared.Animals5(t)
	var items []Item
	for _, class := range []string{"dog", "horse", "butterfly"} {
		files, err := filepath.Glob(filepath.Join(dir, class, "*.jpg"))
		if err != nil || len(files) < 4 {
			t.Fatalf("listing %s: %v (%d files)", class, err, len(files))
		}
		for i, f := range files[:4] {
			it := Item{Image: f, Caption: filepath.Base(f), Label: class, Score: 0.5 + float64(i)/10, Badge: "✓", Color: ColorCorrect}
			if i == 3 {
				it.Color, it.Badge = ColorWrong, "✗"
			}
			items = append(items, it)
		}
	}
	const thumb = 96
	g := Gallery().Add(items...).Columns(4).PageSize(8).ThumbSize(thumb).Title("Animals")
	out := g.HTML()
	uris := dataURIRe.FindAllStringSubmatch(out, -1)
	if len(uris) != 8 {
		t.Fatalf("got %d image data URIs, want 8 (one page)", len(uris))
	}
	for i, m := range uris {
		data, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("data URI %d: bad base64: %v", i, err)
		}
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("data URI %d: not a JPEG: %v", i, err)
		}
		b := img.Bounds()
		if b.Dx() > thumb || b.Dy() > thumb || max(b.Dx(), b.Dy()) < thumb {
			t.Errorf("thumbnail %d is %dx%d, want largest side %d", i, b.Dx(), b.Dy(), thumb)
		}
	}
	if strings.Contains(out, `class="mlkv-err"`) {
		t.Errorf("real images produced error tiles")
	}
	if !strings.Contains(out, "page 1 of 2, 12 items (1–8)") {
		t.Errorf("paging line missing")
	}
	pngData, err := g.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatalf("gallery PNG does not decode: %v", err)
	}
	if n := countNear(img, parseColorMust(ColorWrong), 2); n < 100 {
		t.Errorf("contact sheet has %d red border pixels, want the wrong item's frame", n)
	}
	if os.Getenv("VIEW_SAMPLES_DIR") != "" {
		_ = os.WriteFile(filepath.Join(os.Getenv("VIEW_SAMPLES_DIR"), "gallery.png"), pngData, 0o644)
		_ = os.WriteFile(filepath.Join(os.Getenv("VIEW_SAMPLES_DIR"), "gallery.html"), []byte(Page("gallery", out)), 0o644)
	}
}

// countNear counts the pixels within tol (per channel) of c.
func countNear(img image.Image, c color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			if abs(int(r>>8)-int(c.R)) <= tol && abs(int(g>>8)-int(c.G)) <= tol && abs(int(bb>>8)-int(c.B)) <= tol {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func decodePNG(t *testing.T, r Renderable) image.Image {
	t.Helper()
	data, err := r.PNG()
	if err != nil {
		t.Fatalf("PNG: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	return img
}

func TestChartPNGs(t *testing.T) {
	for name, r := range sampleCharts() {
		t.Run(name, func(t *testing.T) {
			img := decodePNG(t, r)
			if b := img.Bounds(); b.Dx() != DefaultChartWidth || b.Dy() != DefaultChartHeight {
				t.Errorf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), DefaultChartWidth, DefaultChartHeight)
			}
			colours := map[color.Color]bool{}
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y += 2 {
				for x := b.Min.X; x < b.Max.X; x += 2 {
					colours[img.At(x, y)] = true
				}
			}
			if len(colours) < 20 {
				t.Errorf("only %d distinct colours: chart looks empty", len(colours))
			}
			// The first data colour must be drawn (a series line, bar or dark cell).
			if _, isHeat := r.(*HeatmapChart); !isHeat {
				if n := countNear(img, paletteColor(0), 12); n < 40 {
					t.Errorf("only %d pixels of the first series colour", n)
				}
			}
		})
	}
	if img := decodePNG(t, Line().Size(800, 300).Values("a", []float64{1, 2})); img.Bounds().Dx() != 800 || img.Bounds().Dy() != 300 {
		t.Errorf("Size(800,300) gave %v", img.Bounds())
	}
}

func TestHeatmapCellColoursFollowValues(t *testing.T) {
	// Values 0, 50, 100: cells must be filled with the colour map at 0, 0.5 and 1.
	h := Heatmap([][]float64{{0, 50}, {100, 0}}).Format("%.0f").HideColorBar()
	img := decodePNG(t, h)
	lowN, midN, highN := countNear(img, heatColor(0), 0), countNear(img, heatColor(0.5), 0), countNear(img, heatColor(1), 0)
	if midN < 2000 || highN < 2000 || lowN < 2*2000 {
		t.Errorf("cell colour pixels: low %d, mid %d, high %d; want each cell filled with its value's colour", lowN, midN, highN)
	}
	lum := func(c color.RGBA) int { return int(c.R) + int(c.G) + int(c.B) }
	if !(lum(heatColor(0)) > lum(heatColor(0.5)) && lum(heatColor(0.5)) > lum(heatColor(1))) {
		t.Errorf("colour map is not monotonic")
	}
	// Changing one value changes the image.
	a, _ := Heatmap([][]float64{{1, 2}, {3, 4}}).PNG()
	b, _ := Heatmap([][]float64{{1, 2}, {3, 1}}).PNG()
	if bytes.Equal(a, b) {
		t.Errorf("different values gave the same PNG")
	}
	// Bad input is an error, not a panic.
	if _, err := Heatmap([][]float64{{1, 2}, {3}}).PNG(); err == nil {
		t.Errorf("ragged matrix: want an error")
	}
	if _, err := ConfusionMatrix([]string{"a"}, [][]int{{1, 2}, {3, 4}}).PNG(); err == nil {
		t.Errorf("label count mismatch: want an error")
	}
	if _, err := Line().Series("x", []float64{1, 2}, []float64{1}).PNG(); err == nil {
		t.Errorf("x/y length mismatch: want an error")
	}
	if _, err := Bars().Categories("a", "b").Group("g", 1).PNG(); err == nil {
		t.Errorf("bar values/categories mismatch: want an error")
	}
}

func TestEchartsInlinedOncePerOutput(t *testing.T) {
	lib := echartsJS[len(echartsJS)/2 : len(echartsJS)/2+80]
	a := ConfusionMatrix([]string{"x", "y"}, [][]int{{3, 1}, {0, 4}}).Interactive()
	b := ROC().Series("m", []float64{0, 0.2, 1}, []float64{0, 0.8, 1}).Interactive()
	c := Bars().Categories("acc").Group("m", 0.9).Interactive()
	for name, out := range map[string]string{"single": a.HTML(), "row": Row(a, b, c).HTML(),
		"nested": Column(Row(a, b), Table("x").Row(1), Row(c, Line().Values("s", []float64{1, 2}))).HTML()} {
		if n := strings.Count(out, lib); n != 1 {
			t.Errorf("%s: library inlined %d times, want 1", name, n)
		}
		if !strings.Contains(out, echartsGuardOpen) || !strings.Contains(out, echartsGuardClose) {
			t.Errorf("%s: window.define guard missing", name)
		}
		if !strings.Contains(out, "window.define=undefined") {
			t.Errorf("%s: define not hidden", name)
		}
	}
	out := Row(a, b, c).HTML()
	ids := regexp.MustCompile(`<div id="(mlkv-chart-[^"]+)" class="mlkv-chart"`).FindAllStringSubmatch(out, -1)
	seen := map[string]bool{}
	for _, m := range ids {
		seen[m[1]] = true
	}
	if len(ids) != 3 || len(seen) != 3 {
		t.Errorf("want 3 charts with distinct ids, got %d ids (%d distinct)", len(ids), len(seen))
	}
	// A second output inlines it again (each output must open on its own).
	if n := strings.Count(a.HTML()+b.HTML(), lib); n != 2 {
		t.Errorf("two outputs: library inlined %d times, want 2", n)
	}
	// Static charts never carry the library.
	if strings.Contains(Row(ROC(), PR()).HTML(), lib) {
		t.Errorf("static charts inlined echarts")
	}
	if !strings.HasPrefix(echartsJS, "\n/*\n* Licensed to the Apache Software Foundation") && !strings.Contains(echartsJS[:400], "Licensed to the Apache Software Foundation") {
		t.Errorf("echarts licence header missing")
	}
}

func TestFileOutput(t *testing.T) {
	dir := t.TempDir()
	SetOutputDir(dir)
	SetFileOutput(true)
	var log bytes.Buffer
	SetLog(&log)
	t.Cleanup(func() { SetOutputDir(""); SetFileOutput(false); SetLog(os.Stderr) })

	chartPath, err := Line().Title("Loss / epoch").Values("train", []float64{3, 2, 1}).Show()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(chartPath) != dir || !strings.HasSuffix(chartPath, "-loss-epoch.png") {
		t.Errorf("chart written to %q", chartPath)
	}
	data, err := os.ReadFile(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Errorf("written chart is not a PNG: %v", err)
	}
	tablePath, err := Table("model", "accuracy").Row("linear", 0.93).Title("Results").Show()
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(tablePath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(tablePath, ".html") || !strings.HasPrefix(string(page), "<!DOCTYPE html>") || !strings.Contains(string(page), "0.9300") {
		t.Errorf("table file %q:\n%s", tablePath, page)
	}
	if !strings.Contains(log.String(), tablePath) || !strings.Contains(log.String(), "linear    0.9300") {
		t.Errorf("log does not report the table and its path:\n%s", log.String())
	}
	interactivePath, err := Bars().Categories("a").Group("g", 1).Interactive().Show()
	if err != nil || !strings.HasSuffix(interactivePath, ".html") {
		t.Errorf("interactive chart written to %q (%v), want an .html file", interactivePath, err)
	}
	rowPath, err := Row(ROC(), PR()).Show()
	if err != nil || !strings.HasSuffix(rowPath, ".png") {
		t.Errorf("row of static charts written to %q (%v), want one .png", rowPath, err)
	}
	if img, err := png.Decode(bytes.NewReader(mustRead(t, rowPath))); err == nil && img.Bounds().Dx() != 2*DefaultChartWidth+12 {
		t.Errorf("row PNG is %d wide, want two charts and a gap", img.Bounds().Dx())
	}
	for _, ext := range []string{".md", ".txt"} {
		p := filepath.Join(dir, "t"+ext)
		if err := Save(Table("a").Row(1), p); err != nil {
			t.Errorf("Save %s: %v", ext, err)
		}
	}
	if err := Save(ROC(), filepath.Join(dir, "x.md")); err == nil {
		t.Errorf("saving a chart as Markdown: want an error")
	}
	if err := Save(ROC(), filepath.Join(dir, "x.gif")); err == nil {
		t.Errorf("unknown extension: want an error")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTableText(t *testing.T) {
	tb := Table("model", "accuracy", "images").
		Row("linear probe", 0.93, 700).
		Row("CNN", 0.7123456, 12).
		Format(1, "%.3f").HighlightRow(0)
	want := "" +
		"  model         accuracy  images\n" +
		"  ------------  --------  ------\n" +
		"* linear probe     0.930     700\n" +
		"  CNN              0.712      12"
	if got := tb.Text(); got != want {
		t.Errorf("Text():\n%s\nwant:\n%s", got, want)
	}
	md := tb.Markdown()
	if !strings.Contains(md, "| model | accuracy | images |\n| --- | ---: | ---: |") || !strings.Contains(md, "**0.930**") {
		t.Errorf("Markdown():\n%s", md)
	}
	if !strings.Contains(tb.HTML(), `padding:3px 8px;text-align:right;background:#fff3b0;font-weight:bold">0.930</td>`) ||
		!strings.Contains(tb.HTML(), `padding:3px 8px;text-align:right">0.712</td>`) ||
		!strings.Contains(tb.HTML(), `padding:3px 8px;text-align:left">CNN</td>`) { // JupyterLab right-aligns cells otherwise
		t.Errorf("HTML() lacks highlight or numeric alignment:\n%s", tb.HTML())
	}
}

// TestHeatmapTooltipsNameBothClasses checks the interactive heatmap's per-cell tooltips ("actual X,
// predicted Y: n (share of the row)"), escaped for ECharts' HTML tooltip, and that cell labels use the
// chart's format (two decimals for probabilities) rather than the raw number.
func TestHeatmapTooltipsNameBothClasses(t *testing.T) {
	cm := ConfusionMatrix([]string{"cat", "<b>{a}</b>"}, [][]int{{3, 1}, {0, 4}})
	opt := cm.echartsOption()
	data := opt["series"].([]any)[0].(map[string]any)["data"].([]any)
	tips := map[string]bool{}
	for _, d := range data {
		tips[d.(map[string]any)["tooltip"].(map[string]any)["formatter"].(string)] = true
	}
	for _, want := range []string{"actual cat, predicted cat: 3 (0.75 of actual cat)", "actual cat, predicted &lt;b&gt;&#123;a&#125;&lt;/b&gt;: 1 (0.25 of actual cat)",
		"actual &lt;b&gt;&#123;a&#125;&lt;/b&gt;, predicted &lt;b&gt;&#123;a&#125;&lt;/b&gt;: 4 (1.00 of actual &lt;b&gt;&#123;a&#125;&lt;/b&gt;)"} {
		if !tips[want] {
			t.Errorf("no tooltip %q in %v", want, tips)
		}
	}
	p := Heatmap([][]float64{{0.5, 0.25}}).Format("%.2f").RowLabels("dog").ColLabels("cat", "dog").YLabel("Actual").XLabel("Predicted")
	d0 := p.echartsOption()["series"].([]any)[0].(map[string]any)["data"].([]any)[0].(map[string]any)
	if v := d0["value"].([]any); v[3] != "0.50" || d0["tooltip"].(map[string]any)["formatter"] != "actual dog, predicted cat: 0.50" {
		t.Errorf("probability cell: value %v, tooltip %v", v, d0["tooltip"])
	}
}
