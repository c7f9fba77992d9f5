package view

import (
	"fmt"
	"regexp"
	"strings"
)

// untrusted is what an untrusted JupyterLab shows of an HTML output: the result of sanitizeLikeJupyterLab,
// and what the sanitizer removed.
type untrusted struct {
	html    string
	removed []string // <style> blocks, tags, attributes and CSS declarations that were dropped
	scripts int      // <script> elements dropped (expected for interactive charts)
}

// The allow-lists of JupyterLab 4's HTML sanitizer (@jupyterlab/apputils src/sanitizer.ts, which runs
// sanitize-html): the tags and attributes this package could emit, and for each CSS property it allows
// the value syntax it accepts. A property missing here is dropped, which is stricter than JupyterLab for
// the few allowed properties left out (none of which this package uses).
var (
	sanitizerTags = map[string]bool{
		"a": true, "b": true, "br": true, "caption": true, "code": true, "col": true, "colgroup": true,
		"details": true, "div": true, "em": true, "figcaption": true, "figure": true, "h1": true, "h2": true,
		"h3": true, "h4": true, "hr": true, "i": true, "img": true, "li": true, "ol": true, "p": true,
		"pre": true, "progress": true, "small": true, "span": true, "strong": true, "sub": true,
		"summary": true, "sup": true, "table": true, "tbody": true, "td": true, "tfoot": true, "th": true,
		"thead": true, "tr": true, "u": true, "ul": true,
	}
	sanitizerGlobalAttrs = map[string]bool{"class": true, "dir": true, "draggable": true, "hidden": true,
		"id": true, "inert": true, "itemprop": true, "itemref": true, "itemscope": true, "lang": true,
		"spellcheck": true, "style": true, "title": true, "translate": true}
	sanitizerTagAttrs = map[string]map[string]bool{
		"img":     {"align": true, "alt": true, "border": true, "height": true, "hspace": true, "ismap": true, "name": true, "src": true, "usemap": true, "vspace": true, "width": true},
		"div":     {"align": true},
		"details": {"open": true},
		"table":   {"align": true, "bgcolor": true, "border": true, "cellpadding": true, "cellspacing": true, "frame": true, "rules": true, "summary": true, "width": true},
		"td":      {"abbr": true, "align": true, "axis": true, "bgcolor": true, "char": true, "charoff": true, "colspan": true, "headers": true, "height": true, "nowrap": true, "rowspan": true, "scope": true, "valign": true, "width": true},
		"th":      {"abbr": true, "align": true, "axis": true, "bgcolor": true, "char": true, "charoff": true, "colspan": true, "headers": true, "height": true, "nowrap": true, "rowspan": true, "scope": true, "valign": true, "width": true},
		"tr":      {"align": true, "bgcolor": true, "char": true, "charoff": true, "valign": true},
	}
	sanitizerCSS = func() map[string]*regexp.Regexp {
		const (
			num     = `[+-]?([0-9]*[.])?[0-9]+(e-?[0-9]*)?`
			numPos  = `[+]?([0-9]*[.])?[0-9]+(e-?[0-9]*)?`
			units   = `(px|em|rem|ex|in|cm|mm|pt|pc)`
			length  = `(` + num + units + `|0)`
			lenPos  = `(` + numPos + units + `|0)`
			perc    = num + `%`
			percPos = numPos + `%`
			lenPerc = `(0|` + num + `(px|em|rem|ex|in|cm|mm|pt|pc|%))`
			color   = `(\#(0x)?[0-9a-f]+|rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)|black|white|red|green|blue|gray|grey|orange|yellow|purple|transparent)`
			bStyle  = `(none|hidden|dotted|dashed|solid|double|groove|ridge|inset|outset)`
			bWidth  = `(thin|medium|thick|` + length + `)`
			border  = `((` + bWidth + `|` + bStyle + `|` + color + `)\s*){1,3}`
			family  = `(serif|sans-serif|cursive|fantasy|monospace|"[^"]*"|'[^']*'|[a-z][a-z0-9 -]*)`
			fSize   = `(xx-small|x-small|small|medium|large|x-large|xx-large|smaller|larger|` + lenPos + `|` + percPos + `)`
			lineH   = `(normal|` + numPos + `|` + lenPos + `|` + percPos + `)`
			fWeight = `(normal|bold|bolder|lighter|[1-9]00)`
			fStyle  = `(normal|italic|oblique|small-caps|` + fWeight + `)`
		)
		m := map[string]string{
			"display":          `inline|block|list-item|run-in|inline-list-item|inline-block|table|inline-table|table-cell|table-caption|flex|inline-flex|grid|inline-grid|auto|none|table-row-group|table-header-group|table-footer-group|table-row|table-column-group|table-column|inherit|inline-box|inline-stack`,
			"position":         `static|relative|absolute`,
			"top":              length + `|` + perc + `|auto`,
			"right":            length + `|` + perc + `|auto`,
			"bottom":           lenPerc + `|auto`,
			"left":             lenPerc + `|auto`,
			"width":            lenPos + `|` + percPos + `|auto`,
			"height":           length + `|` + perc + `|auto`,
			"max-width":        lenPos + `|` + percPos + `|none|auto`,
			"min-width":        lenPos + `|` + percPos + `|auto`,
			"max-height":       lenPos + `|` + percPos + `|none|auto`,
			"min-height":       lenPos + `|` + percPos + `|auto`,
			"margin":           `((` + lenPerc + `|auto)\s*){1,4}`,
			"margin-top":       lenPerc + `|auto`,
			"margin-right":     lenPerc + `|auto`,
			"margin-bottom":    lenPerc + `|auto`,
			"margin-left":      lenPerc + `|auto`,
			"padding":          `((` + lenPos + `|` + percPos + `)\s*){1,4}`,
			"border":           border,
			"border-top":       border,
			"border-bottom":    border,
			"border-left":      border,
			"border-right":     border,
			"border-color":     `((` + color + `)\s*){1,4}`,
			"border-radius":    `((` + lenPerc + `)\s*){1,4}`,
			"border-collapse":  `collapse|separate`,
			"box-sizing":       `content-box|padding-box|border-box`,
			"background":       `((` + color + `|none|url\(.*?\))\s*)+`,
			"background-color": color,
			"color":            color,
			"font":             `(((` + fStyle + `\s*){1,3})?\s*` + fSize + `\s*(\/\s*` + lineH + `)?\s+` + family + `(,\s*` + family + `)*|caption|icon|menu|message-box|small-caption|status-bar)`,
			"font-family":      family + `(,\s*` + family + `)*`,
			"font-size":        fSize,
			"font-weight":      fWeight,
			"font-style":       `normal|italic|oblique`,
			"line-height":      lineH,
			"text-align":       `left|right|center|justify`,
			"vertical-align":   `baseline|sub|super|top|text-top|middle|bottom|text-bottom|` + lenPerc,
			"white-space":      `normal|pre|nowrap|pre-wrap|pre-line`,
			"overflow":         `visible|hidden|scroll|auto`,
			"overflow-x":       `visible|hidden|scroll|auto|no-display|no-content`,
			"overflow-y":       `visible|hidden|scroll|auto|no-display|no-content`,
			"overflow-wrap":    `normal|break-word`,
			"word-wrap":        `normal|break-word`,
			"word-break":       `normal|keep-all|break-all`,
			"text-overflow":    `((clip|ellipsis)\s*){1,2}`,
			"cursor":           `auto|crosshair|default|pointer|move|text|wait|help|progress|not-allowed`,
			"visibility":       `visible|hidden|collapse`,
			"opacity":          `[+]?(1([.]0+)?|0([.][0-9]+)?)`,
			"z-index":          `auto|[+-]?[0-9]{1,7}`,
		}
		out := map[string]*regexp.Regexp{}
		for k, v := range m {
			out[k] = regexp.MustCompile(`(?i)^(` + v + `)$`)
		}
		return out
	}()
	nonTextRe = regexp.MustCompile(`(?is)<(script|style|textarea|option)\b[^>]*>.*?</(script|style|textarea|option)\s*>`)
	sanTagRe  = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:="[^"]*")?)*)\s*(/?)>`)
	attrRe    = regexp.MustCompile(`([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="([^"]*)")?`)
)

