package view

import (
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// detailsGallery is a top-losses gallery of three items, the first two with a panel: a larger picture
// and the probabilities.
func detailsGallery() *GalleryView {
	g := Gallery().Title("top losses").ThumbSize(64)
	for i, c := range []color.RGBA{{200, 10, 10, 255}, {10, 200, 10, 255}, {10, 10, 200, 255}} {
		g.Add(Item{Picture: solidImage(40, 30, c), Caption: "img" + string(rune('a'+i)) + ".jpg", Color: ColorWrong})
	}
	for i := range 2 {
		big := Gallery().ThumbSize(200).HidePaging().Add(Item{Picture: solidImage(40, 30, color.RGBA{200, 10, 10, 255}), Caption: "big"})
		bars := Bars().Categories("cat", "dog").Group("probability", 0.9, 0.1).YRange(0, 1).Size(300, 200)
		g.Detail(i, "#"+string(rune('1'+i))+": actual dog, predicted cat 0.90", Row(big, bars))
	}
	return g
}

// TestGalleryDetailsUntrusted checks a gallery with panels as an untrusted notebook shows it: the grid,
// then one collapsed line per item with a panel, holding its larger picture and chart, nothing dropped.
func TestGalleryDetailsUntrusted(t *testing.T) {
	out := detailsGallery().HTML()
	u := sanitizeLikeJupyterLab(out)
	for _, r := range u.removed {
		t.Errorf("the untrusted sanitizer drops %s", r)
	}
	var details, jpegs, pngs int
	for _, e := range elements(u.html) {
		switch {
		case e.name == "details":
			details++
		case e.name == "img" && strings.HasPrefix(e.attrs["src"], "data:image/jpeg;base64,"):
			jpegs++
		case e.name == "img" && strings.HasPrefix(e.attrs["src"], "data:image/png;base64,"):
			pngs++
		}
	}
	if details != 2 || jpegs != 3+2 || pngs != 2 {
		t.Errorf("got %d panels, %d JPEG pictures, %d PNG charts; want 2, 5 (3 thumbnails + 2 larger), 2", details, jpegs, pngs)
	}
	// The panels are outside the gallery's box, so its max-width (the columns) does not squeeze them.
	if i, j := strings.Index(u.html, `class="mlkv-gallery"`), strings.Index(u.html, "<details"); i < 0 || j < 0 || !balancedBefore(u.html[i:j]) {
		t.Error("the panels are inside the gallery's max-width box")
	}
	for _, want := range []string{"#1: actual dog, predicted cat 0.90", "#2: actual dog, predicted cat 0.90"} {
		if !strings.Contains(u.html, want) {
			t.Errorf("untrusted gallery lacks the line %q", want)
		}
	}
	if strings.Count(u.html, "page 1 of 1") != 1 {
		t.Errorf("want the paging line of the gallery only (HidePaging on the panels' pictures), got %d", strings.Count(u.html, "page 1 of 1"))
	}
	if u.scripts != 1 {
		t.Errorf("want one script (the thumbnails' clicks), got %d", u.scripts)
	}
	if plain := Gallery().Add(Item{Picture: solidImage(4, 4, color.Black)}).HTML(); strings.Contains(plain, "<script") || strings.Contains(plain, "<details") {
		t.Error("a gallery without panels has a script or a panel")
	}
	if dir := os.Getenv("MLKIT_VIEW_UNTRUSTED_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "gallery-details.html"), []byte(Page("gallery details (untrusted)", `<div style="width:900px">`+u.html+`</div>`)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGalleryDetailsClick runs the gallery's script under node: a click on a thumbnail with a panel
// opens it, a second click closes it. Skipped without node.
func TestGalleryDetailsClick(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH: skipping the click check")
	}
	out := detailsGallery().HTML()
	m := regexp.MustCompile(`<details id="(mlkv-gallery-[0-9a-f]+-\d+)-d-0"`).FindStringSubmatch(out)
	s := scriptRe.FindAllString(out, -1)
	if m == nil || len(s) != 1 {
		t.Fatalf("want panel ids and one script in %.300s", out)
	}
	js := `const vm = require("vm");
const base = ` + strconvQuote(m[1]) + `;
const els = {};
for (const k of ["-c-0", "-d-0", "-c-1", "-d-1"]) els[base + k] = {open: false, scrollIntoView(){}};
const ctx = {console, document: {getElementById: id => els[id] || null}};
vm.createContext(ctx);
vm.runInContext(` + strconvQuote(strings.TrimSuffix(strings.TrimPrefix(s[0], "<script>"), "</script>")) + `, ctx);
if (typeof els[base + "-c-1"].onclick !== "function") throw new Error("no click handler on thumbnail 1");
els[base + "-c-1"].onclick();
if (!els[base + "-d-1"].open || els[base + "-d-0"].open) throw new Error("the click did not open panel 1 alone");
els[base + "-c-1"].onclick();
if (els[base + "-d-1"].open) throw new Error("a second click did not close panel 1");
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

// balancedBefore reports whether html, from a <div start tag on, closes that div (the divs it opens are
// all closed).
func balancedBefore(html string) bool {
	return strings.Count(html, "<div") <= strings.Count(html, "</div>")
}
