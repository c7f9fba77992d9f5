package view

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"sync"

	"github.com/disintegration/imaging"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// canvas is a small pure-Go drawing surface: anti-aliased lines and polygons (x/image/vector) and text
// in the Go fonts. It is not safe for concurrent use (font faces keep buffers).
type canvas struct {
	img   *image.RGBA
	faces map[faceKey]font.Face
}

type faceKey struct {
	size float64
	bold bool
}

var (
	fontsOnce             sync.Once
	fontRegular, fontBold *opentype.Font
	fontsErr              error
)

func loadFonts() error {
	fontsOnce.Do(func() {
		if fontRegular, fontsErr = opentype.Parse(goregular.TTF); fontsErr != nil {
			fontsErr = fmt.Errorf("parsing Go regular font: %w", fontsErr)
			return
		}
		if fontBold, fontsErr = opentype.Parse(gobold.TTF); fontsErr != nil {
			fontsErr = fmt.Errorf("parsing Go bold font: %w", fontsErr)
		}
	})
	return fontsErr
}

// newCanvas returns a w x h canvas filled with bg.
func newCanvas(w, h int, bg color.Color) (*canvas, error) {
	if w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return nil, fmt.Errorf("canvas size %dx%d out of range (1..16384)", w, h)
	}
	if err := loadFonts(); err != nil {
		return nil, err
	}
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h)), faces: map[faceKey]font.Face{}}
	draw.Draw(c.img, c.img.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	return c, nil
}

// encodePNG returns the canvas as PNG bytes.
func (c *canvas) encodePNG() ([]byte, error) { return encodePNG(c.img) }

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

func (c *canvas) face(size float64, bold bool) font.Face {
	k := faceKey{size, bold}
	if f, ok := c.faces[k]; ok {
		return f
	}
	fnt := fontRegular
	if bold {
		fnt = fontBold
	}
	f, err := opentype.NewFace(fnt, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil { // Cannot happen with valid sizes; fall back to the smallest sane size.
		f, _ = opentype.NewFace(fnt, &opentype.FaceOptions{Size: 10, DPI: 72})
	}
	c.faces[k] = f
	return f
}

type hAlign int

const (
	alignLeft hAlign = iota
	alignCenter
	alignRight
)

type vAlign int

const (
	alignTop vAlign = iota
	alignMiddle
	alignBottom
)

// textWidth returns the advance width of s in pixels.
func (c *canvas) textWidth(s string, size float64, bold bool) float64 {
	return fixedToFloat(font.MeasureString(c.face(size, bold), s))
}

func fixedToFloat(v fixed.Int26_6) float64 { return float64(v) / 64 }

// text draws s anchored at (x, y) with the given alignment.
func (c *canvas) text(s string, x, y, size float64, bold bool, col color.Color, ha hAlign, va vAlign) {
	if s == "" {
		return
	}
	f := c.face(size, bold)
	m := f.Metrics()
	ascent, descent := fixedToFloat(m.Ascent), fixedToFloat(m.Descent)
	w := fixedToFloat(font.MeasureString(f, s))
	switch ha {
	case alignCenter:
		x -= w / 2
	case alignRight:
		x -= w
	}
	var baseline float64
	switch va {
	case alignTop:
		baseline = y + ascent
	case alignMiddle:
		baseline = y + (ascent-descent)/2
	default:
		baseline = y - descent
	}
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: f,
		Dot: fixed.Point26_6{X: fixed.Int26_6(math.Round(x * 64)), Y: fixed.Int26_6(math.Round(baseline * 64))}}
	d.DrawString(s)
}

// textVertical draws s rotated 90 degrees counter-clockwise, centred at (cx, cy).
func (c *canvas) textVertical(s string, cx, cy, size float64, bold bool, col color.Color) {
	if s == "" {
		return
	}
	f := c.face(size, bold)
	m := f.Metrics()
	h := int(math.Ceil(fixedToFloat(m.Ascent)+fixedToFloat(m.Descent))) + 2
	w := int(math.Ceil(c.textWidth(s, size, bold))) + 2
	tmp := image.NewRGBA(image.Rect(0, 0, w, h))
	d := font.Drawer{Dst: tmp, Src: image.NewUniform(col), Face: f,
		Dot: fixed.Point26_6{X: fixed.I(1), Y: fixed.Int26_6(math.Round((fixedToFloat(m.Ascent) + 1) * 64))}}
	d.DrawString(s)
	rot := imaging.Rotate90(tmp)
	b := rot.Bounds()
	x0 := int(math.Round(cx - float64(b.Dx())/2))
	y0 := int(math.Round(cy - float64(b.Dy())/2))
	draw.Draw(c.img, image.Rect(x0, y0, x0+b.Dx(), y0+b.Dy()), rot, b.Min, draw.Over)
}

// fitText shortens s with an ellipsis so that it fits in maxW pixels.
func (c *canvas) fitText(s string, maxW, size float64, bold bool) string {
	if c.textWidth(s, size, bold) <= maxW {
		return s
	}
	r := []rune(s)
	for len(r) > 0 {
		r = r[:len(r)-1]
		t := string(r) + "…"
		if c.textWidth(t, size, bold) <= maxW {
			return t
		}
	}
	return ""
}

