package view

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/disintegration/imaging"
	"github.com/visionnb/visionnb/mlkit/ingest"
)

// Item is one picture of a gallery. Give the image as a file path (Image), encoded bytes (Bytes) or a
// decoded image (Picture); the first one set is used. Every string is escaped when rendered.
type Item struct {
	// ID identifies the item (shown in the hover text after the caption and score line).
	ID string
	// Image is the path of an image file (JPEG, PNG, GIF, BMP or WebP, within the upload limits of
	// package ingest: a file that fails them shows as a broken thumbnail with the reason).
	Image string
	// Bytes holds an encoded image, used when Image is empty.
	Bytes []byte
	// Picture is a decoded image, used when Image and Bytes are empty.
	Picture image.Image
	// Caption is the first line under the thumbnail (e.g. the file name).
	Caption string
	// Label is a class label, shown on the second line.
	Label string
	// Score is a similarity or probability, shown next to the label when not zero.
	Score float64
	// Badge is a short text drawn on the thumbnail's corner (e.g. "✓", "wrong", "#3").
	Badge string
	// Color colours the border and badge: "#rgb", "#rrggbb" or a name (green, red, amber, orange,
	// yellow, blue, grey, purple, black, white); ColorCorrect and ColorWrong are ready-made. Anything
	// else is ignored.
	Color string
}

// Paging is the position of one page in a list of items.
type Paging struct {
	// Page is the 0-based index of the page shown; Pages the number of pages (at least 1).
	Page, Pages int
	// PageSize is the number of items per page; Total the number of items.
	PageSize, Total int
	// Start and End delimit the items of the page: items[Start:End].
	Start, End int
}

// NewPaging computes the page of index page (0-based, clamped into range) for total items shown
// pageSize at a time (pageSize <= 0 means one page with everything).
func NewPaging(total, pageSize, page int) Paging {
	total = max(total, 0)
	if pageSize <= 0 {
		pageSize = max(total, 1)
	}
	pages := max(1, (total+pageSize-1)/pageSize)
	page = min(max(page, 0), pages-1)
	start := min(page*pageSize, total)
	end := min(start+pageSize, total)
	return Paging{Page: page, Pages: pages, PageSize: pageSize, Total: total, Start: start, End: end}
}

// String describes the page, e.g. "page 2 of 9, 430 items (49–96)".
func (p Paging) String() string {
	items := "items"
	if p.Total == 1 {
		items = "item"
	}
	if p.Total == 0 {
		return "page 1 of 1, 0 items"
	}
	return fmt.Sprintf("page %d of %d, %d %s (%d–%d)", p.Page+1, p.Pages, p.Total, items, p.Start+1, p.End)
}

// GalleryView is a paged grid of image thumbnails with captions. Build it with Gallery.
type GalleryView struct {
	items     []Item
	title     string
	columns   int
	pageSize  int
	page      int
	thumbSize int
	noPaging  bool // HTML without the "page 1 of 1, ..." line (see HidePaging)
	details   map[int]galleryDetail
}

// galleryDetail is the panel attached to one item (see Detail).
type galleryDetail struct {
	summary string
	body    Renderable
}

// Default gallery settings.
const (
	DefaultGalleryColumns  = 6
	DefaultGalleryPageSize = 48
	DefaultThumbSize       = 128
)

// Gallery starts an empty gallery: 6 columns, 48 items per page, 128 px thumbnails, first page.
func Gallery() *GalleryView {
	return &GalleryView{columns: DefaultGalleryColumns, pageSize: DefaultGalleryPageSize, thumbSize: DefaultThumbSize}
}

// Add appends items.
func (g *GalleryView) Add(items ...Item) *GalleryView { g.items = append(g.items, items...); return g }

// Title sets the gallery title.
func (g *GalleryView) Title(title string) *GalleryView { g.title = title; return g }

// Columns sets the largest number of thumbnails per row (at least 1). In HTML the rows wrap to fewer
// columns where the output area is narrower (an 8-column gallery of 128-px thumbnails shows 6 columns
// in a 900-px notebook output); the PNG always has this many.
func (g *GalleryView) Columns(n int) *GalleryView { g.columns = max(1, n); return g }

// PageSize sets the number of items per page (<= 0: all items on one page).
func (g *GalleryView) PageSize(n int) *GalleryView { g.pageSize = n; return g }

// Page selects the page shown (0-based; clamped into range).
func (g *GalleryView) Page(index int) *GalleryView { g.page = index; return g }

// ThumbSize sets the largest side of thumbnails in pixels (16..1024; default 128).
func (g *GalleryView) ThumbSize(px int) *GalleryView { g.thumbSize = min(max(px, 16), 1024); return g }

