package view

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// chromiumPath finds a Chromium that runs headless: $MLKIT_CHROMIUM, else chromium, chromium-browser,
// google-chrome or chrome on PATH. It skips the test, saying so, where there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MLKIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (apt-get install chromium, or set $MLKIT_CHROMIUM): the real-browser rendering check did not run")
	return ""
}

// browserPage is the harness around the outputs under test: each in a 900-px wide box (JupyterLab's output
// area with the file browser open), then a script of the harness's own (not the outputs') that measures
// the laid-out page, clicks what a person would click, and writes its findings as JSON into #mlkit-result,
// which `chromium --dump-dom` prints.
const browserHarness = `<pre id="mlkit-result"></pre>
<script>
window.addEventListener("load", function () { setTimeout(function () {
  function visible(e) { var r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }
  var out = [];
  document.querySelectorAll("section[data-kind]").forEach(function (sec) {
    var r = {kind: sec.dataset.kind, scrollWidth: sec.scrollWidth, images: 0, broken: 0, shown: 0,
      cells: 0, rows: 0, perRow: 0, borders: [], badgesInside: 0, badges: 0, capsClipped: 0,
      charts: 0, chartImages: 0, chartCanvases: 0, hints: 0, cellBoxes: 0, boxesOpened: 0,
      detailLines: 0, detailImagesAfterOpen: 0, detailImages: 0, galleryClicksOpened: 0, galleryClickables: 0};
    sec.querySelectorAll("img").forEach(function (img) {
      r.images++;
      if (!(img.complete && img.naturalWidth > 0)) { r.broken++; }
      if (visible(img)) { r.shown++; }
    });
    var tops = {};
    sec.querySelectorAll(".mlkv-cell").forEach(function (c) {
      if (!visible(c)) { return; }
      r.cells++;
      var top = Math.round(c.getBoundingClientRect().top);
      tops[top] = (tops[top] || 0) + 1;
      r.borders.push(getComputedStyle(c).borderTopColor + " " + getComputedStyle(c).borderTopWidth);
      c.querySelectorAll(".mlkv-badge").forEach(function (b) {
        r.badges++;
        var cb = c.getBoundingClientRect(), bb = b.getBoundingClientRect();
        if (getComputedStyle(b).position === "absolute" && bb.left >= cb.left && bb.right <= cb.right && bb.top >= cb.top && bb.bottom <= cb.bottom) { r.badgesInside++; }
      });
      c.querySelectorAll(".mlkv-cap,.mlkv-sub").forEach(function (cap) {
        if (cap.scrollWidth > cap.clientWidth + 1) { r.capsClipped++; }
      });
    });
    for (var k in tops) { r.rows++; r.perRow = Math.max(r.perRow, tops[k]); }
    sec.querySelectorAll(".mlkv-chart").forEach(function (ch) {
      r.charts++;
      var img = ch.querySelector("img");
      if (img && visible(img) && img.naturalWidth > 0) { r.chartImages++; }
      if (ch.querySelector("canvas,svg")) { r.chartCanvases++; }
      var hint = document.getElementById(ch.id + "-hint");
      if (hint && visible(hint)) { r.hints++; }
    });
    // Every non-empty confusion cell, clicked as a person would (scripts run only when trusted).
    sec.querySelectorAll(".mlkv-cell-box").forEach(function (box) {
      if (box.style.cursor !== "pointer") { return; }
      r.cellBoxes++;
      box.click();
      var d = document.getElementById(box.id.replace("-o-", "-"));
      if (d && d.open) { r.boxesOpened++; }
    });
    sec.querySelectorAll("[id*='-c-']").forEach(function (c) {
      var d = document.getElementById(c.id.replace("-c-", "-d-"));
      if (!d || d.tagName !== "DETAILS") { return; }
      r.galleryClickables++;
      var was = d.open;
      c.click();
      if (d.open && !was) { r.galleryClicksOpened++; }
    });
    // Then every <details> line opened by its summary, which works in any viewer.
    sec.querySelectorAll("details").forEach(function (d) {
      r.detailLines++;
      if (!d.open) { d.querySelector("summary").click(); }
    });
    sec.querySelectorAll("details").forEach(function (d) {
      d.querySelectorAll(":scope > div img, :scope > div div img").forEach(function (img) {
        r.detailImages++;
        if (visible(img) && img.naturalWidth > 0) { r.detailImagesAfterOpen++; }
      });
    });
    out.push(r);
  });
  document.getElementById("mlkit-result").textContent = JSON.stringify(out);
}, 500); });
</script>`

