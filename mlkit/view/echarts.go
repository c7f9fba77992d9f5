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
// window.echarts.
const (
	echartsGuardOpen  = "if(!window.echarts){(function(){var mlkvDefine=window.define;window.define=undefined;try{\n"
	echartsGuardClose = "\n}finally{window.define=mlkvDefine;}}).call(window);}"
)

// echartsLibrary returns the <script> that loads echarts, the first time it is asked for in one output.
func (rc *renderCtx) echartsLibrary() string {
	if rc.echartsInlined {
		return ""
	}
	rc.echartsInlined = true
	var b strings.Builder
	b.Grow(len(echartsJS) + 512)
	b.WriteString("<script>/* mlkit/view: Apache ECharts " + EchartsVersion + " (Apache-2.0), inlined for offline use */\n")
	b.WriteString(echartsGuardOpen)
	b.WriteString(echartsJS)
	b.WriteString(echartsGuardClose)
	b.WriteString("</script>\n")
	return b.String()
}

// echartsHTML returns the HTML of one interactive chart: the library (once per output), a div with a
// unique id and the script that draws option into it. The option is JSON-encoded, which escapes <, >
// and & so that user strings cannot close the script element.
func echartsHTML(rc *renderCtx, option map[string]any, w, h int) string {
	opt, err := json.Marshal(option)
	if err != nil {
		return errorHTML(fmt.Errorf("encoding echarts option: %w", err))
	}
	id := uniqueID("chart")
	var b strings.Builder
	b.WriteString(rc.echartsLibrary())
	fmt.Fprintf(&b, `<div id="%s" style="width:%dpx;height:%dpx"></div>`+"\n", id, w, h)
	fmt.Fprintf(&b, `<script>(function(){var el=document.getElementById(%q);if(!el||!window.echarts){return;}`+
		`var chart=window.echarts.init(el);chart.setOption(%s);})();</script>`+"\n", id, opt)
	return b.String()
}

// errorHTML renders an error as an escaped, visible message.
func errorHTML(err error) string {
	return `<div class="mlkv-err" style="color:#b00020;font:12px monospace">view: ` + esc(err.Error()) + `</div>`
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
