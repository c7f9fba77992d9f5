package view

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var setOptionRe = regexp.MustCompile(`chart\.setOption\((.*?)\);\}if\(window\.echarts\)`)

// TestEchartsRunsUnderNode loads the emitted library script in a Node.js VM whose global has a
// RequireJS-style define (as in the classic notebook), checks that window.echarts appears and define is
// untouched, then renders every emitted chart option with ECharts' server-side SVG renderer and checks
// that the titles and labels come out (heatmap cells with the PNG's two decimals). Skipped when node is not installed.
func TestEchartsRunsUnderNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH: skipping the ECharts execution check")
	}
	labels := []string{"butterfly", "dog", "elephant"}
	out := Row(
		ConfusionMatrix(labels, [][]int{{5, 1, 0}, {0, 6, 1}, {1, 0, 7}}).Title("CM </script> test").Interactive(),
		ROC().Series("model A", []float64{0, 0.1, 1}, []float64{0, 0.7, 1}).Interactive(),
		Bars().Title("Comparison").Categories("accuracy", "F1").Group("linear", 0.9, 0.88).Group("cnn", 0.7, 0.69).Interactive(),
		Line().Title("Loss").Values("train", []float64{1, 0.5, 0.25}).Values("validation", []float64{1.1, 0.7, 0.6}).Dashed().Interactive(),
		Heatmap([][]float64{{0.5, 0.25}, {0.125, 0.875}}).Format("%.2f").Title("Mean probability").Interactive(),
	).HTML()
	scripts := scriptRe.FindAllString(out, -1)
	if len(scripts) != 6 {
		t.Fatalf("got %d <script> elements, want 1 library + 5 charts", len(scripts))
	}
	lib := strings.TrimSuffix(strings.TrimPrefix(scripts[0], "<script>"), "</script>")
	var options []string
	for _, m := range setOptionRe.FindAllStringSubmatch(out, -1) {
		options = append(options, m[1])
	}
	if len(options) != 5 {
		t.Fatalf("found %d setOption calls, want 5", len(options))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lib.js"), []byte(lib), 0o644); err != nil {
		t.Fatal(err)
	}
	js := `try {
const vm = require("vm"), fs = require("fs");
const ctx = {console, setTimeout, clearTimeout, setInterval, clearInterval};
ctx.window = ctx; ctx.self = ctx;
let defineCalls = 0;
ctx.define = function() { defineCalls++; }; ctx.define.amd = {jQuery: true};
const amdDefine = ctx.define;
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[2], "utf8"), ctx);
if (!ctx.echarts || typeof ctx.echarts.init !== "function") throw new Error("window.echarts not set");
if (defineCalls !== 0) throw new Error("the bundle called define()");
if (ctx.define !== amdDefine) throw new Error("window.define not restored");
const options = [` + strings.Join(options, ",\n") + `];
for (const o of options) {
  const c = ctx.echarts.init(null, null, {renderer: "svg", ssr: true, width: 600, height: 450});
  c.setOption(o);
  console.log(c.renderToSVGString());
  c.dispose();
}
} catch (e) {
  console.error("ERROR:", String(e && e.stack || e).slice(0, 1500));
  process.exit(1);
}
`
	script := filepath.Join(dir, "check.js")
	if err := os.WriteFile(script, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(node, script, filepath.Join(dir, "lib.js")).CombinedOutput()
	if err != nil {
		tail := string(res)
		if len(tail) > 1500 {
			tail = tail[len(tail)-1500:]
		}
		t.Fatalf("node: %v\n...%s", err, tail)
	}
	svg := string(res)
	for _, want := range []string{"CM &lt;/script&gt; test", "butterfly", "elephant", "True positive rate", "Comparison", "accuracy", "validation", "Loss", ">0.50<", ">0.25<", ">0.12<", ">0.88<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("rendered SVG lacks %q", want)
		}
	}
}

// TestChartScriptWaitsForLibrary runs the glue scripts of a page of charts in Node.js with a stand-in
// DOM and a stand-in echarts, in the order JupyterLab may render outputs: a chart whose output comes
// before the library keeps its PNG and hint and is queued; the library script draws it when it loads,
// replacing the image and removing the hint; a chart rendered after the library draws at once; and a
// second copy of the library does not run the bundle again. Skipped when node is not installed.
func TestChartScriptWaitsForLibrary(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH: skipping the chart script check")
	}
	rc := &renderCtx{echartsInlined: true} // the library is sent separately below
	first := Line().Values("loss", []float64{1, 0.5}).Interactive().renderHTML(rc)
	second := Bars().Categories("acc").Group("m", 0.9).Interactive().renderHTML(rc)
	chartScript := func(out string) (id, js string) {
		m := regexp.MustCompile(`<div id="([^"]+)" class="mlkv-chart"`).FindStringSubmatch(out)
		s := scriptRe.FindAllString(out, -1)
		if m == nil || len(s) != 1 {
			t.Fatalf("want one chart div and one script in %.300s", out)
		}
		return m[1], strings.TrimSuffix(strings.TrimPrefix(s[0], "<script>"), "</script>")
	}
	id1, js1 := chartScript(first)
	id2, js2 := chartScript(second)
	stubLib := echartsGuardOpen + `window.echarts={loads:(window.loads||0)+1,init:function(el){return {setOption:function(o){el.drawn=o;}};}};window.loads=window.echarts.loads;` + echartsGuardClose
	js := `const vm = require("vm");
const els = {};
function mk(id) { const e = {id, innerHTML: "<img>", parentNode: null}; els[id] = e; return e; }
const body = {removeChild(e) { delete els[e.id]; }};
for (const id of [` + strconvQuote(id1) + `, ` + strconvQuote(id2) + `]) { mk(id).parentNode = body; mk(id + "-hint").parentNode = body; }
const ctx = {console, document: {getElementById: id => els[id] || null}};
ctx.window = ctx;
vm.createContext(ctx);
const run = s => vm.runInContext(s, ctx);
const id1 = ` + strconvQuote(id1) + `, id2 = ` + strconvQuote(id2) + `;
run(` + strconvQuote(js1) + `);
if (els[id1].drawn || els[id1].innerHTML !== "<img>" || !els[id1 + "-hint"]) throw new Error("drawn before the library loaded");
if ((ctx.mlkvEchartsQueue || []).length !== 1) throw new Error("chart not queued");
run(` + strconvQuote(stubLib) + `);
if (!els[id1].drawn || els[id1].innerHTML !== "" || els[id1 + "-hint"]) throw new Error("queued chart not drawn by the library");
run(` + strconvQuote(js2) + `);
if (!els[id2].drawn || els[id2 + "-hint"]) throw new Error("chart after the library not drawn");
run(` + strconvQuote(stubLib) + `);
if (ctx.loads !== 1) throw new Error("library evaluated " + ctx.loads + " times");
console.log("ok");
`
	dir := t.TempDir()
	script := filepath.Join(dir, "glue.js")
	if err := os.WriteFile(script, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := exec.Command(node, script).CombinedOutput(); err != nil || !strings.Contains(string(res), "ok") {
		t.Fatalf("node: %v\n%s", err, res)
	}
}

// strconvQuote quotes s as a JavaScript string literal (JSON).
func strconvQuote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