// fillRect fills the rectangle [x0,x1) x [y0,y1) (rounded to pixels) with col, blending.
func (c *canvas) fillRect(x0, y0, x1, y1 float64, col color.Color) {
	r := image.Rect(int(math.Round(x0)), int(math.Round(y0)), int(math.Round(x1)), int(math.Round(y1)))
	draw.Draw(c.img, r, image.NewUniform(col), image.Point{}, draw.Over)
}

// strokeRect draws a 1-pixel rectangle outline.
func (c *canvas) strokeRect(x0, y0, x1, y1 float64, col color.Color) {
	c.fillRect(x0, y0, x1, y0+1, col)
	c.fillRect(x0, y1-1, x1, y1, col)
	c.fillRect(x0, y0, x0+1, y1, col)
	c.fillRect(x1-1, y0, x1, y1, col)
}

type pt struct{ x, y float64 }

// polygon fills the closed polygon pts with col, anti-aliased.
func (c *canvas) polygon(pts []pt, col color.Color) {
	if len(pts) < 3 {
		return
	}
	minX, minY, maxX, maxY := pts[0].x, pts[0].y, pts[0].x, pts[0].y
	for _, p := range pts[1:] {
		minX, maxX = math.Min(minX, p.x), math.Max(maxX, p.x)
		minY, maxY = math.Min(minY, p.y), math.Max(maxY, p.y)
	}
	bounds := c.img.Bounds()
	r := image.Rect(int(math.Floor(minX))-1, int(math.Floor(minY))-1, int(math.Ceil(maxX))+1, int(math.Ceil(maxY))+1).Intersect(bounds)
	if r.Empty() {
		return
	}
	ras := vector.NewRasterizer(r.Dx(), r.Dy())
	ox, oy := float32(r.Min.X), float32(r.Min.Y)
	ras.MoveTo(float32(pts[0].x)-ox, float32(pts[0].y)-oy)
	for _, p := range pts[1:] {
		ras.LineTo(float32(p.x)-ox, float32(p.y)-oy)
	}
	ras.ClosePath()
	ras.Draw(c.img, r, image.NewUniform(col), image.Point{})
}

// line draws an anti-aliased segment of the given width.
func (c *canvas) line(x0, y0, x1, y1, width float64, col color.Color) {
	dx, dy := x1-x0, y1-y0
	l := math.Hypot(dx, dy)
	if l < 1e-9 {
		return
	}
	nx, ny := -dy/l*width/2, dx/l*width/2
	c.polygon([]pt{{x0 + nx, y0 + ny}, {x1 + nx, y1 + ny}, {x1 - nx, y1 - ny}, {x0 - nx, y0 - ny}}, col)
}

// circle fills a disc, anti-aliased.
func (c *canvas) circle(cx, cy, r float64, col color.Color) {
	const n = 16
	pts := make([]pt, n)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / n
		pts[i] = pt{cx + r*math.Cos(a), cy + r*math.Sin(a)}
	}
	c.polygon(pts, col)
}

// polyline draws connected segments with round-ish joins; dashed draws 6-on/4-off dashes.
func (c *canvas) polyline(pts []pt, width float64, col color.Color, dashed bool) {
	if dashed {
		const on, off = 6.0, 4.0
		phase := 0.0
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			l := math.Hypot(b.x-a.x, b.y-a.y)
			for s := -phase; s < l; s += on + off {
				s0, s1 := math.Max(s, 0), math.Min(s+on, l)
				if s1 > s0 {
					c.line(a.x+(b.x-a.x)*s0/l, a.y+(b.y-a.y)*s0/l, a.x+(b.x-a.x)*s1/l, a.y+(b.y-a.y)*s1/l, width, col)
				}
			}
			phase = math.Mod(phase+l, on+off)
		}
		return
	}
	for i := 1; i < len(pts); i++ {
		c.line(pts[i-1].x, pts[i-1].y, pts[i].x, pts[i].y, width, col)
	}
	if width > 1.5 {
		for i := 1; i+1 < len(pts); i++ {
			c.circle(pts[i].x, pts[i].y, width/2, col)
		}
	}
}

// palette is the categorical colour cycle (Tableau 10) shared by PNG and echarts charts.
var palette = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

func paletteColor(i int) color.RGBA {
	_, c, _ := parseColor(palette[i%len(palette)])
	return c
}

var (
	colBlack    = color.RGBA{0x22, 0x22, 0x22, 0xff}
	colAxis     = color.RGBA{0x55, 0x55, 0x55, 0xff}
	colGrid     = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	colSubtle   = color.RGBA{0x66, 0x66, 0x66, 0xff}
	colWhite    = color.RGBA{0xff, 0xff, 0xff, 0xff}
	colDiagonal = color.RGBA{0x99, 0x99, 0x99, 0xff}
)

// subRGBA returns the part of img inside the rectangle, sharing pixels (used for clipping).
func subRGBA(img *image.RGBA, x0, y0, x1, y1 float64) *image.RGBA {
	r := image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1)))
	return img.SubImage(r).(*image.RGBA)
}
