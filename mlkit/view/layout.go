package view

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"strings"
)

// Layout puts renderables side by side (Row) or one under the other (Column). Its HTML shares one
// output: the echarts library is inlined once for all its children.
type Layout struct {
	items      []Renderable
	horizontal bool
	title      string
	gap        int
}

// Row lays items out side by side (wrapping in HTML when the page is too narrow), e.g. three confusion
// matrices.
func Row(items ...Renderable) *Layout {
	return &Layout{items: append([]Renderable(nil), items...), horizontal: true, gap: 12}
}

// Column lays items out one under the other.
func Column(items ...Renderable) *Layout {
	return &Layout{items: append([]Renderable(nil), items...), gap: 12}
}

// Add appends items.
func (l *Layout) Add(items ...Renderable) *Layout { l.items = append(l.items, items...); return l }

// Title sets a title shown above the items.
func (l *Layout) Title(title string) *Layout { l.title = title; return l }

// Gap sets the space between items in pixels (default 12).
func (l *Layout) Gap(px int) *Layout { l.gap = max(0, px); return l }

// Show displays the layout (see the package function Show) and returns the written file's path, if any.
func (l *Layout) Show() (string, error) { return Show(l) }

func (l *Layout) titleText() string { return l.title }

// prefersPNG is true when every child prefers PNG (then the file output is one PNG image).
func (l *Layout) prefersPNG() bool {
	if len(l.items) == 0 {
		return false
	}
	for _, it := range l.items {
		p, ok := it.(pngPreferrer)
		if !ok || !p.prefersPNG() {
			return false
		}
	}
	return true
}

// HTML returns the items side by side (wrapping) or one under the other, styled inline.
func (l *Layout) HTML() string { return l.renderHTML(&renderCtx{}) }

func (l *Layout) renderHTML(rc *renderCtx) string {
	var b strings.Builder
	cls := "mlkv-col"
	// A row's children are inline-block boxes that wrap when the page is too narrow (the untrusted
	// sanitizer drops flex-wrap and gap, see html.go); a column's are blocks.
	child := fmt.Sprintf(`<div style="margin:0 0 %dpx 0">`, l.gap)
	if l.horizontal {
		cls = "mlkv-row"
		child = fmt.Sprintf(`<div style="display:inline-block;vertical-align:top;margin:0 %dpx %dpx 0">`, l.gap, l.gap)
	}
	b.WriteString(`<div class="mlkv-layout">`)
	if l.title != "" {
		fmt.Fprintf(&b, `<div class="mlkv-title" style="%s">%s</div>`, styTitle, esc(l.title))
	}
	fmt.Fprintf(&b, `<div class="%s">`, cls)
	for _, it := range l.items {
		if it == nil {
			continue
		}
		b.WriteString(child)
		b.WriteString(renderWith(it, rc))
		b.WriteString("</div>")
	}
	b.WriteString("</div></div>")
	return b.String()
}

// PNG draws the children's PNGs next to (or under) each other on a white background.
func (l *Layout) PNG() ([]byte, error) {
	var imgs []image.Image
	for i, it := range l.items {
		if it == nil {
			continue
		}
		data, err := it.PNG()
		if err != nil {
			return nil, fmt.Errorf("layout item %d: %w", i, err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("layout item %d: decoding its PNG: %w", i, err)
		}
		imgs = append(imgs, img)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("layout %q: nothing to draw", l.title)
	}
	gap := float64(l.gap)
	titleH := 0.0
	if l.title != "" {
		titleH = titleSize + 12
	}
	w, h := 0.0, 0.0
	for i, img := range imgs {
		b := img.Bounds()
		if l.horizontal {
			w += float64(b.Dx())
			if i > 0 {
				w += gap
			}
			h = math.Max(h, float64(b.Dy()))
		} else {
			h += float64(b.Dy())
			if i > 0 {
				h += gap
			}
			w = math.Max(w, float64(b.Dx()))
		}
	}
	c, err := newCanvas(int(w), int(h+titleH), colWhite)
	if err != nil {
		return nil, fmt.Errorf("layout %q: %w", l.title, err)
	}
	if l.title != "" {
		c.text(c.fitText(l.title, w-2*padding, titleSize, true), w/2, 6, titleSize, true, colBlack, alignCenter, alignTop)
	}
	x, y := 0, int(titleH)
	for _, img := range imgs {
		b := img.Bounds()
		draw.Draw(c.img, image.Rect(x, y, x+b.Dx(), y+b.Dy()), img, b.Min, draw.Over)
		if l.horizontal {
			x += b.Dx() + l.gap
		} else {
			y += b.Dy() + l.gap
		}
	}
	return c.encodePNG()
}