// Detail attaches a panel to item i (0-based, in Add order): in HTML, a collapsed line under the
// gallery, summary, that opens body (a larger picture, the probabilities...). The line opens by itself
// in any viewer (a <details> element needs no script); in a trusted notebook a click on the item's
// thumbnail opens it too. Items of other pages show no line; the PNG has no panels.
func (g *GalleryView) Detail(i int, summary string, body Renderable) *GalleryView {
	if g.details == nil {
		g.details = map[int]galleryDetail{}
	}
	g.details[i] = galleryDetail{summary: summary, body: body}
	return g
}

// HidePaging leaves out of the HTML the line that says which page is shown ("page 1 of 1, 3 items"),
// for a gallery inside another view that counts its pictures itself (or shows one).
func (g *GalleryView) HidePaging() *GalleryView { g.noPaging = true; return g }

// Paging returns the position of the page shown.
func (g *GalleryView) Paging() Paging { return NewPaging(len(g.items), g.pageSize, g.page) }

// Len returns the number of items (all pages).
func (g *GalleryView) Len() int { return len(g.items) }

// Show displays the gallery (see the package function Show) and returns the written file's path, if any.
func (g *GalleryView) Show() (string, error) { return Show(g) }

func (g *GalleryView) titleText() string { return g.title }

// thumb is a loaded thumbnail (or the error that prevented it).
type thumb struct {
	img  image.Image
	jpeg []byte
	err  error
}

// loadImage decodes the item's image within the upload limits (ingest.DefaultLimits: size, pixels checked
// on the header first, formats), honouring EXIF orientation for files and bytes.
func (it Item) loadImage() (image.Image, error) {
	switch {
	case it.Image != "":
		img, _, err := ingest.DefaultLimits().DecodeFile(it.Image)
		if err != nil {
			return nil, fmt.Errorf("decoding gallery image %q: %w", it.Image, err)
		}
		return img, nil
	case len(it.Bytes) > 0:
		img, _, err := ingest.DefaultLimits().Decode(it.Bytes)
		if err != nil {
			return nil, fmt.Errorf("decoding gallery image bytes (%d bytes): %w", len(it.Bytes), err)
		}
		return img, nil
	case it.Picture != nil:
		return it.Picture, nil
	}
	return nil, fmt.Errorf("gallery item %q has no image (set Image, Bytes or Picture)", it.Caption)
}

// makeThumb loads an item and scales it down to fit size x size, flattened on white.
func makeThumb(it Item, size int, wantJPEG bool) thumb {
	img, err := it.loadImage()
	if err != nil {
		return thumb{err: err}
	}
	b := img.Bounds()
	if b.Dx() > size || b.Dy() > size {
		img = imaging.Fit(img, size, size, imaging.Linear)
	}
	flat := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(flat, flat.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(flat, flat.Bounds(), img, img.Bounds().Min, draw.Over)
	t := thumb{img: flat}
	if wantJPEG {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, flat, &jpeg.Options{Quality: 85}); err != nil {
			return thumb{err: fmt.Errorf("encoding thumbnail: %w", err)}
		}
		t.jpeg = buf.Bytes()
	}
	return t
}

// thumbs loads the thumbnails of items in parallel.
func thumbs(items []Item, size int, wantJPEG bool) []thumb {
	out := make([]thumb, len(items))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(items)))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = makeThumb(items[i], size, wantJPEG)
			}
		}()
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (it Item) subLine() string {
	var parts []string
	if it.Label != "" {
		parts = append(parts, it.Label)
	}
	if it.Score != 0 {
		parts = append(parts, formatScore(it.Score))
	}
	return strings.Join(parts, " · ")
}

func formatScore(s float64) string {
	if math.Abs(s) < 10 {
		return fmt.Sprintf("%.3f", s)
	}
	return fmt.Sprintf("%.1f", s)
}

// HTML returns the current page as a grid of thumbnails embedded as JPEG data: URIs. The cells are
// inline-block boxes (inline styles only, see the Inline styles note in html.go), so the grid wraps to
// the output area's width: at most Columns per row, fewer when the area is narrower. Captions wrap in
// full, and each cell's hover text is its caption, score line and ID.
func (g *GalleryView) HTML() string { return g.renderHTML(&renderCtx{}) }

// galleryCellGap is the space between gallery cells in pixels.
const galleryCellGap = 6

