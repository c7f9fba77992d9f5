package view

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"image/color"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
)

// renderCtx carries what was already emitted in one output (or, for Show in a notebook, in one notebook
// page), so a Row of charts, or several charts shown by one cell, carry the echarts library once.
type renderCtx struct {
	echartsInlined bool
}

// fragment is implemented by this package's renderables: it renders HTML sharing one renderCtx.
type fragment interface {
	renderHTML(rc *renderCtx) string
}

// renderWith renders r into rc, using its own HTML() when it is not one of ours.
func renderWith(r Renderable, rc *renderCtx) string {
	if f, ok := r.(fragment); ok {
		return f.renderHTML(rc)
	}
	return r.HTML()
}

// Inline styles. Every HTML output of this package is styled only by style attributes, never by a
// <style> block or a class: JupyterLab opens a notebook that was not signed on this machine untrusted,
// and its sanitizer (@jupyterlab/apputils sanitizer.ts) drops <style> and <script> elements and every
// CSS property outside its allow-list. That list has display (inline-block, flex, grid), position
// (relative, absolute), top/right, width/max-width, margin, padding, border*, background, font,
// white-space, overflow-wrap, word-break, line-height, vertical-align and text-align, but not gap,
// flex-wrap, align-items or grid-template-columns: so grids and rows are inline-block boxes that wrap
// to the output's width. TestUntrustedRendering checks each view kind against that allow-list. Class
// names (prefixed "mlkv-") stay only as markers for user style sheets and tests.
const (
	styTitle = "font:bold 15px sans-serif;margin:4px 0 6px 0"
	styNote  = "font:12px sans-serif;color:#555;margin:2px 0 6px 0"
	styErr   = "color:#b00020;font:11px monospace;white-space:pre-wrap;word-break:break-all"
	// styWrap wraps long words (file names) instead of hiding them.
	styWrap = "white-space:normal;overflow-wrap:break-word;word-wrap:break-word"
)

// esc escapes s for HTML text and attribute values (quotes included).
func esc(s string) string { return html.EscapeString(s) }

var idSeq atomic.Int64
var idPrefix = func() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "x"
	}
	return hex.EncodeToString(b[:])
}()

// uniqueID returns a DOM id unique in this process and, with high probability, across runs.
func uniqueID(kind string) string {
	return fmt.Sprintf("mlkv-%s-%s-%d", kind, idPrefix, idSeq.Add(1))
}

// dataURI returns a base64 data: URI of data with the given MIME type.
func dataURI(mime string, data []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data)
}

// pngImgTag returns an <img> tag embedding a PNG, with an escaped alt text.
func pngImgTag(data []byte, w, h int, alt string) string {
	return fmt.Sprintf(`<img src="%s" width="%d" height="%d" alt="%s">`, dataURI("image/png", data), w, h, esc(alt))
}

// Colours usable in Item.Color and table highlights.
const (
	// ColorCorrect is the badge/border colour for correct predictions (green).
	ColorCorrect = "#2e7d32"
	// ColorWrong is the badge/border colour for wrong predictions (red).
	ColorWrong = "#c62828"
	// ColorUncertain is the badge/border colour for uncertain predictions (amber).
	ColorUncertain = "#f9a825"
)

var namedColors = map[string]string{
	"green": ColorCorrect, "red": ColorWrong, "amber": ColorUncertain, "orange": "#ef6c00",
	"yellow": "#fdd835", "blue": "#1565c0", "grey": "#9e9e9e", "gray": "#9e9e9e", "black": "#000000",
	"purple": "#6a1b9a", "white": "#ffffff",
}

var hexColorRe = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// parseColor accepts "#rgb", "#rrggbb" or a few names (green, red, amber, orange, yellow, blue, grey,
// black, purple, white). It returns the normalised "#rrggbb" form and the colour; ok is false for
// anything else, which callers ignore (so no user string ever reaches a style attribute unchecked).
func parseColor(s string) (css string, c color.RGBA, ok bool) {
	s = strings.TrimSpace(strings.ToLower(s))
	if n, found := namedColors[s]; found {
		s = n
	}
	if !hexColorRe.MatchString(s) {
		return "", color.RGBA{}, false
	}
	h := s[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return "", color.RGBA{}, false
	}
	return "#" + h, color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}, true
}

// parseColorMust parses a colour literal of this package (panics on a typo, caught by tests).
func parseColorMust(s string) color.RGBA {
	_, c, ok := parseColor(s)
	if !ok {
		panic("view: bad colour literal " + s)
	}
	return c
}