// browserResult is what the harness measured for one output.
type browserResult struct {
	Kind                  string   `json:"kind"`
	ScrollWidth           int      `json:"scrollWidth"`
	Images                int      `json:"images"`
	Broken                int      `json:"broken"`
	Shown                 int      `json:"shown"`
	Cells                 int      `json:"cells"`
	Rows                  int      `json:"rows"`
	PerRow                int      `json:"perRow"`
	Borders               []string `json:"borders"`
	Badges                int      `json:"badges"`
	BadgesInside          int      `json:"badgesInside"`
	CapsClipped           int      `json:"capsClipped"`
	Charts                int      `json:"charts"`
	ChartImages           int      `json:"chartImages"`
	ChartCanvases         int      `json:"chartCanvases"`
	Hints                 int      `json:"hints"`
	CellBoxes             int      `json:"cellBoxes"`
	BoxesOpened           int      `json:"boxesOpened"`
	DetailLines           int      `json:"detailLines"`
	DetailImages          int      `json:"detailImages"`
	DetailImagesAfterOpen int      `json:"detailImagesAfterOpen"`
	GalleryClickables     int      `json:"galleryClickables"`
	GalleryClicksOpened   int      `json:"galleryClicksOpened"`
}

var resultRE = regexp.MustCompile(`(?s)<pre id="mlkit-result">(.*?)</pre>`)