func (g *GalleryView) renderHTML(rc *renderCtx) string {
	p := g.Paging()
	page := g.items[p.Start:p.End]
	ths := thumbs(page, g.thumbSize, true)
	cellW := g.thumbSize + 12 // 3 px border and 3 px padding on each side
	base := ""
	for i := p.Start; i < p.End && base == ""; i++ {
		if _, ok := g.details[i]; ok {
			base = uniqueID("gallery")
		}
	}
	var b strings.Builder
	if base != "" {
		// The panels go after the gallery's box, whose max-width (the columns) would squeeze them.
		b.WriteString(`<div class="mlkv-gallery-panels">`)
	}
	fmt.Fprintf(&b, `<div class="mlkv-gallery" style="max-width:%dpx">`, g.columns*(cellW+galleryCellGap))
	if g.title != "" {
		fmt.Fprintf(&b, `<div class="mlkv-title" style="%s">%s</div>`, styTitle, esc(g.title))
	}
	if !g.noPaging {
		fmt.Fprintf(&b, `<div class="mlkv-note" style="%s">%s</div>`, styNote, esc(p.String()))
	}
	b.WriteString(`<div class="mlkv-grid">`)
	for i, it := range page {
		border := "#dddddd"
		badgeBg := "#555555"
		if css, _, ok := parseColor(it.Color); ok {
			border, badgeBg = css, css
		}
		if _, ok := g.details[p.Start+i]; ok {
			fmt.Fprintf(&b, `<div id="%s-c-%d" style="display:inline-block;vertical-align:top;cursor:pointer">`, base, p.Start+i)
		}
		fmt.Fprintf(&b, `<div class="mlkv-cell" style="display:inline-block;vertical-align:top;box-sizing:border-box;`+
			`width:%dpx;margin:0 %dpx %dpx 0;border:3px solid %s;border-radius:4px;padding:3px;background:#ffffff;`+
			`font:11px sans-serif;position:relative;overflow:hidden" title="%s">`,
			cellW, galleryCellGap, galleryCellGap, border, esc(it.tooltip()))
		if it.Badge != "" {
			fmt.Fprintf(&b, `<span class="mlkv-badge" style="position:absolute;top:4px;right:4px;color:#ffffff;`+
				`background:%s;border-radius:3px;padding:0 4px;font:bold 11px sans-serif">%s</span>`, badgeBg, esc(it.Badge))
		}
		t := ths[i]
		if t.err != nil {
			fmt.Fprintf(&b, `<div class="mlkv-err" style="%s;height:%dpx;overflow:auto">%s</div>`, styErr, g.thumbSize, esc(t.err.Error()))
		} else {
			bw, bh := t.img.Bounds().Dx(), t.img.Bounds().Dy()
			fmt.Fprintf(&b, `<div style="height:%dpx;line-height:%dpx;text-align:center">`+
				`<img src="%s" width="%d" height="%d" alt="%s" style="vertical-align:middle;max-width:100%%"></div>`,
				g.thumbSize, g.thumbSize, dataURI("image/jpeg", t.jpeg), bw, bh, esc(it.Caption))
		}
		if it.Caption != "" {
			fmt.Fprintf(&b, `<div class="mlkv-cap" style="color:#222222;line-height:1.3;%s">%s</div>`, styWrap, esc(it.Caption))
		}
		if s := it.subLine(); s != "" {
			fmt.Fprintf(&b, `<div class="mlkv-sub" style="color:#555555;line-height:1.3;%s">%s</div>`, styWrap, esc(s))
		}
		b.WriteString(`</div>`)
		if _, ok := g.details[p.Start+i]; ok {
			b.WriteString(`</div>`)
		}
	}
	b.WriteString(`</div></div>`)
	if base != "" {
		g.writeDetails(&b, rc, base, p)
		b.WriteString(`</div>`)
	}
	return b.String()
}

// writeDetails writes the panels of the page's items, one <details> each, and the script that opens an
// item's panel when its thumbnail is clicked (trusted notebooks only; the lines work without it).
func (g *GalleryView) writeDetails(b *strings.Builder, rc *renderCtx, base string, p Paging) {
	for i := p.Start; i < p.End; i++ {
		d, ok := g.details[i]
		if !ok {
			continue
		}
		fmt.Fprintf(b, `<details id="%s-d-%d" class="mlkv-detail" style="margin:2px 0"><summary style="%s">%s</summary><div style="margin:4px 0 8px 16px">`,
			base, i, stySummary, esc(d.summary))
		if d.body != nil {
			b.WriteString(renderWith(d.body, rc))
		}
		b.WriteString(`</div></details>`)
	}
	fmt.Fprintf(b, `<script>(function(){var b=%q;for(var i=%d;i<%d;i++){(function(i){`+
		`var c=document.getElementById(b+"-c-"+i),d=document.getElementById(b+"-d-"+i);if(!c||!d){return;}`+
		`c.onclick=function(){d.open=!d.open;if(d.open&&d.scrollIntoView){d.scrollIntoView({block:"nearest"});}};`+
		`})(i);}})();</script>`, base, p.Start, p.End)
}