// sanitizeLikeJupyterLab applies JupyterLab's sanitizer rules to an HTML fragment of this package (which
// is well-formed and quotes every attribute): <script> and <style> elements go with their content,
// other disallowed tags go but keep their content, disallowed attributes go, and a style attribute keeps
// only the declarations whose property and value the allow-list accepts.
func sanitizeLikeJupyterLab(src string) untrusted {
	var u untrusted
	src = nonTextRe.ReplaceAllStringFunc(src, func(s string) string {
		if strings.HasPrefix(strings.ToLower(s), "<script") {
			u.scripts++
		} else {
			u.removed = append(u.removed, fmt.Sprintf("element %.40s", s))
		}
		return ""
	})
	u.html = sanTagRe.ReplaceAllStringFunc(src, func(tag string) string {
		m := sanTagRe.FindStringSubmatch(tag)
		closing, name, attrs := m[1] == "/", strings.ToLower(m[2]), m[3]
		if !sanitizerTags[name] {
			u.removed = append(u.removed, "tag <"+name+">")
			return ""
		}
		if closing {
			return "</" + name + ">"
		}
		var b strings.Builder
		b.WriteString("<" + name)
		for _, a := range attrRe.FindAllStringSubmatch(attrs, -1) {
			an, av := strings.ToLower(a[1]), a[2]
			if !sanitizerGlobalAttrs[an] && !sanitizerTagAttrs[name][an] {
				u.removed = append(u.removed, fmt.Sprintf("attribute %s of <%s>", an, name))
				continue
			}
			if an == "style" {
				var kept []string
				for _, decl := range strings.Split(av, ";") {
					if strings.TrimSpace(decl) == "" {
						continue
					}
					prop, val, ok := strings.Cut(decl, ":")
					prop, val = strings.ToLower(strings.TrimSpace(prop)), strings.TrimSpace(val)
					if re := sanitizerCSS[prop]; ok && re != nil && re.MatchString(val) {
						kept = append(kept, prop+":"+val)
					} else {
						u.removed = append(u.removed, fmt.Sprintf("CSS %q of <%s>", strings.TrimSpace(decl), name))
					}
				}
				if len(kept) == 0 {
					continue
				}
				av = strings.Join(kept, ";")
			}
			fmt.Fprintf(&b, ` %s="%s"`, an, av)
		}
		b.WriteString(">")
		return b.String()
	})
	return u
}

// styleDecls returns the CSS declarations of a style attribute value, by property.
func styleDecls(style string) map[string]string {
	out := map[string]string{}
	for _, decl := range strings.Split(style, ";") {
		if p, v, ok := strings.Cut(decl, ":"); ok {
			out[strings.TrimSpace(p)] = strings.TrimSpace(v)
		}
	}
	return out
}

// element is one start tag of a sanitized fragment.
type element struct {
	name  string
	attrs map[string]string
	style map[string]string
}

// elements returns the start tags of html (as emitted by sanitizeLikeJupyterLab) in document order.
func elements(html string) []element {
	var out []element
	for _, m := range sanTagRe.FindAllStringSubmatch(html, -1) {
		if m[1] == "/" {
			continue
		}
		e := element{name: strings.ToLower(m[2]), attrs: map[string]string{}}
		for _, a := range attrRe.FindAllStringSubmatch(m[3], -1) {
			e.attrs[strings.ToLower(a[1])] = a[2]
		}
		e.style = styleDecls(e.attrs["style"])
		out = append(out, e)
	}
	return out
}
