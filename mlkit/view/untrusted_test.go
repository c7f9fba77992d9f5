package view

import (
	"bytes"
	"encoding/base64"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// viewKinds returns one of every HTML output this package emits.
func viewKinds() map[string]Renderable {
	labels := []string{"butterfly", "dog", "elephant"}
	counts := [][]int{{5, 1, 0}, {0, 6, 1}, {1, 0, 7}}
	g := Gallery().Title("Top losses").Columns(8).
		Add(Item{Picture: solidImage(40, 30, color.RGBA{200, 10, 10, 255}), Caption: "n02084071_1234.jpg", Label: "dog", Score: 0.931, Badge: "#1", Color: ColorWrong}).
		Add(Item{Picture: solidImage(30, 40, color.RGBA{10, 200, 10, 255}), Caption: "horse_0001.jpg", Label: "horse", Score: 0.5, Badge: "✓", Color: ColorCorrect}).
		Add(Item{Image: "/does/not/exist.jpg", Caption: "missing"})
	tb := Table("model", "accuracy").Title("Models").Caption("best in bold").Row("linear", 0.93).Row("cnn", 0.71).HighlightRow(0).HighlightCell(1, 1)
	return map[string]Renderable{
		"gallery":                     g,
		"table":                       tb,
		"row":                         Row(tb, ConfusionMatrix(labels, counts)).Title("side by side"),
		"column":                      Column(tb, ROC().Series("m", []float64{0, 0.2, 1}, []float64{0, 0.8, 1})).Title("stacked"),
		"static charts":               Row(ConfusionMatrix(labels, counts), Bars().Categories("acc").Group("m", 0.9), Line().Values("loss", []float64{1, 0.5})),
		"interactive charts":          Row(ConfusionMatrix(labels, counts).Interactive(), Bars().Categories("acc").Group("m", 0.9).Interactive(), Line().Values("loss", []float64{1, 0.5}).Interactive()),
		"chart error":                 Line().Size(1, 1),
		"interactive heatmap":         Heatmap([][]float64{{0.1, 0.9}, {0.5, 0.5}}).RowLabels("a", "b").ColLabels("a", "b").Interactive(),
		"interactive confusion cells": cellsView(),
		"interactive gallery details": detailsGallery(),
	}
}

// TestUntrustedRenderingKeepsEveryStyle renders each view kind and passes it through JupyterLab's
// sanitizer rules (an untrusted notebook): no <style> block may be needed and no tag, attribute or CSS
// declaration of ours may be dropped, so what an untrusted notebook shows is what was meant, minus the
// chart scripts. The progress line is checked too. With $MLKIT_VIEW_UNTRUSTED_DIR set, it writes each
// sanitized output there as a 900-px wide HTML page, to look at in a browser.
func TestUntrustedRenderingKeepsEveryStyle(t *testing.T) {
	outputs := map[string]string{}
	for name, r := range viewKinds() {
		outputs[name] = r.HTML()
	}
	p := NewProgress(10).Title("training").Writer(&bytes.Buffer{})
	p.Set(3)
	p.mu.Lock()
	outputs["progress"] = p.htmlLocked("3/10 epochs")
	p.mu.Unlock()
	for name, out := range outputs {
		if strings.Contains(out, "<style") {
			t.Errorf("%s: emits a <style> block, which an untrusted notebook drops", name)
		}
		u := sanitizeLikeJupyterLab(out)
		if dir := os.Getenv("MLKIT_VIEW_UNTRUSTED_DIR"); dir != "" {
			// For a look in a browser: the page as an untrusted notebook shows it.
			path := filepath.Join(dir, slug(name)+".html")
			if err := os.WriteFile(path, []byte(Page(name+" (untrusted)", `<div style="width:900px">`+u.html+`</div>`)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range u.removed {
			t.Errorf("%s: the untrusted sanitizer drops %s", name, r)
		}
		if u.scripts > 0 && !strings.Contains(name, "interactive") {
			t.Errorf("%s: has %d scripts", name, u.scripts)
		}
	}
}

// TestUntrustedGalleryLayout checks the gallery an untrusted notebook shows: wrapping inline-block cells
// of the thumbnail's width (so 8 columns of 128 px fit a 900-px output area as 6), coloured borders,
// badges in the corner of their cell, the images, full captions that wrap, and the caption with the
// score line as hover text rather than the file path.
func TestUntrustedGalleryLayout(t *testing.T) {
	u := sanitizeLikeJupyterLab(viewKinds()["gallery"].HTML())
	var cells, badges, imgs int
	var gallery *element
	els := elements(u.html)
	for i, e := range els {
		switch e.attrs["class"] {
		case "mlkv-gallery":
			gallery = &els[i]
		case "mlkv-cell":
			cells++
			if e.style["display"] != "inline-block" || e.style["width"] != "140px" || e.style["position"] != "relative" {
				t.Errorf("cell %d: want a 140-px inline-block box positioned relative, style %v", cells, e.style)
			}
			if strings.Contains(e.attrs["title"], "/") {
				t.Errorf("cell %d: hover text %q shows a path", cells, e.attrs["title"])
			}
		case "mlkv-badge":
			badges++
			if e.style["position"] != "absolute" || e.style["top"] == "" || e.style["right"] == "" || e.style["background"] == "" {
				t.Errorf("badge %d: not placed in the corner with a background: %v", badges, e.style)
			}
		case "mlkv-cap", "mlkv-sub":
			if e.style["white-space"] != "normal" || e.style["overflow-wrap"] != "break-word" || e.style["text-overflow"] != "" {
				t.Errorf("caption not wrapped in full: %v", e.style)
			}
		}
		if e.name == "img" && strings.HasPrefix(e.attrs["src"], "data:image/jpeg;base64,") {
			imgs++
		}
	}
	if cells != 3 || badges != 2 || imgs != 2 {
		t.Fatalf("got %d cells, %d badges, %d thumbnails; want 3, 2, 2:\n%.2000s", cells, badges, imgs, u.html)
	}
	if gallery == nil {
		t.Fatal("no gallery element")
	}
	maxW, _ := strconv.Atoi(strings.TrimSuffix(gallery.style["max-width"], "px"))
	if perRow := 900 / (140 + 6); maxW != 8*(140+6) || perRow != 6 {
		t.Errorf("gallery max-width %q: want at most 8 columns of 146 px, wrapping to %d in 900 px", gallery.style["max-width"], perRow)
	}
	for _, want := range []string{`border:3px solid ` + ColorWrong, `border:3px solid ` + ColorCorrect,
		`title="n02084071_1234.jpg` + "\n" + `dog · 0.931"`, ">n02084071_1234.jpg</div>", ">dog · 0.931</div>"} {
		if !strings.Contains(u.html, want) {
			t.Errorf("untrusted gallery lacks %q", want)
		}
	}
}

// TestUntrustedChartShowsImageAndHint checks that an interactive chart seen untrusted (scripts removed)
// shows its PNG, of the chart's size, and the trust hint, and that its script removes both when it runs.
func TestUntrustedChartShowsImageAndHint(t *testing.T) {
	out := viewKinds()["interactive heatmap"].HTML()
	u := sanitizeLikeJupyterLab(out)
	if u.scripts != 2 {
		t.Errorf("want the library and one chart script, got %d scripts", u.scripts)
	}
	var found bool
	for _, e := range elements(u.html) {
		src, ok := strings.CutPrefix(e.attrs["src"], "data:image/png;base64,")
		if e.name != "img" || !ok {
			continue
		}
		data, err := base64.StdEncoding.DecodeString(src)
		if err != nil {
			t.Fatalf("fallback image: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("fallback image: %v", err)
		}
		if b := img.Bounds(); b.Dx() != DefaultChartWidth || b.Dy() != DefaultChartHeight || e.attrs["width"] != strconv.Itoa(DefaultChartWidth) {
			t.Errorf("fallback image is %v, width attribute %q; want %dx%d", b, e.attrs["width"], DefaultChartWidth, DefaultChartHeight)
		}
		found = true
	}
	if !found {
		t.Fatalf("untrusted chart shows no PNG:\n%.1000s", u.html)
	}
	if !strings.Contains(u.html, TrustHint) || !strings.Contains(TrustHint, "trust this notebook") || !strings.Contains(TrustHint, "for interactive charts") {
		t.Errorf("untrusted chart lacks the trust hint")
	}
	for _, want := range []string{`el.innerHTML=""`, `getElementById(id+"-hint")`, `removeChild(hint)`} {
		if !strings.Contains(out, want) {
			t.Errorf("chart script does not replace the fallback (%s)", want)
		}
	}
}
