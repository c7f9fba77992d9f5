package view

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

// echartsJS is Apache ECharts (Apache-2.0, see assets/README.md), inlined into HTML outputs so that
// interactive charts work offline.
//
//go:embed assets/echarts.min.js
var echartsJS string

// EchartsVersion is the version of the embedded Apache ECharts library.
const EchartsVersion = "5.6.0"

// echartsGuardOpen and echartsGuardClose wrap the library: it is evaluated only if window.echarts is
// not there yet, with window.define hidden while it loads, since under RequireJS (classic notebook,
// nbconvert HTML) the UMD bundle would register itself as an AMD module instead of setting
// window.echarts. Afterwards it draws the charts that were queued on window.mlkvEchartsQueue because
// they were rendered before the library (JupyterLab may render outputs out of page order).
const (
	echartsGuardOpen  = "if(!window.echarts){(function(){var mlkvDefine=window.define;window.define=undefined;try{\n"
	echartsGuardClose = "\n}finally{window.define=mlkvDefine;}}).call(window);}\n" +
		"(function(){var q=window.mlkvEchartsQueue||[];window.mlkvEchartsQueue=[];" +
		"while(q.length){var f=q.shift();try{f();}catch(e){console.error(e);}}})();"
)

// TrustHint is the line shown under an interactive chart's static image while scripts do not run
// (an untrusted notebook, a viewer that strips scripts); the chart's script removes it when it draws.
const TrustHint = "Static image: trust this notebook (JupyterLab: Command Palette › Trust Notebook) for interactive charts."

// echartsLibrary returns the <script> that loads echarts, the first time it is asked for in one output
// (or one notebook page, see Show).
func (rc *renderCtx) echartsLibrary() string {
	if rc.echartsInlined {
		return ""
	}
	rc.echartsInlined = true
	var b strings.Builder
	b.Grow(len(echartsJS) + 1024)
	b.WriteString("<script>/* mlkit/view: Apache ECharts " + EchartsVersion + " (Apache-2.0), inlined for offline use */\n")
	b.WriteString(echartsGuardOpen)
	b.WriteString(echartsJS)
	b.WriteString(echartsGuardClose)
	b.WriteString("</script>\n")
	return b.String()
}

// echartsHTML returns the HTML of one interactive chart: the library (once per output or page), a div
// with a unique id holding the chart's PNG (drawn by fallback) and, under it, TrustHint; then the
// script that replaces the image with the echarts chart of option and removes the hint. Where scripts
// do not run, the image and the hint stay. If the library has not loaded yet the script queues the
// drawing for it. The option is JSON-encoded, which escapes <, > and & so that user strings cannot
// close the script element.
func echartsHTML(rc *renderCtx, option map[string]any, w, h int, fallback func() ([]byte, error), alt string) string {
	opt, err := json.Marshal(option)
	if err != nil {
		return errorHTML(fmt.Errorf("encoding echarts option: %w", err))
	}
	img, err := fallback()
	if err != nil {
		return errorHTML(fmt.Errorf("drawing the static image of an interactive chart: %w", err))
	}
	id := uniqueID("chart")
	var b strings.Builder
	b.WriteString(rc.echartsLibrary())
	fmt.Fprintf(&b, `<div id="%s" class="mlkv-chart" style="width:%dpx;height:%dpx">%s</div>`+"\n", id, w, h, pngImgTag(img, w, h, alt))
	fmt.Fprintf(&b, `<div id="%s-hint" class="mlkv-hint" style="font:11px sans-serif;color:#777777;margin:2px 0 0 0">%s</div>`+"\n", id, esc(TrustHint))
	fmt.Fprintf(&b, `<script>(function(){var id=%q;function draw(){var el=document.getElementById(id);if(!el||!window.echarts){return;}`+
		`el.innerHTML="";var hint=document.getElementById(id+"-hint");if(hint){hint.parentNode.removeChild(hint);}`+
		`var chart=window.echarts.init(el);chart.setOption(%s);}`+
		`if(window.echarts){draw();}else{(window.mlkvEchartsQueue=window.mlkvEchartsQueue||[]).push(draw);}})();</script>`+"\n", id, opt)
	return b.String()
}

// errorHTML renders an error as an escaped, visible message.
func errorHTML(err error) string {
	return `<div class="mlkv-err" style="` + styErr + `">view: ` + esc(err.Error()) + `</div>`
}

// echartsBase returns the option parts common to every chart: title, palette, toolbox.
func echartsBase(title string) map[string]any {
	opt := map[string]any{
		"color":     palette,
		"animation": false,
		"toolbox":   map[string]any{"feature": map[string]any{"saveAsImage": map[string]any{}, "dataZoom": map[string]any{}, "restore": map[string]any{}}},
	}
	if title != "" {
		opt["title"] = map[string]any{"text": title, "left": "center", "textStyle": map[string]any{"fontSize": 15}}
	}
	return opt
}
