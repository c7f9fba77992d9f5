package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/visionnb/visionnb/mlkit/ingest"
	"golang.org/x/image/bmp"
)

// halves is a w x h image: left half red, right half blue.
func halves(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 255, A: 255}
			if x >= w/2 {
				c = color.NRGBA{B: 255, A: 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestDecodeFormats(t *testing.T) {
	dir := t.TempDir()
	src := halves(40, 20)
	encoders := map[string]func(*bytes.Buffer) error{
		"a.png": func(b *bytes.Buffer) error { return png.Encode(b, src) },
		"a.jpg": func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 95}) },
		"a.gif": func(b *bytes.Buffer) error { return gif.Encode(b, src, nil) },
		"a.bmp": func(b *bytes.Buffer) error { return bmp.Encode(b, src) },
	}
	for name, enc := range encoders {
		var buf bytes.Buffer
		if err := enc(&buf); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := Decode(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds().Dx() != 40 || img.Bounds().Dy() != 20 {
			t.Errorf("%s decoded as %v", name, img.Bounds())
		}
	}
	// WebP: the decoder is registered (there is no Go encoder to make a fixture; a truncated header must
	// fail inside the webp decoder, not as an unknown format).
	bad := filepath.Join(dir, "x.webp")
	if err := os.WriteFile(bad, []byte("RIFF\x10\x00\x00\x00WEBPVP8 "), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(bad); err == nil || bytes.Contains([]byte(err.Error()), []byte("unknown format")) {
		t.Errorf("webp: want a webp decoding error, got %v", err)
	}
	if _, err := Decode(filepath.Join(dir, "missing.png")); err == nil {
		t.Error("missing file decoded")
	}
}

func TestPrepareCenterCrop(t *testing.T) {
	// 80x20 (wide): the shorter side becomes 10, width 40, and the centre 10x10 straddles the red/blue
	// boundary: left half red, right half blue.
	px := Prepare(halves(80, 20), 10)
	if len(px) != 10*10*3 {
		t.Fatalf("got %d bytes", len(px))
	}
	left, right := px[(5*10+1)*3:], px[(5*10+8)*3:]
	if left[0] < 200 || left[2] > 50 || right[2] < 200 || right[0] > 50 {
		t.Errorf("centre crop wrong: left pixel %v right pixel %v", left[:3], right[:3])
	}
	// Tall image: 20x80 -> width 10; every row of the crop is red-left/blue-right.
	px = Prepare(halves(20, 80), 10)
	if px[0] < 200 || px[(9)*3+2] < 200 {
		t.Errorf("tall crop wrong: %v %v", px[:3], px[27:30])
	}
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, halves(30, 30)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Cache{Dir: filepath.Join(dir, "cache")}
	first, err := c.Load(path, 8)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(c.Dir, "*_8.rgb"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	// A second load reads the cache: prove it by altering the cached pixels.
	altered := bytes.Repeat([]byte{7}, len(first))
	if err := os.WriteFile(files[0], altered, 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := c.Load(path, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(second, altered) {
		t.Error("second load did not come from the cache")
	}
	// Another size is another entry; the same content under another name hits the same entry.
	if _, err := c.Load(path, 4); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "b.png")
	_ = os.WriteFile(copyPath, buf.Bytes(), 0o644)
	all, err := c.LoadAll([]string{path, copyPath}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all[1], altered) {
		t.Error("identical content under another name missed the cache")
	}
	if _, err := c.LoadAll([]string{path, filepath.Join(dir, "nope.png")}, 8); err == nil ||
		!bytes.Contains([]byte(err.Error()), []byte("nope.png")) {
		t.Errorf("want an error naming nope.png, got %v", err)
	}
}

func TestAugment(t *testing.T) {
	size := 16
	src := Prepare(halves(16, 16), size)
	out := func(o AugmentOptions, seed int64, epoch, idx int) []uint8 {
		dst := make([]uint8, len(src))
		Augment(dst, src, size, o, Rand(seed, epoch, idx))
		return dst
	}
	// Flip only: either identity or an exact mirror.
	flipped := 0
	for i := range 20 {
		d := out(AugmentOptions{Flip: true}, 1, 1, i)
		if bytes.Equal(d, src) {
			continue
		}
		flipped++
		for y := range size {
			for x := range size {
				a, b := d[(y*size+x)*3:(y*size+x)*3+3], src[(y*size+size-1-x)*3:(y*size+size-1-x)*3+3]
				if !bytes.Equal(a, b) {
					t.Fatalf("flip is not a mirror at (%d,%d): %v vs %v", x, y, a, b)
				}
			}
		}
	}
	if flipped == 0 || flipped == 20 {
		t.Errorf("flipped %d of 20", flipped)
	}
	def := DefaultAugment()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	a, b := out(def, 3, 2, 5), out(def, 3, 2, 5)
	if !bytes.Equal(a, b) {
		t.Error("same (seed, epoch, index) gave different augmentations")
	}
	if bytes.Equal(a, out(def, 3, 3, 5)) || bytes.Equal(a, out(def, 4, 2, 5)) {
		t.Error("another epoch or seed gave the same augmentation")
	}
	if out(AugmentOptions{}, 1, 1, 1)[0] != src[0] || !bytes.Equal(out(AugmentOptions{}, 1, 1, 1), src) {
		t.Error("zero options changed the image")
	}
	if (AugmentOptions{ScaleMin: 0.5, ScaleMax: 2, RatioMin: 1, RatioMax: 1}).Validate() == nil {
		t.Error("scale 2 accepted")
	}
}

// TestLoadRejectsPixelBombs: training and evaluation read images with the upload limits, so a small PNG
// whose header claims 100000x100000 pixels is refused from its header (before, the decoder allocated
// 37 GiB), with the ingest reason; so are a truncated image and a file that is not an image.
func TestLoadRejectsPixelBombs(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := png.Encode(&buf, halves(1, 1)); err != nil {
		t.Fatal(err)
	}
	bomb := buf.Bytes()
	binary.BigEndian.PutUint32(bomb[16:], 100000)
	binary.BigEndian.PutUint32(bomb[20:], 100000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	buf.Reset()
	if err := jpeg.Encode(&buf, halves(64, 64), nil); err != nil {
		t.Fatal(err)
	}
	files := map[string]struct {
		data []byte
		want ingest.Reason
	}{
		"bomb.png":      {bomb, ingest.ReasonTooManyPixels},
		"truncated.jpg": {buf.Bytes()[:buf.Len()/2], ingest.ReasonCorrupt},
		"notes.jpg":     {[]byte("=HYPERLINK(\"x\")\n"), ingest.ReasonNotImage},
	}
	c := Cache{Dir: filepath.Join(dir, "cache")}
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Load(p, 8); ingest.ReasonOf(err) != f.want {
			t.Errorf("%s: %v, want reason %s", name, err, f.want)
		}
		if _, err := Decode(p); ingest.ReasonOf(err) != f.want {
			t.Errorf("Decode %s: %v, want reason %s", name, err, f.want)
		}
	}
}

// TestCacheSameContentConcurrently: LoadAll over many files with one content (duplicates among a user's
// photos) prepares that content in several goroutines at once; each must get whole pixels and the cache
// must end with one entry and no temporary files (they used to share one temporary name per process).
func TestCacheSameContentConcurrently(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := png.Encode(&buf, halves(64, 64)); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range 32 {
		p := filepath.Join(dir, fmt.Sprintf("copy%d.png", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	c := Cache{Dir: filepath.Join(dir, "cache")}
	all, err := c.LoadAll(paths, 16)
	if err != nil {
		t.Fatal(err)
	}
	for i, px := range all {
		if !bytes.Equal(px, all[0]) || len(px) != 16*16*3 {
			t.Fatalf("copy %d: %d bytes differ from the first", i, len(px))
		}
	}
	entries, _ := os.ReadDir(c.Dir)
	if len(entries) != 1 {
		t.Errorf("cache holds %d files, want 1: %v", len(entries), entries)
	}
}