// renderInChromium lays the outputs out in headless Chromium, each in a 900-px box, and returns what the
// harness measured, by output name.
func renderInChromium(t *testing.T, chromium string, outputs map[string]string) map[string]browserResult {
	t.Helper()
	names := make([]string, 0, len(outputs))
	for n := range outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	var body strings.Builder
	for _, n := range names {
		fmt.Fprintf(&body, "<section data-kind=\"%s\" style=\"width:900px;margin:0 0 24px 0\">%s</section>\n", html.EscapeString(n), outputs[n])
	}
	body.WriteString(browserHarness)
	dir := t.TempDir()
	page := filepath.Join(dir, "page.html")
	if err := os.WriteFile(page, []byte(Page("mlkit views in Chromium", body.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size=1000,900", "--virtual-time-budget=10000", "--dump-dom", "file://"+page)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --dump-dom: %v\n%s", chromium, err, tail(stderr.String(), 2000))
	}
	m := resultRE.FindSubmatch(dom)
	if m == nil || len(m[1]) == 0 {
		t.Fatalf("the harness wrote no result (did the page load?); stderr:\n%s", tail(stderr.String(), 2000))
	}
	var results []browserResult
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &results); err != nil {
		t.Fatalf("harness result: %v\n%.2000s", err, m[1])
	}
	byName := map[string]browserResult{}
	for _, r := range results {
		byName[r.Kind] = r
	}
	return byName
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// browserKinds is every view kind plus a long gallery of the tutorial's default 8 columns with long
// captions, which must wrap to the 900-px box.
func browserKinds() map[string]Renderable {
	kinds := viewKinds()
	g := Gallery().Title("suggestions").Columns(8)
	for i := range 20 {
		c := ColorCorrect
		if i%3 == 0 {
			c = ColorWrong
		}
		g.Add(Item{Picture: solidImage(60, 40, color.RGBA{uint8(10 * i), 100, 200, 255}), Caption: fmt.Sprintf("a_rather_long_file_name_from_a_camera_%04d.jpeg", i),
			Label: "elephant", Score: 0.5 + float64(i)/100, Badge: fmt.Sprintf("#%d", i+1), Color: c})
	}
	kinds["long gallery"] = g
	return kinds
}

// TestViewsInChromium renders every view kind in headless Chromium twice: sanitized as an untrusted
// JupyterLab notebook shows it (no <style>, no scripts), and as is (trusted, scripts run). In both, nothing
// is wider than a 900-px output area, every embedded image decodes and shows, galleries lay out as grids of
// several columns with their coloured borders, badges in their cell's corner and captions unclipped; every
// interactive chart shows its PNG and the trust hint untrusted, and draws itself trusted; every
// confusion-cell and top-loss line opens and shows its images, and trusted, a click on a matrix cell or a
// gallery item opens its line.
func TestViewsInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	trusted, untrusted := map[string]string{}, map[string]string{}
	for name, r := range browserKinds() {
		out := r.HTML()
		trusted[name] = out
		untrusted[name] = sanitizeLikeJupyterLab(out).html
	}
	for _, mode := range []struct {
		name    string
		outputs map[string]string
	}{{"untrusted", untrusted}, {"trusted", trusted}} {
		t.Run(mode.name, func(t *testing.T) {
			got := renderInChromium(t, chromium, mode.outputs)
			isTrusted := mode.name == "trusted"
			if os.Getenv("MLKIT_BROWSER_DEBUG") != "" {
				for n, r := range got {
					t.Logf("%s: %+v", n, r)
				}
			}
			for name := range mode.outputs {
				r, ok := got[name]
				if !ok {
					t.Errorf("%s: not measured", name)
					continue
				}
				if r.ScrollWidth > 901 {
					t.Errorf("%s: %d px wide, more than the 900-px output area", name, r.ScrollWidth)
				}
				if r.Broken > 0 {
					t.Errorf("%s: %d of %d images do not decode", name, r.Broken, r.Images)
				}
				if r.Badges != r.BadgesInside {
					t.Errorf("%s: %d of %d badges outside their cell's corner", name, r.Badges-r.BadgesInside, r.Badges)
				}
				if r.CapsClipped > 0 {
					t.Errorf("%s: %d captions clipped", name, r.CapsClipped)
				}
				for _, b := range r.Borders {
					if !strings.HasSuffix(b, " 3px") || strings.HasPrefix(b, "rgb(0, 0, 0)") {
						t.Errorf("%s: a gallery cell's border is %q, not its 3-px colour", name, b)
						break
					}
				}
				if r.Charts > 0 {
					if !isTrusted && (r.ChartImages != r.Charts || r.Hints != r.Charts) {
						t.Errorf("%s untrusted: %d charts, %d show their PNG, %d the trust hint", name, r.Charts, r.ChartImages, r.Hints)
					}
					if isTrusted && (r.ChartCanvases != r.Charts || r.Hints != 0) {
						t.Errorf("%s trusted: %d charts, %d drawn by their script, %d still show the hint", name, r.Charts, r.ChartCanvases, r.Hints)
					}
				}
				if r.DetailImages != r.DetailImagesAfterOpen {
					t.Errorf("%s: %d of %d images in opened lines do not show", name, r.DetailImages-r.DetailImagesAfterOpen, r.DetailImages)
				}
				if isTrusted && r.BoxesOpened != r.CellBoxes {
					t.Errorf("%s trusted: a click on %d of %d non-empty matrix cells opens nothing", name, r.CellBoxes-r.BoxesOpened, r.CellBoxes)
				}
				if isTrusted && r.GalleryClicksOpened != r.GalleryClickables {
					t.Errorf("%s trusted: a click on %d of %d gallery items with a panel opens nothing", name, r.GalleryClickables-r.GalleryClicksOpened, r.GalleryClickables)
				}
			}
			// What each kind must contain, so the checks above cannot pass on an empty page.
			lg := got["long gallery"]
			if lg.Cells != 20 || lg.PerRow < 2 || lg.PerRow > 6 || lg.Rows < 4 || lg.Shown != 20 {
				t.Errorf("long gallery: %d cells in %d rows of at most %d, %d images shown; want 20 cells, 2-6 per row in 900 px, all shown", lg.Cells, lg.Rows, lg.PerRow, lg.Shown)
			}
			if g := got["gallery"]; g.Cells != 3 || g.Badges != 2 || g.Rows != 1 {
				t.Errorf("gallery: %d cells in %d rows, %d badges; want 3 in one row, 2 badges", g.Cells, g.Rows, g.Badges)
			}
			if c := got["interactive charts"]; c.Charts != 3 {
				t.Errorf("interactive charts: %d charts measured, want 3", c.Charts)
			}
			if c := got["interactive confusion cells"]; c.CellBoxes != 4 || c.DetailLines < 3 || c.DetailImages < 4 {
				t.Errorf("confusion cells: %d clickable cells, %d lines, %d images in them; want 4 cells, 3+ lines, 4+ images", c.CellBoxes, c.DetailLines, c.DetailImages)
			}
			if d := got["interactive gallery details"]; d.GalleryClickables != 2 || d.DetailLines != 2 || d.DetailImages < 2 {
				t.Errorf("gallery details: %d clickable items, %d lines, %d images; want 2, 2, 2+", d.GalleryClickables, d.DetailLines, d.DetailImages)
			}
			if s := got["static charts"]; s.Images != 3 || s.Shown != 3 {
				t.Errorf("static charts: %d images, %d shown; want 3 PNGs", s.Images, s.Shown)
			}
		})
	}
}