// tooltip is the hover text of a gallery cell: caption, label and score, and the ID when it says more.
func (it Item) tooltip() string {
	var lines []string
	for _, s := range []string{it.Caption, it.subLine()} {
		if s != "" {
			lines = append(lines, s)
		}
	}
	if it.ID != "" && it.ID != it.Caption {
		lines = append(lines, it.ID)
	}
	return strings.Join(lines, "\n")
}

// PNG draws the current page as a contact sheet.
func (g *GalleryView) PNG() ([]byte, error) {
	p := g.Paging()
	page := g.items[p.Start:p.End]
	ths := thumbs(page, g.thumbSize, false)
	cols := max(1, min(g.columns, len(page)))
	rows := max(1, (len(page)+cols-1)/cols)
	cellW, cellH := float64(g.thumbSize+12), float64(g.thumbSize+12+30)
	gap := 6.0
	headH := 22.0
	if g.title != "" {
		headH += titleSize + 8
	}
	W := int(math.Max(2*padding+float64(cols)*cellW+float64(cols-1)*gap, 260))
	H := int(2*padding + headH + float64(rows)*cellH + float64(rows-1)*gap)
	c, err := newCanvas(W, H, colWhite)
	if err != nil {
		return nil, fmt.Errorf("gallery %q: %w", g.title, err)
	}
	y := padding
	if g.title != "" {
		c.text(c.fitText(g.title, float64(W)-2*padding, titleSize, true), padding, y, titleSize, true, colBlack, alignLeft, alignTop)
		y += titleSize + 8
	}
	c.text(p.String(), padding, y, tickSize, false, colSubtle, alignLeft, alignTop)
	y += 22
	for i, it := range page {
		x0 := padding + float64(i%cols)*(cellW+gap)
		y0 := y + float64(i/cols)*(cellH+gap)
		frameCol := color.Color(color.RGBA{0xdd, 0xdd, 0xdd, 0xff})
		badgeCol := color.Color(color.RGBA{0x55, 0x55, 0x55, 0xff})
		if _, col, ok := parseColor(it.Color); ok {
			frameCol, badgeCol = col, col
		}
		c.fillRect(x0, y0, x0+cellW, y0+cellH, frameCol)
		c.fillRect(x0+3, y0+3, x0+cellW-3, y0+cellH-3, colWhite)
		t := ths[i]
		if t.err != nil {
			c.text(c.fitText("no image", cellW-10, tickSize, false), x0+cellW/2, y0+6+float64(g.thumbSize)/2, tickSize, false, color.RGBA{0xb0, 0, 0x20, 0xff}, alignCenter, alignMiddle)
		} else {
			b := t.img.Bounds()
			ix := int(x0 + 6 + float64(g.thumbSize-b.Dx())/2)
			iy := int(y0 + 6 + float64(g.thumbSize-b.Dy())/2)
			draw.Draw(c.img, image.Rect(ix, iy, ix+b.Dx(), iy+b.Dy()), t.img, b.Min, draw.Src)
		}
		if it.Badge != "" {
			c.badge(it.Badge, x0+cellW-5, y0+5, badgeCol)
		}
		ty := y0 + 6 + float64(g.thumbSize) + 3
		c.text(c.fitText(it.Caption, cellW-8, 10, false), x0+5, ty, 10, false, colBlack, alignLeft, alignTop)
		c.text(c.fitText(it.subLine(), cellW-8, 10, false), x0+5, ty+13, 10, false, colSubtle, alignLeft, alignTop)
	}
	return c.encodePNG()
}

// badge draws a small label with its top-right corner at (x1, y0). The check and cross marks, which the
// Go fonts lack, are drawn as strokes; other missing glyphs become '?'.
func (c *canvas) badge(text string, x1, y0 float64, bg color.Color) {
	const h = 14.0
	switch text {
	case "✓", "✔", "✗", "✘", "×", "✕":
		c.fillRect(x1-h, y0, x1, y0+h, bg)
		if text == "✓" || text == "✔" {
			c.polyline([]pt{{x1 - h + 3.5, y0 + 7.5}, {x1 - h + 6, y0 + 10.5}, {x1 - 3.5, y0 + 3.5}}, 2, colWhite, false)
		} else {
			c.line(x1-h+4, y0+4, x1-4, y0+h-4, 2, colWhite)
			c.line(x1-4, y0+4, x1-h+4, y0+h-4, 2, colWhite)
		}
		return
	}
	f := c.face(10, true)
	text = strings.Map(func(r rune) rune {
		if _, ok := f.GlyphAdvance(r); !ok {
			return '?'
		}
		return r
	}, text)
	text = c.fitText(text, 80, 10, true)
	w := c.textWidth(text, 10, true) + 8
	c.fillRect(x1-w, y0, x1, y0+h, bg)
	c.text(text, x1-w/2, y0+h/2, 10, true, colWhite, alignCenter, alignMiddle)
}
